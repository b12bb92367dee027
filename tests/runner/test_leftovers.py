"""Runner-level containment: scratch cwd, stdin at EOF, and processes a check leaves behind.

Real children of this interpreter import tiny modules (on their ``PYTHONPATH``) that write into
the cwd, read stdin, or start a daemon in a new session and then end normally, exit early or
crash. Both runners (fresh processes and the fork server) must report what was left running in
``ChildResult.leftover_processes`` and leave none of it alive.
"""
from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchcheck.runner.forkserver import ForkRunner, SpawnRunner, fork_supported, make_runner
from patchcheck.runner.protocol import ImportTask

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="subreaper and /proc are Linux features")

_DAEMON = textwrap.dedent("""
    import os, subprocess, sys
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         start_new_session=True)
    with open(os.environ["RT_PIDFILE"], "a") as f:
        f.write("%d\\n" % p.pid)
""")

MODULES = {
    "rc_where": """
        import json, os, sys
        open("written-by-rc_where.txt", "w").write("x")
        with open(os.environ["RT_OUT"], "w") as f:
            json.dump({"cwd": os.getcwd(), "stdin": sys.stdin.read()}, f)
    """,
    "rc_daemon": _DAEMON,
    "rc_daemon_exit": _DAEMON + "os._exit(3)\n",
    "rc_daemon_segv": _DAEMON + "import ctypes\nctypes.string_at(0)\n",
    "rc_double_fork": """
        import os, time
        r, w = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                with open(os.environ["RT_PIDFILE"], "a") as f:
                    f.write("%d\\n" % os.getpid())
                os.write(w, b"x")
                while True:
                    time.sleep(1)
            os._exit(0)
        os.read(r, 1)
        os.wait()
    """,
}

BACKENDS = ["spawn", pytest.param("fork", marks=pytest.mark.skipif(
    not fork_supported(), reason="no fork server on this platform"))]


@pytest.fixture(scope="module")
def modules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rc_modules")
    for name, source in MODULES.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture(params=BACKENDS)
def runner(request: pytest.FixtureRequest, modules_dir: Path, tmp_path: Path
           ) -> Iterator[SpawnRunner | ForkRunner]:
    env = {"PYTHONPATH": str(modules_dir), "RT_PIDFILE": str(tmp_path / "daemons.pid"),
           "RT_OUT": str(tmp_path / "out.json")}
    with make_runner(sys.executable, use_fork=request.param == "fork", env=env) as r:
        yield r


def _import(module: str) -> ImportTask:
    return ImportTask(modules=(module,), order="before")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _pids(tmp_path: Path) -> list[int]:
    return [int(x) for x in (tmp_path / "daemons.pid").read_text().split()]


def test_scratch_cwd_and_stdin_at_eof(runner: SpawnRunner | ForkRunner, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.run(_import("rc_where"), timeout=60)
    assert res.data is not None and res.data["modules"][0]["ok"], res
    seen = json.loads((tmp_path / "out.json").read_text())
    assert seen["stdin"] == ""
    assert Path(seen["cwd"]) != tmp_path
    assert not (tmp_path / "written-by-rc_where.txt").exists()
    assert not Path(seen["cwd"]).exists()  # removed with the check's temporary folder
    assert res.leftover_processes == ()


@pytest.mark.parametrize("module", ["rc_daemon", "rc_double_fork", "rc_daemon_exit",
                                    "rc_daemon_segv"])
def test_what_a_check_leaves_running_is_reported_and_killed(
        runner: SpawnRunner | ForkRunner, tmp_path: Path, module: str) -> None:
    res = runner.run(_import(module), timeout=60)
    if module in ("rc_daemon", "rc_double_fork"):
        assert res.data is not None and res.data["modules"][0]["ok"], res
    if module == "rc_daemon_exit":
        assert res.returncode == 3
    if module == "rc_daemon_segv":
        assert res.signal is not None
    (pid,) = _pids(tmp_path)
    assert len(res.leftover_processes) == 1, res
    assert not _alive(pid)
