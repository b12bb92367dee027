"""Two probes for the heartbeat series: one blocks the hub, one cooperates."""
from patchcheck_probe import probe


@probe("beat.blocks", distributions=["beat"], wait=0.2, concurrency=3)
def blocks(ctx):
    from gevent.monkey import get_original

    sleep = get_original("time", "sleep")  # what a C driver does: the hub cannot run
    return lambda: sleep(ctx.wait)


@probe("beat.cooperates", distributions=["beat"], wait=0.2, concurrency=3)
def cooperates(ctx):
    import gevent

    return lambda: gevent.sleep(ctx.wait)
