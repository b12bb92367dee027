"""Standard library: plain sockets and TLS against slow loopback peers."""
from __future__ import annotations

from patchcheck_probe import probe


@probe("stdlib.socket", distributions=["stdlib"], services=["slow_tcp"], wait=0.3)
def stdlib_socket(ctx):
    """socket.create_connection + sendall + recv: the peer answers after ``wait``."""
    import socket

    peer = ctx.service("slow_tcp")

    def call():
        with socket.create_connection((peer.host, peer.port), timeout=30) as sock:
            sock.sendall(b"ping\n")
            if not sock.recv(4096):
                raise ConnectionError("slow_tcp closed without answering")

    return call


@probe("stdlib.ssl", distributions=["stdlib"], services=["slow_tls"], wait=0.3)
def stdlib_ssl(ctx):
    """ssl.SSLContext.wrap_socket (handshake) + an HTTP request; the answer comes after ``wait``."""
    import socket
    import ssl

    peer = ctx.service("slow_tls")
    context = ssl.create_default_context(cafile=peer.cafile)
    hostname = peer.get("server_hostname") or "localhost"
    request = (f"GET / HTTP/1.1\r\nHost: {hostname}\r\nConnection: close\r\n\r\n").encode()

    def call():
        raw = socket.create_connection((peer.host, peer.port), timeout=30)
        with context.wrap_socket(raw, server_hostname=hostname) as sock:
            sock.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("slow_tls closed before the response headers")
                head += chunk
        if not head.startswith(b"HTTP/1.1 200"):
            raise ValueError(f"unexpected response: {head[:80]!r}")

    return call
