"""Starts an OS thread at import, the way a C extension's init would (grpc, APM agents).

The thread runs libc's pause(): no Python at all, so gevent's patching cannot turn it into a
greenlet.
"""
import ctypes
import ctypes.util

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_thread_id = ctypes.c_ulong(0)
_rc = _libc.pthread_create(ctypes.byref(_thread_id), None,
                           ctypes.cast(_libc.pause, ctypes.c_void_p), None)
if _rc != 0:
    raise OSError(_rc, "pthread_create failed")
