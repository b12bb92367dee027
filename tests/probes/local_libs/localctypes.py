"""A client whose I/O happens in C: libc ``send``/``recv`` through ctypes on a blocking
``_socket`` descriptor. ctypes releases the GIL and gevent cannot patch libc, so a call blocks
the hub, like a C database driver. ``use_python_io()`` switches to Python sockets (the kind of
"green" mode some drivers offer), which patching reaches."""
import _socket
import ctypes
import ctypes.util

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_python_io = False


def use_python_io():
    global _python_io
    _python_io = True


class Client:
    def __init__(self, host, port):
        self.address = (host, port)

    def request(self, data=b"ping\n"):
        if _python_io:
            import socket

            with socket.create_connection(self.address, timeout=30) as sock:
                sock.sendall(data)
                return sock.recv(4096)
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        try:
            sock.connect(self.address)
            fd = sock.fileno()
            if _libc.send(fd, data, len(data), 0) < 0:
                raise OSError(ctypes.get_errno(), "send failed")
            buf = ctypes.create_string_buffer(4096)
            n = _libc.recv(fd, buf, 4096, 0)  # waits in C for the slow peer
            if n < 0:
                raise OSError(ctypes.get_errno(), "recv failed")
            return buf.raw[:n]
        finally:
            sock.close()
