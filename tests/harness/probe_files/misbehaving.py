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


@probe("bad.hang_in_c", distributions=["bad"], wait=0.1, concurrency=2)
def hang_in_c(ctx):
    from gevent.monkey import get_original

    native_sleep = get_original("time", "sleep")
    # The hub is stuck in C (the unpatched sleep releases the GIL, as a blocking connect or
    # recv does): only a native thread can notice. multiprocessing.Pool, grpc and
    # cassandra-driver hang like this.
    return lambda: native_sleep(3600)


@probe("bad.hang_factory", distributions=["bad"], wait=0.1)
def hang_factory(ctx):
    from gevent.monkey import get_original

    get_original("time", "sleep")(3600)  # a connect that never returns
    return lambda: None


@probe("bad.factory_loopexit", distributions=["bad"], wait=0.1)
def factory_loopexit(ctx):
    from gevent.exceptions import LoopExit

    raise LoopExit("This operation would block forever")


@probe("bad.cleanup", distributions=["bad"], wait=0.1)
def cleanup(ctx):
    import os
    import time

    with open(os.path.join(ctx.tmpdir, f"copy{ctx.index}"), "w") as f:
        f.write("x")
    report = os.environ["PC_TEST_CLEANUP_REPORT"]  # a file of the test's, outside the child

    @ctx.cleanup
    def _note() -> None:
        with open(report, "a") as f:
            f.write(f"cleaned {ctx.index} {ctx.tmpdir}\n")

    def call():
        time.sleep(ctx.wait)

    return call
