"""A local probe for a client that captures socket.socket at import: order-sensitive."""
from patchcheck_probe import probe


@probe(distributions=["localstale"], services=["slow_tcp"], wait=0.3, import_order="both")
def localstale_request(ctx):
    import localstale

    peer = ctx.service("slow_tcp")
    client = localstale.Client(peer.host, peer.port)
    return client.request
