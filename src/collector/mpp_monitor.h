/*  The sys.monitoring backend (PEP 669, CPython 3.12 and later): where
 *  Python events become table updates on those versions, feeding the same
 *  core as the 3.11 profile hook (mpp_hook.h).
 *
 *  The callbacks are C functions (METH_FASTCALL PyCFunction objects)
 *  registered with sys.monitoring.register_callback for a tool id of the
 *  collector's own, never cProfile's 2, so a program that runs cProfile
 *  itself is profiled too.  The events and what they mean are cProfile's
 *  (Modules/_lsprof.c of 3.12+): PY_START, PY_RESUME and PY_THROW enter a
 *  Python function, PY_RETURN, PY_YIELD and PY_UNWIND leave it; CALL
 *  enters a C function when the callable is a builtin function or a
 *  method descriptor bound to an instance of its type, and C_RETURN or
 *  C_RAISE leave it.
 *
 *  Events are interpreter-wide, so every thread is profiled: those already
 *  running at start, those of threading and those of
 *  _thread.start_new_thread.  A thread gets its tables at its first event,
 *  found afterwards through a thread-local pointer; an object in the
 *  thread state's dict gives them back when the thread state is cleared
 *  (thread exit, a fork child's dead threads, finalization).
 *
 *  Like the hook, the callbacks never raise into the program, allocate
 *  nothing per event once a function and a thread have been seen, and
 *  find a function in O(1): a Python function by its code object's extra
 *  slot, a C function by its PyMethodDef.
 */
#ifndef MPP_MONITOR_H
#define MPP_MONITOR_H

#include "mpp_pycompat.h"

#include "mpp_hook.h"

/*  Whether this process should use sys.monitoring: the Python has it and
 *  MPPROF_BACKEND does not ask for the profile hook ("hook"). */
bool mpp_monitor_wanted(void);

/*  Whether fast mode is asked for (MPPROF_MODE=fast, which `mpprof run
 *  --fast` sets): Python events only, and of the C functions only those a
 *  category needs (mpp_catcall.h).  Only the sys.monitoring backend has
 *  it; the 3.11 profile hook always sees every C call. */
bool mpp_monitor_fast_wanted(void);

/*  Claims a tool id, registers the callbacks, switches the events on for
 *  the whole interpreter and gives the calling thread its tables under
 *  `thread_name`.  Returns 1 when the backend runs; 0 when every tool id
 *  it may use is taken (one note on stderr: the caller falls back to the
 *  profile hook); -1 with an exception set. */
int mpp_monitor_start(const mpp_hookcfg_t *cfg, const char *thread_name);

/* Whether mpp_monitor_start() succeeded in this process. */
bool mpp_monitor_active(void);

/* The calling thread's tables if the backend has seen it, else NULL. */
mpp_tstate_t *mpp_monitor_current(void);

/*  Fast mode's category C functions (mpp_catcall.c): enters C function
 *  `ml` (a builtin function `callable`, or a method descriptor called
 *  with `self`) in the calling thread's tables.  Returns false when it
 *  was not entered, and then mpp_monitor_c_leave() must not be called. */
bool mpp_monitor_c_enter(const PyMethodDef *ml, PyObject *callable,
                         PyObject *self);
void mpp_monitor_c_leave(void);

/* The tool id in use, or -1. */
int mpp_monitor_tool(void);

#endif
