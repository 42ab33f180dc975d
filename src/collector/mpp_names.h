/*  Naming functions for the registry, shared by both backends (the 3.11
 *  profile hook and the 3.12+ sys.monitoring callbacks): cold code that
 *  runs once per function, when a backend first meets it.
 *
 *  A Python function is registered under (file, first line, name) and its
 *  id cached in its code object's extra slot; a C function under cProfile's
 *  label for it, bound to its PyMethodDef.  Neither ever raises: a pending
 *  exception is saved around the work and put back, and an allocation
 *  failure only counts a dropped event on the thread's table.
 */
#ifndef MPP_NAMES_H
#define MPP_NAMES_H

#include "mpp_pycompat.h"

#include "mpp_core.h"

/*  Registers `code` and caches its id in extra slot `code_index`.
 *  Returns the id, or MPP_NOFID when out of memory. */
uint32_t mpp_names_code(mpp_core_t *core, Py_ssize_t code_index,
                        mpp_tstate_t *thread, PyCodeObject *code);

/*  Registers the C function `func` (a PyCFunction object) and binds its
 *  PyMethodDef to the id.  Returns the id, or MPP_NOFID. */
uint32_t mpp_names_cfunc(mpp_core_t *core, mpp_tstate_t *thread,
                         PyObject *func);

/*  The same for a method descriptor called with `self` (which must be an
 *  instance of the descriptor's type): named as cProfile names the bound
 *  method it makes of the two. */
uint32_t mpp_names_method(mpp_core_t *core, mpp_tstate_t *thread,
                          PyObject *descr, PyObject *self);

#endif
