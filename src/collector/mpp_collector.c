/*  mpprof._collector: the extension module that profiles one process.
 *
 *  pyshim/sitecustomize.py drives it: it installs on_signal for SIGTERM,
 *  start() connects to the aggregator and says HELLO, the shim replaces
 *  os._exit, os.execv, os.execve and os.closerange with the wrappers
 *  below and registers after_fork_child, and enable() finally installs
 *  the profile hook on this thread and, through threading.setprofile, on
 *  every thread started later.  From then on the hook streams DATA every
 *  interval, and the end of the process (exit status, os._exit, exec,
 *  SIGTERM) sends the last DATA and a BYE.
 *
 *  The module state only points at the core: the core must outlive the
 *  module, because the on_exit handler uses it after finalization has
 *  freed every module.  No function of this module shows up in a profile.
 */
#include "mpp_pycompat.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mpp_hook.h"

/* The os functions the shim wraps, as they were at start(). */
enum { S_EXIT, S_EXECV, S_EXECVE, S_CLOSERANGE, S_NREAL };
static const char *const s_real_names[S_NREAL] = {"_exit", "execv", "execve",
                                                  "closerange"};

typedef struct {
    PyTypeObject *ref_type;  /* the per-thread hook argument */
    PyObject *real[S_NREAL]; /* see s_real_names */
    mpp_hookcfg_t hook;      /* hook.core stays NULL until start() */
} mpp_modstate_t;

static inline mpp_modstate_t *
s_state(PyObject *module)
{
    return (mpp_modstate_t *)PyModule_GetState(module);
}

/* The core if start() succeeded, brought up to date after a fork. */
static mpp_core_t *
s_core(PyObject *module)
{
    mpp_core_t *core = s_state(module)->hook.core;
    if (core != NULL) {
        mpp_core_after_fork(core, mpp_hook_current());
    }
    return core;
}

static int
s_env_int(const char *name, int dflt, int min, int max)
{
    const char *text = getenv(name);
    if (text == NULL || *text == '\0') {
        return dflt;
    }
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max) {
        return dflt;
    }
    return (int)value;
}

/*  How this process came to be, from its command line and environment:
 *  multiprocessing's spawn children and its fork server have telltale
 *  command lines; any other child of a profiled process finds that
 *  parent's pid in MPPROF_PARENT_PID; the launcher's own child does not. */
static void
s_detect_origin(const char *const *argv, size_t argc, mpp_core_cfg_t *cfg)
{
    bool mp_fork = false;
    bool spawn_main = false;
    bool forkserver = false;

    for (size_t i = 0; i < argc; i++) {
        mp_fork |= strcmp(argv[i], "--multiprocessing-fork") == 0;
        spawn_main |= strstr(argv[i], "spawn_main") != NULL;
        forkserver |= strstr(argv[i], "multiprocessing.forkserver") != NULL;
    }
    const char *parent = getenv("MPPROF_PARENT_PID");
    long long parent_pid = parent != NULL ? strtoll(parent, NULL, 10) : 0;
    cfg->ppid = parent_pid > 0 ? parent_pid : (long long)getppid();
    if (mp_fork && spawn_main) {
        cfg->start_method = "spawn";
    }
    else if (forkserver) {
        cfg->start_method = "forkserver";
        cfg->is_forkserver = true;
    }
    else if (parent_pid > 0) {
        cfg->start_method = "exec";
    }
    else {
        cfg->start_method = "main";
    }
}

/*  Children started from here, by exec or multiprocessing, must name this
 *  process as their profiled parent.  Through os.environ, so Python-level
 *  copies of the environment agree with the C one. */
static int
s_export_parent_pid(void)
{
    PyObject *os = PyImport_ImportModule("os");
    if (os == NULL) {
        return -1;
    }
    PyObject *environ = PyObject_GetAttrString(os, "environ");
    Py_DECREF(os);
    if (environ == NULL) {
        return -1;
    }
    PyObject *pid = PyUnicode_FromFormat("%ld", (long)getpid());
    int rc =
        pid ? PyMapping_SetItemString(environ, "MPPROF_PARENT_PID", pid) : -1;
    Py_XDECREF(pid);
    Py_DECREF(environ);
    return rc;
}

static const char *
s_text(PyObject *str, const char *dflt)
{
    const char *text = str != NULL ? PyUnicode_AsUTF8(str) : NULL;
    if (text == NULL) {
        PyErr_Clear();
        return dflt;
    }
    return text;
}

/* ---- start and enable -------------------------------------------------- */

static bool
s_env_is(const char *name, const char *value)
{
    const char *text = getenv(name);
    return text != NULL && strcmp(text, value) == 0;
}

/* Builds the core from the environment and sys.orig_argv. */
static mpp_core_t *
s_new_core(const char *endpoint, const char *token)
{
    char python[32];
    const char *version = Py_GetVersion();
    size_t len = strcspn(version, " ");
    if (len >= sizeof(python)) {
        len = sizeof(python) - 1;
    }
    memcpy(python, version, len);
    python[len] = '\0';

    /* Arguments are passed on as the bytes the process got, as
     * os.fsencode gives them back, so none is lost to an encoding error;
     * this list keeps them alive while the core copies them. */
    PyObject *orig = PySys_GetObject("orig_argv");
    Py_ssize_t argc =
        orig != NULL && PyList_Check(orig) ? PyList_GET_SIZE(orig) : 0;
    PyObject *keep = PyList_New(argc);
    const char **argv = PyMem_Calloc((size_t)argc + 1, sizeof(*argv));
    if (keep == NULL || argv == NULL) {
        Py_XDECREF(keep);
        PyMem_Free(argv);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < argc; i++) {
        PyObject *arg = PyList_GET_ITEM(orig, i);
        PyObject *raw =
            PyUnicode_Check(arg) ? PyUnicode_EncodeFSDefault(arg) : NULL;
        if (raw == NULL) {
            PyErr_Clear();
            raw = PyBytes_FromString("?");
            if (raw == NULL) {
                Py_DECREF(keep);
                PyMem_Free(argv);
                return NULL;
            }
        }
        PyList_SET_ITEM(keep, i, raw);
        argv[i] = PyBytes_AS_STRING(raw);
    }

    mpp_core_cfg_t cfg = {
        .endpoint = endpoint,
        .token = token,
        .interval_ms = s_env_int("MPPROF_INTERVAL_MS", 100, 1, 3600 * 1000),
        .linger_ms = s_env_int("MPPROF_LINGER_MS", 3000, 0, 600 * 1000),
        .test_clock = s_env_int("MPPROF_TEST_CLOCK", 0, 0, 1) == 1,
        .allow_tsc = !s_env_is("MPPROF_CLOCK", "mono"),
        .python = python,
        .argv = argv,
        .argc = (size_t)argc,
        .name = "MainProcess",
    };
    s_detect_origin(argv, (size_t)argc, &cfg);
    mpp_core_t *core = mpp_core_new(&cfg);
    PyMem_Free(argv);
    Py_DECREF(keep);
    if (core == NULL) {
        PyErr_NoMemory();
    }
    return core;
}

PyDoc_STRVAR(
    s_start_doc,
    "start()\n--\n\n"
    "Connect to the aggregator named by MPPROF_ENDPOINT and MPPROF_SESSION,\n"
    "send HELLO and arm the exit and fork handlers.  Profiling begins with\n"
    "enable().  Calling it again does nothing.");

static PyObject *
s_start(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_modstate_t *st = s_state(module);
    const char *endpoint = getenv("MPPROF_ENDPOINT");
    const char *token = getenv("MPPROF_SESSION");

    if (st->hook.core != NULL) {
        Py_RETURN_NONE;
    }
    if (endpoint == NULL || *endpoint == '\0' || token == NULL ||
        *token == '\0') {
        PyErr_SetString(PyExc_RuntimeError,
                        "MPPROF_ENDPOINT and MPPROF_SESSION must be set");
        return NULL;
    }
    Py_ssize_t code_index = mpp_code_extra_index();
    if (code_index < 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "no code object extra slot is left");
        return NULL;
    }

    /* Everything that can fail in Python comes before the core starts:
     * a started core cannot be taken back. */
    PyObject *real[S_NREAL] = {NULL};
    PyObject *os = PyImport_ImportModule("os");
    bool have_real = os != NULL;
    for (int i = 0; have_real && i < S_NREAL; i++) {
        real[i] = PyObject_GetAttrString(os, s_real_names[i]);
        have_real = real[i] != NULL;
    }
    Py_XDECREF(os);
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *at_exit = PyObject_GetAttrString(module, "_at_exit");
    mpp_core_t *core = NULL;
    if (!have_real || atexit == NULL || at_exit == NULL ||
        (core = s_new_core(endpoint, token)) == NULL) {
        goto fail;
    }
    const char *why = NULL;
    if (mpp_core_start(core, &why) < 0) {
        PyErr_Format(PyExc_RuntimeError, "cannot connect to %s: %s", endpoint,
                     why);
        mpp_core_destroy(&core);
        goto fail;
    }
    st->hook.core = core;
    st->hook.code_index = code_index;
    for (int i = 0; i < S_NREAL; i++) {
        st->real[i] = real[i];
    }

    /* The on_exit handler sends the final batch after finalization; this
     * one runs at its start (see s_at_exit). */
    PyObject *r = PyObject_CallMethod(atexit, "register", "O", at_exit);
    Py_XDECREF(r);
    Py_DECREF(atexit);
    Py_DECREF(at_exit);
    if (r == NULL || s_export_parent_pid() < 0) {
        return NULL;
    }
    Py_RETURN_NONE;

fail:
    for (int i = 0; i < S_NREAL; i++) {
        Py_XDECREF(real[i]);
    }
    Py_XDECREF(atexit);
    Py_XDECREF(at_exit);
    return NULL;
}

/* Whether SIGTERM's Python-level handler is this module's on_signal. */
static bool
s_sigterm_is_ours(PyObject *module)
{
    PyObject *signal = PyImport_ImportModule("signal");
    PyObject *num = signal ? PyObject_GetAttrString(signal, "SIGTERM") : NULL;
    PyObject *now =
        num ? PyObject_CallMethod(signal, "getsignal", "O", num) : NULL;
    PyObject *ours = PyObject_GetAttrString(module, "on_signal");
    bool same = now != NULL && now == ours;
    Py_XDECREF(ours);
    Py_XDECREF(now);
    Py_XDECREF(num);
    Py_XDECREF(signal);
    PyErr_Clear();
    return same;
}

PyDoc_STRVAR(
    s_enable_doc,
    "enable()\n--\n\n"
    "Install the profile hook on this thread and on every thread started\n"
    "later through threading.");

static PyObject *
s_enable(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_modstate_t *st = s_state(module);
    if (s_core(module) == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start() was not called");
        return NULL;
    }
    /* threading first, so its import is not part of the profile. */
    PyObject *threading = PyImport_ImportModule("threading");
    if (threading == NULL) {
        return NULL;
    }
    PyObject *starter = PyObject_GetAttrString(module, "_thread_start");
    PyObject *r =
        starter ? PyObject_CallMethod(threading, "setprofile", "O", starter)
                : NULL;
    Py_XDECREF(starter);
    Py_DECREF(threading);
    if (r == NULL) {
        return NULL;
    }
    Py_DECREF(r);
    if (s_sigterm_is_ours(module)) {
        (void)mpp_core_sigterm_install();
    }
    PyObject *name = mpp_hook_thread_name();
    int rc =
        mpp_hook_install(st->ref_type, &st->hook, s_text(name, "MainThread"));
    Py_XDECREF(name);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/*  threading.setprofile() hands this to every new thread; its first event
 *  replaces it with the C hook, so it runs once per thread.  It must never
 *  raise: the exception would surface in the user's thread. */
static PyObject *
s_thread_start(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    mpp_modstate_t *st = s_state(module);
    mpp_core_t *core = s_core(module);
    int rc = -1;

    if (core != NULL && !(core->hot & MPP_CORE_DONE)) {
        PyObject *name = mpp_hook_thread_name();
        rc = mpp_hook_install(st->ref_type, &st->hook, s_text(name, "?"));
        Py_XDECREF(name);
        if (rc == 0 && nargs == 3) {
            mpp_hook_replay(args[0], args[1], args[2]);
        }
    }
    if (rc < 0) {
        /* Unprofiled, but not called again at every event. */
        PyErr_Clear();
        PyEval_SetProfile(NULL, NULL);
    }
    Py_RETURN_NONE;
}

/* ---- flushing and the end of the process ------------------------------- */

PyDoc_STRVAR(
    s_flush_doc,
    "flush()\n--\n\n"
    "Send a DATA message with everything that changed since the last one.");

static PyObject *
s_flush(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_core_t *core = s_core(module);
    if (core != NULL) {
        mpp_hook_refresh_name(core);
        (void)mpp_core_flush(core);
    }
    Py_RETURN_NONE;
}

/*  Registered with atexit, so it runs in finalization after the program's
 *  own exit handlers.  It sends a DATA (should anything later in
 *  finalization fail, nothing is lost) and hands SIGTERM, SIGINT and
 *  SIGHUP over to the exit hold, since Python is about to drop its
 *  handlers for them.  Ignored signals stay ignored.
 *
 *  The only way to take a signal from Python is signal.signal(n, SIG_DFL),
 *  which really sets the default action before the hold can replace it: a
 *  SIGTERM landing in between (Pool.terminate() signals workers that are
 *  exiting after their stop sentinel) would end the process on the spot,
 *  with the DATA above still in ZeroMQ's queue and no BYE.  So this thread
 *  blocks the three signals for the hand-over, the hold takes each one
 *  the moment Python lets it go, and one that came meanwhile stays pending
 *  until the mask is restored, then goes to the hold. */
static PyObject *
s_at_exit(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    static const char *const names[] = {"SIGTERM", "SIGINT", "SIGHUP"};
    mpp_core_t *core = s_core(module);

    if (core == NULL) {
        Py_RETURN_NONE;
    }
    mpp_hook_refresh_name(core);
    (void)mpp_core_flush(core);

    /* A SIGTERM Python did not get to handle is now handled by the hold;
     * one that did trip Python's flag runs on_signal from signal.signal
     * below, which unblocks it before dying by it. */
    mpp_core_sigterm_disarm();
    sigset_t block;
    sigset_t old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);

    PyObject *signal = PyImport_ImportModule("signal");
    PyObject *dfl = signal ? PyObject_GetAttrString(signal, "SIG_DFL") : NULL;
    PyObject *ign = signal ? PyObject_GetAttrString(signal, "SIG_IGN") : NULL;
    bool handed_over = dfl != NULL && ign != NULL;
    for (size_t i = 0; handed_over && i < MPP_ARRAY_SIZE(names); i++) {
        PyObject *num = PyObject_GetAttrString(signal, names[i]);
        PyObject *now =
            num ? PyObject_CallMethod(signal, "getsignal", "O", num) : NULL;
        /* None: a handler not set from Python, which is not ours to
         * replace; signal.signal fails outside the main thread. */
        if (now != NULL && now != Py_None && now != ign) {
            PyObject *r =
                PyObject_CallMethod(signal, "signal", "OO", num, dfl);
            handed_over = r != NULL;
            Py_XDECREF(r);
        }
        if (handed_over) {
            /* At once, not after the other signals: any thread that does
             * not block this one could take it as SIG_DFL. */
            mpp_core_hold_signals();
        }
        Py_XDECREF(now);
        Py_XDECREF(num);
    }
    Py_XDECREF(dfl);
    Py_XDECREF(ign);
    Py_XDECREF(signal);
    PyErr_Clear();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    Py_RETURN_NONE;
}

static void
s_finish(mpp_core_t *core, mpp_exit_kind_t kind, int32_t code)
{
    mpp_hook_refresh_name(core);
    mpp_core_finish(core, kind, code);
}

PyDoc_STRVAR(
    s_os_exit_doc,
    "os_exit(status)\n--\n\n"
    "Replacement for os._exit: send the final DATA and BYE, then exit\n"
    "through the original os._exit.  multiprocessing's fork children end\n"
    "this way, skipping every other exit handler.");

static PyObject *
s_os_exit(PyObject *module, PyObject *status)
{
    mpp_modstate_t *st = s_state(module);
    mpp_core_t *core = s_core(module);

    if (st->real[S_EXIT] == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start() was not called");
        return NULL;
    }
    if (core != NULL && PyLong_Check(status)) {
        /* os._exit(n) leaves the parent n & 0xff. */
        int overflow;
        long n = PyLong_AsLongAndOverflow(status, &overflow);
        /* A value os._exit itself refuses ends nothing: no BYE. */
        if (overflow == 0 && !PyErr_Occurred()) {
            int32_t code = (int32_t)(n & 0xff);
            s_finish(core, code == 0 ? MPP_EXIT_OK : MPP_EXIT_CODE, code);
        }
        PyErr_Clear();
    }
    return PyObject_CallOneArg(st->real[S_EXIT], status);
}

/*  Calls the original os function `which` with the arguments of a
 *  wrapper, or raises when start() never captured it. */
static PyObject *
s_call_real(PyObject *module, int which, PyObject *args, PyObject *kwargs)
{
    PyObject *real = s_state(module)->real[which];
    if (real == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start() was not called");
        return NULL;
    }
    return PyObject_Call(real, args, kwargs);
}

/*  An exec replaces the process image and with it the ZeroMQ queue, so the
 *  incarnation ends here as at exit: last DATA, BYE, and the socket closed
 *  after delivery.  An exec'd Python with the shim then starts a new
 *  incarnation under the same pid.  When the exec fails the process goes
 *  on, as a new incarnation too. */
static PyObject *
s_exec_image(PyObject *module, int which, PyObject *args, PyObject *kwargs)
{
    mpp_core_t *core = s_core(module);
    if (core != NULL) {
        s_finish(core, MPP_EXIT_OK, 0);
    }
    PyObject *r = s_call_real(module, which, args, kwargs);
    if (core != NULL) {
        mpp_core_restart(core);
    }
    return r;
}

PyDoc_STRVAR(
    s_os_execv_doc,
    "os_execv(path, argv)\n--\n\n"
    "Replacement for os.execv: end this incarnation's profile, then exec.");

static PyObject *
s_os_execv(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return s_exec_image(module, S_EXECV, args, kwargs);
}

PyDoc_STRVAR(
    s_os_execve_doc,
    "os_execve(path, argv, env)\n--\n\n"
    "Replacement for os.execve: end this incarnation's profile, then exec.");

static PyObject *
s_os_execve(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return s_exec_image(module, S_EXECVE, args, kwargs);
}

PyDoc_STRVAR(
    s_os_closerange_doc,
    "os_closerange(fd_low, fd_high)\n--\n\n"
    "Replacement for os.closerange, which daemonizing code calls to close\n"
    "every descriptor: the collector's socket goes first, cleanly, and is\n"
    "reopened when the next batch is due.");

static PyObject *
s_os_closerange(PyObject *module, PyObject *args, PyObject *kwargs)
{
    mpp_core_t *core = s_core(module);
    if (core != NULL) {
        mpp_hook_refresh_name(core);
        mpp_core_disconnect(core);
    }
    return s_call_real(module, S_CLOSERANGE, args, kwargs);
}

PyDoc_STRVAR(
    s_on_signal_doc,
    "on_signal(signum, frame)\n--\n\n"
    "Handler for SIGTERM: send the final DATA and BYE, then die by the same\n"
    "signal with its default action, so whoever waits sees the usual status.");

static PyObject *
s_on_signal(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    mpp_core_t *core = s_core(module);
    int signum = SIGTERM;

    if (nargs >= 1 && PyLong_Check(args[0])) {
        long n = PyLong_AsLong(args[0]);
        if (n > 0 && n < NSIG) {
            signum = (int)n;
        }
        PyErr_Clear();
    }
    mpp_core_sigterm_disarm();
    if (core != NULL) {
        s_finish(core, MPP_EXIT_SIGNAL, signum);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(signum, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signum);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    /* raise() targets this thread, so the default action (ending the whole
     * process) is taken before it returns. */
    raise(signum);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(
    s_after_fork_child_doc,
    "after_fork_child()\n--\n\n"
    "For os.register_at_fork(after_in_child=...): start the child's own\n"
    "profile at once and name it the profiled parent of its children.");

static PyObject *
s_after_fork_child(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_core_t *core = s_core(module);
    if (core != NULL) {
        /* at-fork callbacks run after Python's signal reset. */
        mpp_core_sigterm_after_fork();
        if (s_export_parent_pid() < 0) {
            PyErr_Clear();
        }
    }
    Py_RETURN_NONE;
}

/* ---- introspection for tests ------------------------------------------- */

/* Rows of the snapshot: functions merged by (file, line, name). */
typedef struct {
    const mpp_clock_t *clock; /* converts the tables' ticks */
    PyObject *keys;           /* list: row -> key tuple */
    PyObject *row_of;         /* dict: key tuple -> row */
    Py_ssize_t *fid_row;      /* function id -> row, -1 until seen */
    mpp_cost_t *cost;         /* row -> cost */
    size_t capcost;
    PyObject *edges; /* dict: (callee row, caller row) -> cost index */
    mpp_cost_t *ecost;
    size_t capecost;
} s_snap_t;

static Py_ssize_t
s_snap_row(s_snap_t *snap, const mpp_funcs_t *funcs, uint32_t fid)
{
    if (snap->fid_row[fid] >= 0) {
        return snap->fid_row[fid];
    }
    mpp_wfunc_t def;
    mpp_funcs_get(funcs, fid, &def);
    PyObject *key = Py_BuildValue("(sis)", def.file, (int)def.line, def.name);
    if (key == NULL) {
        return -1;
    }
    Py_ssize_t row;
    PyObject *known = PyDict_GetItemWithError(snap->row_of, key);
    if (known != NULL) {
        row = PyLong_AsSsize_t(known);
    }
    else if (PyErr_Occurred()) {
        row = -1;
    }
    else {
        row = PyList_GET_SIZE(snap->keys);
        PyObject *value = PyLong_FromSsize_t(row);
        if (value == NULL || PyDict_SetItem(snap->row_of, key, value) < 0 ||
            PyList_Append(snap->keys, key) < 0 ||
            mpp_grow((void **)&snap->cost, &snap->capcost, (size_t)row + 1,
                     sizeof(*snap->cost)) < 0) {
            row = -1;
        }
        else {
            memset(&snap->cost[row], 0, sizeof(*snap->cost));
        }
        Py_XDECREF(value);
    }
    Py_DECREF(key);
    snap->fid_row[fid] = row;
    return row;
}

static int
s_snap_edge(s_snap_t *snap, Py_ssize_t callee, Py_ssize_t caller,
            const mpp_cost_t *cost)
{
    PyObject *key = Py_BuildValue("(nn)", callee, caller);
    if (key == NULL) {
        return -1;
    }
    Py_ssize_t ix = -1;
    PyObject *known = PyDict_GetItemWithError(snap->edges, key);
    if (known != NULL) {
        ix = PyLong_AsSsize_t(known);
    }
    else if (!PyErr_Occurred()) {
        ix = PyDict_GET_SIZE(snap->edges);
        PyObject *value = PyLong_FromSsize_t(ix);
        if (value == NULL || PyDict_SetItem(snap->edges, key, value) < 0 ||
            mpp_grow((void **)&snap->ecost, &snap->capecost, (size_t)ix + 1,
                     sizeof(*snap->ecost)) < 0) {
            ix = -1;
        }
        else {
            memset(&snap->ecost[ix], 0, sizeof(*snap->ecost));
        }
        Py_XDECREF(value);
    }
    Py_DECREF(key);
    if (ix < 0) {
        return -1;
    }
    mpp_cost_add(&snap->ecost[ix], cost);
    return 0;
}

static double
s_seconds(const s_snap_t *snap, int64_t ticks)
{
    return (double)mpp_clock_ns(snap->clock, ticks) / 1e9;
}

static PyObject *
s_snap_build(s_snap_t *snap)
{
    Py_ssize_t nrows = PyList_GET_SIZE(snap->keys);
    PyObject *result = PyDict_New();
    PyObject *callers = PyList_New(nrows);
    if (result == NULL || callers == NULL) {
        goto fail;
    }
    for (Py_ssize_t r = 0; r < nrows; r++) {
        PyObject *d = PyDict_New();
        if (d == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(callers, r, d);
    }
    /* pstats keeps callers as {caller: (nc, cc, tt, ct)}: total calls
     * first, unlike the function's own (cc, nc, tt, ct). */
    Py_ssize_t pos = 0;
    PyObject *key;
    PyObject *value;
    while (PyDict_Next(snap->edges, &pos, &key, &value)) {
        Py_ssize_t callee = PyLong_AsSsize_t(PyTuple_GET_ITEM(key, 0));
        Py_ssize_t caller = PyLong_AsSsize_t(PyTuple_GET_ITEM(key, 1));
        const mpp_cost_t *c = &snap->ecost[PyLong_AsSsize_t(value)];
        PyObject *t = Py_BuildValue("(KKdd)", (unsigned long long)c->ncalls,
                                    (unsigned long long)c->pcalls,
                                    s_seconds(snap, c->tt_ns),
                                    s_seconds(snap, c->ct_ns));
        if (t == NULL ||
            PyDict_SetItem(PyList_GET_ITEM(callers, callee),
                           PyList_GET_ITEM(snap->keys, caller), t) < 0) {
            Py_XDECREF(t);
            goto fail;
        }
        Py_DECREF(t);
    }
    for (Py_ssize_t r = 0; r < nrows; r++) {
        const mpp_cost_t *c = &snap->cost[r];
        PyObject *t = Py_BuildValue(
            "(KKddO)", (unsigned long long)c->pcalls,
            (unsigned long long)c->ncalls, s_seconds(snap, c->tt_ns),
            s_seconds(snap, c->ct_ns), PyList_GET_ITEM(callers, r));
        if (t == NULL ||
            PyDict_SetItem(result, PyList_GET_ITEM(snap->keys, r), t) < 0) {
            Py_XDECREF(t);
            goto fail;
        }
        Py_DECREF(t);
    }
    Py_DECREF(callers);
    return result;

fail:
    Py_XDECREF(callers);
    Py_XDECREF(result);
    return NULL;
}

PyDoc_STRVAR(
    s_snapshot_doc,
    "snapshot()\n--\n\n"
    "This process's profile so far, all threads merged, shaped like\n"
    "cProfile's stats: {(file, line, name): (cc, nc, tt, ct, callers)}.\n"
    "Frames still running are counted as calls but their time is not in yet.");

static PyObject *
s_snapshot(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_core_t *core = s_core(module);
    if (core == NULL) {
        return PyDict_New();
    }
    uint32_t nfuncs = mpp_funcs_count(core->funcs);
    mpp_clock_calibrate(&core->clock);
    s_snap_t snap = {
        .clock = &core->clock,
        .keys = PyList_New(0),
        .row_of = PyDict_New(),
        .fid_row = PyMem_Malloc(((size_t)nfuncs + 1) * sizeof(Py_ssize_t)),
        .edges = PyDict_New(),
    };
    PyObject *result = NULL;
    if (snap.keys == NULL || snap.row_of == NULL || snap.fid_row == NULL ||
        snap.edges == NULL) {
        goto done;
    }
    for (uint32_t i = 0; i < nfuncs; i++) {
        snap.fid_row[i] = -1;
    }
    for (size_t i = 0; i < core->nthreads; i++) {
        const mpp_tstate_t *t = core->threads[i];
        for (uint32_t j = 0; j < t->nstats; j++) {
            Py_ssize_t r = s_snap_row(&snap, core->funcs, t->stats[j].fid);
            if (r < 0) {
                goto done;
            }
            mpp_cost_add(&snap.cost[r], &t->stats[j].cost);
        }
        for (uint32_t j = 0; j < t->nedges; j++) {
            const mpp_ts_edge_t *e = &t->edges[j];
            Py_ssize_t caller =
                s_snap_row(&snap, core->funcs, t->stats[e->caller - 1].fid);
            Py_ssize_t callee =
                s_snap_row(&snap, core->funcs, t->stats[e->callee - 1].fid);
            if (caller < 0 || callee < 0 ||
                s_snap_edge(&snap, callee, caller, &e->cost) < 0) {
                goto done;
            }
        }
    }
    result = s_snap_build(&snap);

done:
    if (result == NULL && !PyErr_Occurred()) {
        PyErr_NoMemory();
    }
    Py_XDECREF(snap.keys);
    Py_XDECREF(snap.row_of);
    Py_XDECREF(snap.edges);
    PyMem_Free(snap.fid_row);
    free(snap.cost);
    free(snap.ecost);
    return result;
}

PyDoc_STRVAR(s_mem_usage_doc, "mem_usage()\n--\n\n"
                              "Bytes of memory the collector's tables hold.");

static PyObject *
s_mem_usage(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_core_t *core = s_core(module);
    return PyLong_FromSize_t(core != NULL ? mpp_core_mem(core) : 0);
}

PyDoc_STRVAR(s_info_doc,
             "info()\n--\n\n"
             "The collector's own counters, for tests and debugging.");

static PyObject *
s_info(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_core_t *core = s_core(module);
    if (core == NULL) {
        return PyDict_New();
    }
    return Py_BuildValue(
        "{s:L,s:L,s:s,s:s,s:K,s:K,s:K,s:K,s:K,s:I,s:n,s:s,s:O}", "pid",
        (long long)core->pid, "ppid", (long long)core->ppid, "start_method",
        core->start_method, "name", core->name, "seq",
        (unsigned long long)core->seq, "messages",
        (unsigned long long)core->messages, "send_failures",
        (unsigned long long)core->send_failures, "encode_failures",
        (unsigned long long)core->encode_failures, "dropped",
        (unsigned long long)mpp_core_dropped(core), "functions",
        (unsigned int)mpp_funcs_count(core->funcs), "threads",
        (Py_ssize_t)core->nthreads, "clock",
        core->clock.kind == MPP_CLOCK_TSC    ? "tsc"
        : core->clock.kind == MPP_CLOCK_TEST ? "test"
                                             : "mono",
        "done", (core->hot & MPP_CORE_DONE) ? Py_True : Py_False);
}

/* ---- the module -------------------------------------------------------- */

static PyMethodDef s_methods[] = {
    {"start", s_start, METH_NOARGS, s_start_doc},
    {"enable", s_enable, METH_NOARGS, s_enable_doc},
    {"flush", s_flush, METH_NOARGS, s_flush_doc},
    {"os_exit", s_os_exit, METH_O, s_os_exit_doc},
    {"os_execv", (PyCFunction)(void (*)(void))s_os_execv,
     METH_VARARGS | METH_KEYWORDS, s_os_execv_doc},
    {"os_execve", (PyCFunction)(void (*)(void))s_os_execve,
     METH_VARARGS | METH_KEYWORDS, s_os_execve_doc},
    {"os_closerange", (PyCFunction)(void (*)(void))s_os_closerange,
     METH_VARARGS | METH_KEYWORDS, s_os_closerange_doc},
    {"on_signal", (PyCFunction)(void (*)(void))s_on_signal, METH_FASTCALL,
     s_on_signal_doc},
    {"after_fork_child", s_after_fork_child, METH_NOARGS,
     s_after_fork_child_doc},
    {"snapshot", s_snapshot, METH_NOARGS, s_snapshot_doc},
    {"mem_usage", s_mem_usage, METH_NOARGS, s_mem_usage_doc},
    {"info", s_info, METH_NOARGS, s_info_doc},
    {"_thread_start", (PyCFunction)(void (*)(void))s_thread_start,
     METH_FASTCALL, NULL},
    {"_at_exit", s_at_exit, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static int
s_exec(PyObject *module)
{
    mpp_modstate_t *st = s_state(module);
    st->ref_type = (PyTypeObject *)mpp_hook_type_new(module);
    if (st->ref_type == NULL) {
        return -1;
    }
    st->hook.own = s_methods;
    st->hook.ownend = s_methods + MPP_ARRAY_SIZE(s_methods) - 1;
    return PyModule_AddStringConstant(module, "__version__",
                                      MPPROF_VERSION_STRING);
}

static int
s_traverse(PyObject *module, visitproc visit, void *arg)
{
    mpp_modstate_t *st = s_state(module);
    Py_VISIT(st->ref_type);
    for (int i = 0; i < S_NREAL; i++) {
        Py_VISIT(st->real[i]);
    }
    return 0;
}

/* Drops the module's Python references only: the core is deliberately
 * kept, since the on_exit handler still needs it after finalization. */
static int
s_clear(PyObject *module)
{
    mpp_modstate_t *st = s_state(module);
    Py_CLEAR(st->ref_type);
    for (int i = 0; i < S_NREAL; i++) {
        Py_CLEAR(st->real[i]);
    }
    return 0;
}

static void
s_free(void *module)
{
    (void)s_clear((PyObject *)module);
}

static PyModuleDef_Slot s_slots[] = {
    {Py_mod_exec, s_exec},
    MPP_MOD_EXTRA_SLOTS{0, NULL},
};

PyDoc_STRVAR(
    s_module_doc,
    "mpprof's collector: a deterministic, multiprocessing-aware profiler.\n\n"
    "Started by mpprof's sitecustomize when MPPROF_ENDPOINT is set.");

static struct PyModuleDef s_module = {
    PyModuleDef_HEAD_INIT,    .m_name = "_collector",
    .m_doc = s_module_doc,    .m_size = sizeof(mpp_modstate_t),
    .m_methods = s_methods,   .m_slots = s_slots,
    .m_traverse = s_traverse, .m_clear = s_clear,
    .m_free = s_free,
};

PyMODINIT_FUNC
PyInit__collector(void)
{
    return PyModuleDef_Init(&s_module);
}
