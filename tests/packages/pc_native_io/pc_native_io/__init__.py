"""patchcheck test package: blocking socket I/O done in C, out of gevent's reach.

``fetch(host, port, timeout, request=b"", limit=65536)`` connects to ``host:port`` (a numeric
IPv4/IPv6 address: no DNS), sends ``request``, and returns what the peer sends until it closes
the connection or ``limit`` bytes arrived. The C code releases the GIL around the blocking
calls (the usual ``Py_BEGIN_ALLOW_THREADS`` pattern), so it does not block other *threads*,
but it does block the gevent hub of the thread that calls it: monkey-patching cannot reach
libc's connect()/recv().
"""
from pc_native_io._io import fetch

__all__ = ["fetch"]
__version__ = "1.0"
