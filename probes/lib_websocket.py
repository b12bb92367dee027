"""websocket-client: one message round trip with a websocket server (``slow_websocket``)
that echoes after ``wait``.

websocket-client is pure Python over the ``socket`` (and ``select``) modules: after
``patch_all()`` ``recv()`` is expected to cooperate. The handshake happens during setup; only
the send/recv round trip is measured.
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["websocket-client"], services=["slow_websocket"], wait=0.3)
def websocket_client_echo(ctx):
    """websocket.create_connection(url); ws.send(text); ws.recv() answered after ``wait``."""
    import websocket

    peer = ctx.service("slow_websocket")
    ws = websocket.create_connection(f"ws://{peer.host}:{peer.port}/", timeout=30,
                                     http_no_proxy=["127.0.0.1", "localhost"])
    text = ctx.unique("hello")

    def call():
        try:
            ws.send(text)
            echoed = ws.recv()
            if echoed != text:
                raise ValueError(f"the server echoed {echoed!r}, not {text!r}")
        finally:
            ws.close()

    return call
