/*  The sys.monitoring backend; see mpp_monitor.h. */
#include "mpp_monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpp_catcall.h"
#include "mpp_monreg.h"
#include "mpp_names.h"
#include "mpp_pybytes.h"

#if MPP_HAVE_MONITORING

/*  The calling thread's tables.  The initial-exec model makes each read
 *  one load relative to the thread pointer instead of a call into the
 *  dynamic linker (a few bytes of the static TLS surplus, which glibc
 *  keeps for modules loaded later). */
#if defined(__GNUC__) || defined(__clang__)
#define MPP_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define MPP_TLS _Thread_local
#endif

/* Cold paths stay out of line, so the callbacks stay small. */
#if defined(__GNUC__) || defined(__clang__)
#define MPP_COLD __attribute__((noinline, cold))
#else
#define MPP_COLD
#endif

static MPP_TLS mpp_tstate_t *s_thread;
/*  The id of the thread state whose tables were given back on this OS
 *  thread: events that still come while that state is being cleared (a
 *  __del__ run by the clearing) must not give it new tables, which nobody
 *  would give back.  A later thread state of the same OS thread (a C
 *  thread calling into Python through PyGILState_Ensure again) has
 *  another id and is profiled. */
static MPP_TLS uint64_t s_gone_id;

/* Set once by mpp_monitor_start; one collector per process. */
static mpp_hookcfg_t s_cfg;
static PyObject *s_missing; /* sys.monitoring.MISSING */
static PyTypeObject *s_owner_type;
static int s_tool = -1;
static bool s_fast; /* fast mode: no CALL events (mpp_catcall.h) */

/* ---- the per-thread owner ---------------------------------------------- */

/*  Lives in the thread state's dict, which is cleared with the thread
 *  state: its dealloc gives the tables back.  (clang-format would take
 *  PyObject_HEAD, a macro without a semicolon, for part of the next
 *  declaration.) */
/* clang-format off */
typedef struct {
    PyObject_HEAD
    mpp_tstate_t *thread;
    uint64_t tsid; /* PyThreadState_GetID of its thread state */
} mpp_owner_t;
/* clang-format on */

#define MPP_OWNER_KEY "mpprof._collector.thread"

static void
s_owner_dealloc(PyObject *self)
{
    mpp_owner_t *owner = (mpp_owner_t *)self;
    PyTypeObject *type = Py_TYPE(self);

    /* At thread exit this runs on the thread itself; in a fork child and
     * at finalization possibly on another, whose pointer stays. */
    if (owner->thread != NULL) {
        if (s_thread == owner->thread) {
            s_thread = NULL;
            s_gone_id = owner->tsid;
        }
        mpp_core_release_thread(s_cfg.core, owner->thread);
        owner->thread = NULL;
    }
    type->tp_free(self);
    Py_DECREF(type);
}

static PyType_Slot s_owner_slots[] = {
    {Py_tp_dealloc, s_owner_dealloc},
    {0, NULL},
};

static PyType_Spec s_owner_spec = {
    .name = "mpprof._collector.ThreadMonitor",
    .basicsize = sizeof(mpp_owner_t),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = s_owner_slots,
};

/* ---- adopting a thread (cold: once per thread) ------------------------- */

/*  The threading name of the calling thread, as a new reference, or NULL.
 *  It must not call threading.current_thread(): in a thread threading does
 *  not know yet (or never will: _thread.start_new_thread) that would make
 *  a _DummyThread, which the program would see.  A thread started by
 *  threading meets its first event in Thread._bootstrap, before it is in
 *  threading._active, so its name is read from that frame's `self`. */
static PyObject *
s_thread_name(PyObject *code)
{
    PyObject *name = NULL;
    PyObject *modules = PySys_GetObject("modules");
    PyObject *threading = modules != NULL && PyDict_Check(modules)
                              ? PyDict_GetItemString(modules, "threading")
                              : NULL;
    PyObject *active =
        threading ? PyObject_GetAttrString(threading, "_active") : NULL;
    PyObject *ident = PyLong_FromUnsignedLong(PyThread_get_thread_ident());
    PyObject *thread = NULL;
    if (active != NULL && ident != NULL && PyDict_Check(active)) {
        thread = PyDict_GetItemWithError(active, ident);
        Py_XINCREF(thread);
    }
    Py_XDECREF(ident);
    Py_XDECREF(active);
    if (thread == NULL && code != NULL &&
        PyUnicode_CompareWithASCIIString(mpp_code_name((PyCodeObject *)code),
                                         "_bootstrap") == 0) {
        PyFrameObject *frame = mpp_current_frame();
        thread = frame ? mpp_frame_local(frame, "self") : NULL;
    }
    if (thread != NULL) {
        name = PyObject_GetAttrString(thread, "_name");
        Py_DECREF(thread);
    }
    if (name != NULL && !PyUnicode_Check(name)) {
        Py_CLEAR(name);
    }
    PyErr_Clear();
    return name;
}

/*  Gives the calling thread tables under `name` and an owner in its thread
 *  state's dict.  Returns the tables, or NULL (no exception set). */
static mpp_tstate_t *
s_adopt_named(const char *name)
{
    PyObject *dict = PyThreadState_GetDict();
    mpp_owner_t *owner =
        dict ? (mpp_owner_t *)s_owner_type->tp_alloc(s_owner_type, 0) : NULL;
    if (owner == NULL) {
        PyErr_Clear();
        return NULL;
    }
    owner->thread = mpp_core_add_thread(
        s_cfg.core, (uint32_t)PyThread_get_thread_native_id(), name);
    owner->tsid = PyThreadState_GetID(PyThreadState_Get());
    if (owner->thread == NULL ||
        PyDict_SetItemString(dict, MPP_OWNER_KEY, (PyObject *)owner) < 0) {
        /* The dealloc gives the tables back, if there are any. */
        Py_DECREF(owner);
        PyErr_Clear();
        return NULL;
    }
    s_thread = owner->thread;
    Py_DECREF(owner); /* the dict holds it */
    return s_thread;
}

/*  The first event of a thread: `code` is the code object the event came
 *  from (for the name of a thread threading is starting), or NULL. */
static MPP_COLD mpp_tstate_t *
s_adopt(PyObject *code)
{
    if (s_cfg.core == NULL ||
        (mpp_core_hot(s_cfg.core)->hot & MPP_CORE_DONE) ||
        PyThreadState_GetID(PyThreadState_Get()) == s_gone_id) {
        return NULL;
    }
    mpp_exc_t exc;
    mpp_exc_save(&exc);
    PyObject *name = s_thread_name(code);
    const char *text = name ? PyUnicode_AsUTF8(name) : NULL;
    PyErr_Clear();
    mpp_tstate_t *t = s_adopt_named(text ? text : "?");
    Py_XDECREF(name);
    mpp_exc_restore(&exc);
    return t;
}

/* ---- the callbacks: the hot path --------------------------------------- */

static MPP_COLD void
s_flush(mpp_core_t *core)
{
    mpp_hook_refresh_name(core);
    (void)mpp_core_flush(core);
}

/*  What every event does first: false when the event is to be ignored
 *  (the process has sent its BYE).  A fork pending is dealt with here. */
static inline bool
s_ready(mpp_core_hot_t *h, mpp_tstate_t *t)
{
    if (MPP_UNLIKELY(h->hot != 0)) {
        mpp_core_after_fork(s_cfg.core, t);
        if (h->hot & MPP_CORE_DONE) {
            return false;
        }
    }
    return true;
}

static inline void
s_done(mpp_core_hot_t *h, int64_t now)
{
    if (MPP_UNLIKELY(now >= h->deadline)) {
        s_flush(s_cfg.core);
    }
}

/*  The first event of a code object.  New functions come with new
 *  modules, so fast mode looks here for the category C functions of
 *  modules loaded since (mpp_catcall.h). */
static MPP_COLD uint32_t
s_name_code(mpp_tstate_t *t, PyCodeObject *code)
{
    uint32_t fid = mpp_names_code(s_cfg.core, s_cfg.code_index, t, code);
    if (s_fast) {
        mpp_catcall_refresh();
    }
    return fid;
}

/* PY_START, PY_RESUME, PY_THROW: (code, offset[, exception]). */
static PyObject *
s_py_enter(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    (void)self;
    (void)kw;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    mpp_tstate_t *t = s_thread;
    if (MPP_UNLIKELY(t == NULL) &&
        (nargs < 1 || (t = s_adopt(args[0])) == NULL)) {
        Py_RETURN_NONE;
    }
    mpp_core_hot_t *h = mpp_core_hot(s_cfg.core);
    if (!s_ready(h, t)) {
        Py_RETURN_NONE;
    }
    PyCodeObject *code = (PyCodeObject *)args[0];
    void *extra = mpp_code_get_extra(code, s_cfg.code_index);
    uint32_t fid = MPP_LIKELY(extra != NULL) ? (uint32_t)((uintptr_t)extra - 1)
                                             : s_name_code(t, code);
    int64_t now = mpp_clock_read(&h->clock);
    if (s_fast) {
        mpp_tstate_enter_flat(t, fid, now, MPP_PYBYTES_CURRENT_FRAME);
    }
    else {
        mpp_tstate_enter_ex(t, fid, now, MPP_PYBYTES_CURRENT_FRAME);
    }
    /* No deadline test here: every frame entered returns through
     * s_py_leave_with, which makes it: one test per call instead of two. */
    Py_RETURN_NONE;
}

/*  The leave of a Python frame; `retval` is what it returns or yields, or
 *  NULL when it unwinds. */
static inline PyObject *
s_py_leave_with(PyObject *retval)
{
    mpp_tstate_t *t = s_thread;
    if (t == NULL || mpp_tstate_idle(t)) {
        Py_RETURN_NONE;
    }
    mpp_core_hot_t *h = mpp_core_hot(s_cfg.core);
    if (!s_ready(h, t) || mpp_tstate_idle(t)) {
        Py_RETURN_NONE;
    }
    int64_t now = mpp_clock_read(&h->clock);
    mpp_tstate_leave_ex(t, now, retval);
    s_done(h, now);
    Py_RETURN_NONE;
}

/* PY_RETURN, PY_YIELD: (code, offset, value). */
static PyObject *
s_py_leave(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    (void)self;
    (void)kw;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    return s_py_leave_with(nargs >= 3 ? args[2] : NULL);
}

/* PY_UNWIND: (code, offset, exception). */
static PyObject *
s_py_unwind(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    (void)self;
    (void)kw;
    (void)args;
    (void)nargsf;
    return s_py_leave_with(NULL);
}

/*  The PyMethodDef of the C function a CALL, C_RETURN or C_RAISE event
 *  (code, offset, callable, arg0) is about, if cProfile profiles it and it
 *  is not one of the collector's own; else NULL. */
static inline const PyMethodDef *
s_cfunc_of(PyObject *const *args, Py_ssize_t nargs)
{
    if (MPP_UNLIKELY(nargs < 4)) {
        return NULL;
    }
    PyObject *callable = args[2];
    const PyMethodDef *ml;
    /* Most calls are of Python functions, which PY_START counts: one
     * compare sends them away. */
    if (Py_IS_TYPE(callable, &PyFunction_Type)) {
        return NULL;
    }
    if (PyCFunction_Check(callable)) {
        ml = mpp_cfunc_def(callable);
    }
    else if ((ml = mpp_method_def(callable, args[3], s_missing)) == NULL) {
        return NULL;
    }
    if (ml >= s_cfg.own && ml < s_cfg.ownend) {
        return NULL;
    }
    return ml;
}

/*  The call of C function `ml`: `callable` is a builtin function, or a
 *  method descriptor called with `self`.  False when it was not entered. */
static inline bool
s_c_enter_ml(const PyMethodDef *ml, PyObject *callable, PyObject *self)
{
    mpp_tstate_t *t = s_thread;
    if (MPP_UNLIKELY(t == NULL) && (t = s_adopt(NULL)) == NULL) {
        return false;
    }
    mpp_core_hot_t *h = mpp_core_hot(s_cfg.core);
    if (!s_ready(h, t)) {
        return false;
    }
    uint32_t fid = mpp_funcs_find(h->funcs, ml);
    if (MPP_UNLIKELY(fid == MPP_NOFID)) {
        fid = PyCFunction_Check(callable)
                  ? mpp_names_cfunc(s_cfg.core, t, callable)
                  : mpp_names_method(s_cfg.core, t, callable, self);
    }
    int64_t now = mpp_clock_read(&h->clock);
    mpp_tstate_enter(t, fid, now);
    s_done(h, now);
    return true;
}

static inline void
s_c_leave_now(void)
{
    mpp_tstate_t *t = s_thread;
    if (t == NULL || mpp_tstate_idle(t)) {
        return;
    }
    mpp_core_hot_t *h = mpp_core_hot(s_cfg.core);
    if (!s_ready(h, t) || mpp_tstate_idle(t)) {
        return;
    }
    int64_t now = mpp_clock_read(&h->clock);
    mpp_tstate_leave(t, now);
    s_done(h, now);
}

/* CALL: (code, offset, callable, arg0). */
static PyObject *
s_c_enter(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    (void)self;
    (void)kw;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    const PyMethodDef *ml = s_cfunc_of(args, nargs);
    if (ml != NULL) {
        (void)s_c_enter_ml(ml, args[2], args[3]);
    }
    Py_RETURN_NONE;
}

/* C_RETURN, C_RAISE: (code, offset, callable, arg0). */
static PyObject *
s_c_leave(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kw)
{
    (void)self;
    (void)kw;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (s_thread != NULL && s_cfunc_of(args, nargs) != NULL) {
        s_c_leave_now();
    }
    Py_RETURN_NONE;
}

bool
mpp_monitor_c_enter(const PyMethodDef *ml, PyObject *callable, PyObject *self)
{
    return s_tool >= 0 && s_c_enter_ml(ml, callable, self);
}

void
mpp_monitor_c_leave(void)
{
    s_c_leave_now();
}

/* ---- registration ------------------------------------------------------ */

/* Which event goes to which callback (mpp_monreg.h). */
static const mpp_monreg_event_t s_events[] = {
    {"PY_START", s_py_enter, false},   {"PY_RESUME", s_py_enter, false},
    {"PY_THROW", s_py_enter, false},   {"PY_RETURN", s_py_leave, false},
    {"PY_YIELD", s_py_leave, false},   {"PY_UNWIND", s_py_unwind, false},
    {"CALL", s_c_enter, true},         {"C_RETURN", s_c_leave, true},
    {"C_RAISE", s_c_leave, true},
};

bool
mpp_monitor_wanted(void)
{
    const char *backend = getenv("MPPROF_BACKEND");
    return backend == NULL || strcmp(backend, "hook") != 0;
}

bool
mpp_monitor_fast_wanted(void)
{
    const char *mode = getenv("MPPROF_MODE");
    return mode != NULL && strcmp(mode, "fast") == 0;
}

int
mpp_monitor_start(const mpp_hookcfg_t *cfg, const char *thread_name)
{
    if (s_tool >= 0) {
        return 1;
    }
    PyObject *monitoring = PySys_GetObject("monitoring"); /* borrowed */
    if (monitoring == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "sys.monitoring is missing");
        return -1;
    }
    Py_INCREF(monitoring);
    int rc = -1;
    int tool = -1;
    s_missing = PyObject_GetAttrString(monitoring, "MISSING");
    if (s_missing == NULL) {
        goto out;
    }
    if (s_owner_type == NULL) {
        s_owner_type = (PyTypeObject *)PyType_FromSpec(&s_owner_spec);
        if (s_owner_type == NULL) {
            goto out;
        }
    }
    tool = mpp_monreg_claim(monitoring);
    if (tool == -2) {
        fprintf(stderr, "mpprof: note: sys.monitoring tool ids 3 to 5 are "
                        "taken; profiling through the profile hook\n");
        rc = 0;
        goto out;
    }
    if (tool < 0) {
        goto out;
    }
    /* The configuration must be in place before the first event, which
     * may come from any thread as soon as the events are on. */
    s_cfg = *cfg;
    s_fast = mpp_monitor_fast_wanted();
    if (s_adopt_named(thread_name) == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    if (mpp_monreg_register(monitoring, tool, s_events,
                            MPP_ARRAY_SIZE(s_events), s_fast) < 0) {
        goto out;
    }
    s_tool = tool;
    if (s_fast) {
        mpp_catcall_refresh();
    }
    rc = 1;
out:
    if (rc < 0 && tool >= 0) {
        /* Undo what was done, keeping the exception. */
        mpp_exc_t exc;
        mpp_exc_save(&exc);
        PyObject *r =
            PyObject_CallMethod(monitoring, "free_tool_id", "i", tool);
        Py_XDECREF(r);
        mpp_exc_restore(&exc);
    }
    if (rc != 1) {
        Py_CLEAR(s_missing);
    }
    Py_DECREF(monitoring);
    return rc;
}

bool
mpp_monitor_active(void)
{
    return s_tool >= 0;
}

mpp_tstate_t *
mpp_monitor_current(void)
{
    return s_tool >= 0 ? s_thread : NULL;
}

int
mpp_monitor_tool(void)
{
    return s_tool;
}

#else /* !MPP_HAVE_MONITORING: Python 3.11 */

bool
mpp_monitor_wanted(void)
{
    return false;
}

bool
mpp_monitor_fast_wanted(void)
{
    return false;
}

bool
mpp_monitor_c_enter(const PyMethodDef *ml, PyObject *callable, PyObject *self)
{
    (void)ml;
    (void)callable;
    (void)self;
    return false;
}

void
mpp_monitor_c_leave(void)
{
}

int
mpp_monitor_start(const mpp_hookcfg_t *cfg, const char *thread_name)
{
    (void)cfg;
    (void)thread_name;
    return 0;
}

bool
mpp_monitor_active(void)
{
    return false;
}

mpp_tstate_t *
mpp_monitor_current(void)
{
    return NULL;
}

int
mpp_monitor_tool(void)
{
    return -1;
}

#endif
