/*  The category catalog (see mpp_catalog.h): each function once, with
 *  everything the collector and the report need to know about it.
 */
#include "mpp_catalog.h"

#include <string.h>

/* ---- categories --------------------------------------------------------- */

static const mpp_catname_t s_cats[MPP_CAT_COUNT] = {
    [MPP_CAT_PICKLE] = {"pickle", "pickling", "pickle", "pickle"},
    [MPP_CAT_UNPICKLE] = {"unpickle", "unpickling", "unpickle", "unpickle"},
    [MPP_CAT_LOCK_WAIT] = {"lock_wait", "lock wait", "lock wait", "lock"},
    [MPP_CAT_IPC_WAIT] = {"ipc_wait", "IPC wait", "IPC wait", "IPC"},
    [MPP_CAT_STARTUP] = {"startup", "start-up", "start-up", "start-up"},
};

static const mpp_catname_t s_no_cat = {"?", "?", "?", "?"};

const mpp_catname_t *
mpp_catalog_cat(int cat)
{
    return cat >= 0 && cat < MPP_CAT_COUNT ? &s_cats[cat] : &s_no_cat;
}

/* ---- functions ---------------------------------------------------------- */

#define S_MP "multiprocessing/"

#define S_ROOT(cat, file, name, bytes, label, lock)                           \
    {file, name, cat, MPP_ROLE_ROOT, bytes, MPP_PHASE_NONE, label, lock}
#define S_OUTER(cat, file, name, bytes)                                       \
    {file, name, cat, MPP_ROLE_OUTER, bytes, MPP_PHASE_NONE, NULL, NULL}
#define S_WRAP(cat, file, name)                                               \
    {file, name, cat, MPP_ROLE_WRAPPER, MPP_BYTES_NONE, MPP_PHASE_NONE, NULL, \
     NULL}
#define S_MARK(file, name, phase)                                             \
    {file, name, -1, MPP_ROLE_MARK, MPP_BYTES_NONE, phase, NULL, NULL}

/*  Lock types are named as the user made them: threading.Lock is a
 *  _thread.lock, and every multiprocessing Lock, RLock, Semaphore and
 *  Condition is a _multiprocessing.SemLock underneath.
 *
 *  Two entries used to be read two ways: the collector counted
 *  multiprocessing's Queue.get as lock wait and Connection._poll as IPC
 *  wait, while the report lifted sites through both.  Both readings were
 *  right about different things, so both entries are wrappers with a
 *  category: their own time is waiting (the collector's numbers stay), and
 *  a site below them is named after whoever called the queue or the
 *  connection (the report's numbers stay).  Neither is a site of its own:
 *  the blocking call beneath (a SemLock acquire, a recv) is the root. */
static const mpp_catalog_entry_t s_entries[] = {
    /* pickling */
    S_ROOT(MPP_CAT_PICKLE, "~", "<built-in method _pickle.dumps>",
           MPP_BYTES_NONE, "pickle.dumps", NULL),
    S_ROOT(MPP_CAT_PICKLE, "~", "<built-in method _pickle.dump>",
           MPP_BYTES_NONE, "pickle.dump", NULL),
    S_ROOT(MPP_CAT_PICKLE, "~", "<method 'dump' of '_pickle.Pickler' objects>",
           MPP_BYTES_NONE, "Pickler.dump", NULL),
    S_ROOT(MPP_CAT_PICKLE, S_MP "reduction.py", "dumps", MPP_BYTES_RET,
           "ForkingPickler.dumps", NULL),
    /* ForkingPickler.dump and the pure-Python pickler: pickling, with the
     * C pickler beneath as the site. */
    S_OUTER(MPP_CAT_PICKLE, S_MP "reduction.py", "dump", MPP_BYTES_NONE),
    S_OUTER(MPP_CAT_PICKLE, "pickle.py", "_dumps", MPP_BYTES_RET),
    S_OUTER(MPP_CAT_PICKLE, "pickle.py", "_dump", MPP_BYTES_NONE),

    /* unpickling */
    S_ROOT(MPP_CAT_UNPICKLE, "~", "<built-in method _pickle.loads>",
           MPP_BYTES_NONE, "pickle.loads", NULL),
    S_ROOT(MPP_CAT_UNPICKLE, "~", "<built-in method _pickle.load>",
           MPP_BYTES_NONE, "pickle.load", NULL),
    S_ROOT(MPP_CAT_UNPICKLE, "~",
           "<method 'load' of '_pickle.Unpickler' objects>", MPP_BYTES_NONE,
           "Unpickler.load", NULL),
    S_OUTER(MPP_CAT_UNPICKLE, "pickle.py", "_loads", MPP_BYTES_NONE),
    S_OUTER(MPP_CAT_UNPICKLE, "pickle.py", "_load", MPP_BYTES_NONE),

    /* lock wait: the blocking calls themselves */
    S_ROOT(MPP_CAT_LOCK_WAIT, "~",
           "<method 'acquire' of '_thread.lock' objects>", MPP_BYTES_NONE,
           "Lock.acquire", "threading.Lock"),
    S_ROOT(MPP_CAT_LOCK_WAIT, "~",
           "<method '__enter__' of '_thread.lock' objects>", MPP_BYTES_NONE,
           "with Lock", "threading.Lock"),
    S_ROOT(MPP_CAT_LOCK_WAIT, "~",
           "<method 'acquire' of '_thread.RLock' objects>", MPP_BYTES_NONE,
           "RLock.acquire", "threading.RLock"),
    S_ROOT(MPP_CAT_LOCK_WAIT, "~",
           "<method '__enter__' of '_thread.RLock' objects>", MPP_BYTES_NONE,
           "with RLock", "threading.RLock"),
    S_ROOT(MPP_CAT_LOCK_WAIT, "~",
           "<method 'acquire' of '_multiprocessing.SemLock' objects>",
           MPP_BYTES_NONE, "SemLock.acquire", "multiprocessing lock"),
    S_ROOT(MPP_CAT_LOCK_WAIT, "~",
           "<method '__enter__' of '_multiprocessing.SemLock' objects>",
           MPP_BYTES_NONE, "with SemLock", "multiprocessing lock"),
    S_ROOT(MPP_CAT_LOCK_WAIT, "threading.py", "wait", MPP_BYTES_NONE,
           "Condition.wait", "threading.Condition"),
    /* The Python waits above the blocking calls: their bookkeeping
     * between blocking calls counts as waiting, and what they do inside
     * (a recv_bytes, a loads) still goes to the innermost category. */
    S_OUTER(MPP_CAT_LOCK_WAIT, "queue.py", "get", MPP_BYTES_NONE),
    S_OUTER(MPP_CAT_LOCK_WAIT, S_MP "synchronize.py", "wait",
            MPP_BYTES_NONE),
    S_WRAP(MPP_CAT_LOCK_WAIT, S_MP "queues.py", "get"),

    /* IPC wait; the selectors under connection.wait stay in it as
     * uncatalogued callees */
    S_ROOT(MPP_CAT_IPC_WAIT, S_MP "connection.py", "_recv_bytes",
           MPP_BYTES_RET, "Connection._recv_bytes", NULL),
    S_ROOT(MPP_CAT_IPC_WAIT, S_MP "connection.py", "_send_bytes",
           MPP_BYTES_ARG, "Connection._send_bytes", NULL),
    S_ROOT(MPP_CAT_IPC_WAIT, S_MP "connection.py", "_recv", MPP_BYTES_NONE,
           "Connection._recv", NULL),
    S_ROOT(MPP_CAT_IPC_WAIT, S_MP "connection.py", "_send", MPP_BYTES_NONE,
           "Connection._send", NULL),
    S_ROOT(MPP_CAT_IPC_WAIT, S_MP "connection.py", "poll", MPP_BYTES_NONE,
           "Connection.poll", NULL),
    S_ROOT(MPP_CAT_IPC_WAIT, S_MP "connection.py", "wait", MPP_BYTES_NONE,
           "connection.wait", NULL),
    S_WRAP(MPP_CAT_IPC_WAIT, S_MP "connection.py", "_poll"),

    /* plain plumbing: no category of its own */
    S_WRAP(-1, S_MP "connection.py", "send"),
    S_WRAP(-1, S_MP "connection.py", "recv"),
    S_WRAP(-1, S_MP "connection.py", "send_bytes"),
    S_WRAP(-1, S_MP "connection.py", "recv_bytes"),
    S_WRAP(-1, S_MP "connection.py", "recv_bytes_into"),
    S_WRAP(-1, S_MP "queues.py", "put"),
    S_WRAP(-1, S_MP "queues.py", "put_nowait"),
    S_WRAP(-1, S_MP "queues.py", "get_nowait"),
    S_WRAP(-1, S_MP "queues.py", "empty"),
    S_WRAP(-1, S_MP "synchronize.py", "__enter__"),
    S_WRAP(-1, S_MP "pool.py", "get"),
    S_WRAP(-1, S_MP "pool.py", "wait"),
    S_WRAP(-1, "threading.py", "__enter__"),
    S_WRAP(-1, "threading.py", "_acquire_restore"),
    S_WRAP(-1, "threading.py", "_is_owned"),
    S_WRAP(-1, "threading.py", "_wait_for_tstate_lock"),

    /*  Pickler methods of any pickler, a step between whoever pickles
     *  and the C pickler: joblib's, loky's and cloudpickle's dump and
     *  dumps (and load, loads) call one another down to Pickler.dump, so
     *  a site is lifted through them to the code that sent the task
     *  (issue 13: a joblib job's one pickling site was cloudpickle's own
     *  dump).  By name, not class, since such methods come and go with
     *  the libraries; a site is lifted only through a function on the
     *  way to a root, and only when its callers are one function, so a
     *  program's own function named dump is at worst named by its
     *  caller.  Named entries above win: multiprocessing's dumps is a
     *  root of its own. */
    S_WRAP(-1, MPP_CATALOG_ANY, "dump"),
    S_WRAP(-1, MPP_CATALOG_ANY, "dumps"),
    S_WRAP(-1, MPP_CATALOG_ANY, "load"),
    S_WRAP(-1, MPP_CATALOG_ANY, "loads"),

    /*  start-up: a fork is the start of a process, paid for by its
     *  parent (copying the page tables of a large process takes
     *  milliseconds), so its time is start-up wherever it is called: a
     *  fork Pool's parent, the fork server starting workers (issue 13: the
     *  fork server's forks counted as its compute). */
    S_ROOT(MPP_CAT_STARTUP, "~", "<built-in method posix.fork>",
           MPP_BYTES_NONE, "os.fork", NULL),

    /* start-up landmarks */
    S_MARK("runpy.py", "_run_code", MPP_PHASE_RUNCODE),
    S_MARK("<frozen runpy>", "_run_code", MPP_PHASE_RUNCODE), /* 3.11+ */
    S_MARK(S_MP "process.py", "_bootstrap", MPP_PHASE_BOOTSTRAP),
    S_MARK(S_MP "popen_fork.py", "_launch", MPP_PHASE_LAUNCH),
    S_MARK(S_MP "forkserver.py", "main", MPP_PHASE_LAUNCH),
    /* Last, so that a named entry wins: any module body and any run()
     * may be the program's first line. */
    S_MARK(MPP_CATALOG_ANY, "<module>", MPP_PHASE_MODULE),
    S_MARK(MPP_CATALOG_ANY, "run", MPP_PHASE_RUN),
    /* The main() a multiprocessing helper's -c code calls after its
     * imports (the resource tracker's; the fork server's is the named
     * entry above, a launch mark that classifies as this too). */
    S_MARK(MPP_CATALOG_ANY, "main", MPP_PHASE_MAIN),
};

/* `file` is `suffix` or ends in "/" + suffix. */
static bool
s_file_is(const char *file, const char *suffix)
{
    size_t n = strlen(file), k = strlen(suffix);
    return n >= k && strcmp(file + n - k, suffix) == 0 &&
           (n == k || file[n - k - 1] == '/');
}

static bool
s_matches(const mpp_catalog_entry_t *e, const char *file, bool builtin)
{
    if (e->file[0] == '~') {
        return builtin;
    }
    if (builtin) {
        return false;
    }
    return strcmp(e->file, MPP_CATALOG_ANY) == 0 || s_file_is(file, e->file);
}

const mpp_catalog_entry_t *
mpp_catalog_find(const char *file, const char *name)
{
    if (file == NULL || name == NULL) {
        return NULL;
    }
    bool builtin = file[0] == '~' && file[1] == '\0';
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_entries); i++) {
        const mpp_catalog_entry_t *e = &s_entries[i];
        /* The first character is checked inline: most functions, which no
         * entry's name starts like, then cost no call. */
        if (e->name[0] == name[0] && strcmp(e->name, name) == 0 &&
            s_matches(e, file, builtin)) {
            return e;
        }
    }
    return NULL;
}

const mpp_catalog_entry_t *
mpp_catalog_entries(size_t *n)
{
    *n = MPP_ARRAY_SIZE(s_entries);
    return s_entries;
}
