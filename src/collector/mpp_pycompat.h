/*  Everything in the collector that depends on the Python version.
 *
 *  This is the only file with PY_VERSION_HEX checks.  The collector needs
 *  a few private or unstable CPython calls (per-code-object extra slots,
 *  the thread state's profile object, the raw type lookup cProfile uses to
 *  name C methods); each is wrapped here in a static inline function, so a
 *  new Python release means editing this file and nothing else.
 *
 *  Python 3.12 and later have sys.monitoring (PEP 669), which the
 *  collector uses there (mpp_monitor.c) unless told otherwise; the legacy
 *  profile hook of 3.11 still works on them and is the fallback.
 */
#ifndef MPP_PYCOMPAT_H
#define MPP_PYCOMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#if PY_VERSION_HEX < 0x030B0000
#error "the mpprof collector needs Python 3.11 or later"
#endif

/*  Both backends and the core assume the GIL: one thread at a time runs
 *  the callbacks and touches the shared registry. */
#ifdef Py_GIL_DISABLED
#error "the mpprof collector does not support free-threaded CPython builds"
#endif

/* ---- pending exceptions ------------------------------------------------ */

/*  The profile hook must never raise, so it stashes any pending exception
 *  around every call that might set one and puts it back afterwards. */
typedef struct {
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc;
#else
    PyObject *type;
    PyObject *value;
    PyObject *tb;
#endif
} mpp_exc_t;

static inline void
mpp_exc_save(mpp_exc_t *saved)
{
#if PY_VERSION_HEX >= 0x030C0000
    saved->exc = PyErr_GetRaisedException();
#else
    PyErr_Fetch(&saved->type, &saved->value, &saved->tb);
#endif
}

/* Drops whatever the calls in between raised and restores the saved one. */
static inline void
mpp_exc_restore(mpp_exc_t *saved)
{
    PyErr_Clear();
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(saved->exc);
#else
    PyErr_Restore(saved->type, saved->value, saved->tb);
#endif
}

/* ---- code objects ------------------------------------------------------ */

/*  A per-interpreter slot in every code object, where the collector caches
 *  the function id.  The slot holds a plain integer, so no free function is
 *  needed.  Returns -1 when the interpreter has no slot left. */
static inline Py_ssize_t
mpp_code_extra_index(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyUnstable_Eval_RequestCodeExtraIndex(NULL);
#else
    return _PyEval_RequestCodeExtraIndex(NULL);
#endif
}

/*  Returns the cached value, or NULL when none is set.  Never raises for a
 *  real code object and an index from mpp_code_extra_index().
 *
 *  This runs at every Python call, so for the versions whose layout is
 *  known it reads the slot directly: co_extra points to a size followed by
 *  the slots (CPython's private _PyCodeObjectExtra, unchanged from 3.6 to
 *  3.15).  That saves a call into the interpreter and a type check per
 *  event, about 20 instructions, which on 3.14 is a tenth of what the
 *  collector itself spends on a call.  A later version goes through the
 *  API until its layout has been checked. */
#if PY_VERSION_HEX < 0x03100000
#define MPP_CODE_EXTRA_DIRECT 1
typedef struct {
    Py_ssize_t size;
    void *slots[1];
} mpp_code_extra_t;
#else
#define MPP_CODE_EXTRA_DIRECT 0
#endif

static inline void *
mpp_code_get_extra(PyCodeObject *code, Py_ssize_t index)
{
#if MPP_CODE_EXTRA_DIRECT
    const mpp_code_extra_t *extra = (const mpp_code_extra_t *)code->co_extra;
    if (extra == NULL || extra->size <= index) {
        return NULL;
    }
    return extra->slots[index];
#else
    void *extra = NULL;
    (void)PyUnstable_Code_GetExtra((PyObject *)code, index, &extra);
    return extra;
#endif
}

/* Returns 0, or -1 with an exception set (out of memory). */
static inline int
mpp_code_set_extra(PyCodeObject *code, Py_ssize_t index, void *extra)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyUnstable_Code_SetExtra((PyObject *)code, index, extra);
#else
    return _PyCode_SetExtra((PyObject *)code, index, extra);
#endif
}

/*  The code object a frame runs, as a borrowed reference: the frame keeps
 *  it alive for as long as the hook looks at it, which saves the hot path
 *  a reference count round trip on the caller's side. */
static inline PyCodeObject *
mpp_frame_code(PyFrameObject *frame)
{
    PyCodeObject *code = PyFrame_GetCode(frame);
    Py_DECREF(code);
    return code;
}

static inline PyObject *
mpp_code_filename(PyCodeObject *code)
{
    return code->co_filename;
}

static inline PyObject *
mpp_code_name(PyCodeObject *code)
{
    return code->co_name;
}

static inline int
mpp_code_firstlineno(PyCodeObject *code)
{
    return code->co_firstlineno;
}

/*  The local variable `name` of a frame that is just starting (its
 *  arguments), as a new reference, or NULL (an exception may be set).
 *  Before 3.12 this goes through the frame's locals dict, which it
 *  creates: call it only for the few functions that need it. */
static inline PyObject *
mpp_frame_local(PyFrameObject *frame, const char *name)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyFrame_GetVarString(frame, (char *)name);
#else
    PyObject *locals = PyFrame_GetLocals(frame);
    if (locals == NULL) {
        return NULL;
    }
    PyObject *value = PyMapping_Check(locals)
                          ? PyMapping_GetItemString(locals, name)
                          : NULL;
    Py_DECREF(locals);
    return value;
#endif
}

/* ---- C functions ------------------------------------------------------- */

/*  Whether this Python has sys.monitoring, whose CALL event hands the
 *  callable over unbound: a method called as obj.meth() arrives as the
 *  type's method descriptor plus its first argument. */
#if PY_VERSION_HEX >= 0x030C0000
#define MPP_HAVE_MONITORING 1
#else
#define MPP_HAVE_MONITORING 0
#endif

/*  The PyMethodDef of a method descriptor called with first argument
 *  `self`, or NULL when the call is not one cProfile profiles: not a
 *  method descriptor, no argument, or one that is not an instance of the
 *  descriptor's type (binding it would raise, and _lsprof then counts
 *  nothing).  This is _lsprof's test, without the bound method that it
 *  allocates per call. */
static inline PyMethodDef *
mpp_method_def(PyObject *callable, PyObject *self, PyObject *missing)
{
    if (!Py_IS_TYPE(callable, &PyMethodDescr_Type) || self == missing) {
        return NULL;
    }
    PyMethodDescrObject *descr = (PyMethodDescrObject *)callable;
    if (!PyObject_TypeCheck(self, descr->d_common.d_type)) {
        return NULL;
    }
    return descr->d_method;
}

/*  The bound method a method descriptor makes for `self`, as a new
 *  reference, or NULL with an exception set. */
static inline PyObject *
mpp_method_bind(PyObject *descr, PyObject *self)
{
    return Py_TYPE(descr)->tp_descr_get(descr, self,
                                        (PyObject *)Py_TYPE(self));
}

static inline PyMethodDef *
mpp_cfunc_def(PyObject *func)
{
    return ((PyCFunctionObject *)func)->m_ml;
}

static inline PyObject *
mpp_cfunc_self(PyObject *func)
{
    return ((PyCFunctionObject *)func)->m_self;
}

static inline PyObject *
mpp_cfunc_module(PyObject *func)
{
    return ((PyCFunctionObject *)func)->m_module;
}

/*  The attribute `name` as found on the type's MRO, without invoking any
 *  descriptor: what cProfile shows for a C method is the repr of exactly
 *  this object.  Returns a borrowed reference or NULL, never raises. */
static inline PyObject *
mpp_type_lookup(PyTypeObject *type, PyObject *name)
{
    return _PyType_Lookup(type, name);
}

/*  The dict of `type`'s own attributes, borrowed, or NULL.  From 3.12 on
 *  a static builtin type keeps it in the interpreter, not in tp_dict, and
 *  only PyType_GetDict (which returns a new reference) reaches it; the type
 *  holds the dict, so dropping that reference at once leaves it alive. */
static inline PyObject *
mpp_type_dict(PyTypeObject *type)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *dict = PyType_GetDict(type);
    Py_XDECREF(dict);
    return dict;
#else
    return type->tp_dict;
#endif
}

/* ---- thread state ------------------------------------------------------ */

/*  The frame the calling thread runs, borrowed, or NULL.  sys.monitoring
 *  callbacks get no frame; at PY_START this is the frame just started. */
static inline PyFrameObject *
mpp_current_frame(void)
{
    return PyEval_GetFrame();
}

/*  The object the current thread's profile function was installed with,
 *  if that function is `hook`; otherwise NULL.  Borrowed. */
static inline PyObject *
mpp_current_profile_obj(Py_tracefunc hook)
{
    PyThreadState *tstate = PyThreadState_Get();
    if (tstate->c_profilefunc != hook) {
        return NULL;
    }
    return tstate->c_profileobj;
}

/* ---- module slots ------------------------------------------------------ */

/*  One collector per process: its tables, on_exit handler and fork state
 *  are process-wide, so a second interpreter must not load it. */
#if PY_VERSION_HEX >= 0x030C0000
#define MPP_MOD_EXTRA_SLOTS                                                   \
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#else
#define MPP_MOD_EXTRA_SLOTS
#endif

#endif
