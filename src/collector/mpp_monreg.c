/*  Registering sys.monitoring callbacks; see mpp_monreg.h. */
#include "mpp_monreg.h"

#include <stddef.h>

#include "mpp_internal.h"

#if MPP_HAVE_MONITORING

/*  A callback object: its vectorcall slot is the callback.  (clang-format
 *  would take PyObject_HEAD, a macro without a semicolon, for part of the
 *  next declaration.) */
/* clang-format off */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
} s_callback_t;
/* clang-format on */

static PyMemberDef s_callback_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(s_callback_t, vectorcall),
     Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot s_callback_slots[] = {
    {Py_tp_call, (void *)PyVectorcall_Call},
    {Py_tp_members, s_callback_members},
    {0, NULL},
};

static PyType_Spec s_callback_spec = {
    .name = "mpprof._collector.MonitoringCallback",
    .basicsize = sizeof(s_callback_t),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = s_callback_slots,
};

/* Kept for the life of the process, as the callbacks are. */
static PyTypeObject *s_callback_type;

/* A new callback object calling `fn`, or NULL with an exception set. */
static PyObject *
s_callback_new(vectorcallfunc fn)
{
    if (s_callback_type == NULL) {
        s_callback_type = (PyTypeObject *)PyType_FromSpec(&s_callback_spec);
        if (s_callback_type == NULL) {
            return NULL;
        }
    }
    s_callback_t *cb = PyObject_New(s_callback_t, s_callback_type);
    if (cb != NULL) {
        cb->vectorcall = fn;
    }
    return (PyObject *)cb;
}

int
mpp_monreg_claim(PyObject *monitoring)
{
    static const int tools[] = {3, 4, 5};
    for (size_t i = 0; i < MPP_ARRAY_SIZE(tools); i++) {
        PyObject *r = PyObject_CallMethod(monitoring, "use_tool_id", "is",
                                          tools[i], "mpprof");
        if (r != NULL) {
            Py_DECREF(r);
            return tools[i];
        }
        if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
            return -1;
        }
        PyErr_Clear();
    }
    return -2;
}

int
mpp_monreg_register(PyObject *monitoring, int tool,
                    const mpp_monreg_event_t *events, size_t n, bool fast)
{
    PyObject *names = PyObject_GetAttrString(monitoring, "events");
    if (names == NULL) {
        return -1;
    }
    long mask = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (fast && events[i].c_event) {
            continue;
        }
        PyObject *ev = PyObject_GetAttrString(names, events[i].event);
        long bit = ev != NULL ? PyLong_AsLong(ev) : -1;
        PyObject *cb = bit > 0 ? s_callback_new(events[i].fn) : NULL;
        /* sys.monitoring keeps the callback alive from here on. */
        PyObject *r = cb != NULL ? PyObject_CallMethod(monitoring,
                                                       "register_callback",
                                                       "iOO", tool, ev, cb)
                                 : NULL;
        Py_XDECREF(cb);
        Py_XDECREF(ev);
        rc = r != NULL ? 0 : -1;
        Py_XDECREF(r);
        mask |= bit;
    }
    if (rc == 0) {
        PyObject *r =
            PyObject_CallMethod(monitoring, "set_events", "il", tool, mask);
        rc = r != NULL ? 0 : -1;
        Py_XDECREF(r);
    }
    Py_DECREF(names);
    return rc;
}

#endif
