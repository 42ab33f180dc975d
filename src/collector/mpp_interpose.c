/*  The end of a process image, seen from C, when the host's agent reads
 *  the mapping (!mpp_core_has_sink).
 *
 *  An exec keeps the pid but replaces the image: without a word from the
 *  process, the agent would take the new program's life for the rest of
 *  the old one's.  os._exit ends the process without any exit handler,
 *  and only recent kernels tell the agent its status once the parent has
 *  reaped it.  So the core must record the end before these calls run.
 *
 *  Replacing os._exit, os.execv and os.execve with wrappers would do it,
 *  but the program would see them (`os._exit is posix._exit` turns
 *  false, their repr changes) and code that saved the originals before
 *  the shim ran would bypass them.  Instead, the C function behind each
 *  builtin is swapped in its method table, which the builtin reads at
 *  every call: the objects stay the very same ones, every caller goes
 *  through the record, and nothing else about them changes.  A function
 *  whose calling convention is not one handled here is left alone; the
 *  agent then falls back on what the kernel tells it. */
#include "mpp_module.h"

#include <string.h>

enum { S_EXIT, S_EXECV, S_EXECVE, S_COUNT };

typedef PyObject *(*s_fast_t)(PyObject *, PyObject *const *, Py_ssize_t);
typedef PyObject *(*s_fastkw_t)(PyObject *, PyObject *const *, Py_ssize_t,
                                PyObject *);

/*  One interposed function.  The method tables belong to the
 *  interpreter and live as long as the process, as does this record. */
typedef struct {
    const char *name;
    PyMethodDef *def; /* NULL: not interposed */
    PyCFunction real;
} s_slot_t;

static s_slot_t s_slots[S_COUNT] = {
    [S_EXIT] = {"_exit", NULL, NULL},
    [S_EXECV] = {"execv", NULL, NULL},
    [S_EXECVE] = {"execve", NULL, NULL},
};

/* The core whose end these calls record; one per process. */
static mpp_core_t *s_core;

/*  Records the end before the real function runs.  `status` is _exit's
 *  argument (NULL for an exec).  It never raises: a status the real
 *  _exit refuses ends nothing, so it records nothing either. */
static void
s_before(int which, PyObject *status)
{
    mpp_core_t *core = s_core;
    if (core == NULL) {
        return;
    }
    mpp_core_after_fork(core, mpp_mod_current_thread());
    if (which != S_EXIT) {
        mpp_hook_refresh_name(core);
        mpp_core_finish(core, MPP_EXIT_OK, 0);
        return;
    }
    if (status == NULL || !PyLong_Check(status)) {
        return;
    }
    mpp_exc_t exc;
    mpp_exc_save(&exc);
    int overflow;
    long n = PyLong_AsLongAndOverflow(status, &overflow);
    if (overflow == 0 && !PyErr_Occurred()) {
        /* The parent sees only the low byte, as with exit(256). */
        int32_t code = (int32_t)(n & 0xff);
        mpp_hook_refresh_name(core);
        mpp_core_finish(core, code == 0 ? MPP_EXIT_OK : MPP_EXIT_CODE, code);
    }
    PyErr_Clear();
    mpp_exc_restore(&exc);
}

/*  An exec that failed leaves the process running: a new incarnation
 *  under the same pid, as after a failed exec with the wrappers. */
static void
s_after(int which)
{
    if (which != S_EXIT && s_core != NULL) {
        mpp_core_restart(s_core);
    }
}

/* _exit's status, positional or by keyword. */
static PyObject *
s_status_arg(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs >= 1) {
        return args[0];
    }
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_Check(key) &&
            PyUnicode_CompareWithASCIIString(key, "status") == 0) {
            return args[nargs + i];
        }
    }
    return NULL;
}

static PyObject *
s_call_fastkw(int which, PyObject *self, PyObject *const *args,
              Py_ssize_t nargs, PyObject *kwnames)
{
    s_before(which,
             which == S_EXIT ? s_status_arg(args, nargs, kwnames) : NULL);
    PyObject *r = ((s_fastkw_t)(void (*)(void))s_slots[which].real)(
        self, args, nargs, kwnames);
    s_after(which);
    return r;
}

static PyObject *
s_call_fast(int which, PyObject *self, PyObject *const *args,
            Py_ssize_t nargs)
{
    s_before(which,
             which == S_EXIT ? s_status_arg(args, nargs, NULL) : NULL);
    PyObject *r =
        ((s_fast_t)(void (*)(void))s_slots[which].real)(self, args, nargs);
    s_after(which);
    return r;
}

static PyObject *
s_call_o(int which, PyObject *self, PyObject *arg)
{
    s_before(which, which == S_EXIT ? arg : NULL);
    PyObject *r = s_slots[which].real(self, arg);
    s_after(which);
    return r;
}

/* One entry point per function and calling convention. */
#define S_ENTRIES(W, tag)                                                     \
    static PyObject *s_##tag##_fastkw(PyObject *self, PyObject *const *args,  \
                                      Py_ssize_t nargs, PyObject *kwnames)    \
    {                                                                         \
        return s_call_fastkw(W, self, args, nargs, kwnames);                  \
    }                                                                         \
    static PyObject *s_##tag##_fast(PyObject *self, PyObject *const *args,    \
                                    Py_ssize_t nargs)                         \
    {                                                                         \
        return s_call_fast(W, self, args, nargs);                             \
    }                                                                         \
    static PyObject *s_##tag##_o(PyObject *self, PyObject *arg)               \
    {                                                                         \
        return s_call_o(W, self, arg);                                        \
    }

S_ENTRIES(S_EXIT, exit)
S_ENTRIES(S_EXECV, execv)
S_ENTRIES(S_EXECVE, execve)

typedef struct {
    PyCFunction fastkw;
    PyCFunction fast;
    PyCFunction o;
} s_entries_t;

#define S_CAST(f) ((PyCFunction)(void (*)(void))(f))

static const s_entries_t s_entries[S_COUNT] = {
    [S_EXIT] = {S_CAST(s_exit_fastkw), S_CAST(s_exit_fast),
                S_CAST(s_exit_o)},
    [S_EXECV] = {S_CAST(s_execv_fastkw), S_CAST(s_execv_fast),
                 S_CAST(s_execv_o)},
    [S_EXECVE] = {S_CAST(s_execve_fastkw), S_CAST(s_execve_fast),
                  S_CAST(s_execve_o)},
};

/* The entry point for `flags`, or NULL for a convention not handled. */
static PyCFunction
s_entry_for(int which, int flags)
{
    int conv = flags & (METH_VARARGS | METH_FASTCALL | METH_NOARGS | METH_O |
                        METH_KEYWORDS | METH_METHOD);
    if (conv == (METH_FASTCALL | METH_KEYWORDS)) {
        return s_entries[which].fastkw;
    }
    if (conv == METH_FASTCALL) {
        return s_entries[which].fast;
    }
    if (conv == METH_O) {
        return s_entries[which].o;
    }
    return NULL;
}

int
mpp_mod_interpose_os(mpp_core_t *core)
{
    s_core = core;
    PyObject *posix = PyImport_ImportModule("posix");
    if (posix == NULL) {
        PyErr_Clear();
        return 0;
    }
    int done = 0;
    for (int i = 0; i < S_COUNT; i++) {
        s_slot_t *slot = &s_slots[i];
        if (slot->def != NULL) {
            done++;
            continue;
        }
        PyObject *f = PyObject_GetAttrString(posix, slot->name);
        if (f == NULL) {
            PyErr_Clear();
            continue;
        }
        if (PyCFunction_Check(f)) {
            PyMethodDef *def = ((PyCFunctionObject *)f)->m_ml;
            PyCFunction entry =
                def != NULL ? s_entry_for(i, def->ml_flags) : NULL;
            if (entry != NULL && def->ml_meth != entry) {
                slot->real = def->ml_meth;
                slot->def = def;
                def->ml_meth = entry;
                done++;
            }
        }
        Py_DECREF(f);
    }
    Py_DECREF(posix);
    return done;
}
