"""Both child runners — fresh processes and the fork server — on every way a child can end.

Real children of this interpreter import tiny modules (``conftest.MODULES``, on the children's
``PYTHONPATH``) that crash, hang, ``os._exit``, print junk, spoil the result file or leave a
grandchild behind; each end must come back as a ``ChildResult`` with its evidence, never as an
exception.
"""
from __future__ import annotations

import json
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pc_runner_testutil import gone as _gone
from pc_runner_testutil import import_task as _import

from patchcheck.runner.forkserver import ForkRunner, SpawnRunner, fork_supported, make_runner
from patchcheck.runner.process import run_child
from patchcheck.runner.protocol import InfoTask


def test_normal_result(runner: SpawnRunner | ForkRunner) -> None:
    for order in ("after", "before"):
        res = runner.run(_import("rt_ok", order), timeout=60)
        assert res.problem is None, res
        assert res.returncode == 0 and res.signal is None and not res.timed_out
        assert res.data is not None
        assert res.data["order"] == order
        assert res.data["modules"][0] == {"module": "rt_ok", "ok": True, "warnings": []}
        assert res.data["patch"]["ok"]


def test_crash_by_signal(runner: SpawnRunner | ForkRunner) -> None:
    res = runner.run(_import("rt_segv"), timeout=60)
    assert res.signal == signal.SIGSEGV
    assert res.result is None and res.problem == "killed by signal SIGSEGV"
    assert "rt_segv" in res.stack_dump  # faulthandler's crash dump names the module


def test_hang_is_stopped_with_a_stack_dump(runner: SpawnRunner | ForkRunner) -> None:
    res = runner.run(_import("rt_hang"), timeout=6)
    assert res.timed_out and res.returncode is None and res.signal is None
    assert res.problem == "timed out after 6 s"
    assert "rt_hang" in res.stack_dump and "wait_forever" in res.stack_dump
    assert res.duration_s < 60  # stopped, not waited for


def test_os_exit(runner: SpawnRunner | ForkRunner) -> None:
    res = runner.run(_import("rt_exit7"), timeout=60)
    assert res.returncode == 7 and res.signal is None and res.result is None
    assert res.problem == "exited with status 7 without writing a result"


def test_junk_on_stdout_does_not_matter(runner: SpawnRunner | ForkRunner) -> None:
    res = runner.run(_import("rt_junk", "after"), timeout=60)
    assert res.problem is None and res.data is not None
    assert res.data["modules"][0]["ok"]
    assert "junk" in res.stdout_tail and "not json at all" in res.stdout_tail
    assert "stderr junk" in res.stderr_tail


def test_chatty_child_never_blocks(runner: SpawnRunner | ForkRunner) -> None:
    res = runner.run(_import("rt_chatty"), timeout=120)
    assert res.data is not None, res
    assert res.stdout_tail.endswith("last line\n") and len(res.stdout_tail) <= 8192
    assert "err 019999" in res.stderr_tail


def test_grandchild_is_killed(runner: SpawnRunner | ForkRunner,
                              child_env: dict[str, str]) -> None:
    res = runner.run(_import("rt_grandchild"), timeout=60)
    assert res.data is not None, res
    pid = int(Path(child_env["RT_PIDFILE"]).read_text())
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), f"grandchild {pid} survived its check"


def test_many_concurrent_runs(runner: SpawnRunner | ForkRunner) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(
            lambda i: runner.run(_import("rt_ok", ("after", "before")[i % 2]), timeout=120),
            range(20)))
    assert [r.problem for r in results] == [None] * 20
    assert all(r.data and r.data["modules"][0]["ok"] for r in results)


def test_spoiled_result_file(runner: SpawnRunner | ForkRunner) -> None:
    res = runner.run(_import("rt_bad_result"), timeout=60)
    assert res.returncode == 0 and res.result is None and res.data is None
    assert res.problem and res.problem.startswith("the result file is not valid JSON")


def test_result_of_another_protocol_version(runner: SpawnRunner | ForkRunner) -> None:
    res = runner.run(_import("rt_old_schema"), timeout=60)
    assert res.result is None and res.data is None
    assert res.problem and "unexpected schema 'patchcheck.child/1'" in res.problem


def test_an_interpreter_that_does_not_start(tmp_path: Path) -> None:
    res = run_child(str(tmp_path / "no-python"), InfoTask(), timeout=10)
    assert res.result is None and res.returncode is None
    assert res.problem and res.problem.startswith("could not start")


def test_info_task(runner: SpawnRunner | ForkRunner) -> None:
    res = runner.run(InfoTask(distributions=("pytest", "no-such-dist-xyz")), timeout=60)
    assert res.data is not None, res
    assert res.data["environment"]["executable"] == sys.executable
    by_name = {d["requested"]: d for d in res.data["distributions"]}
    assert by_name["pytest"]["installed"] and not by_name["no-such-dist-xyz"]["installed"]


@pytest.mark.skipif(not fork_supported(), reason="no fork server on this platform")
@pytest.mark.parametrize("order", ["before", "after"])
def test_a_forked_child_looks_like_a_fresh_one(child_env: dict[str, str], order: str) -> None:
    seen = {}
    for backend in ("spawn", "fork"):
        with make_runner(sys.executable, use_fork=backend == "fork", env=child_env) as r:
            res = r.run(_import("rt_environ", order), timeout=60)
        assert res.data is not None, res
        seen[backend] = json.loads(Path(child_env["RT_ENVIRON"]).read_text())
    assert seen["fork"] == seen["spawn"]
    assert seen["fork"]["gevent"] is (order == "after")
    assert bool(seen["fork"]["patched"]) is (order == "after")  # the same modules patched
    assert not seen["fork"]["hub"]
    assert seen["fork"]["main_thread"] and seen["fork"]["main_ident"]
    assert seen["fork"]["fds"][:3] == [0, 1, 2]
    assert seen["fork"]["argv0"] == "pc_child.py" and seen["fork"]["argc"] == 3
    assert seen["fork"]["sigchld"] in ("0", "Handlers.SIG_DFL") and seen["fork"]["wakeup"] == -1
    assert seen["fork"]["session"] and seen["fork"]["stdin"] == "/dev/null"
    assert seen["fork"]["stdout_fifo"]


