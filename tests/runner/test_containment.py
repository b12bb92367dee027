"""Containment, end to end: real scans through the CLI of hostile packages (issue #12).

The packages under ``tests/packages/`` write into the working directory at import
(``pc_writes_cwd``), start a daemon in a new session (``pc_setsid_daemon``) or double-fork one
(``pc_double_fork``); ``pc_hang`` never finishes its import. Each daemon writes its pid to
``$PC_DAEMON_PIDFILE`` so the test can look for it afterwards. Every scan runs with the fork
server and with fresh processes.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "tests" / "packages"
HOSTILE = ("pc_writes_cwd", "pc_setsid_daemon", "pc_double_fork", "pc_hang")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="subreaper and /proc are Linux features")


def _build_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("pc_build", PACKAGES / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile packages installed into a folder of their own (put on PYTHONPATH)."""
    target = tmp_path_factory.mktemp("hostile-site")
    build = _build_module()
    for name in HOSTILE:
        build.build_and_install(PACKAGES / name, sys.executable, target_dir=target)
    return target


def _env(site: Path, tmp: Path, *, fork: bool, mark: str = "", pythonpath: str = "") -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = pythonpath or str(site)
    env["PC_DAEMON_PIDFILE"] = str(tmp / "daemons.pid")
    env["PATCHCHECK_CACHE_DIR"] = str(tmp / "cache")
    env["PATCHCHECK_NO_FORKSERVER"] = "" if fork else "1"
    env["PC_TEST_MARK"] = mark or uuid.uuid4().hex
    return env


def _scan(args: list[str], env: dict, cwd: Path,
          timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "patchcheck", "scan", *args, "--no-probes",
                           "--format", "json"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _daemon_pids(tmp: Path) -> list[int]:
    try:
        return [int(x) for x in (tmp / "daemons.pid").read_text().split()]
    except FileNotFoundError:
        return []


def _marked(mark: str) -> list[int]:
    """Live processes whose environment carries ``PC_TEST_MARK=mark`` (inherited by all)."""
    needle = f"PC_TEST_MARK={mark}".encode()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if needle in env and _alive(int(name)):
            pids.append(int(name))
    return pids


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _by_name(report: dict) -> dict:
    return {r["name"]: r for r in report["results"]}


@pytest.mark.parametrize("fork", [True, False], ids=["forkserver", "spawn"])
def test_hostile_imports_are_contained_and_reported(site: Path, tmp_path: Path,
                                                     fork: bool) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = _env(site, tmp_path, fork=fork)
    proc = _scan(["pc_writes_cwd", "pc_setsid_daemon", "pc_double_fork", "--no-cache"],
                 env, project)
    assert proc.returncode in (0, 1), proc.stderr
    results = _by_name(json.loads(proc.stdout))

    # 1. Nothing written relative to the cwd lands in the user's folder.
    assert list(project.iterdir()) == []
    assert results["pc-writes-cwd"]["verdict"] == "untested"

    # 2. Detached daemons are reported and gone.
    for name in ("pc-setsid-daemon", "pc-double-fork"):
        codes = {f["code"]: f for f in results[name]["findings"]}
        assert "PC106" in codes, results[name]
        assert codes["PC106"]["severity"] == "warning"
        assert codes["PC106"]["summary"].startswith("left 1 process")
        assert codes["PC106"]["evidence"]["processes"]
        assert results[name]["verdict"] == "warns"
    pids = _daemon_pids(tmp_path)
    assert len(pids) >= 4  # two checks (import after and before) per daemon package
    assert not [p for p in pids if _alive(p)]
    assert not _marked(env["PC_TEST_MARK"])


def test_relative_pythonpath_still_imports_from_the_users_folder(site: Path,
                                                                 tmp_path: Path) -> None:
    # The child's cwd is a scratch folder; a relative PYTHONPATH means the user's folder.
    project = site.parent
    env = _env(site, tmp_path, fork=True, pythonpath=site.name)
    proc = _scan(["pc_writes_cwd", "--no-cache"], env, project)
    assert proc.returncode == 0, proc.stderr
    assert _by_name(json.loads(proc.stdout))["pc-writes-cwd"]["verdict"] == "untested"
    assert not (project / "pc_writes_cwd.out").exists()


@pytest.mark.parametrize("fork", [True, False], ids=["forkserver", "spawn"])
def test_kill_9_of_patchcheck_leaves_no_process_and_the_next_run_works(
        site: Path, tmp_path: Path, fork: bool) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = _env(site, tmp_path, fork=fork)
    args = ["pc_setsid_daemon", "pc_double_fork", "pc_hang", "--timeout", "120"]
    tool = subprocess.Popen([sys.executable, "-m", "patchcheck", "scan", *args, "--no-probes"],
                            cwd=project, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        # Both daemons of at least one check are up, and pc_hang holds the scan open.
        assert _wait_until(lambda: len(_daemon_pids(tmp_path)) >= 2, 120)
        assert tool.poll() is None
        os.kill(tool.pid, signal.SIGKILL)
        tool.wait(10)
    finally:
        if tool.poll() is None:
            tool.kill()
    def checks_left() -> list[int]:
        daemons = set(_daemon_pids(tmp_path))
        return [p for p in _marked(env["PC_TEST_MARK"])
                if b"pc_" in _cmdline(p) and p not in daemons]

    if fork:
        assert _wait_until(lambda: not _marked(env["PC_TEST_MARK"]), 10), \
            [_cmdline(p) for p in _marked(env["PC_TEST_MARK"])]
    else:
        # Fresh processes die with the tool (parent-death signal); what they detached is
        # beyond reach without a zygote (README "Containment"): clean that up ourselves.
        assert _wait_until(lambda: not checks_left(), 10), checks_left()
        for pid in _marked(env["PC_TEST_MARK"]):
            os.kill(pid, signal.SIGKILL)
    assert list(project.iterdir()) == []
    # The same cache serves the next run: no stale lock, no corrupt entry.
    proc = _scan(["pc_setsid_daemon", "pc_double_fork"], env, project)
    assert proc.returncode in (0, 1), proc.stderr
    assert {r["verdict"] for r in json.loads(proc.stdout)["results"]} == {"warns"}


def test_three_scans_at_once_on_one_cache_agree_with_one(site: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = _env(site, tmp_path, fork=True)
    names = ["pc_writes_cwd", "pc_setsid_daemon", "pc_double_fork"]
    procs = [subprocess.Popen([sys.executable, "-m", "patchcheck", "scan", *names,
                               "--no-probes", "--format", "json"], cwd=project, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outs]
    single = _scan(names, env, project)  # served from the cache the three wrote

    def summary(text: str) -> dict:
        return {name: (r["verdict"], sorted(f["code"] for f in r["findings"]))
                for name, r in _by_name(json.loads(text)).items()}

    expected = summary(single.stdout)
    assert expected["pc-setsid-daemon"] == ("warns", ["PC106"])
    assert [summary(out) for out, _ in outs] == [expected] * 3
    entries = list((tmp_path / "cache").rglob("*.json"))
    assert entries and all(json.loads(p.read_text())["schema"] for p in entries)


def test_an_unwritable_cache_is_a_warning_not_a_failure(site: Path, tmp_path: Path) -> None:
    env = _env(site, tmp_path, fork=True)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    env["PATCHCHECK_CACHE_DIR"] = str(blocker)
    proc = _scan(["pc_writes_cwd"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "the result cache" in proc.stderr and "could not be written" in proc.stderr
    assert _by_name(json.loads(proc.stdout))["pc-writes-cwd"]["verdict"] == "untested"
