/* patchcheck test package: computes only. It imports no socket, DNS, poll or sleep function
 * from libc, so patchcheck's native check must report nothing for it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
checksum(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    unsigned long long total = 0;
    const unsigned char *p;
    Py_ssize_t i;

    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    p = (const unsigned char *)view.buf;
    /* Pure computation: releasing the GIL is fine, and nothing here can block. */
    Py_BEGIN_ALLOW_THREADS
    for (i = 0; i < view.len; i++)
        total += p[i];
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong(total);
}

static PyMethodDef methods[] = {
    {"checksum", checksum, METH_O, "checksum(data) -> int: the sum of the bytes of data."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "pc_native_compute._compute",
    "A compute-only C extension (patchcheck test package).", -1, methods,
};

PyMODINIT_FUNC
PyInit__compute(void)
{
    return PyModule_Create(&module);
}
