/*  The root record of a core's shared mapping (mpp_shm.h): where a reader
 *  starts.  The header's `root` points here.
 *
 *  The core writes it only at cold points (a thread added or removed, a
 *  new name, a fork child's new incarnation, a batch, the end), never per
 *  event, and brackets each update with `gen`: odd while an update is
 *  under way, even when it is done.  A reader copies the record, and the
 *  thread list it points to, between two reads of `gen`, and tries again
 *  when they differ or are odd.  The numbers inside the thread tables are
 *  updated per event without any such bracket: each is a naturally
 *  aligned 64-bit word, so a reader sees every one whole, and a snapshot
 *  taken while the process runs may at most be one event behind in some
 *  entries, which the next snapshot repairs.  Once the process has ended
 *  nothing moves any more.
 *
 *  Ended threads: a thread that ends stays in the list, marked ended,
 *  with its final numbers and its end serial (1, 2, ... in the order
 *  threads end; `ended` is the latest), until the agent acknowledges
 *  through the header (mpp_shm.h, `ack`) that it has delivered every
 *  thread up to that serial; the writer then frees them at its next cold
 *  point.  So a reader that copied a consistent snapshot holding
 *  `ended` == N has seen the final numbers of every thread with a serial
 *  up to N, and acknowledges N.
 *
 *  Pointers are the writer's addresses (see mpp_shm.h); strings that a
 *  reader needs are copied in as fixed arrays, always NUL-terminated by
 *  the writer, and never trusted to be by a reader.
 */
#ifndef MPP_SHM_ROOT_H
#define MPP_SHM_ROOT_H

#include "mpp_internal.h"

#include "mpp_clock.h"

struct mpp_tstate;
struct mpp_funcs;
struct mpp_spans;

#define MPP_SHM_ROOT_METHOD 16
#define MPP_SHM_ROOT_PYTHON 32
#define MPP_SHM_ROOT_NAME 256

typedef struct {
    uint32_t gen; /* odd while the writer updates this record */
    uint32_t nthreads;
    struct mpp_tstate **threads; /* live threads, then ended ones */
    struct mpp_funcs *funcs;     /* the function registry */
    struct mpp_spans *spans;     /* the span buffer */

    /* Identity of this incarnation. */
    int64_t pid;
    int64_t ppid;
    int64_t start_ns;      /* CLOCK_REALTIME at process start (or fork) */
    int64_t start_mono_ns; /* CLOCK_MONOTONIC at the same moment */
    char start_method[MPP_SHM_ROOT_METHOD];
    char python[MPP_SHM_ROOT_PYTHON];
    char name[MPP_SHM_ROOT_NAME]; /* the latest multiprocessing name */
    char **argv;                  /* argc strings in the mapping */
    uint32_t argc;

    /* The tables hold this clock's ticks: a reader converts them, and
     * reads "now" in the same units when it closes the frames of a
     * process that died. */
    mpp_clock_t clock;

    /* The end, as the process itself records it; MPP_EXIT_RUNNING (0)
     * until then, so a process gone without it was killed. */
    uint32_t exit_kind;
    int32_t exit_code;
    int64_t end_mono_ns;
    uint64_t dropped; /* events lost so far, all threads */

    /* The end serial of the latest thread to end (see above); 0 while
     * none has.  A fork child goes on counting from its parent's. */
    uint64_t ended;
    /* CLOCK_PROCESS_CPUTIME_ID of this incarnation at the last cold
     * point, and at the end; 0 before the first.  A process killed
     * between cold points shows less than it used: the agent may know
     * better (/proc) and a reader takes the larger figure. */
    int64_t cpu_ns;
} mpp_shm_root_t;

#endif
