"""A local probe for a client that does its I/O in C: blocks, unless remedied."""
from patchcheck_probe import probe


def _remedy_python_io():
    import localctypes

    localctypes.use_python_io()


@probe(distributions=["localctypes"], services=["slow_tcp"], wait=0.3,
       remedies={"localctypes.use_python_io()": _remedy_python_io})
def localctypes_request(ctx):
    import localctypes

    peer = ctx.service("slow_tcp")
    client = localctypes.Client(peer.host, peer.port)
    return client.request
