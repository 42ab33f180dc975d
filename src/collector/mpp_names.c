/*  Naming functions; see mpp_names.h. */
#include "mpp_names.h"

#include <string.h>

/*  The bytes of a str as a C string, borrowed from *holder (release it
 *  once the text is copied).  Text that is not valid Unicode, such as a
 *  file name with bytes undecodable in the file system encoding, keeps
 *  those bytes as they were (surrogateescape, as os.fsencode does), so
 *  the name refers to the same file; the wire carries it as is. */
static const char *
s_bytes(PyObject *s, PyObject **holder)
{
    *holder = NULL;
    if (s == NULL || !PyUnicode_Check(s)) {
        return "?";
    }
    const char *text = PyUnicode_AsUTF8(s);
    if (text != NULL) {
        return text;
    }
    PyErr_Clear();
    *holder = PyUnicode_AsEncodedString(s, "utf-8", "surrogateescape");
    if (*holder == NULL) {
        PyErr_Clear();
        *holder = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
    }
    if (*holder == NULL) {
        PyErr_Clear();
        return "?";
    }
    return PyBytes_AS_STRING(*holder);
}

uint32_t
mpp_names_code(mpp_core_t *core, Py_ssize_t code_index, mpp_tstate_t *thread,
               PyCodeObject *code)
{
    mpp_exc_t exc;
    PyObject *file_holder;
    PyObject *name_holder;

    mpp_exc_save(&exc);
    uint32_t fid =
        mpp_funcs_add(mpp_core_hot(core)->funcs,
                      s_bytes(mpp_code_filename(code), &file_holder),
                      mpp_code_firstlineno(code),
                      s_bytes(mpp_code_name(code), &name_holder));
    Py_XDECREF(file_holder);
    Py_XDECREF(name_holder);
    if (fid == MPP_NOFID) {
        thread->dropped++;
    }
    else if (mpp_code_set_extra(code, code_index,
                                (void *)(uintptr_t)(fid + 1)) < 0) {
        /* Out of memory: the next call registers the function again,
         * under a new id with the same name, which the aggregator merges
         * by name.  Nothing is lost but memory. */
        thread->dropped++;
    }
    mpp_exc_restore(&exc);
    return fid;
}

/*  A repr such as "<function Random.seed at 0x7f91e6d1f9c0>" (what a
 *  Python subclass's override looks like) names the same function in
 *  every process with another address.  cProfile keeps the address; we
 *  drop it, so the function merges across processes and runs.  Steals the
 *  reference to `repr`. */
static PyObject *
s_without_address(PyObject *repr)
{
    if (repr == NULL) {
        return NULL;
    }
    Py_ssize_t len = PyUnicode_GetLength(repr);
    PyObject *marker = PyUnicode_FromString(" at 0x");
    Py_ssize_t at = marker ? PyUnicode_Find(repr, marker, 0, len, -1) : -1;
    Py_XDECREF(marker);
    if (at < 0 || PyUnicode_ReadChar(repr, len - 1) != '>') {
        PyErr_Clear();
        return repr;
    }
    PyObject *head = PyUnicode_Substring(repr, 0, at);
    PyObject *label = head ? PyUnicode_FromFormat("%U>", head) : NULL;
    Py_XDECREF(head);
    if (label == NULL) {
        PyErr_Clear();
        return repr;
    }
    Py_DECREF(repr);
    return label;
}

/*  The name cProfile gives a C function, so that profiles compare and merge
 *  with cProfile's: "<method 'acquire' of '_thread.lock' objects>" (the
 *  repr of what the type of __self__ has under that name), else
 *  "<built-in method time.sleep>", or for functions without __self__
 *  "<mod.name>" and "<name>" for builtins. */
static PyObject *
s_cfunc_label(PyObject *func)
{
    const char *ml_name = mpp_cfunc_def(func)->ml_name;
    PyObject *self = mpp_cfunc_self(func);
    PyObject *mod = mpp_cfunc_module(func);

    if (self == NULL) {
        PyObject *modname = NULL;
        if (mod != NULL && PyUnicode_Check(mod)) {
            modname = Py_NewRef(mod);
        }
        else if (mod != NULL && PyModule_Check(mod)) {
            modname = PyModule_GetNameObject(mod);
            if (modname == NULL) {
                PyErr_Clear();
            }
        }
        if (modname != NULL) {
            PyObject *label = NULL;
            if (PyUnicode_CompareWithASCIIString(modname, "builtins") != 0) {
                label = PyUnicode_FromFormat("<%U.%s>", modname, ml_name);
            }
            Py_DECREF(modname);
            if (label != NULL) {
                return label;
            }
            PyErr_Clear();
        }
        return PyUnicode_FromFormat("<%s>", ml_name);
    }

    PyObject *name = PyUnicode_FromString(ml_name);
    if (name != NULL) {
        PyObject *attr = mpp_type_lookup(Py_TYPE(self), name);
        Py_XINCREF(attr);
        Py_DECREF(name);
        if (attr != NULL) {
            PyObject *label = s_without_address(PyObject_Repr(attr));
            Py_DECREF(attr);
            if (label != NULL) {
                return label;
            }
        }
    }
    PyErr_Clear();
    if (mod != NULL && PyUnicode_Check(mod)) {
        return PyUnicode_FromFormat("<built-in method %S.%s>", mod, ml_name);
    }
    return PyUnicode_FromFormat("<built-in method %s>", ml_name);
}

/* ---- labels read in place ------------------------------------------------
 *
 *  A fork child shares its parent's pages until it writes to one, and on
 *  some machines each first write costs tens of microseconds.  Making a
 *  label with Python objects writes to many shared pages (reference counts
 *  of types and descriptors, the type cache, pymalloc pools for new
 *  strings): in a fork child that names the dozen C functions it calls
 *  that its parent never did, it was about 13 such faults (issue 12).  The
 *  common labels need only what these objects already hold, so they are
 *  composed here from C strings read in place, and anything unusual goes
 *  the Python way (s_cfunc_label), which gives the same text. */

/* The text of an exact, compact ASCII str, or NULL. */
static const char *
s_ascii(PyObject *s)
{
    if (s == NULL || !PyUnicode_CheckExact(s) ||
        !PyUnicode_IS_COMPACT_ASCII(s)) {
        return NULL;
    }
    return (const char *)PyUnicode_DATA(s);
}

/*  What _PyType_Lookup(type, name) finds, found by reading each dict of
 *  the MRO: 1 with *found borrowed, 0 when no type has the name, -1 when
 *  this cannot tell without Python (a key that is not an ASCII str). */
static int
s_mro_find(PyTypeObject *type, const char *name, PyObject **found)
{
    PyObject *mro = type->tp_mro;
    if (mro == NULL || !PyTuple_Check(mro)) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *dict =
            mpp_type_dict((PyTypeObject *)PyTuple_GET_ITEM(mro, i));
        if (dict == NULL || !PyDict_CheckExact(dict)) {
            return -1;
        }
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(dict, &pos, &key, &value)) {
            const char *text = s_ascii(key);
            if (text == NULL) {
                return -1;
            }
            if (strcmp(text, name) == 0) {
                *found = value;
                return 1;
            }
        }
    }
    return 0;
}

/*  s_cfunc_label's text for the C function (def, self, module) into
 *  buf, when it can be read in place; false otherwise. */
static bool
s_label_in_place(const PyMethodDef *def, PyObject *self, PyObject *mod,
                 char *buf, size_t cap)
{
    const char *ml_name = def != NULL ? def->ml_name : NULL;
    if (ml_name == NULL || self == NULL) {
        return false; /* rare (static methods): the Python way */
    }
    for (const char *c = ml_name; *c; c++) {
        if ((unsigned char)*c >= 0x80) {
            return false;
        }
    }
    PyObject *attr = NULL;
    int r = s_mro_find(Py_TYPE(self), ml_name, &attr);
    int n;
    if (r < 0) {
        return false;
    }
    if (r > 0) {
        /* The repr of a method descriptor, as descrobject.c writes it. */
        if (!Py_IS_TYPE(attr, &PyMethodDescr_Type) &&
            !Py_IS_TYPE(attr, &PyClassMethodDescr_Type)) {
            return false;
        }
        const char *dname = s_ascii(PyDescr_NAME(attr));
        PyTypeObject *dtype = PyDescr_TYPE(attr);
        if (dname == NULL || dtype == NULL || dtype->tp_name == NULL ||
            strstr(dtype->tp_name, " at 0x") != NULL) {
            return false;
        }
        n = snprintf(buf, cap, "<method '%s' of '%s' objects>", dname,
                     dtype->tp_name);
    }
    else if (mod == NULL) {
        n = snprintf(buf, cap, "<built-in method %s>", ml_name);
    }
    else {
        const char *modname = s_ascii(mod);
        if (modname == NULL) {
            return false;
        }
        n = snprintf(buf, cap, "<built-in method %s.%s>", modname, ml_name);
    }
    return n > 0 && (size_t)n < cap;
}

/*  Whether `def` is one of the methods `type` itself defines in C. */
static bool
s_defines(PyTypeObject *type, const PyMethodDef *def)
{
    for (const PyMethodDef *m = type->tp_methods; m != NULL && m->ml_name;
         m++) {
        if (m == def) {
            return true;
        }
    }
    return false;
}

/*  The catalog's name for the C pickler's dump or the C unpickler's
 *  load, whatever the class of the object it runs on; NULL for any other
 *  function.  Pickling is known by what runs, not by class names: every
 *  pickler that subclasses the C one (multiprocessing's ForkingPickler,
 *  cloudpickle's CloudPickler, loky's and joblib's picklers) ends in
 *  this very method, yet cProfile labels it after the subclass's Python
 *  override when there is one, which no catalog entry can list. */
static const char *
s_pickler_as(PyObject *self, const PyMethodDef *def)
{
    static const char dump[] = "<method 'dump' of '_pickle.Pickler' objects>";
    static const char load[] =
        "<method 'load' of '_pickle.Unpickler' objects>";
    if (self == NULL || PyModule_Check(self) || def == NULL ||
        def->ml_name == NULL) {
        return NULL;
    }
    bool is_dump = strcmp(def->ml_name, "dump") == 0;
    if (!is_dump && strcmp(def->ml_name, "load") != 0) {
        return NULL;
    }
    PyObject *mro = Py_TYPE(self)->tp_mro;
    if (mro == NULL || !PyTuple_Check(mro)) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        const char *want = is_dump ? "_pickle.Pickler" : "_pickle.Unpickler";
        if (strcmp(t->tp_name, want) == 0 && s_defines(t, def)) {
            return is_dump ? dump : load;
        }
    }
    return NULL;
}

/*  Adds the C function `def` under `label` and binds the two. */
static uint32_t
s_register_c(mpp_funcs_t *funcs, mpp_tstate_t *thread, const PyMethodDef *def,
             const char *label)
{
    uint32_t fid = mpp_funcs_add(funcs, "~", 0, label);
    if (fid == MPP_NOFID || mpp_funcs_bind(funcs, def, fid) < 0) {
        thread->dropped++;
    }
    return fid;
}

/*  The label of the C function (def, self, mod) when it needs no Python
 *  call: the pickler's (see below) or one read in place. */
static const char *
s_label_quick(const PyMethodDef *def, PyObject *self, PyObject *mod, char *buf,
              size_t cap)
{
    /*  The C pickler's dump and the C unpickler's load are named as what
     *  runs, not as cProfile labels them after a subclass's override:
     *  the name is the catalog's, so the report knows the call as the
     *  pickling root it is and names its site's callee (issue 13: a
     *  joblib job's pickling site read "via ?").  The id is bound to the
     *  C method (mpp_funcs_bind), which every pickler shares, so a label
     *  taken from the first subclass seen would have named the calls of
     *  all the others after it anyway. */
    const char *as = s_pickler_as(self, def);
    if (as == NULL && s_label_in_place(def, self, mod, buf, cap)) {
        as = buf;
    }
    return as;
}

uint32_t
mpp_names_cfunc(mpp_core_t *core, mpp_tstate_t *thread, PyObject *func)
{
    mpp_funcs_t *funcs = mpp_core_hot(core)->funcs;
    const PyMethodDef *def = mpp_cfunc_def(func);
    char text[512];
    const char *as = s_label_quick(def, mpp_cfunc_self(func),
                                   mpp_cfunc_module(func), text, sizeof(text));
    if (as != NULL) {
        return s_register_c(funcs, thread, def, as);
    }
    mpp_exc_t exc;
    mpp_exc_save(&exc);
    PyObject *label = s_cfunc_label(func);
    PyObject *holder = NULL;
    PyErr_Clear();
    uint32_t fid = s_register_c(funcs, thread, def, s_bytes(label, &holder));
    Py_XDECREF(holder);
    Py_XDECREF(label);
    mpp_exc_restore(&exc);
    return fid;
}

uint32_t
mpp_names_method(mpp_core_t *core, mpp_tstate_t *thread, PyObject *descr,
                 PyObject *self)
{
    if (Py_IS_TYPE(descr, &PyMethodDescr_Type)) {
        /* The bound method this would make has no module. */
        const PyMethodDef *def = ((PyMethodDescrObject *)descr)->d_method;
        char text[512];
        const char *as = s_label_quick(def, self, NULL, text, sizeof(text));
        if (as != NULL) {
            return s_register_c(mpp_core_hot(core)->funcs, thread, def, as);
        }
    }
    /* The bound method is what cProfile names (and what 3.11's profile
     * hook saw); making one allocates, which is fine here: this runs once
     * per method. */
    mpp_exc_t exc;
    mpp_exc_save(&exc);
    PyObject *bound = mpp_method_bind(descr, self);
    uint32_t fid = MPP_NOFID;
    if (bound != NULL && PyCFunction_Check(bound)) {
        fid = mpp_names_cfunc(core, thread, bound);
    }
    else {
        thread->dropped++;
    }
    Py_XDECREF(bound);
    mpp_exc_restore(&exc);
    return fid;
}
