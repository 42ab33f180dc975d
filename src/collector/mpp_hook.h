/*  The profile hook: where Python events become table updates on 3.11,
 *  and on 3.12+ when sys.monitoring cannot be had or MPPROF_BACKEND=hook
 *  asks for it (mpp_monitor.h is the backend there).
 *
 *  Each profiled thread runs PyEval_SetProfile(hook, ref), where `ref` is
 *  a small Python object carrying that thread's tables, so the hook needs
 *  no thread-local lookup.  Python functions are identified
 *  by an id cached in the code object's extra slot, C functions by their
 *  PyMethodDef in the registry; both are O(1) and allocate nothing once a
 *  function has been seen.  The hook never raises: anything that could set
 *  an exception runs between mpp_exc_save and mpp_exc_restore, and an
 *  allocation failure only counts a dropped event.
 */
#ifndef MPP_HOOK_H
#define MPP_HOOK_H

#include "mpp_pycompat.h"

#include "mpp_core.h"

/* What every thread's hook needs besides its own tables. */
typedef struct {
    mpp_core_t *core;
    Py_ssize_t code_index;     /* code object extra slot for ids */
    const PyMethodDef *own;    /* the collector's own functions, which */
    const PyMethodDef *ownend; /* are left out of every profile */
} mpp_hookcfg_t;

/* Creates the heap type of the per-thread hook argument. */
PyObject *mpp_hook_type_new(PyObject *module);

/*  Gives the calling thread its tables and installs the hook on it, unless
 *  it is installed already.  Returns 0, or -1 with an exception set. */
int mpp_hook_install(PyTypeObject *type, const mpp_hookcfg_t *cfg,
                     const char *thread_name);

/*  Feeds the hook, just installed on this thread, the event that the
 *  Python-level installer received (sys.setprofile's arguments), so that
 *  the first call of a new thread is not lost. */
void mpp_hook_replay(PyObject *frame, PyObject *event, PyObject *arg);

/* threading.current_thread().name, or NULL with no exception set. */
PyObject *mpp_hook_thread_name(void);

/* The calling thread's tables if the hook is installed on it, else NULL. */
mpp_tstate_t *mpp_hook_current(void);

/*  Copies multiprocessing's name for this process into the core, if the
 *  multiprocessing.process module is loaded.  Never raises. */
void mpp_hook_refresh_name(mpp_core_t *core);

#endif
