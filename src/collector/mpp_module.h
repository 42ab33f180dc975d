/*  mpprof._collector's module state and the functions its units share:
 *  mpp_collector.c (the module, start and enable), mpp_pyexit.c (the end
 *  of the process: exit, exec, signals, fork) and mpp_snapshot.c
 *  (introspection).  The method table stays in one array in
 *  mpp_collector.c, because the hook leaves exactly that range of
 *  functions out of every profile. */
#ifndef MPP_MODULE_H
#define MPP_MODULE_H

#include "mpp_pycompat.h"

#include "mpp_hook.h"
#include "mpp_monitor.h"
#include "mpp_zsink.h"

/* The os functions the shim wraps, as they were at start(). */
enum {
    MPP_REAL_EXIT,
    MPP_REAL_EXECV,
    MPP_REAL_EXECVE,
    MPP_REAL_CLOSERANGE,
    MPP_NREAL
};

typedef struct {
    PyTypeObject *ref_type;    /* the per-thread hook argument */
    PyObject *real[MPP_NREAL]; /* see MPP_REAL_* */
    mpp_hookcfg_t hook;        /* hook.core stays NULL until start() */
    mpp_zsink_t *zsink;        /* the core's sink; lives as long */
    /* os.environ's dict of bytes (os._Environ._data), or NULL: the fork
     * child's export writes it without running any Python code. */
    PyObject *environ_data;
} mpp_modstate_t;

static inline mpp_modstate_t *
mpp_mod_state(PyObject *module)
{
    return (mpp_modstate_t *)PyModule_GetState(module);
}

/*  The calling thread's tables, from whichever backend runs (the
 *  sys.monitoring one or the profile hook), or NULL. */
static inline mpp_tstate_t *
mpp_mod_current_thread(void)
{
    return mpp_monitor_active() ? mpp_monitor_current() : mpp_hook_current();
}

/* The core if start() succeeded, brought up to date after a fork. */
static inline mpp_core_t *
mpp_mod_core(PyObject *module)
{
    mpp_core_t *core = mpp_mod_state(module)->hook.core;
    if (core != NULL) {
        mpp_core_after_fork(core, mpp_mod_current_thread());
    }
    return core;
}

/*  Children started from here, by exec or multiprocessing, must name this
 *  process as their profiled parent: MPPROF_PARENT_PID in the C
 *  environment and in os.environ.  Returns 0, or -1 with an exception
 *  set. */
int mpp_mod_export_parent_pid(PyObject *module);

/*  When the agent reads the mapping: makes os._exit, os.execv and
 *  os.execve record the end of the image in `core` before they run
 *  (mpp_interpose.c).  Returns how many of the three are interposed;
 *  never raises. */
int mpp_mod_interpose_os(mpp_core_t *core);

/* A docstring shared between units (PyDoc_STRVAR's are static). */
#define MPP_DOC(name, text) const char name[] = PyDoc_STR(text)

/* mpp_pyexit.c */
extern const char mpp_mod_os_exit_doc[];
extern const char mpp_mod_os_execv_doc[];
extern const char mpp_mod_os_execve_doc[];
extern const char mpp_mod_os_closerange_doc[];
extern const char mpp_mod_on_signal_doc[];
extern const char mpp_mod_after_fork_child_doc[];
PyObject *mpp_mod_at_exit(PyObject *module, PyObject *ignored);
PyObject *mpp_mod_os_exit(PyObject *module, PyObject *status);
PyObject *mpp_mod_os_execv(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *mpp_mod_os_execve(PyObject *module, PyObject *args,
                            PyObject *kwargs);
PyObject *mpp_mod_os_closerange(PyObject *module, PyObject *args,
                                PyObject *kwargs);
PyObject *mpp_mod_on_signal(PyObject *module, PyObject *const *args,
                            Py_ssize_t nargs);
PyObject *mpp_mod_after_fork_child(PyObject *module, PyObject *ignored);

/* mpp_snapshot.c */
extern const char mpp_mod_snapshot_doc[];
extern const char mpp_mod_mem_usage_doc[];
extern const char mpp_mod_info_doc[];
PyObject *mpp_mod_snapshot(PyObject *module, PyObject *ignored);
PyObject *mpp_mod_mem_usage(PyObject *module, PyObject *ignored);
PyObject *mpp_mod_info(PyObject *module, PyObject *ignored);

#endif
