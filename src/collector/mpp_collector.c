/*  mpprof._collector: the extension module that profiles one process.
 *  This unit holds the module itself, start() and enable(); the end of
 *  the process is mpp_pyexit.c's, introspection mpp_snapshot.c's.
 *
 *  pyshim/sitecustomize.py drives it: it installs on_signal for SIGTERM,
 *  start() connects to the aggregator and says HELLO, the shim replaces
 *  os._exit, os.execv, os.execve and os.closerange with the wrappers
 *  below and registers after_fork_child, and enable() finally installs
 *  the backend: on 3.12+ the sys.monitoring callbacks (mpp_monitor.c),
 *  which see every thread, else the profile hook on this thread and,
 *  through threading.setprofile, on every thread started later.  From
 *  then on the backend streams DATA every interval, and the end of the
 *  process (exit status, os._exit, exec, SIGTERM) sends the last DATA and
 *  a BYE.
 *
 *  The module state only points at the core: the core must outlive the
 *  module, because the on_exit handler uses it after finalization has
 *  freed every module.  No function of this module shows up in a profile.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mpp_module.h"
#include "mpp_pybytes.h"
#include "mpp_signals.h"

static const char *const s_real_names[MPP_NREAL] = {"_exit", "execv", "execve",
                                                    "closerange"};

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
    bool tracker = false;

    for (size_t i = 0; i < argc; i++) {
        mp_fork |= strcmp(argv[i], "--multiprocessing-fork") == 0;
        spawn_main |= strstr(argv[i], "spawn_main") != NULL;
        forkserver |= strstr(argv[i], "multiprocessing.forkserver") != NULL;
        tracker |= strstr(argv[i], "multiprocessing.resource_tracker") != NULL;
    }
    cfg->helper_main = forkserver || tracker;
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

/*  Through os.environ, so Python-level copies of the environment agree
 *  with the C one. */
/*  os.environ's own dict (bytes to bytes on POSIX), checked by a key the
 *  launcher set; NULL (no exception) when it is not that. */
static PyObject *
s_environ_data(void)
{
    PyObject *os = PyImport_ImportModule("os");
    PyObject *env = os ? PyObject_GetAttrString(os, "environ") : NULL;
    PyObject *data = env ? PyObject_GetAttrString(env, "_data") : NULL;
    Py_XDECREF(env);
    Py_XDECREF(os);
    PyErr_Clear();
    if (data != NULL && PyDict_Check(data)) {
        PyObject *probe = PyBytes_FromString("MPPROF_SESSION");
        int has = probe != NULL ? PyDict_Contains(data, probe) : -1;
        Py_XDECREF(probe);
        if (has != 1) {
            Py_CLEAR(data);
        }
    }
    else {
        Py_CLEAR(data);
    }
    PyErr_Clear();
    return data;
}

int
mpp_mod_export_parent_pid(PyObject *module)
{
    mpp_modstate_t *st = mpp_mod_state(module);
    char text[24];
    snprintf(text, sizeof(text), "%ld", (long)getpid());
    if (st->environ_data == NULL) {
        st->environ_data = s_environ_data();
    }
    if (st->environ_data == NULL) {
        /* Not the mapping this code knows: through os.environ itself. */
        PyObject *os = PyImport_ImportModule("os");
        PyObject *env = os ? PyObject_GetAttrString(os, "environ") : NULL;
        PyObject *pid = env ? PyUnicode_FromString(text) : NULL;
        int rc = pid ? PyMapping_SetItemString(env, "MPPROF_PARENT_PID", pid)
                     : -1;
        Py_XDECREF(pid);
        Py_XDECREF(env);
        Py_XDECREF(os);
        return rc;
    }
    /* What os.environ's __setitem__ does (posix.putenv, then its dict),
     * minus the Python code: in a fork child that code ran under the
     * child's own hook, and showed in its profile as calls the program
     * never made. */
    if (setenv("MPPROF_PARENT_PID", text, 1) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    PyObject *key = PyBytes_FromString("MPPROF_PARENT_PID");
    PyObject *val = PyBytes_FromString(text);
    int rc = key && val ? PyDict_SetItem(st->environ_data, key, val) : -1;
    Py_XDECREF(key);
    Py_XDECREF(val);
    return rc;
}

/* A directory named by the environment, or NULL when unset or empty. */
static const char *
s_env_dir(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] == '/' ? v : NULL;
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

/* Builds the core from the environment and sys.orig_argv, with `sink`. */
static mpp_core_t *
s_new_core(const char *token, mpp_sink_t sink)
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
        .token = token,
        .interval_ms = s_env_int("MPPROF_INTERVAL_MS", 100, 1, 3600 * 1000),
        .test_clock = s_env_int("MPPROF_TEST_CLOCK", 0, 0, 1) == 1,
        .allow_tsc = !s_env_is("MPPROF_CLOCK", "mono"),
        .python = python,
        .argv = argv,
        .argc = (size_t)argc,
        .name = "MainProcess",
        .span_min_us = s_env_int("MPPROF_SPAN_MIN_US", 1000, 1, INT_MAX),
        .shm_dir = s_env_dir("MPPROF_SHM_DIR"),
        .sink = sink,
        .measure = mpp_pybytes_measure(),
        .own_process = true,
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

/*  The on_exit handler sends the final batch after finalization; this
 *  one runs at its start (see mpp_mod_at_exit).  Registered before the
 *  core starts; until it has, the handler finds no core and does nothing. */
static bool
s_register_at_exit(PyObject *module)
{
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *at_exit =
        atexit ? PyObject_GetAttrString(module, "_at_exit") : NULL;
    PyObject *r =
        at_exit ? PyObject_CallMethod(atexit, "register", "O", at_exit) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(at_exit);
    Py_XDECREF(atexit);
    return r != NULL;
}

/*  After a failed start: children must not name this unprofiled process
 *  as their profiled parent.  Keeps the pending exception. */
static void
s_restore_parent_pid(const char *old)
{
    mpp_exc_t exc;
    mpp_exc_save(&exc);
    PyObject *os = PyImport_ImportModule("os");
    PyObject *os_environ =
        os ? PyObject_GetAttrString(os, "environ") : NULL;
    if (os_environ != NULL) {
        PyObject *value = old ? PyUnicode_DecodeFSDefault(old) : NULL;
        if (value != NULL) {
            (void)PyMapping_SetItemString(os_environ, "MPPROF_PARENT_PID",
                                          value);
        }
        else if (old == NULL) {
            (void)PyMapping_DelItemString(os_environ, "MPPROF_PARENT_PID");
        }
        Py_XDECREF(value);
    }
    Py_XDECREF(os_environ);
    Py_XDECREF(os);
    mpp_exc_restore(&exc);
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
    mpp_modstate_t *st = mpp_mod_state(module);
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

    /* Everything that can fail comes before the core starts: a started
     * core has sent HELLO and will send BYE, so start() must not raise
     * after that and leave the shim saying the process runs unprofiled
     * (issue 9, item 6). */
    PyObject *real[MPP_NREAL] = {NULL};
    PyObject *os = PyImport_ImportModule("os");
    bool have_real = os != NULL;
    for (int i = 0; have_real && i < MPP_NREAL; i++) {
        real[i] = PyObject_GetAttrString(os, s_real_names[i]);
        have_real = real[i] != NULL;
    }
    Py_XDECREF(os);
    char *old_parent = mpp_strdup(getenv("MPPROF_PARENT_PID"));
    const mpp_zsink_api_t *zs = NULL;
    mpp_zsink_t *zsink = NULL;
    mpp_core_t *core = NULL;
    mpp_sink_t sink = {0};
    if (!have_real) {
        goto fail;
    }
    /* With a map directory the host's agent reads the core's mapping and
     * nothing is sent from here: no socket, no I/O thread (issue 12). */
    if (s_env_dir("MPPROF_SHM_DIR") == NULL) {
        const char *why = NULL;
        if ((zs = mpp_zsink_load(&why)) == NULL) {
            PyErr_SetString(PyExc_RuntimeError, why);
            goto fail;
        }
        zsink = zs->create(
            endpoint, s_env_int("MPPROF_LINGER_MS", 3000, 0, 600 * 1000));
        if (zsink == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        sink = zs->sink(zsink);
    }
    /* The core reads this process's origin (MPPROF_PARENT_PID among it)
     * before the export below replaces it for the children. */
    if ((core = s_new_core(token, sink)) == NULL ||
        !s_register_at_exit(module) || mpp_mod_export_parent_pid(module) < 0) {
        goto fail;
    }
    const char *why = NULL;
    if (mpp_core_start(core, &why) < 0) {
        if (zsink != NULL) {
            PyErr_Format(PyExc_RuntimeError, "cannot connect to %s: %s",
                         endpoint, why);
        }
        else {
            PyErr_SetString(PyExc_RuntimeError, why);
        }
        goto fail;
    }
    if (zsink == NULL) {
        (void)mpp_mod_interpose_os(core);
    }
    /* Started: from here on nothing may fail. */
    free(old_parent);
    st->zsink = zsink;
    st->hook.core = core;
    st->hook.code_index = code_index;
    for (int i = 0; i < MPP_NREAL; i++) {
        st->real[i] = real[i];
    }
    Py_RETURN_NONE;

fail:
    mpp_core_destroy(&core);
    if (zsink != NULL) {
        zs->destroy(&zsink);
    }
    s_restore_parent_pid(old_parent);
    free(old_parent);
    for (int i = 0; i < MPP_NREAL; i++) {
        Py_XDECREF(real[i]);
    }
    return NULL;
}

/*  Whether SIGTERM's Python-level handler is this module's on_signal.
 *  Only the shim installs it, through the signal module: when nothing has
 *  imported that, it is not ours, and importing it just to ask would cost
 *  every process that never uses it (the agent's mode) about a
 *  millisecond. */
static bool
s_sigterm_is_ours(PyObject *module)
{
    PyObject *name = PyUnicode_FromString("signal");
    PyObject *signal = name != NULL ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    if (signal == NULL) {
        PyErr_Clear();
        return false;
    }
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
    "Start profiling: on Python 3.12+ through sys.monitoring, every thread;\n"
    "else install the profile hook on this thread and on every thread\n"
    "started later through threading.");

static PyObject *
s_enable(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_modstate_t *st = mpp_mod_state(module);
    if (mpp_mod_core(module) == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start() was not called");
        return NULL;
    }
    /* threading first, so its import is not part of the profile. */
    PyObject *threading = PyImport_ImportModule("threading");
    if (threading == NULL) {
        return NULL;
    }
    if (s_sigterm_is_ours(module)) {
        (void)mpp_core_sigterm_install();
    }
    /* On 3.12+ sys.monitoring sees every thread by itself; the profile
     * hook below is the fallback when it cannot be had. */
    if (mpp_monitor_wanted()) {
        PyObject *name = mpp_hook_thread_name();
        int rc = mpp_monitor_start(&st->hook, s_text(name, "MainThread"));
        Py_XDECREF(name);
        if (rc != 0) {
            Py_DECREF(threading);
            if (rc < 0) {
                return NULL;
            }
            Py_RETURN_NONE;
        }
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
    mpp_modstate_t *st = mpp_mod_state(module);
    mpp_core_t *core = mpp_mod_core(module);
    int rc = -1;

    if (core != NULL && !(mpp_core_hot(core)->hot & MPP_CORE_DONE)) {
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

/* ---- flushing ---------------------------------------------------------- */

PyDoc_STRVAR(
    s_flush_doc,
    "flush()\n--\n\n"
    "Send a DATA message with everything that changed since the last one.");

static PyObject *
s_flush(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_core_t *core = mpp_mod_core(module);
    if (core != NULL) {
        mpp_hook_refresh_name(core);
        (void)mpp_core_flush(core);
    }
    Py_RETURN_NONE;
}

/* ---- the module -------------------------------------------------------- */

static PyMethodDef s_methods[] = {
    {"start", s_start, METH_NOARGS, s_start_doc},
    {"enable", s_enable, METH_NOARGS, s_enable_doc},
    {"flush", s_flush, METH_NOARGS, s_flush_doc},
    {"os_exit", mpp_mod_os_exit, METH_O, mpp_mod_os_exit_doc},
    {"os_execv", (PyCFunction)(void (*)(void))mpp_mod_os_execv,
     METH_VARARGS | METH_KEYWORDS, mpp_mod_os_execv_doc},
    {"os_execve", (PyCFunction)(void (*)(void))mpp_mod_os_execve,
     METH_VARARGS | METH_KEYWORDS, mpp_mod_os_execve_doc},
    {"os_closerange", (PyCFunction)(void (*)(void))mpp_mod_os_closerange,
     METH_VARARGS | METH_KEYWORDS, mpp_mod_os_closerange_doc},
    {"on_signal", (PyCFunction)(void (*)(void))mpp_mod_on_signal,
     METH_FASTCALL, mpp_mod_on_signal_doc},
    {"after_fork_child", mpp_mod_after_fork_child, METH_NOARGS,
     mpp_mod_after_fork_child_doc},
    {"snapshot", mpp_mod_snapshot, METH_NOARGS, mpp_mod_snapshot_doc},
    {"mem_usage", mpp_mod_mem_usage, METH_NOARGS, mpp_mod_mem_usage_doc},
    {"info", mpp_mod_info, METH_NOARGS, mpp_mod_info_doc},
    {"_thread_start", (PyCFunction)(void (*)(void))s_thread_start,
     METH_FASTCALL, NULL},
    {"_at_exit", mpp_mod_at_exit, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static int
s_exec(PyObject *module)
{
    mpp_modstate_t *st = mpp_mod_state(module);
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
    mpp_modstate_t *st = mpp_mod_state(module);
    Py_VISIT(st->ref_type);
    for (int i = 0; i < MPP_NREAL; i++) {
        Py_VISIT(st->real[i]);
    }
    Py_VISIT(st->environ_data);
    return 0;
}

/* Drops the module's Python references only: the core is deliberately
 * kept, since the on_exit handler still needs it after finalization. */
static int
s_clear(PyObject *module)
{
    mpp_modstate_t *st = mpp_mod_state(module);
    Py_CLEAR(st->ref_type);
    for (int i = 0; i < MPP_NREAL; i++) {
        Py_CLEAR(st->real[i]);
    }
    Py_CLEAR(st->environ_data);
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
