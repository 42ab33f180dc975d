/*  Which functions start a category or mark a phase, for the collector;
 *  see mpp_cats.h.  The rules move to the one category catalog that the
 *  report shares (src/common/mpp_catalog.c). */
#include "mpp_internal.h"

#include <string.h>

#include "mpp_cats.h"

/* ---- classification (once per function) --------------------------------- */

#define S_MP "multiprocessing/"
#define S_CAT(c) ((uint8_t)((c) + 1))

typedef struct {
    const char *file; /* "~" for C functions, else a path suffix */
    const char *name;
    uint8_t tag;
    uint8_t mark;
} s_rule_t;

/*  C functions by cProfile's label, Python ones by file suffix and name,
 *  whatever the install prefix.  The lock roots are the blocking calls
 *  themselves; the Python waits above them (Condition.wait, Queue.get) are
 *  tagged too, so their own bookkeeping between blocking calls counts as
 *  waiting, and what they do inside (a recv_bytes, a loads) still goes to
 *  the innermost category. */
static const s_rule_t s_rules[] = {
    /* pickling */
    {"~", "<built-in method _pickle.dumps>", S_CAT(MPP_CAT_PICKLE), 0},
    {"~", "<built-in method _pickle.dump>", S_CAT(MPP_CAT_PICKLE), 0},
    {"~", "<method 'dump' of '_pickle.Pickler' objects>",
     S_CAT(MPP_CAT_PICKLE), 0},
    {S_MP "reduction.py", "dumps", S_CAT(MPP_CAT_PICKLE) | MPP_TAG_BYTES_RET,
     0},
    {S_MP "reduction.py", "dump", S_CAT(MPP_CAT_PICKLE), 0},
    {"pickle.py", "_dumps", S_CAT(MPP_CAT_PICKLE) | MPP_TAG_BYTES_RET, 0},
    {"pickle.py", "_dump", S_CAT(MPP_CAT_PICKLE), 0},
    /* unpickling */
    {"~", "<built-in method _pickle.loads>", S_CAT(MPP_CAT_UNPICKLE), 0},
    {"~", "<built-in method _pickle.load>", S_CAT(MPP_CAT_UNPICKLE), 0},
    {"~", "<method 'load' of '_pickle.Unpickler' objects>",
     S_CAT(MPP_CAT_UNPICKLE), 0},
    {"pickle.py", "_loads", S_CAT(MPP_CAT_UNPICKLE), 0},
    {"pickle.py", "_load", S_CAT(MPP_CAT_UNPICKLE), 0},
    /* lock wait */
    {"~", "<method 'acquire' of '_thread.lock' objects>",
     S_CAT(MPP_CAT_LOCK_WAIT), 0},
    {"~", "<method '__enter__' of '_thread.lock' objects>",
     S_CAT(MPP_CAT_LOCK_WAIT), 0},
    {"~", "<method 'acquire' of '_thread.RLock' objects>",
     S_CAT(MPP_CAT_LOCK_WAIT), 0},
    {"~", "<method '__enter__' of '_thread.RLock' objects>",
     S_CAT(MPP_CAT_LOCK_WAIT), 0},
    {"~", "<method 'acquire' of '_multiprocessing.SemLock' objects>",
     S_CAT(MPP_CAT_LOCK_WAIT), 0},
    {"~", "<method '__enter__' of '_multiprocessing.SemLock' objects>",
     S_CAT(MPP_CAT_LOCK_WAIT), 0},
    {"threading.py", "wait", S_CAT(MPP_CAT_LOCK_WAIT), 0},
    {"queue.py", "get", S_CAT(MPP_CAT_LOCK_WAIT), 0},
    {S_MP "synchronize.py", "wait", S_CAT(MPP_CAT_LOCK_WAIT), 0},
    {S_MP "queues.py", "get", S_CAT(MPP_CAT_LOCK_WAIT), 0},
    /* IPC wait; the selectors under connection.wait stay in it as
     * untagged callees */
    {S_MP "connection.py", "_recv_bytes",
     S_CAT(MPP_CAT_IPC_WAIT) | MPP_TAG_BYTES_RET, 0},
    {S_MP "connection.py", "_send_bytes",
     S_CAT(MPP_CAT_IPC_WAIT) | MPP_TAG_BYTES_ARG, 0},
    {S_MP "connection.py", "_recv", S_CAT(MPP_CAT_IPC_WAIT), 0},
    {S_MP "connection.py", "_send", S_CAT(MPP_CAT_IPC_WAIT), 0},
    {S_MP "connection.py", "_poll", S_CAT(MPP_CAT_IPC_WAIT), 0},
    {S_MP "connection.py", "poll", S_CAT(MPP_CAT_IPC_WAIT), 0},
    {S_MP "connection.py", "wait", S_CAT(MPP_CAT_IPC_WAIT), 0},
    /* start-up landmarks */
    {"runpy.py", "_run_code", 0, MPP_MARK_RUNCODE},
    {"<frozen runpy>", "_run_code", 0, MPP_MARK_RUNCODE}, /* 3.11+ */
    {S_MP "process.py", "_bootstrap", 0, MPP_MARK_BOOTSTRAP},
    {S_MP "popen_fork.py", "_launch", 0, MPP_MARK_LAUNCH},
    {S_MP "forkserver.py", "main", 0, MPP_MARK_LAUNCH},
};

/* `file` is `suffix` or ends in "/" + suffix. */
static bool
s_file_is(const char *file, const char *suffix)
{
    size_t n = strlen(file);
    size_t k = strlen(suffix);
    return n >= k && strcmp(file + n - k, suffix) == 0 &&
           (n == k || file[n - k - 1] == '/');
}

void
mpp_cats_classify(const char *file, const char *name, uint8_t *tag,
                  uint8_t *mark)
{
    bool builtin = file[0] == '~' && file[1] == '\0';

    *tag = 0;
    *mark = 0;
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_rules); i++) {
        const s_rule_t *r = &s_rules[i];
        bool rule_builtin = r->file[0] == '~';
        if (r->name[0] == name[0] && rule_builtin == builtin &&
            strcmp(r->name, name) == 0 &&
            (builtin || s_file_is(file, r->file))) {
            *tag = r->tag;
            *mark = r->mark;
            return;
        }
    }
    if (!builtin && strcmp(name, "<module>") == 0) {
        *tag = MPP_TAG_MODULE;
    }
    else if (!builtin && strcmp(name, "run") == 0) {
        *tag = MPP_TAG_RUN;
    }
}

