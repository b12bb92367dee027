"""A local probe (``--probe-path`` style) for a pure-Python client: cooperates."""
from patchcheck_probe import probe


@probe(distributions=["localpure"], services=["slow_tcp"], wait=0.3)
def localpure_request(ctx):
    import localpure

    peer = ctx.service("slow_tcp")
    client = localpure.Client(peer.host, peer.port)
    return client.request
