"""Standard library: ``os.read`` on a pipe whose writer answers late.

``patch_all()`` does not patch ``os.read``/``os.write`` (gevent#1216: a blocking read on a pipe
or tty blocks the hub); ``gevent.os.nb_read`` on a non-blocking descriptor waits in the hub
instead. The writer is a *native* thread (``gevent.monkey.get_original``), so it runs even
while the hub is blocked: the measured wait is the reader's alone.
"""
from __future__ import annotations

from patchcheck_probe import probe

_use = {"nb_read": False}


def _remedy_nb_read():
    """Read with gevent.os.nb_read on a non-blocking descriptor."""
    _use["nb_read"] = True


def _write_later(fd, wait):
    from gevent.monkey import get_original

    start_new_thread = get_original("_thread", "start_new_thread")
    sleep = get_original("time", "sleep")

    def run():
        sleep(wait)
        import os

        os.write(fd, b"x")

    start_new_thread(run, ())


@probe("stdlib.os.read", distributions=["stdlib"], wait=0.3,
       remedies={"gevent.os.nb_read(fd, n) on a non-blocking fd": _remedy_nb_read})
def stdlib_os_read(ctx):
    """os.read(fd, 1) on a pipe a native thread writes to after ``wait``."""
    import os

    read_fd, write_fd = os.pipe()
    if _use["nb_read"]:
        import gevent.os

        gevent.os.make_nonblocking(read_fd)

        def read():
            return gevent.os.nb_read(read_fd, 1)
    else:
        def read():
            return os.read(read_fd, 1)

    def call():
        try:
            _write_later(write_fd, ctx.wait)
            if read() != b"x":
                raise EOFError("the pipe closed before the writer wrote")
        finally:
            os.close(read_fd)
            os.close(write_fd)

    return call
