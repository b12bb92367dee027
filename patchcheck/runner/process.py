"""Run one harness task in a fresh child process of the target interpreter.

Every way a child can end is a ``ChildResult``, never an exception out of this module: a crash
by signal, a hang (timeout, with the child's faulthandler stack dump), ``os._exit``, junk on
stdout, a missing or corrupt result file. The result crosses the boundary as a JSON document on
a file of its own (``pc_child.py <spec> <result>``), never scraped from stdout (xdist's
``sendevent``, tox's journal). What a task and a result document hold is ``runner/protocol.py``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

from patchcheck.runner.protocol import CHILD_SCRIPT, Task, read_result, task_spec

#: How much of stdout/stderr we keep as evidence.
TAIL_BYTES = 8192
#: Grace between INT → TERM → KILL when stopping a child's process group (tox's escalation).
STOP_GRACE_S = (0.5, 0.5)
#: The child dumps its stacks this long before the wall-clock timeout, so a hang has evidence.
STACK_DUMP_LEAD_S = 0.5

# Environment variables that would change what the child does in ways the user did not ask
# for while scanning (a startup file printing to stdout, a breakpoint hook waiting on a tty).
_SCRUBBED_ENV = ("PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONBREAKPOINT")
#: Set in a spawned check's environment (a per-run token) so that what it detached can be
#: found after it ended.
CHECK_TOKEN_ENV = "PATCHCHECK_CHECK_TOKEN"


@dataclass(frozen=True)
class ChildResult:
    """How one child ended and what it reported."""

    returncode: int | None
    signal: int | None  # the signal that killed it, if any
    timed_out: bool
    duration_s: float
    stdout_tail: str
    stderr_tail: str
    stack_dump: str  # faulthandler output (hang) or crash dump, possibly empty
    result: Mapping[str, Any] | None  # the child's result document, when it wrote a valid one
    problem: str | None  # why there is no usable result (timeout, signal, no/bad result file)
    #: Names of the processes the check left running when it ended (killed by patchcheck).
    leftover_processes: tuple[str, ...] = ()

    @property
    def data(self) -> Mapping[str, Any] | None:
        if self.result and self.result.get("ok"):
            return self.result.get("data")
        return None

    @property
    def harness_error(self) -> str | None:
        """The harness's own failure (``ok: false``), which is patchcheck's problem."""
        if self.result and not self.result.get("ok"):
            return str(self.result.get("error") or "harness failed")
        return None

    def describe_end(self) -> str:
        """One line saying how the child ended, for evidence."""
        if self.timed_out:
            return f"did not finish within {self.duration_s:.1f} s (killed)"
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = str(self.signal)
            return f"killed by signal {name}"
        if self.problem:
            return self.problem
        return f"exited with status {self.returncode}"


class _Tail:
    """Drains a pipe on a thread and keeps its last bytes (a chatty child never blocks)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._buf = bytearray()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = self._stream.read1(65536)  # type: ignore[attr-defined]
            except (OSError, ValueError):
                break
            if not chunk:
                break
            self._buf += chunk
            if len(self._buf) > 4 * TAIL_BYTES:
                del self._buf[: len(self._buf) - TAIL_BYTES]
        try:
            self._stream.close()
        except OSError:
            pass

    def text(self, timeout: float = 2.0) -> str:
        # A grandchild that inherited the pipe can keep it open after the child died; don't
        # wait for it forever.
        self._thread.join(timeout)
        return bytes(self._buf[-TAIL_BYTES:]).decode("utf-8", "replace")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = absolute_path_list(env["PYTHONPATH"])
    env["PYTHONFAULTHANDLER"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # The tool process may itself run under a gevent-patched pytest; never let that leak.
    env.pop("GEVENT_MONITOR_THREAD_ENABLE", None)
    if extra:
        env.update(extra)
    return env


def absolute_path_list(value: str, base: str | None = None) -> str:
    """``PYTHONPATH`` with relative entries made absolute against ``base`` (the tool's cwd).

    Children run in a scratch directory of their own; ``PYTHONPATH=src patchcheck scan ...``
    must still import the user's project from where the user meant.
    """
    base = base or os.getcwd()
    return os.pathsep.join(p if os.path.isabs(p) else os.path.join(base, p)
                           for p in value.split(os.pathsep))


def stop_group(pgid: int, wait: Callable[[float], bool]) -> None:
    """INT, then TERM, then KILL the process group ``pgid`` (its leader has pid ``pgid``).

    ``wait(seconds)`` waits for the leader's end and says whether it ended; the spawn runner
    waits on its ``Popen``, the fork server on the zygote's report.
    """
    for sig, grace in ((signal.SIGINT, STOP_GRACE_S[0]), (signal.SIGTERM, STOP_GRACE_S[1])):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        if wait(grace):
            break
    # Even when the leader exited, its children may live on in the group.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    wait(5)  # an unkillable leader (D state) leaves returncode None


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    def wait(seconds: float) -> bool:
        try:
            proc.wait(seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    stop_group(proc.pid, wait)


@dataclass(frozen=True)
class ChildFiles:
    """The per-run temporary files of one child: its spec, result and stack dump."""

    tmpdir: Path
    spec: Path
    result: Path
    stack: Path
    cwd: Path  # the child's scratch working directory, removed with tmpdir

    def argv(self) -> list[str]:
        """``pc_child.py``'s arguments (``sys.argv`` of the child)."""
        return [str(CHILD_SCRIPT), str(self.spec), str(self.result)]


def prepare_child(task: Task, timeout: float, tmpdir: Path) -> ChildFiles:
    """Write the task's spec (with timeout and stack dump deadline) into ``tmpdir``."""
    files = ChildFiles(tmpdir, tmpdir / "spec.json", tmpdir / "result.json",
                       tmpdir / "stacks.txt", tmpdir / "cwd")
    files.cwd.mkdir()
    spec = task_spec(task, timeout=timeout, stack_file=str(files.stack),
                     stack_dump_after=max(0.1, timeout - STACK_DUMP_LEAD_S), tmpdir=str(tmpdir),
                     cwd=str(files.cwd))
    files.spec.write_text(json.dumps(spec), encoding="utf-8")
    return files


def collect_result(files: ChildFiles, *, returncode: int | None, timed_out: bool,
                   timeout: float, duration: float, stdout_tail: str,
                   stderr_tail: str, orphans: tuple[str, ...] = ()) -> ChildResult:
    """Turn how a child ended plus the files it left into a ``ChildResult``.

    ``returncode`` follows ``Popen``: negative for a signal, None when unknown. ``orphans``
    are processes found (and killed) after the child ended, beside those the child reported.
    """
    sig = -returncode if returncode is not None and returncode < 0 and not timed_out else None
    stack = _read_text(files.stack)
    greenlets = _read_text(Path(str(files.stack) + ".greenlets"))
    if greenlets:
        # Greenlet stacks first: under gevent the OS thread's stack is just the hub.
        stack = (greenlets + "\n" + stack).strip()
    result, problem = _read_result(files.result)
    if timed_out:
        problem = f"timed out after {timeout:g} s"
    elif sig is not None:
        problem = f"killed by signal {_signame(sig)}"
    elif result is None and problem is None:
        problem = f"exited with status {returncode} without writing a result"
    return ChildResult(
        returncode=None if timed_out else returncode,
        signal=sig,
        timed_out=timed_out,
        duration_s=duration,
        stdout_tail=stdout_tail,
        stderr_tail=stderr_tail,
        stack_dump=stack,
        result=result,
        problem=problem,
        leftover_processes=_leftovers(result) + tuple(orphans),
    )


def _leftovers(result: Mapping[str, Any] | None) -> tuple[str, ...]:
    names = (result or {}).get("leftover_processes") or ()
    return tuple(str(n) for n in names) if isinstance(names, (list, tuple)) else ()


def run_child(
    python: str,
    task: Task,
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ChildResult:
    """Run ``task`` in a fresh child of ``python`` and return how it went."""
    token = uuid.uuid4().hex
    with _scratch() as tmp:
        files = prepare_child(task, timeout, Path(tmp))
        argv = [python, *files.argv()]
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**child_env(env), CHECK_TOKEN_ENV: token},
                cwd=cwd if cwd is not None else files.cwd,
                start_new_session=True,  # own session and process group: killpg reaches all
            )
        except OSError as exc:
            return ChildResult(None, None, False, 0.0, "", "", "", None,
                               f"could not start {python}: {exc.strerror or exc}")
        out, err = _Tail(proc.stdout), _Tail(proc.stderr)  # type: ignore[arg-type]
        timed_out = False
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Whatever the leader did, leave no descendant behind (a library's daemon
            # process, a hung grandchild).
            _stop_group(proc)
        # A child that crashed or exited early could not kill what it detached (its orphans
        # went to init, not to a subreaper): find them by the token in their environment.
        orphans = sweep_marked(token, exclude_group=proc.pid)
        return collect_result(files, returncode=proc.returncode, timed_out=timed_out,
                              timeout=timeout, duration=time.monotonic() - start,
                              stdout_tail=out.text(), stderr_tail=err.text(), orphans=orphans)


def sweep_marked(token: str, *, exclude_group: int | None = None) -> tuple[str, ...]:
    """SIGKILL live processes whose environment has ``CHECK_TOKEN_ENV=token``; their commands.

    Descendants inherit the environment through fork and exec (a forked process keeps its
    parent's initial environment block), so this reaches a spawned check's detached daemons.
    Members of ``exclude_group`` were just killed with the group and are not counted. Linux
    only (``/proc``); elsewhere nothing is found.
    """
    needle = f"{CHECK_TOKEN_ENV}={token}".encode()
    found: list[str] = []
    killed: list[int] = []
    try:
        names = [n for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return ()
    for name in names:
        pid = int(name)
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
            fields = _proc_stat(pid)
            if fields[0] == b"Z" or (exclude_group is not None
                                     and int(fields[2]) == exclude_group):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                command = fh.read(201).replace(b"\0", b" ").decode("utf-8", "replace")
            os.kill(pid, signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            continue
        killed.append(pid)
        found.append(command.strip()[:200])
    _await_death(killed)
    return tuple(found)


#: how long a SIGKILLed process may take to die (it must be scheduled once to exit)
DEATH_WAIT_S = 2.0


def _await_death(pids: list[int]) -> None:
    """Return once every one of ``pids`` is gone or a zombie (or after ``DEATH_WAIT_S``): a
    check's result says its leftovers were killed, so they must be dead when it is read — on
    a loaded machine a SIGKILLed process can still run for a few milliseconds."""
    deadline = time.monotonic() + DEATH_WAIT_S
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if _proc_stat(pid)[0] == b"Z":
                    break
            except (OSError, IndexError):
                break
            time.sleep(0.005)


def _proc_stat(pid: int) -> list[bytes]:
    """``/proc/PID/stat`` after the command name: state, ppid, pgrp, … (OSError if gone)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return fh.read().rpartition(b")")[2].split()


def _scratch() -> tempfile.TemporaryDirectory[str]:
    """A check's temporary folder; what a library left in it must not fail the cleanup."""
    if sys.version_info >= (3, 10):
        return tempfile.TemporaryDirectory(prefix="patchcheck-", ignore_cleanup_errors=True)
    return tempfile.TemporaryDirectory(prefix="patchcheck-")  # pragma: no cover


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def _read_text(path: Path) -> str:
    try:
        return path.read_text("utf-8", "replace")[:TAIL_BYTES]
    except OSError:
        return ""


def _read_result(path: Path) -> tuple[Mapping[str, Any] | None, str | None]:
    try:
        raw = path.read_text("utf-8")
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"could not read the result file: {exc}"
    return read_result(raw)
