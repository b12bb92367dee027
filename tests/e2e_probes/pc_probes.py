"""Probes for the test packages (used with --probe-path by the end-to-end tests)."""
from patchcheck_probe import probe


@probe(distributions=["pc_coop"], services=["slow_tcp"], wait=0.3)
def pc_coop_fetch(ctx):
    import pc_coop  # a pure-Python client over the socket module

    peer = ctx.service("slow_tcp")
    return lambda: pc_coop.fetch(peer.host, peer.port)


@probe(distributions=["pc_native_io"], services=["slow_tcp"], wait=0.3)
def pc_native_io_fetch(ctx):
    from pc_native_io import _io  # connect/send/recv in C, GIL released

    peer = ctx.service("slow_tcp")
    # the fixture echoes the request and keeps the connection open: read exactly the echo
    return lambda: _io.fetch(peer.host, peer.port, 10.0, b"ping\n", 5)
