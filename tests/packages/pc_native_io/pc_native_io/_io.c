/* patchcheck test package: a C extension that does blocking socket I/O itself.
 *
 * fetch() calls libc's socket()/connect()/send()/recv() directly, so gevent's monkey-patching
 * cannot make it cooperative. It releases the GIL around the blocking calls, like real C
 * drivers (psycopg2, mysqlclient) do: other threads keep running, the gevent hub of the
 * calling thread does not. patchcheck's native check must report connect/recv ("network")
 * for this module, and a probe against a slow loopback server must measure it as blocking.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static PyObject *
fetch(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"host", "port", "timeout", "request", "limit", NULL};
    const char *host;
    int port;
    double timeout;
    Py_buffer request = {NULL, NULL};
    Py_ssize_t limit = 65536;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int fd, rc = 0, err = 0, timed_out = 0;
    char *buf;
    Py_ssize_t got = 0, sent = 0;
    ssize_t n;
    PyObject *result;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sid|y*n:fetch", keywords,
                                     &host, &port, &timeout, &request, &limit))
        return NULL;
    if (port < 0 || port > 65535 || limit < 0) {
        PyErr_SetString(PyExc_ValueError, "port must be 0-65535 and limit >= 0");
        goto fail_args;
    }

    /* Numeric addresses only: this package must not import the resolver (getaddrinfo), so
     * that its native report is exactly the "network" category. */
    memset(&addr, 0, sizeof(addr));
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&addr)->sin_addr) == 1) {
        ((struct sockaddr_in *)&addr)->sin_family = AF_INET;
        ((struct sockaddr_in *)&addr)->sin_port = htons((unsigned short)port);
        addrlen = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&addr)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&addr)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&addr)->sin6_port = htons((unsigned short)port);
        addrlen = sizeof(struct sockaddr_in6);
    } else {
        PyErr_Format(PyExc_ValueError, "host must be a numeric IP address, got %R",
                     PyTuple_GET_ITEM(args, 0));
        goto fail_args;
    }

    buf = malloc(limit > 0 ? (size_t)limit : 1);
    if (buf == NULL) {
        PyErr_NoMemory();
        goto fail_args;
    }

    Py_BEGIN_ALLOW_THREADS
    fd = socket(addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0) {
        rc = -1;
        err = errno;
    } else {
        if (timeout > 0) {
            /* On Linux SO_SNDTIMEO bounds connect() too; no poll() needed. */
            struct timeval tv;
            tv.tv_sec = (time_t)timeout;
            tv.tv_usec = (suseconds_t)((timeout - (double)tv.tv_sec) * 1e6);
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        }
        do {
            rc = connect(fd, (struct sockaddr *)&addr, addrlen);
        } while (rc < 0 && errno == EINTR);
        while (rc == 0 && sent < request.len) {
            n = send(fd, (const char *)request.buf + sent, (size_t)(request.len - sent), 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                rc = -1;
            else
                sent += n;
        }
        while (rc == 0 && got < limit) {
            n = recv(fd, buf + got, (size_t)(limit - got), 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                rc = -1;
            else if (n == 0)
                break;
            else
                got += n;
        }
        if (rc < 0) {
            err = errno;
            timed_out = (err == EAGAIN || err == EWOULDBLOCK || err == EINPROGRESS);
        }
        close(fd);
    }
    Py_END_ALLOW_THREADS

    if (request.obj != NULL)
        PyBuffer_Release(&request);
    if (rc < 0) {
        free(buf);
        if (timed_out) {
            PyErr_SetString(PyExc_TimeoutError, "timed out");
        } else {
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
        }
        return NULL;
    }
    result = PyBytes_FromStringAndSize(buf, got);
    free(buf);
    return result;

fail_args:
    if (request.obj != NULL)
        PyBuffer_Release(&request);
    return NULL;
}

static PyMethodDef methods[] = {
    {"fetch", (PyCFunction)(void (*)(void))fetch, METH_VARARGS | METH_KEYWORDS,
     "fetch(host, port, timeout, request=b'', limit=65536) -> bytes\n\n"
     "Connect to a numeric address, send request, and return what the peer sends until it\n"
     "closes the connection or limit bytes arrived. Blocking, in C, with the GIL released.\n"
     "Raises TimeoutError after timeout seconds without progress (timeout <= 0: no timeout)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "pc_native_io._io",
    "Blocking socket I/O in C (patchcheck test package).", -1, methods,
};

PyMODINIT_FUNC
PyInit__io(void)
{
    return PyModule_Create(&module);
}
