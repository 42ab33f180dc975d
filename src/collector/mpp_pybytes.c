/*  Byte measuring for categories; see mpp_pybytes.h.  Called from the
 *  profile hook, so nothing here may raise: a pending exception is saved
 *  around every call that might set one. */
#include "mpp_pycompat.h"

#include <string.h>

#include "mpp_pybytes.h"

/* Size of a bytes-like result: bytes, a memoryview, a BytesIO.  Never
 * raises; only a BytesIO runs a method (its own C getbuffer). */
static uint64_t
s_obj_bytes(PyObject *obj)
{
    uint64_t n = 0;
    if (obj == NULL) {
        return 0;
    }
    if (PyBytes_Check(obj)) {
        return (uint64_t)PyBytes_GET_SIZE(obj);
    }
    if (PyByteArray_Check(obj)) {
        return (uint64_t)PyByteArray_GET_SIZE(obj);
    }
    if (PyMemoryView_Check(obj)) {
        Py_ssize_t len = PyMemoryView_GET_BUFFER(obj)->len;
        return len > 0 ? (uint64_t)len : 0;
    }
    mpp_exc_t exc;
    mpp_exc_save(&exc);
    if (strcmp(Py_TYPE(obj)->tp_name, "_io.BytesIO") == 0) {
        PyObject *view = PyObject_CallMethod(obj, "getbuffer", NULL);
        if (view != NULL && PyMemoryView_Check(view)) {
            n = (uint64_t)PyMemoryView_GET_BUFFER(view)->len;
        }
        Py_XDECREF(view); /* releases the export */
    }
    else if (PyObject_CheckBuffer(obj)) {
        Py_buffer buf;
        if (PyObject_GetBuffer(obj, &buf, PyBUF_FULL_RO) == 0) {
            n = buf.len > 0 ? (uint64_t)buf.len : 0;
            PyBuffer_Release(&buf);
        }
    }
    mpp_exc_restore(&exc);
    return n;
}

static uint64_t
s_arg_bytes(PyFrameObject *frame)
{
    mpp_exc_t exc;
    mpp_exc_save(&exc);
    PyObject *buf = mpp_frame_local(frame, "buf");
    mpp_exc_restore(&exc);
    uint64_t n = s_obj_bytes(buf);
    Py_XDECREF(buf);
    return n;
}

static uint64_t
s_ret_bytes(void *ctx, void *retval)
{
    (void)ctx;
    return s_obj_bytes((PyObject *)retval);
}

static uint64_t
s_frame_bytes(void *ctx, void *frame)
{
    (void)ctx;
    if (frame == MPP_PYBYTES_CURRENT_FRAME) {
        frame = mpp_current_frame();
        if (frame == NULL) {
            return 0;
        }
    }
    return s_arg_bytes((PyFrameObject *)frame);
}

mpp_measure_t
mpp_pybytes_measure(void)
{
    return (mpp_measure_t){
        .ctx = NULL,
        .ret_bytes = s_ret_bytes,
        .arg_bytes = s_frame_bytes,
    };
}
