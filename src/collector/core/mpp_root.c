/*  The root record of the core's shared mapping (mpp_shm_root.h): made
 *  with the mapping, brought up to date at the core's cold points. */
#include "mpp_internal.h"

#include <string.h>
#include <time.h>

#include "mpp_core_priv.h"
#include "mpp_shm_root.h"

/* Copies `src` into a fixed field, cut and always NUL-terminated. */
static void
s_copy(char *dst, size_t size, const char *src)
{
    size_t n = src != NULL ? strnlen(src, size - 1) : 0;
    if (n > 0) {
        memcpy(dst, src, n);
    }
    memset(dst + n, 0, size - n);
}

int
mpp_root_create(mpp_core_t *core)
{
    mpp_shm_root_t *root = mpp_shm_calloc(core->shm, 1, sizeof(*root));
    if (root == NULL) {
        return MPP_ENOMEM;
    }
    root->argv = mpp_shm_calloc(core->shm, core->argc + 1, sizeof(char *));
    if (root->argv == NULL) {
        return MPP_ENOMEM;
    }
    for (size_t i = 0; i < core->argc; i++) {
        /* No message carries more of an argument than MPP_WIRE_MAX_STR
         * bytes, and a reader accepts no longer string (mpp_shmread.h):
         * an argument of 100 kB is kept as its first part. */
        size_t n = strnlen(core->argv[i], MPP_WIRE_MAX_STR);
        char *arg = mpp_shm_calloc(core->shm, n + 1, 1);
        if (arg == NULL) {
            return MPP_ENOMEM;
        }
        memcpy(arg, core->argv[i], n);
        root->argv[i] = arg;
        root->argc++;
    }
    s_copy(root->python, sizeof(root->python), core->python);
    core->root = root;
    mpp_root_sync(core);
    mpp_shm_set_root(core->shm, root);
    return 0;
}

void
mpp_root_begin(mpp_core_t *core)
{
    mpp_shm_root_t *root = core->root;
    if (root == NULL) {
        return;
    }
    /* Odd first, and every store after it only after it (release plus a
     * full fence), so that a reader who sees the same even value before
     * and after its copy copied no half-made update. */
    __atomic_store_n(&root->gen, root->gen | 1u, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void
mpp_root_commit(mpp_core_t *core)
{
    mpp_shm_root_t *root = core->root;
    if (root == NULL) {
        return;
    }
    root->threads = core->threads;
    root->nthreads = (uint32_t)core->nthreads;
    root->funcs = core->h.funcs;
    root->spans = core->spans;
    root->pid = core->pid;
    root->ppid = core->ppid;
    root->start_ns = core->start_ns;
    root->start_mono_ns = core->start_mono_ns;
    s_copy(root->start_method, sizeof(root->start_method),
           core->start_method);
    s_copy(root->name, sizeof(root->name), core->name);
    root->clock = core->h.clock;
    root->dropped = mpp_core_dropped(core);
    root->ended = core->ended_total;
    /* A system call (no vDSO for this clock), but cold points are few:
     * threads starting and ending, a new name, a fork, the end. */
    root->cpu_ns = mpp_clock_now_ns(CLOCK_PROCESS_CPUTIME_ID);
    __atomic_store_n(&root->gen, (root->gen | 1u) + 1, __ATOMIC_RELEASE);
}

void
mpp_root_sync(mpp_core_t *core)
{
    mpp_root_begin(core);
    mpp_root_commit(core);
}

void
mpp_root_end(mpp_core_t *core, uint32_t kind, int32_t code)
{
    mpp_shm_root_t *root = core->root;
    if (root == NULL) {
        return;
    }
    /* All in one update: a reader that sees the kind sees the CPU time
     * and the end time with it. */
    mpp_root_begin(core);
    root->exit_code = code;
    root->end_mono_ns = mpp_clock_mono_ns();
    __atomic_store_n(&root->exit_kind, kind, __ATOMIC_RELEASE);
    mpp_root_commit(core);
}

void
mpp_root_forked(mpp_core_t *core, int64_t pid, const char *method)
{
    mpp_shm_root_t *root = core->root;
    if (root == NULL) {
        return;
    }
    /* Plain stores only: this runs in the atfork child handler. */
    __atomic_store_n(&root->gen, root->gen | 1u, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    root->pid = pid;
    root->ppid = core->pid;
    root->start_ns = core->fork_real_ns;
    root->start_mono_ns = core->fork_mono_ns;
    s_copy(root->start_method, sizeof(root->start_method), method);
    root->nthreads = 0; /* the parent's, until the incarnation starts */
    root->spans = NULL;
    root->dropped = 0;
    root->cpu_ns = 0;
    root->exit_kind = MPP_EXIT_RUNNING;
    __atomic_store_n(&root->gen, (root->gen | 1u) + 1, __ATOMIC_RELEASE);
}
