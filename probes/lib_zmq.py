"""pyzmq: a REQ/REP round trip whose reply comes late, from a peer in a separate process.

The peer (a plain, unpatched Python process) answers each request after ``wait``. It binds a
ROUTER socket, which speaks the REP side of the REQ/REP protocol but can hold several requests
at once: a single REP socket answers strictly one request at a time, which would serialise the
concurrent copies at the *server* and look like blocking even for a cooperative client.

libzmq does its I/O on its own threads and ``Socket.recv()`` waits in C, so plain ``zmq``
blocks the hub; ``zmq.green`` (pyzmq's gevent-compatible API, which waits on the socket's
``FD`` with gevent) is the documented remedy. The peer exits when its stdin reaches EOF, i.e.
with the probe's child, however that ends.
"""
from __future__ import annotations

from patchcheck_probe import probe

# Run with ``python -c PEER WAIT``; prints "PORT <n>" once bound.
PEER = r'''
import heapq, itertools, os, sys, threading, time

import zmq

WAIT = float(sys.argv[1])


def watch_stdin():
    sys.stdin.buffer.read()  # EOF: the probe's child is gone
    os._exit(0)


threading.Thread(target=watch_stdin, daemon=True).start()
context = zmq.Context()
router = context.socket(zmq.ROUTER)
router.setsockopt(zmq.LINGER, 0)
port = router.bind_to_random_port("tcp://127.0.0.1")
sys.stdout.write("PORT %d\n" % port)
sys.stdout.flush()
pending, order = [], itertools.count()
poller = zmq.Poller()
poller.register(router, zmq.POLLIN)
while True:
    timeout = max(0.0, pending[0][0] - time.monotonic()) * 1000 if pending else 1000
    if poller.poll(timeout):
        frames = router.recv_multipart()
        heapq.heappush(pending, (time.monotonic() + WAIT, next(order), frames))
    while pending and pending[0][0] <= time.monotonic():
        router.send_multipart(heapq.heappop(pending)[2])
'''

#: which module the probe imports as ``zmq``; the remedy switches it to ``zmq.green``
_module = ["zmq"]
_peer = []


def _peer_port(ctx):
    """Start the peer once per child (the first copy starts it, the others wait)."""
    import threading

    if not _peer:
        _peer.append(threading.Lock())  # created in the child, after patch_all()
    with _peer[0]:
        if len(_peer) > 1:
            return _peer[2]
        import os
        import subprocess
        import sys

        err = open(os.path.join(ctx.tmpdir, "zmq-peer.stderr"), "w+b")
        proc = subprocess.Popen([sys.executable, "-c", PEER, repr(ctx.wait)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        line = proc.stdout.readline().decode("ascii", "replace").split()
        if len(line) != 2 or line[0] != "PORT":
            proc.kill()
            err.seek(0)
            tail = err.read()[-2000:].decode("utf-8", "replace")
            raise RuntimeError(f"the zmq peer process did not start: {tail}")
        _peer[1:] = [proc, int(line[1])]
        return _peer[2]


def _remedy_green():
    """``import zmq.green as zmq``: the probe's code then uses pyzmq's gevent API."""
    import zmq.green  # noqa: F401  (fails here, visibly, if unavailable)

    _module[0] = "zmq.green"


@probe(distributions=["pyzmq"], wait=0.3, remedies={"import zmq.green as zmq": _remedy_green})
def pyzmq_req_rep(ctx):
    """REQ socket: send, then recv() a reply the peer sends after ``wait``."""
    import importlib

    port = _peer_port(ctx)
    zmq = importlib.import_module(_module[0])
    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    sock.connect(f"tcp://127.0.0.1:{port}")

    def call():
        try:
            sock.send(b"ping")
            if sock.recv() != b"ping":
                raise ValueError("the peer answered something else")
        finally:
            sock.close()
            context.term()

    return call
