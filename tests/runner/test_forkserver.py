"""Both child runners — fresh processes and the fork server — on every way a child can end.

Real children of this interpreter import tiny modules written to a temporary folder (on the
children's ``PYTHONPATH``) that crash, hang, ``os._exit``, print junk or leave a grandchild
behind; each end must come back as a ``ChildResult`` with its evidence.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from patchcheck.runner.forkserver import (
    NO_FORKSERVER_ENV,
    ForkRunner,
    ForkServer,
    SpawnRunner,
    fork_supported,
    make_runner,
)

MODULES = {
    "rt_ok": "VALUE = 42\n",
    "rt_segv": "import ctypes\nctypes.string_at(0)\n",
    "rt_hang": """
        import time
        def wait_forever():
            while True:
                time.sleep(0.05)
        wait_forever()
    """,
    "rt_exit7": "import os\nos._exit(7)\n",
    "rt_junk": """
        import sys
        print('{"schema": "patchcheck.child/1", "ok": false, junk')
        sys.stdout.write('\\x00\\xff not json at all\\n')
        sys.stderr.write('stderr junk\\n')
    """,
    "rt_chatty": """
        import sys
        for i in range(20000):
            print("line %06d of chatter from the library" % i)
            sys.stderr.write("err %06d\\n" % i)
        print("last line")
    """,
    "rt_grandchild": """
        import os, subprocess, sys
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        with open(os.environ["RT_PIDFILE"], "w") as f:
            f.write(str(p.pid))
    """,
    # What the library sees at its import: a fresh child and a forked one must agree.
    "rt_environ": """
        import json, os, signal, sys
        with open(os.environ["RT_ENVIRON"], "w") as f:
            json.dump({
                "gevent": "gevent" in sys.modules,
                "select": "select" in sys.modules,
                "argv0": os.path.basename(sys.argv[0]),
                "argc": len(sys.argv),
                "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
                "sigchld": str(signal.getsignal(signal.SIGCHLD)),
                "sigint": str(signal.getsignal(signal.SIGINT)),
                "wakeup": signal.set_wakeup_fd(-1),
                "session": os.getsid(0) == os.getpid(),
                "stdin": os.path.realpath("/proc/self/fd/0"),
                "stdout_fifo": __import__("stat").S_ISFIFO(os.fstat(1).st_mode),
            }, f)
    """,
}

BACKENDS = ["spawn", pytest.param("fork", marks=pytest.mark.skipif(
    not fork_supported(), reason="no fork server on this platform"))]


@pytest.fixture(scope="module")
def modules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rt_modules")
    for name, source in MODULES.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture
def child_env(modules_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(modules_dir), "RT_PIDFILE": str(tmp_path / "grandchild.pid"),
            "RT_ENVIRON": str(tmp_path / "environ.json")}


@pytest.fixture(params=BACKENDS)
def runner(request: pytest.FixtureRequest, child_env: dict[str, str]
           ) -> Iterator[SpawnRunner | ForkRunner]:
    with make_runner(sys.executable, use_fork=request.param == "fork", env=child_env) as r:
        yield r


def _import(module: str, order: str = "before") -> dict:
    return {"task": "import", "order": order, "modules": [module], "patch_args": {}}


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie is dead
    except FileNotFoundError:
        return True


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
    assert seen["fork"]["fds"][:3] == [0, 1, 2]
    assert seen["fork"]["argv0"] == "pc_child.py" and seen["fork"]["argc"] == 3
    assert seen["fork"]["sigchld"] in ("0", "Handlers.SIG_DFL") and seen["fork"]["wakeup"] == -1
    assert seen["fork"]["session"] and seen["fork"]["stdin"] == "/dev/null"
    assert seen["fork"]["stdout_fifo"]


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
