/*  mpprof wire protocol: what a collector sends to the aggregator.
 *
 *  One ZeroMQ frame carries exactly one msgpack document:
 *
 *    [ "mpp", version:uint, token:str, pid:int, seq:uint, type:uint, body:map ]
 *
 *  `seq` counts from 0 per process incarnation and grows by one per message.
 *  Body keys (unknown keys are skipped, so fields can be added):
 *
 *    HELLO  "ppid":int "start_method":str "name":str "python":str
 *           "argv":[str] "start_ns":int (CLOCK_REALTIME at process start)
 *    DATA   "name":str "wall_ns":int "cpu_ns":int "dropped":uint "mem":uint
 *           "funcs":   [[fid, file, line, name]]      definitions new since
 *                                                     the previous DATA
 *           "threads": [[tid, name, stats, edges, cats(, cpu_ns, cpu_cat_ns)]]
 *               stats: [[fid, ncalls, pcalls, tt_ns, ct_ns]]
 *               edges: [[caller_fid, callee_fid, ncalls, pcalls, tt_ns, ct_ns]]
 *               cats:  [[ns, count, bytes]] * MPP_CAT_COUNT
 *               cpu_ns, cpu_cat_ns: the thread's CPU time and the part of
 *                      it inside categories; both left out when unknown
 *           "spans":   [[tid, cat, fid, start_ns, dur_ns, bytes]]
 *    BYE    "exit_kind":uint "exit_code":int "wall_ns":int "cpu_ns":int
 *           "dropped":uint
 *
 *  Stats, edges and category values are cumulative since the process
 *  started (or forked), and a DATA message carries only the entries that
 *  changed.  The aggregator therefore replaces rather than adds, so a lost
 *  or dropped message costs nothing once a later one arrives.  Spans are
 *  events and are sent once each.
 *
 *  Builtins use file "~" and line 0, as cProfile's pstats keys do.
 */
#ifndef MPPROF_WIRE_H
#define MPPROF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MPP_WIRE_MAGIC "mpp"
#define MPP_WIRE_VERSION 1
/* Larger frames are rejected unread. */
#define MPP_WIRE_MAX_MSG (64u * 1024u * 1024u)
#define MPP_WIRE_MAX_STR 4096u
/*  Function ids are dense per process, from 0, and never reused; no
 *  process defines this many functions, so a larger fid is a forged one
 *  and the aggregator rejects its frame. */
#define MPP_WIRE_MAX_FUNCS (1u << 24)
#define MPP_TOKEN_LEN 32 /* hex characters the launcher generates */
#define MPP_WIRE_MAX_TOKEN 64 /* longest token the decoder accepts */

typedef enum {
    MPP_MSG_HELLO = 1,
    MPP_MSG_DATA = 2,
    MPP_MSG_BYE = 3
} mpp_msg_type_t;

/* Categories are exclusive: a nanosecond belongs to the innermost one. */
typedef enum {
    MPP_CAT_PICKLE,
    MPP_CAT_UNPICKLE,
    MPP_CAT_LOCK_WAIT,
    MPP_CAT_IPC_WAIT,
    MPP_CAT_STARTUP,
    MPP_CAT_COUNT
} mpp_cat_t;

typedef enum {
    MPP_EXIT_RUNNING = 0, /* no BYE seen (yet) */
    MPP_EXIT_OK = 1,      /* exit status 0 */
    MPP_EXIT_CODE = 2,    /* exit status exit_code != 0 */
    MPP_EXIT_SIGNAL = 3,  /* killed by signal exit_code */
    MPP_EXIT_LOST = 4     /* ended without a BYE (SIGKILL, crash) */
} mpp_exit_kind_t;

/* cProfile's four numbers; times are nanoseconds. */
typedef struct {
    uint64_t ncalls; /* all calls, recursive ones included */
    uint64_t pcalls; /* primitive (non-recursive) calls */
    int64_t tt_ns;   /* own time, callees excluded */
    int64_t ct_ns;   /* cumulative time, recursion counted once */
} mpp_cost_t;

typedef struct {
    uint64_t ns;
    uint64_t count;
    uint64_t bytes;
} mpp_catval_t;

typedef struct {
    uint32_t fid;
    int32_t line;
    const char *file;
    const char *name;
} mpp_wfunc_t;

typedef struct {
    uint32_t fid;
    mpp_cost_t cost;
} mpp_wstat_t;

typedef struct {
    uint32_t caller;
    uint32_t callee;
    mpp_cost_t cost;
} mpp_wedge_t;

/*  A thread's id on the wire is unique per thread within a process
 *  incarnation, since the kernel reuses thread ids: the kernel's id in the
 *  low 32 bits, and in the high 32 a serial the collector counts up from 0
 *  (so the first thread's id is the kernel's). */
#define MPP_TID_KERNEL(tid) ((uint32_t)((tid)&0xFFFFFFFFu))
#define MPP_TID_SERIAL(tid) ((uint32_t)((tid) >> 32))

typedef struct {
    uint64_t tid;
    const char *name;
    mpp_wstat_t *stats;
    size_t nstats;
    mpp_wedge_t *edges;
    size_t nedges;
    mpp_catval_t cat[MPP_CAT_COUNT];
    /* The thread's CPU time so far (its CPU clock) and the part of it
     * inside category intervals, 0 <= cpu_cat_ns <= cpu_ns; only with
     * has_cpu (else unknown, and left off the wire). */
    bool has_cpu;
    int64_t cpu_ns;
    int64_t cpu_cat_ns;
} mpp_wthread_t;

typedef struct {
    uint64_t tid;
    uint32_t cat;
    uint32_t fid; /* function that was running when the span began */
    int64_t start_ns; /* CLOCK_REALTIME */
    int64_t dur_ns;
    uint64_t bytes;
} mpp_wspan_t;

/*  A message, decoded or about to be encoded.  Fields that do not belong to
 *  `type` are ignored by the encoder and zeroed by the decoder. */
typedef struct {
    uint32_t version;
    const char *token;
    int64_t pid;
    uint64_t seq;
    uint32_t type;

    /* HELLO */
    int64_t ppid;
    const char *start_method;
    const char *python;
    const char **argv;
    size_t argc;
    int64_t start_ns;

    /* HELLO, DATA */
    const char *name;

    /* DATA, BYE */
    int64_t wall_ns;
    int64_t cpu_ns;
    uint64_t dropped;

    /* DATA */
    uint64_t mem_bytes;
    mpp_wfunc_t *funcs;
    size_t nfuncs;
    mpp_wthread_t *threads;
    size_t nthreads;
    mpp_wspan_t *spans;
    size_t nspans;

    /* BYE */
    uint32_t exit_kind;
    int32_t exit_code;

    /* Decoder-owned storage for every pointer above; see mpp_msg_clear(). */
    void *arena_;
} mpp_msg_t;

/* A growable byte buffer; embedded by value, so init/fini, not new/destroy. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} mpp_buf_t;

void mpp_buf_init(mpp_buf_t *buf);
void mpp_buf_fini(mpp_buf_t *buf);
int mpp_buf_append(mpp_buf_t *buf, const void *data, size_t len);

/*  Appends the msgpack encoding of `msg` to `out`.  Returns 0;
 *  MPP_EINVAL for a message that cannot be encoded (unknown type, NULL or
 *  over-long token, span category or exit kind out of range, NULL array
 *  with a non-zero count); MPP_ETOOBIG when the encoding would exceed
 *  MPP_WIRE_MAX_MSG (split the batch); or MPP_ENOMEM.  On failure `out`
 *  keeps its previous length.  Strings longer than MPP_WIRE_MAX_STR are
 *  cut at a UTF-8 boundary; a NULL optional string is left out and decodes
 *  as NULL. */
int mpp_wire_encode(const mpp_msg_t *msg, mpp_buf_t *out);

/*  Decodes exactly one message from `data`.  On success fills `*out`
 *  (which the caller must later pass to mpp_msg_clear) and returns 0.
 *  On failure returns MPP_EPROTO (malformed, trailing bytes, wrong types),
 *  MPP_EVERSION, MPP_ETOOBIG or MPP_ENOMEM, and leaves `*out` cleared.
 *  It never reads outside [data, data+len) and never trusts a length or
 *  count in the input beyond what the input can hold. */
int mpp_wire_decode(const void *data, size_t len, mpp_msg_t *out);

/* Frees what mpp_wire_decode allocated and zeroes the message. */
void mpp_msg_clear(mpp_msg_t *msg);

#endif
