/*  The category catalog: the one place that says which functions are
 *  pickling, unpickling, lock waits and IPC waits, which are the thin
 *  plumbing above them, which mark a phase of a process's life, and what
 *  each category is called.  The collector classifies functions with it
 *  (mpp_classify.c) and the report finds call sites with it
 *  (mpp_report_sites.c); tests/unit/test_catalog.c fails when the two
 *  read it differently.  Pure C: no Python, no I/O.
 *
 *  Every entry has one role:
 *
 *  - ROOT: calling it starts its category, and a call of it is a call
 *    site in the report (caller -> root).  The blocking calls themselves
 *    (lock.acquire, Connection._recv_bytes) and the picklers.
 *
 *  - OUTER: calling it starts its category too, so the function's own
 *    bookkeeping between blocking calls counts as waiting (or pickling),
 *    but the report names the roots it calls as the sites: queue.Queue.get
 *    is the caller of the Condition.wait site beneath it, not a site.
 *
 *  - WRAPPER: plumbing between the user's function and a root
 *    (Connection.send, SimpleQueue.get, ApplyResult.wait).  The report
 *    lifts a site's caller through it to the function that called the
 *    plumbing.  A wrapper with a category also starts it in the collector,
 *    like an OUTER entry: multiprocessing's Queue.get is time spent waiting
 *    on the queue, and still plumbing when naming who waited.
 *
 *  - MARK: no category; its presence on a stack tells a phase apart
 *    (start-up ends at the program's first line).
 *
 *  A category is entered once from outside: a ROOT or OUTER function
 *  called inside its own category changes nothing, and an uncatalogued
 *  function stays in whatever category its caller is in.
 */
#ifndef MPP_CATALOG_H
#define MPP_CATALOG_H

#include "mpp_internal.h"

/* ---- categories --------------------------------------------------------- */

/* The names of one category (mpp_cat_t). */
typedef struct {
    const char *name;  /* wire, session file, JSON keys: "lock_wait" */
    const char *title; /* people, in sentences: "lock wait", "pickling" */
    const char *brief; /* people, in a list of shares: "pickle" */
    const char *head;  /* a column heading of at most 8 characters */
} mpp_catname_t;

/* The names of `cat`; "?" in every field when it is no category. */
const mpp_catname_t *mpp_catalog_cat(int cat);

/* ---- functions ---------------------------------------------------------- */

typedef enum {
    MPP_ROLE_ROOT,
    MPP_ROLE_OUTER,
    MPP_ROLE_WRAPPER,
    MPP_ROLE_MARK
} mpp_role_t;

/* Where the collector finds the bytes a call moved. */
typedef enum {
    MPP_BYTES_NONE,
    MPP_BYTES_RET, /* the size of the return value */
    MPP_BYTES_ARG  /* the size of the argument `buf` */
} mpp_bytes_t;

/* Phases a MARK entry tells apart. */
typedef enum {
    MPP_PHASE_NONE,
    MPP_PHASE_RUNCODE,   /* runpy._run_code: runs the -m module */
    MPP_PHASE_BOOTSTRAP, /* BaseProcess._bootstrap: calls run() */
    MPP_PHASE_LAUNCH,    /* where multiprocessing forks a child */
    MPP_PHASE_MODULE,    /* any <module>: may end start-up */
    MPP_PHASE_RUN,       /* any function named run: may end start-up */
    MPP_PHASE_MAIN       /* any function named main: ends a helper's */
} mpp_phase_t;

/* The `file` of an entry that matches any Python file (phase marks). */
#define MPP_CATALOG_ANY "*"

typedef struct {
    /* "~" for C functions, whose name is cProfile's label; else a path
     * suffix ("multiprocessing/queues.py") matched at a '/' boundary,
     * whatever the install prefix. */
    const char *file;
    const char *name;
    int cat; /* mpp_cat_t, or -1 (MARK and plain wrappers) */
    mpp_role_t role;
    mpp_bytes_t bytes;
    mpp_phase_t phase;
    const char *label; /* ROOT: a short name for people ("Pickler.dump") */
    const char *lock;  /* lock-wait ROOT: the lock type the user made */
} mpp_catalog_entry_t;

/* The entry of a function given by its file ("~" for C functions) and
 * name, or NULL. */
const mpp_catalog_entry_t *mpp_catalog_find(const char *file,
                                            const char *name);

/* Every entry, *n of them, in catalog order. */
const mpp_catalog_entry_t *mpp_catalog_entries(size_t *n);

#endif
