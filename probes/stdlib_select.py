"""Standard library: select.select and selectors.DefaultSelector waiting on a slow peer."""
from __future__ import annotations

from patchcheck_probe import probe


def _connected(ctx):
    import socket

    peer = ctx.service("slow_tcp")
    sock = socket.create_connection((peer.host, peer.port), timeout=30)
    return sock


@probe("stdlib.select", distributions=["stdlib"], services=["slow_tcp"], wait=0.3)
def stdlib_select(ctx):
    """select.select([sock]) until the peer's late answer arrives."""
    import select

    sock = _connected(ctx)

    def call():
        try:
            sock.sendall(b"ping\n")
            readable, _, _ = select.select([sock], [], [], 30)
            if not readable:
                raise TimeoutError("select() timed out")
            sock.recv(4096)
        finally:
            sock.close()

    return call


@probe("stdlib.selectors", distributions=["stdlib"], services=["slow_tcp"], wait=0.3)
def stdlib_selectors(ctx):
    """selectors.DefaultSelector().select() until the peer's late answer arrives."""
    import selectors

    sock = _connected(ctx)

    def call():
        selector = selectors.DefaultSelector()
        try:
            selector.register(sock, selectors.EVENT_READ)
            sock.sendall(b"ping\n")
            if not selector.select(30):
                raise TimeoutError("selector.select() timed out")
            sock.recv(4096)
        finally:
            selector.close()
            sock.close()

    return call
