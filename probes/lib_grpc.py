"""grpcio: a unary call and ``channel_ready_future(...).result()`` against a gRPC server in a
separate, unpatched process.

The server is a generic handler (``grpc.method_handlers_generic_handler`` with bytes in and
out: no ``.proto``, no protoc) that answers ``/patchcheck.Probe/Echo`` after ``wait``; in the
same process a small TCP relay delays the server's first bytes on each connection by ``wait``,
so a channel through it becomes READY only after ``wait`` (HTTP/2 needs the server's SETTINGS).

gRPC's C core waits on its completion queues in C and runs its own threads, so under
``patch_all()`` a call blocks the hub or never returns; ``grpc.experimental.gevent.init_gevent()``
after patching (gevent #938, grpc #4629) is the documented remedy. A hang is a verdict: the
child is killed at its deadline and the scan reports ``breaks``.

The server process reads its stdin and exits at EOF, so it ends with the probe's child however
that child ends (normal exit, ``os._exit``, or the process-group kill on timeout).
"""
from __future__ import annotations

from patchcheck_probe import probe

# Run with ``python -c SERVER WAIT``; prints "PORTS <grpc> <relay>" once listening.
SERVER = r'''
import os, socket, sys, threading, time
from concurrent import futures

import grpc

WAIT = float(sys.argv[1])


def echo(request, context):
    time.sleep(WAIT)
    return request


handler = grpc.method_handlers_generic_handler("patchcheck.Probe", {
    "Echo": grpc.unary_unary_rpc_method_handler(echo)})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
server.add_generic_rpc_handlers((handler,))
grpc_port = server.add_insecure_port("127.0.0.1:0")
server.start()


def pump(src, dst, delay_first):
    first = True
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if first and delay_first:
                time.sleep(WAIT)
            first = False
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def relay(client):
    try:
        upstream = socket.create_connection(("127.0.0.1", grpc_port), timeout=10)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    threading.Thread(target=pump, args=(client, upstream, False), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client, True), daemon=True).start()


listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)


def accept_loop():
    while True:
        client, _ = listener.accept()
        relay(client)


threading.Thread(target=accept_loop, daemon=True).start()
sys.stdout.write("PORTS %d %d\n" % (grpc_port, listener.getsockname()[1]))
sys.stdout.flush()
sys.stdin.buffer.read()  # EOF: the probe's child is gone
os._exit(0)
'''

_METHOD = "/patchcheck.Probe/Echo"
#: [lock, Popen, grpc port, relay port] of this child's server, shared by the copies
_server = []


def _server_ports(ctx):
    """Start the server once per child (the first copy starts it, the others wait)."""
    import threading

    if not _server:
        _server.append(threading.Lock())  # created in the child, after patch_all()
    with _server[0]:
        if len(_server) > 1:
            return _server[2], _server[3]
        import os
        import subprocess
        import sys

        err = open(os.path.join(ctx.tmpdir, "grpc-server.stderr"), "w+b")
        proc = subprocess.Popen([sys.executable, "-c", SERVER, repr(ctx.wait)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        line = proc.stdout.readline().decode("ascii", "replace").split()
        if len(line) != 3 or line[0] != "PORTS":
            proc.kill()
            err.seek(0)
            tail = err.read()[-2000:].decode("utf-8", "replace")
            raise RuntimeError(f"the gRPC server process did not start: {tail}")
        _server[1:] = [proc, int(line[1]), int(line[2])]
        return _server[2], _server[3]


def _remedy_init_gevent():
    """grpc.experimental.gevent.init_gevent(), after patch_all()."""
    from grpc.experimental import gevent as grpc_gevent

    grpc_gevent.init_gevent()


_REMEDIES = {"grpc.experimental.gevent.init_gevent()": _remedy_init_gevent}


@probe(distributions=["grpcio"], wait=0.3, remedies=_REMEDIES)
def grpcio_unary(ctx):
    """A unary call to a server (separate process) that answers after ``wait``."""
    grpc_port, _ = _server_ports(ctx)
    import grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    echo = channel.unary_unary(_METHOD)  # no (de)serializers: bytes in, bytes out

    def call():
        try:
            if echo(b"patchcheck", timeout=5) != b"patchcheck":
                raise ValueError("the echo server answered something else")
        finally:
            channel.close()

    return call


@probe(distributions=["grpcio"], wait=0.3, remedies=_REMEDIES)
def grpcio_channel_ready(ctx):
    """grpc.channel_ready_future(channel).result(): the server's handshake arrives late."""
    _, relay_port = _server_ports(ctx)
    import grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{relay_port}")

    def call():
        try:
            grpc.channel_ready_future(channel).result(timeout=5)
        finally:
            channel.close()

    return call
