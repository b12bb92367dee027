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


@probe("beat.switches", distributions=["beat"], wait=0.2, concurrency=3)
def switches(ctx):
    """Blocks the hub while switching to a plain greenlet and back every 20 ms: gevent's
    monitor sees a switch between each two of its checks and never reports (GEVENT-NOTES,
    "Any switch resets the check"); the heartbeat sees the stall."""
    import greenlet
    from gevent.monkey import get_original

    sleep = get_original("time", "sleep")

    def call():
        def partner():
            while True:
                sleep(0.02)
                caller.switch()

        caller = greenlet.getcurrent()
        other = greenlet.greenlet(partner)
        for _ in range(int(ctx.wait / 0.02) // 2):
            other.switch()
            sleep(0.02)
        other.throw(greenlet.GreenletExit)

    return call
