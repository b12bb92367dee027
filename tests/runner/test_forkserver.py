"""The fork server's own behaviour: a zygote that dies, cannot start, or is closed mid-run.

How each child ends is tested for both runners in ``test_process.py``.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest
from pc_runner_testutil import import_task as _import

from patchcheck.runner.forkserver import (
    NO_FORKSERVER_ENV,
    ForkRunner,
    ForkServer,
    SpawnRunner,
    fork_supported,
    make_runner,
    preload_for,
)
from patchcheck.runner.protocol import ImportTask, InfoTask

# -- fork server only --------------------------------------------------------------------
needs_fork = pytest.mark.skipif(not fork_supported(), reason="no fork server on this platform")


@needs_fork
def test_zygote_killed_mid_run_then_restarted_then_fallback(child_env: dict[str, str]) -> None:
    with ForkServer(sys.executable, child_env) as server:
        assert server.run(_import("rt_ok"), timeout=60).data is not None
        first = server._zygote_proc
        assert first is not None
        box: dict = {}
        t = threading.Thread(target=lambda: box.update(res=server.run(_import("rt_hang"),
                                                                      timeout=6)))
        t.start()
        time.sleep(1.0)
        os.kill(first.proc.pid, signal.SIGKILL)
        t.join(120)
        # The check ran again in a fresh process, so its result is the real one.
        assert box["res"].timed_out and "rt_hang" in box["res"].stack_dump
        res = server.run(_import("rt_ok"), timeout=60)
        assert res.data is not None and server.fallback_reason is None
        second = server._zygote_proc
        assert second is not None and second.proc.pid != first.proc.pid
        os.kill(second.proc.pid, signal.SIGKILL)
        second.proc.wait(10)
        res = server.run(_import("rt_ok"), timeout=60)
        assert res.data is not None
        assert server.fallback_reason and "died again" in server.fallback_reason


@needs_fork
def test_zygote_that_cannot_start_falls_back(child_env: dict[str, str]) -> None:
    with ForkServer(sys.executable, child_env, preload=("no_such_module_xyz",)) as server:
        res = server.run(_import("rt_ok"), timeout=60)
        assert res.data is not None
        assert server.fallback_reason and "no_such_module_xyz" in server.fallback_reason


@needs_fork
def test_closing_kills_live_children(child_env: dict[str, str]) -> None:
    server = ForkServer(sys.executable, child_env)
    box: dict = {}
    t = threading.Thread(target=lambda: box.update(res=server.run(_import("rt_hang"),
                                                                  timeout=60)))
    t.start()
    time.sleep(1.5)
    started = time.monotonic()
    server.close()  # EOF: the zygote kills its live children and exits
    t.join(60)
    assert time.monotonic() - started < 30
    assert box["res"].signal == signal.SIGKILL or box["res"].problem


def test_environment_variable_turns_the_fork_server_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_FORKSERVER_ENV, "1")
    assert isinstance(make_runner(sys.executable), SpawnRunner)
    monkeypatch.delenv(NO_FORKSERVER_ENV)
    assert isinstance(make_runner(sys.executable), ForkRunner if fork_supported() else SpawnRunner)


def test_preload_follows_what_a_fresh_child_imports_first() -> None:
    assert preload_for(ImportTask(("x",), order="after")) == ("pc_imports", "gevent.monkey")
    assert preload_for(ImportTask(("x",), order="before")) == ("pc_imports",)
    assert preload_for(InfoTask()) == ()
