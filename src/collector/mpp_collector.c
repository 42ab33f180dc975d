/* STUB: replaced by the collector unit. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static struct PyModuleDef s_def = {PyModuleDef_HEAD_INIT, "_collector", NULL, 0, NULL};
PyMODINIT_FUNC PyInit__collector(void) { return PyModuleDef_Init(&s_def); }
