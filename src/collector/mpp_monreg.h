/*  Registering the sys.monitoring backend's callbacks (mpp_monitor.c):
 *  claiming a tool id, and one callback object per event.
 *
 *  A callback is an object of a small type of ours whose vectorcall slot
 *  is the C callback itself.  sys.monitoring calls it with
 *  PyObject_Vectorcall, which then lands in our function at once; a
 *  builtin function object (what cProfile registers, bound to its
 *  profiler) would first go through CPython's generic METH_FASTCALL
 *  trampoline, a recursion check and its unwinding, at each of the two
 *  or three events of every call.
 */
#ifndef MPP_MONREG_H
#define MPP_MONREG_H

#include "mpp_pycompat.h"

#include <stdbool.h>

#if MPP_HAVE_MONITORING

/* One event and the function that handles it. */
typedef struct {
    const char *event; /* the name in sys.monitoring.events */
    vectorcallfunc fn;
    bool c_event;      /* CALL, C_RETURN, C_RAISE: left off in fast mode */
} mpp_monreg_event_t;

/*  Claims the first free tool id of 3, 4 and 5 (0 is the debugger's, 1
 *  coverage's, 2 cProfile's and other profilers').  Returns it, -2 when
 *  all are taken, or -1 with an exception set. */
int mpp_monreg_claim(PyObject *monitoring);

/*  Registers a callback for each of the `n` events (all but the C events
 *  when `fast`) and switches them on for the whole interpreter.  Returns
 *  0, or -1 with an exception set. */
int mpp_monreg_register(PyObject *monitoring, int tool,
                        const mpp_monreg_event_t *events, size_t n,
                        bool fast);

#endif

#endif
