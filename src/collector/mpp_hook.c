/*  The profile hook; see mpp_hook.h. */
#include "mpp_hook.h"
#include "mpp_names.h"

/*  The object a thread's hook receives; it owns nothing the GC must see.
 *  (clang-format would take PyObject_HEAD, a macro without a semicolon,
 *  for part of the next declaration.) */
/* clang-format off */
typedef struct {
    PyObject_HEAD
    mpp_tstate_t *thread;
    mpp_hookcfg_t cfg;
} mpp_ref_t;
/* clang-format on */

static int s_hook(PyObject *obj, PyFrameObject *frame, int what,
                  PyObject *arg);

/* ---- the hot path ------------------------------------------------------ */

static inline uint32_t
s_code_fid(mpp_ref_t *ref, PyCodeObject *code)
{
    void *extra = mpp_code_get_extra(code, ref->cfg.code_index);
    if (MPP_LIKELY(extra != NULL)) {
        return (uint32_t)((uintptr_t)extra - 1);
    }
    return mpp_names_code(ref->cfg.core, ref->cfg.code_index, ref->thread,
                          code);
}

/* The PyCFunction objects whose calls are profiled: what cProfile does. */
static inline bool
s_is_profiled_cfunc(const mpp_ref_t *ref, PyObject *func)
{
    if (!PyCFunction_Check(func)) {
        return false;
    }
    const PyMethodDef *ml = mpp_cfunc_def(func);
    return ml < ref->cfg.own || ml >= ref->cfg.ownend;
}

static void
s_flush(mpp_core_t *core)
{
    mpp_hook_refresh_name(core);
    (void)mpp_core_flush(core);
}

static int
s_hook(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    mpp_ref_t *ref = (mpp_ref_t *)obj;
    mpp_tstate_t *t = ref->thread;
    mpp_core_t *core = ref->cfg.core;
    mpp_core_hot_t *h = mpp_core_hot(core);
    int64_t now;
    uint32_t fid;

    if (MPP_UNLIKELY(h->hot != 0)) {
        mpp_core_after_fork(core, t);
        if (h->hot & MPP_CORE_DONE) {
            return 0;
        }
    }
    switch (what) {
    case PyTrace_CALL:
        fid = s_code_fid(ref, mpp_frame_code(frame));
        now = mpp_clock_read(&h->clock);
        mpp_tstate_enter_ex(t, fid, now, frame);
        break;
    case PyTrace_RETURN:
        if (mpp_tstate_idle(t)) {
            return 0;
        }
        now = mpp_clock_read(&h->clock);
        mpp_tstate_leave_ex(t, now, arg);
        break;
    case PyTrace_C_CALL:
        if (!s_is_profiled_cfunc(ref, arg)) {
            return 0;
        }
        fid = mpp_funcs_find(h->funcs, mpp_cfunc_def(arg));
        if (MPP_UNLIKELY(fid == MPP_NOFID)) {
            fid = mpp_names_cfunc(core, t, arg);
        }
        now = mpp_clock_read(&h->clock);
        mpp_tstate_enter(t, fid, now);
        break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
        if (mpp_tstate_idle(t) || !s_is_profiled_cfunc(ref, arg)) {
            return 0;
        }
        now = mpp_clock_read(&h->clock);
        mpp_tstate_leave(t, now);
        break;
    default:
        return 0;
    }
    if (MPP_UNLIKELY(now >= h->deadline)) {
        s_flush(core);
    }
    return 0;
}

/* ---- the per-thread object and installation ---------------------------- */

static void
s_ref_dealloc(PyObject *self)
{
    mpp_ref_t *ref = (mpp_ref_t *)self;
    PyTypeObject *type = Py_TYPE(self);

    /* This runs when the thread's state is cleared: at thread exit, in a
     * fork child for the threads that did not survive, and at
     * finalization.  The core outlives all of them. */
    if (ref->thread != NULL) {
        mpp_core_release_thread(ref->cfg.core, ref->thread);
        ref->thread = NULL;
    }
    type->tp_free(self);
    Py_DECREF(type);
}

/* threading.current_thread().name, or NULL with no exception set. */
PyObject *
mpp_hook_thread_name(void)
{
    PyObject *name = NULL;
    PyObject *threading = PyImport_ImportModule("threading");
    if (threading != NULL) {
        PyObject *thread =
            PyObject_CallMethod(threading, "current_thread", NULL);
        if (thread != NULL) {
            name = PyObject_GetAttrString(thread, "name");
            Py_DECREF(thread);
        }
        Py_DECREF(threading);
    }
    if (name != NULL && !PyUnicode_Check(name)) {
        Py_CLEAR(name);
    }
    PyErr_Clear();
    return name;
}

/*  sys.getprofile() returns this object in a profiled thread, so code that
 *  saves and restores the profile function (sys.setprofile(saved)) hands
 *  it back as a Python-level profile function.  Its first call then puts
 *  the C hook back, with the same tables, and replays the event. */
static PyObject *
s_ref_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    PyObject *frame;
    PyObject *event;
    PyObject *arg;

    if (kwargs != NULL || !PyArg_UnpackTuple(args, "ThreadProfile", 3, 3,
                                             &frame, &event, &arg)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    mpp_ref_t *ref = (mpp_ref_t *)self;
    if (ref->thread == NULL) {
        Py_RETURN_NONE;
    }
    if (ref->thread->ktid == (uint32_t)PyThread_get_thread_native_id()) {
        PyEval_SetProfile(s_hook, self);
    }
    else {
        /* Handed to another thread: that one gets tables of its own. */
        PyObject *name = mpp_hook_thread_name();
        const char *text = name ? PyUnicode_AsUTF8(name) : NULL;
        PyErr_Clear();
        if (mpp_hook_install(Py_TYPE(self), &ref->cfg, text ? text : "?") <
            0) {
            PyEval_SetProfile(NULL, NULL);
        }
        Py_XDECREF(name);
    }
    PyErr_Clear();
    mpp_hook_replay(frame, event, arg);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(s_ref_doc, "One thread's profile state, passed to the C hook.");

static PyType_Slot s_ref_slots[] = {
    {Py_tp_dealloc, s_ref_dealloc},
    {Py_tp_call, s_ref_call},
    {Py_tp_doc, (void *)s_ref_doc},
    {0, NULL},
};

static PyType_Spec s_ref_spec = {
    .name = "mpprof._collector.ThreadProfile",
    .basicsize = sizeof(mpp_ref_t),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = s_ref_slots,
};

PyObject *
mpp_hook_type_new(PyObject *module)
{
    return PyType_FromModuleAndSpec(module, &s_ref_spec, NULL);
}

int
mpp_hook_install(PyTypeObject *type, const mpp_hookcfg_t *cfg,
                 const char *thread_name)
{
    if (mpp_current_profile_obj(s_hook) != NULL) {
        return 0;
    }
    mpp_ref_t *ref = (mpp_ref_t *)type->tp_alloc(type, 0);
    if (ref == NULL) {
        return -1;
    }
    ref->cfg = *cfg;
    ref->thread = mpp_core_add_thread(
        cfg->core, (uint32_t)PyThread_get_thread_native_id(), thread_name);
    if (ref->thread == NULL) {
        Py_DECREF(ref);
        PyErr_NoMemory();
        return -1;
    }
    PyEval_SetProfile(s_hook, (PyObject *)ref);
    Py_DECREF(ref);
    if (mpp_current_profile_obj(s_hook) == NULL) {
        /* An audit hook refused; PyEval_SetProfile reported it. */
        PyErr_SetString(PyExc_RuntimeError, "cannot install the profiler");
        return -1;
    }
    return 0;
}

void
mpp_hook_replay(PyObject *frame, PyObject *event, PyObject *arg)
{
    PyObject *obj = mpp_current_profile_obj(s_hook);
    int what;

    if (obj == NULL || !PyFrame_Check(frame) || !PyUnicode_Check(event)) {
        return;
    }
    /* Returns need no replay: with nothing on the stack they are ignored
     * anyway. */
    if (PyUnicode_CompareWithASCIIString(event, "call") == 0) {
        what = PyTrace_CALL;
    }
    else if (PyUnicode_CompareWithASCIIString(event, "c_call") == 0) {
        what = PyTrace_C_CALL;
    }
    else {
        return;
    }
    (void)s_hook(obj, (PyFrameObject *)frame, what, arg);
}

mpp_tstate_t *
mpp_hook_current(void)
{
    mpp_ref_t *ref = (mpp_ref_t *)mpp_current_profile_obj(s_hook);
    return ref != NULL ? ref->thread : NULL;
}

void
mpp_hook_refresh_name(mpp_core_t *core)
{
    mpp_exc_t exc;
    mpp_exc_save(&exc);
    /* sys.modules and the instance attribute are read directly, so no
     * Python code (a property, an import) runs inside the hook. */
    PyObject *modules = PySys_GetObject("modules");
    PyObject *mod = NULL;
    if (modules != NULL && PyDict_Check(modules)) {
        mod = PyDict_GetItemString(modules, "multiprocessing.process");
    }
    if (mod != NULL) {
        PyObject *proc = PyObject_GetAttrString(mod, "_current_process");
        PyObject *name = NULL;
        if (proc != NULL) {
            name = PyObject_GetAttrString(proc, "_name");
        }
        if (name != NULL && PyUnicode_Check(name)) {
            const char *text = PyUnicode_AsUTF8(name);
            if (text != NULL) {
                mpp_core_set_name(core, text);
            }
        }
        Py_XDECREF(name);
        Py_XDECREF(proc);
    }
    mpp_exc_restore(&exc);
}
