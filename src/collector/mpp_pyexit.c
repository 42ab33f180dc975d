/*  The end of a profiled process as the module sees it: the atexit
 *  hand-over, the os function wrappers (os._exit, exec, closerange), the
 *  SIGTERM handler and the fork child's callback.  Each one sends what
 *  the core holds before the process image or its descriptors go. */
#include "mpp_module.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "mpp_signals.h"

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
PyObject *
mpp_mod_at_exit(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    static const char *const names[] = {"SIGTERM", "SIGINT", "SIGHUP"};
    mpp_core_t *core = mpp_mod_core(module);

    if (core == NULL) {
        Py_RETURN_NONE;
    }
    mpp_hook_refresh_name(core);
    mpp_core_cpu_final(core);
    (void)mpp_core_flush(core);
    if (!mpp_core_has_sink(core)) {
        /* Nothing is in flight to protect: the mapping holds it all, and
         * the signals stay exactly as the program left them. */
        Py_RETURN_NONE;
    }

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

MPP_DOC(mpp_mod_os_exit_doc,
        "os_exit(status)\n--\n\n"
        "Replacement for os._exit: send the final DATA and BYE, then exit\n"
        "through the original os._exit.  multiprocessing's fork children end\n"
        "this way, skipping every other exit handler.");

PyObject *
mpp_mod_os_exit(PyObject *module, PyObject *status)
{
    mpp_modstate_t *st = mpp_mod_state(module);
    mpp_core_t *core = mpp_mod_core(module);

    if (st->real[MPP_REAL_EXIT] == NULL) {
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
    return PyObject_CallOneArg(st->real[MPP_REAL_EXIT], status);
}

/*  Calls the original os function `which` with the arguments of a
 *  wrapper, or raises when start() never captured it. */
static PyObject *
s_call_real(PyObject *module, int which, PyObject *args, PyObject *kwargs)
{
    PyObject *real = mpp_mod_state(module)->real[which];
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
    mpp_core_t *core = mpp_mod_core(module);
    if (core != NULL) {
        s_finish(core, MPP_EXIT_OK, 0);
    }
    PyObject *r = s_call_real(module, which, args, kwargs);
    if (core != NULL) {
        mpp_core_restart(core);
    }
    return r;
}

MPP_DOC(
    mpp_mod_os_execv_doc,
    "os_execv(path, argv)\n--\n\n"
    "Replacement for os.execv: end this incarnation's profile, then exec.");

PyObject *
mpp_mod_os_execv(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return s_exec_image(module, MPP_REAL_EXECV, args, kwargs);
}

MPP_DOC(
    mpp_mod_os_execve_doc,
    "os_execve(path, argv, env)\n--\n\n"
    "Replacement for os.execve: end this incarnation's profile, then exec.");

PyObject *
mpp_mod_os_execve(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return s_exec_image(module, MPP_REAL_EXECVE, args, kwargs);
}

MPP_DOC(
    mpp_mod_os_closerange_doc,
    "os_closerange(fd_low, fd_high)\n--\n\n"
    "Replacement for os.closerange, which daemonizing code calls to close\n"
    "every descriptor: the collector's socket goes first, cleanly, and is\n"
    "reopened when the next batch is due.");

PyObject *
mpp_mod_os_closerange(PyObject *module, PyObject *args, PyObject *kwargs)
{
    mpp_core_t *core = mpp_mod_core(module);
    if (core != NULL) {
        mpp_hook_refresh_name(core);
        mpp_core_disconnect(core);
    }
    return s_call_real(module, MPP_REAL_CLOSERANGE, args, kwargs);
}

MPP_DOC(
    mpp_mod_on_signal_doc,
    "on_signal(signum, frame)\n--\n\n"
    "Handler for SIGTERM: send the final DATA and BYE, then die by the same\n"
    "signal with its default action, so whoever waits sees the usual status.");

PyObject *
mpp_mod_on_signal(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    mpp_core_t *core = mpp_mod_core(module);
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

MPP_DOC(mpp_mod_after_fork_child_doc,
        "after_fork_child()\n--\n\n"
        "For os.register_at_fork(after_in_child=...): start the child's own\n"
        "profile at once and name it the profiled parent of its children.");

PyObject *
mpp_mod_after_fork_child(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    mpp_core_t *core = mpp_mod_core(module);
    if (core != NULL) {
        /* at-fork callbacks run after Python's signal reset. */
        mpp_core_sigterm_after_fork();
        if (mpp_mod_export_parent_pid(module) < 0) {
            PyErr_Clear();
        }
    }
    Py_RETURN_NONE;
}
