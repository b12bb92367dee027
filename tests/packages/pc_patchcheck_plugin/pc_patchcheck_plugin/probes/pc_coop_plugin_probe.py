from patchcheck_probe import probe


@probe(distributions=["pc_coop"], services=["slow_tcp"], wait=0.3, name="plugin.pc_coop.fetch")
def fetch(ctx):
    import pc_coop

    peer = ctx.service("slow_tcp")
    return lambda: pc_coop.fetch(peer.host, peer.port)
