/*  The category C functions of fast mode; see mpp_catcall.h. */
#include "mpp_catcall.h"

#include "mpp_monitor.h"

#if MPP_HAVE_MONITORING

typedef PyObject *(*s_o_t)(PyObject *, PyObject *);
typedef PyObject *(*s_kw_t)(PyObject *, PyObject *, PyObject *);
typedef PyObject *(*s_fast_t)(PyObject *, PyObject *const *, Py_ssize_t);
typedef PyObject *(*s_fastkw_t)(PyObject *, PyObject *const *, Py_ssize_t,
                                PyObject *);
typedef PyObject *(*s_method_t)(PyObject *, PyTypeObject *,
                                PyObject *const *, Py_ssize_t, PyObject *);

/*  One function to swap: `name` of module `module`, or of its type
 *  `type`.  The method tables belong to the interpreter and live as long
 *  as the process, as does this record and the reference it keeps to the
 *  builtin or descriptor (used to name the function once per process). */
typedef struct {
    const char *module;
    const char *type; /* NULL: a function of the module */
    const char *name;
    PyMethodDef *def; /* NULL until swapped */
    PyCFunction real;
    PyObject *obj;
} s_target_t;

/*  The catalog's C functions with a category (src/common/mpp_catalog.c);
 *  a new one there belongs here too.  test_categories.py's fast-mode
 *  cases check pickling and lock wait through them. */
static s_target_t s_targets[] = {
    {"_pickle", NULL, "dumps", NULL, NULL, NULL},
    {"_pickle", NULL, "dump", NULL, NULL, NULL},
    {"_pickle", NULL, "loads", NULL, NULL, NULL},
    {"_pickle", NULL, "load", NULL, NULL, NULL},
    {"_pickle", "Pickler", "dump", NULL, NULL, NULL},
    {"_pickle", "Unpickler", "load", NULL, NULL, NULL},
    {"_thread", "LockType", "acquire", NULL, NULL, NULL},
    {"_thread", "LockType", "__enter__", NULL, NULL, NULL},
    {"_thread", "RLock", "acquire", NULL, NULL, NULL},
    {"_thread", "RLock", "__enter__", NULL, NULL, NULL},
    {"_multiprocessing", "SemLock", "acquire", NULL, NULL, NULL},
    {"_multiprocessing", "SemLock", "__enter__", NULL, NULL, NULL},
    {"posix", NULL, "fork", NULL, NULL, NULL},
};
#define S_NTARGETS ((int)MPP_ARRAY_SIZE(s_targets))

static int s_swapped;
static Py_ssize_t s_seen = -1; /* size of sys.modules at the last look */

/*  Enters the function in the calling thread's tables; false when it was
 *  not entered (no tables, the process has ended), so the leave is not
 *  made either. */
static inline bool
s_begin(int w, PyObject *self)
{
    const s_target_t *tg = &s_targets[w];
    return mpp_monitor_c_enter(tg->def, tg->obj, tg->type ? self : NULL);
}

static inline PyObject *
s_end(bool entered, PyObject *result)
{
    if (entered) {
        mpp_monitor_c_leave();
    }
    return result;
}

#define S_REAL(W, type) ((type)(void (*)(void))s_targets[W].real)

/*  One wrapper per calling convention for target W; the one matching the
 *  real function's flags is swapped in.  The arguments are evaluated (the
 *  real call made) before s_end runs. */
#define S_WRAPPERS(W)                                                         \
    static PyObject *s_##W##_o(PyObject *self, PyObject *a)                   \
    {                                                                         \
        bool e = s_begin(W, self);                                            \
        return s_end(e, S_REAL(W, s_o_t)(self, a));                           \
    }                                                                         \
    static PyObject *s_##W##_kw(PyObject *self, PyObject *a, PyObject *kw)    \
    {                                                                         \
        bool e = s_begin(W, self);                                            \
        return s_end(e, S_REAL(W, s_kw_t)(self, a, kw));                      \
    }                                                                         \
    static PyObject *s_##W##_fast(PyObject *self, PyObject *const *a,         \
                                  Py_ssize_t n)                               \
    {                                                                         \
        bool e = s_begin(W, self);                                            \
        return s_end(e, S_REAL(W, s_fast_t)(self, a, n));                     \
    }                                                                         \
    static PyObject *s_##W##_fastkw(PyObject *self, PyObject *const *a,       \
                                    Py_ssize_t n, PyObject *kwn)              \
    {                                                                         \
        bool e = s_begin(W, self);                                            \
        return s_end(e, S_REAL(W, s_fastkw_t)(self, a, n, kwn));              \
    }                                                                         \
    static PyObject *s_##W##_method(PyObject *self, PyTypeObject *cls,        \
                                    PyObject *const *a, Py_ssize_t n,         \
                                    PyObject *kwn)                            \
    {                                                                         \
        bool e = s_begin(W, self);                                            \
        return s_end(e, S_REAL(W, s_method_t)(self, cls, a, n, kwn));         \
    }

S_WRAPPERS(0)
S_WRAPPERS(1)
S_WRAPPERS(2)
S_WRAPPERS(3)
S_WRAPPERS(4)
S_WRAPPERS(5)
S_WRAPPERS(6)
S_WRAPPERS(7)
S_WRAPPERS(8)
S_WRAPPERS(9)
S_WRAPPERS(10)
S_WRAPPERS(11)
S_WRAPPERS(12)

#define S_CAST(f) ((PyCFunction)(void (*)(void))(f))
#define S_ENTRY(W)                                                            \
    {S_CAST(s_##W##_o), S_CAST(s_##W##_kw), S_CAST(s_##W##_fast),             \
     S_CAST(s_##W##_fastkw), S_CAST(s_##W##_method)}

static const struct {
    PyCFunction o, kw, fast, fastkw, method;
} s_entries[] = {
    S_ENTRY(0), S_ENTRY(1), S_ENTRY(2), S_ENTRY(3),  S_ENTRY(4),  S_ENTRY(5),
    S_ENTRY(6), S_ENTRY(7), S_ENTRY(8), S_ENTRY(9), S_ENTRY(10), S_ENTRY(11),
    S_ENTRY(12),
};

_Static_assert(MPP_ARRAY_SIZE(s_entries) == MPP_ARRAY_SIZE(s_targets),
               "a wrapper set per target");

/* The wrapper of target w for a function with these flags, or NULL for a
 * calling convention not handled here (the function is then left alone). */
static PyCFunction
s_entry_for(int w, int flags)
{
    switch (flags & (METH_VARARGS | METH_KEYWORDS | METH_NOARGS | METH_O |
                     METH_FASTCALL | METH_METHOD)) {
    case METH_NOARGS:
    case METH_O:
    case METH_VARARGS:
        return s_entries[w].o;
    case METH_VARARGS | METH_KEYWORDS:
        return s_entries[w].kw;
    case METH_FASTCALL:
        return s_entries[w].fast;
    case METH_FASTCALL | METH_KEYWORDS:
        return s_entries[w].fastkw;
    case METH_METHOD | METH_FASTCALL | METH_KEYWORDS:
        return s_entries[w].method;
    default:
        return NULL;
    }
}

/*  The builtin function or method descriptor of target `tg` in `mod`, as
 *  a new reference, and its PyMethodDef; NULL when it is not one. */
static PyObject *
s_lookup(const s_target_t *tg, PyObject *mod, PyMethodDef **def)
{
    PyObject *obj = NULL;
    *def = NULL;
    if (tg->type == NULL) {
        obj = PyObject_GetAttrString(mod, tg->name);
        if (obj != NULL && PyCFunction_Check(obj)) {
            *def = mpp_cfunc_def(obj);
        }
    }
    else {
        PyObject *type = PyObject_GetAttrString(mod, tg->type);
        PyObject *name = PyUnicode_FromString(tg->name);
        if (type != NULL && name != NULL && PyType_Check(type)) {
            /* The descriptor itself, not what attribute access makes. */
            obj = mpp_type_lookup((PyTypeObject *)type, name);
            Py_XINCREF(obj);
        }
        Py_XDECREF(name);
        Py_XDECREF(type);
        if (obj != NULL && Py_IS_TYPE(obj, &PyMethodDescr_Type)) {
            *def = ((PyMethodDescrObject *)obj)->d_method;
        }
    }
    if (*def == NULL) {
        Py_CLEAR(obj);
    }
    return obj;
}

void
mpp_catcall_refresh(void)
{
    if (s_swapped == S_NTARGETS) {
        return;
    }
    PyObject *modules = PySys_GetObject("modules"); /* borrowed */
    if (modules == NULL || !PyDict_Check(modules) ||
        PyDict_GET_SIZE(modules) == s_seen) {
        return;
    }
    s_seen = PyDict_GET_SIZE(modules);
    mpp_exc_t exc;
    mpp_exc_save(&exc);
    for (int w = 0; w < S_NTARGETS; w++) {
        s_target_t *tg = &s_targets[w];
        if (tg->def != NULL) {
            continue;
        }
        PyObject *mod = PyDict_GetItemString(modules, tg->module);
        if (mod == NULL) {
            continue;
        }
        PyMethodDef *def;
        PyObject *obj = s_lookup(tg, mod, &def);
        PyCFunction entry = def != NULL ? s_entry_for(w, def->ml_flags) : NULL;
        if (entry == NULL || def->ml_meth == entry) {
            Py_XDECREF(obj);
            PyErr_Clear();
            continue;
        }
        /* The record is complete before the swap makes it reachable. */
        tg->obj = obj;
        tg->real = def->ml_meth;
        tg->def = def;
        def->ml_meth = entry;
        s_swapped++;
    }
    mpp_exc_restore(&exc);
}

int
mpp_catcall_count(void)
{
    return s_swapped;
}

#else /* !MPP_HAVE_MONITORING: the 3.11 hook sees every C call */

void
mpp_catcall_refresh(void)
{
}

int
mpp_catcall_count(void)
{
    return 0;
}

#endif
