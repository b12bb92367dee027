"""Run harness tasks in children forked by a zygote of the target interpreter.

A scan runs two children per distribution; each fresh child pays interpreter start-up (and the
``import gevent`` of the naive loop it is compared with) before doing any work. A zygote
(``harness/pc_zygote.py``) pays that once and forks one child per check. The guarantees are
those of ``run_child``, and so is the code that provides them (``process.prepare_child``,
``stop_group``, ``collect_result``): a wall-clock timeout, INT → TERM → KILL on the child's
own process group, stack dumps, stdout/stderr tails (through FIFOs drained like pipes), a crash,
``os._exit``, junk on stdout or a missing result file each a ``ChildResult``.

What a forked child inherits is what a fresh one would have done before its task anyway: a
zygote per *preload set* (``preloads_for``), so ``gevent`` is already imported, and
``patch_all()`` already called, only where the task does that first (``import`` after
patching), never before the library of an import-before-patching check or a probe. Differences
that remain: one hash seed for every child of a zygote, ``__main__`` is the zygote script, and
a child of the patched zygote has the main-thread object gevent's fork hooks make for it.

If a zygote dies it is restarted once; after that, or when it cannot start, runs go to the next
preload set's zygote if the task has one, else to ``run_child``. ``PATCHCHECK_NO_FORKSERVER=1``
forces fresh processes throughout.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from patchcheck.runner.process import (
    ChildResult,
    _scratch,
    _Tail,
    child_env,
    collect_result,
    prepare_child,
    run_child,
    stop_group,
)
from patchcheck.runner.protocol import (
    ZYGOTE_SCRIPT,
    ControlTask,
    ImportTask,
    ProbeTask,
    Task,
    read_zygote_reply,
    zygote_request,
)

#: Environment variable that turns the fork server off (``1``/``true``/``yes``).
NO_FORKSERVER_ENV = "PATCHCHECK_NO_FORKSERVER"
#: How long a zygote may take to start (interpreter + preloads) before we give up on it.
STARTUP_TIMEOUT_S = 60.0
#: How many times a zygote that died is replaced before falling back to fresh processes.
MAX_RESTARTS = 1
#: A zygote answers a request as soon as the child has forked; if it has not after this long
#: past the run's own timeout, it is wedged.
REPLY_GRACE_S = 10.0


class Runner(Protocol):
    """Runs one harness task in an isolated child (``run_child``'s contract).

    The one way every layer (engine, probes, targets, inventory, doctor) runs a child.
    """

    def run(self, task: Task, *, timeout: float) -> ChildResult: ...

    def close(self) -> None: ...


def fork_supported() -> bool:
    """A fork server is used on POSIX systems with ``fork`` and FIFOs, except macOS.

    macOS: system frameworks are not fork-safe once loaded (the reason CPython's
    multiprocessing defaults to spawn there).
    """
    return hasattr(os, "fork") and hasattr(os, "mkfifo") and sys.platform != "darwin"


def make_runner(python: str, use_fork: bool | None = None, *,
                env: Mapping[str, str] | None = None) -> SpawnRunner | ForkRunner:
    """The runner for ``python``: a fork server where supported, else a fresh process per run.

    ``use_fork=None`` decides by platform and ``PATCHCHECK_NO_FORKSERVER``.
    """
    if use_fork is None:
        disabled = os.environ.get(NO_FORKSERVER_ENV, "").strip().lower() in ("1", "true", "yes")
        use_fork = fork_supported() and not disabled
    return ForkRunner(python, env=env) if use_fork else SpawnRunner(python, env=env)


class SpawnRunner:
    """A fresh interpreter per run (``run_child``)."""

    def __init__(self, python: str, *, env: Mapping[str, str] | None = None) -> None:
        self.python = python
        self.env = dict(env) if env else None

    def run(self, task: Task, *, timeout: float) -> ChildResult:
        return run_child(self.python, task, timeout=timeout, env=self.env)

    def prepare(self, task: Task, *, timeout: float) -> None:
        """Nothing to start ahead: every run is a fresh interpreter."""

    def close(self) -> None:
        pass

    def __enter__(self) -> SpawnRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Preload:
    """What a zygote does before it forks: ``pc_zygote.py``'s arguments."""

    steps: tuple[str, ...] = ()
    #: It runs part of the check itself (``patch_all()``, where a gevent plugin may hang), so
    #: it gets no longer to start than the check would.
    does_check_work: bool = False
    #: Which children it serves ("imports", "probes"): one zygote that does check work per
    #: family and runner (``ForkRunner._may_start``).
    family: str = ""


def preload_for(task: Task) -> tuple[str, ...]:
    """The preferred preload steps of ``task``'s zygote (the first of ``preloads_for``)."""
    return preloads_for(task)[0].steps


def preloads_for(task: Task) -> tuple[Preload, ...]:
    """What a fresh child would do before the task touches the library, done once in the
    zygote instead: alternatives, best first (the next is used when a zygote cannot start).

    ``pc_imports`` imports only the standard library at module level; an import check after
    patching imports ``gevent.monkey`` and calls ``patch_all()`` before anything else, so its
    zygote patches itself (``pc_imports:patch_in_zygote``, with the task's patch arguments:
    one zygote per set of them). If patching there would not carry over to forked children
    (it started a thread or the hub), the next zygote only reads gevent's plugins
    (``importlib.metadata`` entry points, which ``patch_all()`` looks up before it patches
    anything) and each child patches.

    A probe or control that patches first (``import_order`` after) would import ``pc_probe``
    (with ``pc_meter``), then ``gevent.monkey`` and call ``patch_all()`` before anything else;
    its zygote does all three (``pc_probe:patch_in_zygote``, one zygote per set of patch
    arguments, with the import checks' conditions, and only if ``patch_all()`` neither raised
    nor warned) and stops there: no hub exists, so each child builds its hub, heartbeat and
    watchdog thread itself, as a fresh one does. If it cannot, the next zygote only reads
    gevent's plugins and each child patches. A run
    that imports the library *before* patching gets no gevent in its zygote (a library may look
    at ``sys.modules`` for gevent when it is imported): an import check before patching gets
    the plugins read by a helper forked from its zygote (``pc_imports:prepare_plugin_data``:
    the zygote imports nothing for it); the rest get nothing beyond ``pc_child``.
    """
    if isinstance(task, ImportTask):
        if task.order == "after":
            args = json.dumps(dict(task.patch_args), sort_keys=True, separators=(",", ":"))
            base = ("pc_imports", "gevent.monkey")
            return (Preload(base + (f"pc_imports:patch_in_zygote={args}",),
                            does_check_work=True, family="imports"),
                    Preload(base + ("pc_imports:prepare_plugin_lookup",)))
        return (Preload(("pc_imports", "pc_imports:prepare_plugin_data")),
                Preload(("pc_imports",)))
    if isinstance(task, ControlTask) or (isinstance(task, ProbeTask)
                                         and task.import_order == "after"):
        args = json.dumps(dict(task.patch_args), sort_keys=True, separators=(",", ":"))
        base = ("pc_probe", "gevent.monkey")
        return (Preload(base + (f"pc_probe:patch_in_zygote={args}",),
                        does_check_work=True, family="probes"),
                Preload(base + ("pc_imports:prepare_plugin_lookup",)),
                Preload())
    return (Preload(),)


class ForkRunner:
    """One ``ForkServer`` per preload set, started on first use; thread-safe."""

    def __init__(self, python: str, *, env: Mapping[str, str] | None = None) -> None:
        self.python = python
        self.env = dict(env) if env else None
        self._servers: dict[tuple[str, ...], ForkServer] = {}
        self._lock = threading.Lock()

    def run(self, task: Task, *, timeout: float) -> ChildResult:
        choices = [p for p in preloads_for(task) if self._may_start(p)]
        for preload in choices:
            server = self._server(preload, timeout)
            # A zygote that cannot start (or died twice) gives way to the next choice; the
            # last one falls back to fresh processes itself.
            if preload == choices[-1] or server.available():
                return server.run(task, timeout=timeout)
        raise AssertionError("unreachable")  # pragma: no cover

    def prepare(self, task: Task, *, timeout: float) -> None:
        """Start the zygote ``task`` would fork from, ahead of its first run: the probes'
        zygote patches, ~0.3 s that would otherwise delay the first control."""
        for preload in [p for p in preloads_for(task) if self._may_start(p)]:
            if self._server(preload, timeout).available():
                return

    def _may_start(self, preload: Preload) -> bool:
        """One zygote that does check work per runner and family (import checks, probes):
        the scan's own patch arguments (the first asked for). A bisection tries many others,
        each a handful of times: those children patch themselves rather than each start an
        interpreter of its own."""
        if not preload.does_check_work:
            return True
        with self._lock:
            return preload.steps in self._servers or not any(
                server.does_check_work and server.family == preload.family
                for server in self._servers.values())

    def _server(self, preload: Preload, timeout: float) -> ForkServer:
        with self._lock:
            server = self._servers.get(preload.steps)
            if server is None:
                startup = (min(STARTUP_TIMEOUT_S, timeout) if preload.does_check_work
                           else STARTUP_TIMEOUT_S)
                server = self._servers[preload.steps] = ForkServer(
                    self.python, self.env, preload=preload.steps, startup_timeout=startup)
                server.does_check_work = preload.does_check_work
                server.family = preload.family
            return server

    def close(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()

    def __enter__(self) -> ForkRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Call:
    """One request to a zygote, completed by its reader thread."""

    def __init__(self, call_id: int) -> None:
        self.id = call_id
        self.pid: int | None = None
        self.status: int | None = None
        self.orphans: tuple[str, ...] = ()  # what the check left running (the zygote killed)
        self.error: str | None = None
        self.lost = False  # the zygote died before reporting the child's end
        self.started = threading.Event()
        self.exited = threading.Event()


class _ZygoteDied(Exception):
    pass


class _Zygote:
    """One zygote process and the thread that reads its replies."""

    def __init__(self, python: str, env: Mapping[str, str] | None,
                 preload: tuple[str, ...]) -> None:
        self.calls: dict[int, _Call] = {}
        self.dead = False
        self.failure: str | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [python, str(ZYGOTE_SCRIPT), *preload],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=child_env(env),
            start_new_session=True,  # the terminal's Ctrl-C is for the tool, not the zygote
        )
        self.stderr = _Tail(self.proc.stderr)  # type: ignore[arg-type]
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name="patchcheck-zygote")
        self._reader.start()

    def wait_ready(self, timeout: float) -> bool:
        if not self._ready.wait(timeout):
            self.failure = f"did not start within {timeout:g} s"
            self.kill()
            return False
        return not self.dead

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        for line in stdout:
            reply = read_zygote_reply(line)
            if reply is None:
                continue
            if reply.kind in ("ready", "failed"):
                if reply.kind == "failed":
                    self.failure = reply.error
                    self._mark_dead()
                self._ready.set()
                continue
            with self._lock:
                call = self.calls.get(reply.id)  # type: ignore[arg-type]
            if call is None:
                continue
            if reply.kind == "refused":
                call.error = reply.error
                self._forget(call)
                call.started.set()
                call.exited.set()
            elif reply.kind == "exited":
                call.status = reply.status
                call.orphans = reply.orphans
                self._forget(call)
                call.exited.set()
            elif reply.kind == "started":
                call.pid = reply.pid
                call.started.set()
        self._mark_dead()

    def _forget(self, call: _Call) -> None:
        with self._lock:
            self.calls.pop(call.id, None)

    def _mark_dead(self) -> None:
        with self._lock:
            self.dead = True
            pending, self.calls = list(self.calls.values()), {}
        for call in pending:
            call.lost = True
            call.started.set()
            call.exited.set()
        self._ready.set()

    def submit(self, call: _Call, line: bytes) -> None:
        with self._lock:
            if self.dead:
                raise _ZygoteDied
            self.calls[call.id] = call
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
            except (OSError, ValueError):
                self.calls.pop(call.id, None)
                raise _ZygoteDied from None

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        self._mark_dead()
        self._reap(5)

    def close(self) -> None:
        """EOF on stdin: the zygote kills any live child and exits."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        if not self._reap(5):
            self.kill()

    def _reap(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False


class ForkServer:
    """Forks children of ``python`` from one zygote; ``run`` has ``run_child``'s contract.

    Thread-safe: any number of threads may call ``run`` at once.
    """

    def __init__(self, python: str, env: Mapping[str, str] | None = None, *,
                 preload: tuple[str, ...] = (),
                 startup_timeout: float = STARTUP_TIMEOUT_S) -> None:
        self.python = python
        self.env = dict(env) if env else None
        self.preload = tuple(preload)
        self.startup_timeout = startup_timeout
        self.does_check_work = False  # set by ForkRunner (Preload.does_check_work)
        self.family = ""  # set by ForkRunner (Preload.family)
        #: Why runs fall back to fresh processes, once they do (for ``doctor``/debugging).
        self.fallback_reason: str | None = None
        self._zygote_proc: _Zygote | None = None
        self._restarts = 0
        self._closed = False
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # -- zygote lifecycle ---------------------------------------------------------------
    def available(self) -> bool:
        """Whether runs go to a zygote (started now if need be) rather than fresh processes."""
        return self._zygote() is not None

    def _zygote(self) -> _Zygote | None:
        with self._lock:
            if self._closed or self.fallback_reason is not None:
                return None
            z = self._zygote_proc
            if z is not None and not z.dead and z.proc.poll() is None:
                return z
            if z is not None:
                z.close()
                if self._restarts >= MAX_RESTARTS:
                    self.fallback_reason = "the zygote died again: " + _why(z)
                    return None
                self._restarts += 1
            try:
                z = _Zygote(self.python, self.env, self.preload)
            except OSError as exc:
                self.fallback_reason = f"could not start the zygote: {exc}"
                return None
            if not z.wait_ready(self.startup_timeout):
                # The same interpreter would fail the same way again: spawn from now on
                # (run_child then reports the real problem per check).
                self.fallback_reason = "the zygote did not start: " + _why(z)
                z.close()
                self._zygote_proc = None
                return None
            self._zygote_proc = z
            return z

    def close(self) -> None:
        with self._lock:
            self._closed = True
            z, self._zygote_proc = self._zygote_proc, None
        if z is not None:
            z.close()

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------
    def run(self, task: Task, *, timeout: float) -> ChildResult:
        """Run ``task`` in a forked child; every ending is a ``ChildResult``."""
        z = self._zygote()
        if z is not None:
            try:
                return self._run_forked(z, task, timeout)
            except _ZygoteDied:
                if self._closed:
                    return ChildResult(None, None, False, 0.0, "", "", "", None,
                                       "stopped: the runner was closed during the check")
                # Nothing usable ran: a fresh process does the check instead.
        return run_child(self.python, task, timeout=timeout, env=self.env)

    def _run_forked(self, z: _Zygote, task: Task, timeout: float) -> ChildResult:
        with _scratch() as tmp:
            tmpdir = Path(tmp)
            files = prepare_child(task, timeout, tmpdir)
            fifos = (tmpdir / "stdout", tmpdir / "stderr")
            read_fds: list[int] = []
            try:
                for fifo in fifos:
                    os.mkfifo(fifo, 0o600)
                    # Opened before the zygote opens the write end (which would fail
                    # without a reader); non-blocking so that this open does not wait.
                    read_fds.append(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
                call = _Call(next(self._ids))
                start = time.monotonic()
                z.submit(call, zygote_request(call.id, files.argv(), str(fifos[0]),
                                              str(fifos[1])))
                if not call.started.wait(timeout + REPLY_GRACE_S):
                    z.failure = "stopped answering"
                    z.kill()  # marks call lost
                if call.lost or call.error or call.pid is None:
                    raise _ZygoteDied(call.error)
                pid = call.pid
                tails = []
                for fd in read_fds:
                    os.set_blocking(fd, True)
                    tails.append(_Tail(os.fdopen(fd, "rb")))
                read_fds = []  # owned by the tails now
            finally:
                for fd in read_fds:
                    os.close(fd)
            remaining = timeout - (time.monotonic() - start)
            timed_out = not call.exited.wait(max(0.0, remaining))
            # Whatever the leader did, leave no descendant behind.
            stop_group(pid, call.exited.wait)
            duration = time.monotonic() - start
            if call.lost:
                # The zygote died under a running check: its end is unknown. Do it again in
                # a fresh process rather than guess.
                for tail in tails:
                    tail.text(0.5)
                raise _ZygoteDied
            return collect_result(files, returncode=_returncode(call.status),
                                  timed_out=timed_out, timeout=timeout, duration=duration,
                                  stdout_tail=tails[0].text(), stderr_tail=tails[1].text(),
                                  orphans=call.orphans)


def _returncode(status: int | None) -> int | None:
    """A raw wait status as ``Popen.returncode`` (negative for a signal)."""
    if status is None:
        return None
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return None


def _why(z: _Zygote) -> str:
    reason = z.failure or f"exit status {z.proc.poll()}"
    err = z.stderr.text(0.5).strip()
    return f"{reason}; stderr: {err[-500:]}" if err else reason
