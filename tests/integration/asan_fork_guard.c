/* Makes a preloaded ASan runtime safe across fork in threaded processes.
 *
 * ASan runtimes before LLVM 18 (clang 14 in Debian 12, GCC 12's libasan)
 * take no allocator lock around fork(): when one thread forks while
 * another (a ZeroMQ I/O thread, say) is inside malloc holding one of the
 * allocator's locks, the child inherits that lock held by nobody and
 * hangs on its first allocation of that size class.  Seen in the
 * integration tests: a fork child's new ZeroMQ thread stuck in malloc
 * while the child waits in zmq_ctx_term.
 *
 * This library is preloaded in front of the runtime (LD_PRELOAD=this:asan,
 * with ASAN_OPTIONS=verify_asan_link_order=0).  Every allocation entry
 * point holds a shared lock while it runs the runtime's function, and a
 * pthread_atfork handler takes the lock exclusively around fork(), so no
 * thread is inside the allocator when the address space is copied.  It is
 * test machinery only: it is built without sanitizers and never installed.
 * (Runtimes from LLVM 18 lock their allocator themselves; the guard is
 * harmless there.) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* initial-exec: a general-dynamic TLS access calls __tls_get_addr, which
 * the runtime intercepts, and malloc runs before the runtime is ready. */
#define TLS __thread __attribute__((tls_model("initial-exec")))

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static TLS int t_depth;

static void enter(void)
{
    if (t_depth++ == 0)
        pthread_rwlock_rdlock(&g_lock);
}

static void leave(void)
{
    if (--t_depth == 0)
        pthread_rwlock_unlock(&g_lock);
}

static void before_fork(void) { pthread_rwlock_wrlock(&g_lock); }
static void after_fork_parent(void) { pthread_rwlock_unlock(&g_lock); }

/* The child's thread has another kernel id than the writer recorded in
 * the lock, so the lock is made anew rather than unlocked. */
static void after_fork_child(void)
{
    pthread_rwlock_init(&g_lock, NULL);
}

__attribute__((constructor)) static void install(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* The runtime's functions, all looked up on the first call of any of
 * them.  dlsym may allocate and free while it looks up: those requests are
 * served from a static arena, and frees of anything else are dropped. */
static _Alignas(64) unsigned char g_boot[64 * 1024];
static size_t g_boot_used;
static TLS int t_resolving;

static int in_boot(const void *p)
{
    return (const unsigned char *)p >= g_boot &&
           (const unsigned char *)p < g_boot + sizeof g_boot;
}

static void *boot_alloc(size_t n)
{
    size_t at = (g_boot_used + 63) & ~(size_t)63;
    if (n > sizeof g_boot - at)
        return NULL;
    g_boot_used = at + n;
    return g_boot + at;
}

#define SYMS(X)                                                            \
    X(malloc) X(calloc) X(free) X(realloc) X(reallocarray) X(memalign)     \
    X(aligned_alloc) X(valloc) X(pvalloc) X(posix_memalign)                \
    X(_Znwm) X(_Znam) X(_ZnwmRKSt9nothrow_t) X(_ZnamRKSt9nothrow_t)        \
    X(_ZnwmSt11align_val_t) X(_ZnamSt11align_val_t)                        \
    X(_ZnwmSt11align_val_tRKSt9nothrow_t)                                  \
    X(_ZnamSt11align_val_tRKSt9nothrow_t)                                  \
    X(_ZdlPv) X(_ZdaPv) X(_ZdlPvm) X(_ZdaPvm) X(_ZdlPvRKSt9nothrow_t)      \
    X(_ZdaPvRKSt9nothrow_t) X(_ZdlPvSt11align_val_t)                       \
    X(_ZdaPvSt11align_val_t) X(_ZdlPvmSt11align_val_t)                     \
    X(_ZdaPvmSt11align_val_t) X(_ZdlPvSt11align_val_tRKSt9nothrow_t)       \
    X(_ZdaPvSt11align_val_tRKSt9nothrow_t)

#define SLOT(name) void *name;
static struct { SYMS(SLOT) } g_next;
static volatile int g_ready;

static void resolve_all(void)
{
    if (g_ready)
        return;
    t_resolving = 1;
#define LOOKUP(name) g_next.name = dlsym(RTLD_NEXT, #name);
    SYMS(LOOKUP)
    t_resolving = 0;
    if (!g_next.malloc || !g_next.free || !g_next.calloc) {
        static const char msg[] = "asan_fork_guard: no malloc behind me\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
    g_ready = 1;
}

#define GUARD_ALLOC(sym, params, args)                                     \
    typedef void *(*sym##_fn) params;                                      \
    void *sym params;                                                      \
    void *sym params                                                       \
    {                                                                      \
        if (t_resolving)                                                   \
            return NULL;                                                   \
        resolve_all();                                                     \
        enter();                                                           \
        void *r = ((sym##_fn)g_next.sym) args;                             \
        leave();                                                           \
        return r;                                                          \
    }

#define GUARD_FREE(sym, params, args)                                      \
    typedef void (*sym##_fn) params;                                       \
    void sym params;                                                       \
    void sym params                                                        \
    {                                                                      \
        if (t_resolving || in_boot(p) || !p)                               \
            return;                                                        \
        resolve_all();                                                     \
        enter();                                                           \
        ((sym##_fn)g_next.sym) args;                                       \
        leave();                                                           \
    }

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);

void *malloc(size_t n)
{
    if (t_resolving)
        return boot_alloc(n);
    resolve_all();
    enter();
    void *r = ((malloc_fn)g_next.malloc)(n);
    leave();
    return r;
}

void *calloc(size_t k, size_t n)
{
    if (t_resolving)
        return n && k > SIZE_MAX / n ? NULL : boot_alloc(k * n);
    resolve_all();
    enter();
    void *r = ((calloc_fn)g_next.calloc)(k, n);
    leave();
    return r;
}

/* realloc of an arena block moves it to the runtime's heap. */
void *realloc(void *p, size_t n)
{
    if (t_resolving)
        return NULL;
    resolve_all();
    if (in_boot(p)) {
        void *r = malloc(n);
        if (r) {
            size_t have = (size_t)(g_boot + sizeof g_boot - (unsigned char *)p);
            memcpy(r, p, n < have ? n : have);
        }
        return r;
    }
    enter();
    void *r = ((realloc_fn)g_next.realloc)(p, n);
    leave();
    return r;
}

GUARD_FREE(free, (void *p), (p))
GUARD_ALLOC(reallocarray, (void *p, size_t k, size_t n), (p, k, n))
GUARD_ALLOC(memalign, (size_t a, size_t n), (a, n))
GUARD_ALLOC(aligned_alloc, (size_t a, size_t n), (a, n))
GUARD_ALLOC(valloc, (size_t n), (n))
GUARD_ALLOC(pvalloc, (size_t n), (n))

int posix_memalign(void **out, size_t a, size_t n);
int posix_memalign(void **out, size_t a, size_t n)
{
    if (t_resolving)
        return 12; /* ENOMEM */
    resolve_all();
    enter();
    int r = ((posix_memalign_fn)g_next.posix_memalign)(out, a, n);
    leave();
    return r;
}

/* C++ operator new and delete (ZeroMQ allocates with them); the runtime
 * intercepts these too, without going through malloc. */
typedef struct nothrow nothrow_t;
GUARD_ALLOC(_Znwm, (size_t n), (n))
GUARD_ALLOC(_Znam, (size_t n), (n))
GUARD_ALLOC(_ZnwmRKSt9nothrow_t, (size_t n, const nothrow_t *t), (n, t))
GUARD_ALLOC(_ZnamRKSt9nothrow_t, (size_t n, const nothrow_t *t), (n, t))
GUARD_ALLOC(_ZnwmSt11align_val_t, (size_t n, size_t a), (n, a))
GUARD_ALLOC(_ZnamSt11align_val_t, (size_t n, size_t a), (n, a))
GUARD_ALLOC(_ZnwmSt11align_val_tRKSt9nothrow_t,
            (size_t n, size_t a, const nothrow_t *t), (n, a, t))
GUARD_ALLOC(_ZnamSt11align_val_tRKSt9nothrow_t,
            (size_t n, size_t a, const nothrow_t *t), (n, a, t))
GUARD_FREE(_ZdlPv, (void *p), (p))
GUARD_FREE(_ZdaPv, (void *p), (p))
GUARD_FREE(_ZdlPvm, (void *p, size_t n), (p, n))
GUARD_FREE(_ZdaPvm, (void *p, size_t n), (p, n))
GUARD_FREE(_ZdlPvRKSt9nothrow_t, (void *p, const nothrow_t *t), (p, t))
GUARD_FREE(_ZdaPvRKSt9nothrow_t, (void *p, const nothrow_t *t), (p, t))
GUARD_FREE(_ZdlPvSt11align_val_t, (void *p, size_t a), (p, a))
GUARD_FREE(_ZdaPvSt11align_val_t, (void *p, size_t a), (p, a))
GUARD_FREE(_ZdlPvmSt11align_val_t, (void *p, size_t n, size_t a), (p, n, a))
GUARD_FREE(_ZdaPvmSt11align_val_t, (void *p, size_t n, size_t a), (p, n, a))
GUARD_FREE(_ZdlPvSt11align_val_tRKSt9nothrow_t,
           (void *p, size_t a, const nothrow_t *t), (p, a, t))
GUARD_FREE(_ZdaPvSt11align_val_tRKSt9nothrow_t,
           (void *p, size_t a, const nothrow_t *t), (p, a, t))
