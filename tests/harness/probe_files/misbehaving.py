"""Probes that misbehave on purpose, to test how the meter reports it."""
from patchcheck_probe import Skip, probe


@probe("bad.raises", distributions=["bad"], wait=0.1)
def raises(ctx):
    import time

    def call():
        time.sleep(ctx.wait)
        raise ValueError("the library failed")

    return call


@probe("bad.loopexit", distributions=["bad"], wait=0.1)
def loopexit(ctx):
    def call():
        from gevent.exceptions import LoopExit

        raise LoopExit("This operation would block forever")

    return call


@probe("bad.setup", distributions=["bad"], wait=0.1)
def setup(ctx):
    raise ConnectionRefusedError(111, "Connection refused")


@probe("bad.skip", distributions=["bad"], wait=0.1)
def skip(ctx):
    raise Skip("the backend is not available here")


@probe("bad.hang", distributions=["bad"], wait=0.1, concurrency=2)
def hang(ctx):
    from gevent.event import Event

    never = Event()
    return lambda: never.wait()  # cooperative hang: the hub runs, the call never returns


@probe("bad.nowait", distributions=["bad"], wait=0.3)
def nowait(ctx):
    return lambda: None


@probe("bad.notcallable", distributions=["bad"], wait=0.1)
def notcallable(ctx):
    return 42
