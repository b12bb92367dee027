"""Fork server ("zygote") for child checks, run by path in the target interpreter.

Usage: ``python pc_zygote.py [MODULE | MODULE:FUNCTION[=ARG] ...]``. Started once per scan by
``patchcheck.runner.forkserver``; it pays interpreter start-up once, imports ``pc_child`` and
the given MODULEs (the ones every check of its kind imports before its task runs anyway), calls
each FUNCTION (with ARG, a string, if given: work every such check would do before touching
the library, such as reading gevent's plugins or, for checks that patch first, ``patch_all()``
itself), then forks one child per request. Standard library only; no threads (it forks).

Protocol, JSON lines on the zygote's stdin and stdout (fds 0/1 are moved aside at start, so a
stray print never corrupts it), built and read by ``pc_protocol`` here and
``patchcheck/runner/protocol.py`` in the tool:

    <- {"ready": true, "pid": N, "preload": [...]}      or {"error": "..."} and exit
    -> {"id": K, "argv": [pc_child.py, spec, result], "stdout": fifo, "stderr": fifo}
    <- {"id": K, "pid": P}                               the child runs in its own session
    <- {"id": K, "pid": P, "status": S, "orphans": [..]} raw wait status, once reaped, and the
                                                         processes it left (killed)
    <- {"id": K, "error": "..."}                         nothing was started

The child gets exactly what ``pc_child.py``'s ``__main__`` block does in a fresh process:
fds 0/1/2 on /dev/null and the two FIFOs (the tool drains them like pipes), default signal
handling, no other fds, ``sys.argv`` of pc_child, and ``sys.modules`` without the zygote's own
helpers. EOF on stdin (the tool closed it, or died) or a broken pipe on stdout (it died): kill
every live child's process group and every descendant, and exit. The zygote is a subreaper
(``pc_contain``): a check's descendants that outlive it, however they detached, become the
zygote's children and are killed as the check ends.
"""
import os
import sys

import pc_protocol  # stdlib only; every child imports it anyway (pc_child)


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def _preload(names):
    import pc_child

    for name in names:
        spec, has_arg, arg = name.partition("=")
        module, _, function = spec.partition(":")
        __import__(module)
        if function:  # "module:function[=arg]": work every child would do first, done once
            getattr(sys.modules[module], function)(*([arg] if has_arg else []))
    return pc_child


# Captured before any preload runs: a preload may monkey-patch this process
# (pc_imports.patch_in_zygote), and the zygote's own forking, waiting and closing must never
# go through gevent (its fork() and waitpid() would start a hub and watch children).
_fork = os.fork
_waitpid = os.waitpid
_close = os.close


def _original(module, name):
    """``module.name`` as it was before patching (select.select, signal.signal)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None:
        return monkey.get_original(module, name)
    return getattr(__import__(module), name)


def main(argv):
    # Move the protocol off fds 0/1 before anything can print.
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # the zygote's own noise goes to its stderr, which the tool keeps
    preload = argv[1:]
    try:
        pc_child = _preload(preload)
    except BaseException as exc:
        import traceback

        traceback.print_exc()
        _write_all(proto_out, pc_protocol.encode_line(
            pc_protocol.zygote_failed("%s: %s" % (type(exc).__name__, exc))))
        return 1
    import pc_contain

    pc_contain.set_subreaper()
    # Modules the zygote itself needs from here on are dropped again in each child.
    keep = frozenset(sys.modules)
    import signal

    select_fds = _original("select", "select")
    drop = [name for name in sys.modules if name not in keep]
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    _original("signal", "signal")(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w)

    replies = _Replies(proto_out)
    send = replies.send
    send(pc_protocol.zygote_ready(os.getpid(), preload))
    live = {}  # pid -> request id
    try:
        _serve_until_closed(select_fds, proto_in, wake_r, replies, live, pc_child, devnull, drop)
    finally:
        _end(send, live)
    return 0


class _Replies:
    """The reply pipe to the tool. A kill -9 of the tool shows first as EPIPE here as often as
    EOF on stdin (its checks die with it, and their exit is the next thing we say): then
    ``gone`` is set, nothing more is sent, and the zygote cleans up as at EOF."""

    def __init__(self, fd):
        self.fd = fd
        self.gone = False

    def send(self, doc):
        if self.gone:
            return
        try:
            _write_all(self.fd, pc_protocol.encode_line(doc))
        except OSError:
            self.gone = True


def _serve_until_closed(select_fds, proto_in, wake_r, replies, live, pc_child, devnull, drop):
    send = replies.send
    buf = b""
    while not replies.gone:
        try:
            readable, _, _ = select_fds([proto_in, wake_r], [], [], 1.0)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            readable = []
        if wake_r in readable:
            try:
                while os.read(wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        if proto_in in readable:
            chunk = os.read(proto_in, 65536)
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf and not replies.gone:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    _serve(pc_protocol.read_zygote_request(line), send, live, pc_child,
                           devnull, drop)
        _reap(send, live)


def _end(send, live):
    """The tool closed us (or went away): leave nothing behind, say how each child ended."""
    import signal

    import pc_contain

    for pid in list(live):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid, req_id in list(live.items()):
        try:
            _, status = _waitpid(pid, 0)
        except ChildProcessError:
            continue
        send(pc_protocol.zygote_exited(req_id, pid, status))
    pc_contain.sweep()  # whatever detached from any check


def _reap(send, live):
    while live:
        try:
            pid, status = _waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        req_id = live.pop(pid, None)
        if req_id is not None:
            # The check is over: its orphans are ours now (subreaper). Two checks ending at
            # once may swap them; both are killed either way.
            import pc_contain

            orphans = pc_contain.sweep(keep=live)
            send(pc_protocol.zygote_exited(req_id, pid, status, orphans))


def _serve(req, send, live, pc_child, devnull, drop):
    req_id, argv, stdout_path, stderr_path = req
    fds = []
    try:
        for path in (stdout_path, stderr_path):
            # Non-blocking open never waits for a reader (the tool opened it first); the
            # child must see an ordinary blocking pipe.
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            fds.append(fd)
        ready_r, ready_w = os.pipe()
        fds += [ready_r, ready_w]
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # never let a child inherit (and repeat) buffered output
        zygote_pid = os.getpid()
        pid = _fork()
    except Exception as exc:
        for fd in fds:
            _close(fd)
        send(pc_protocol.zygote_refused(req_id, "%s: %s" % (type(exc).__name__, exc)))
        return
    if pid == 0:
        _child(argv, fds[0], fds[1], ready_w, devnull, pc_child, drop, zygote_pid)
        os._exit(70)  # pragma: no cover - _child never returns
    for fd in fds:
        if fd != ready_r:
            _close(fd)
    # Answer only once the child leads its own session: the tool may killpg(pid) right away.
    try:
        os.read(ready_r, 1)  # b"" if it died first; its status still comes from _reap
    finally:
        _close(ready_r)
    live[pid] = req_id
    send(pc_protocol.zygote_started(req_id, pid))


def _child(argv, out_fd, err_fd, ready_w, devnull, pc_child, drop, zygote_pid):
    code = 1
    try:
        os.setsid()
        import signal

        import pc_contain

        # As early as can be (pc_child sets it again): a zygote that dies from here on takes
        # the check with it; one that died before this line left us orphaned already.
        pc_contain.set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != zygote_pid:
            os._exit(1)
        os.write(ready_w, b"x")
        signal.set_wakeup_fd(-1)
        _original("signal", "signal")(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        _close_fds_above_2()
        for name in drop:
            sys.modules.pop(name, None)
        # Files that appeared since the zygote started (a package installed meanwhile) must be
        # found as a fresh interpreter would find them.
        for finder in list(sys.path_importer_cache.values()):
            if hasattr(finder, "invalidate_caches"):
                finder.invalidate_caches()
        sys.argv[:] = argv
        code = pc_child.main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        # What an uncaught exception does in a fresh interpreter: traceback, status 1.
        try:
            import traceback

            traceback.print_exc()
        except BaseException:
            pass
        code = 1
    # As pc_child's __main__ block: flush, and skip atexit handlers and library threads.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(code)


def _close_fds_above_2():
    # A fresh child has fds 0-2 only; the zygote's pipes must not leak into library code.
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd > 2:
            try:
                _close(fd)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main(sys.argv))
