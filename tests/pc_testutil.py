"""Helpers shared by the tests (imported by name: tests/ is on sys.path)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test run shared by its xdist workers (each worker's basetemp is a child
    of the run's; without xdist the basetemp is the run's own)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def system_site_venv(venv: Path, *, with_pip: bool = True, timeout: float = 300) -> str:
    """``venv --system-site-packages`` that sees the *tool's* packages (gevent, pytest, the
    clients) as its system ones; returns its python.

    Made from a virtualenv's python (the checkout's ``.venv``, as ``.ci/setup`` makes it), a new
    venv's "system" site-packages are the base interpreter's, not that virtualenv's: a ``.pth``
    file adds the tool's site-packages, so the tests need nothing in the system python.
    """
    import sysconfig

    argv = [sys.executable, "-m", "venv", "--system-site-packages", str(venv)]
    subprocess.run(argv if with_pip else argv + ["--without-pip"], check=True, timeout=timeout)
    python = str(venv_python(venv))
    if sys.prefix != sys.base_prefix:
        tool_sites = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
        purelib = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True, text=True, check=True).stdout.strip()
        Path(purelib, "_patchcheck_tool_site.pth").write_text("\n".join(tool_sites) + "\n")
    return python


def build_venv(base: Path, name: str, package_dirs: list[Path]) -> str:
    """``venv --system-site-packages`` (gevent comes from the tool's environment) plus an offline
    ``pip install --no-deps --no-build-isolation`` of local packages; built once per run under a
    lock, so xdist workers share it. Returns the venv's python."""
    import fcntl
    import shutil
    import tempfile

    venv = base / name
    marker = venv / ".patchcheck-ready"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            shutil.rmtree(venv, ignore_errors=True)
            system_site_venv(venv)
            with tempfile.TemporaryDirectory() as tmp:
                dirs = []
                for src in package_dirs:  # pip builds in-tree: build from copies
                    dst = Path(tmp) / src.name
                    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
                        "build", "*.egg-info", "*.so"))
                    dirs.append(str(dst))
                proc = subprocess.run(
                    [str(venv_python(venv)), "-m", "pip", "install", "-q", "--no-deps",
                     "--no-build-isolation", "--no-index", *dirs],
                    capture_output=True, text=True)
                if proc.returncode:
                    raise RuntimeError(f"installing {name} failed:\n{proc.stdout}{proc.stderr}")
            marker.write_text("ok")
    return str(venv_python(venv))


def run_patchcheck(*args: str, cwd: str | os.PathLike[str] | None = None,
                   env: dict[str, str] | None = None, timeout: float = 300
                   ) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess (``python -m patchcheck``)."""
    full_env = dict(os.environ)
    full_env.pop("PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD", None)
    full_env["PATCHCHECK_CACHE_DIR"] = full_env.get("PATCHCHECK_TEST_CACHE_DIR", "") or str(
        Path(cwd or ".").resolve() / ".patchcheck-test-cache")
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "patchcheck", *args], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def json_report(proc: subprocess.CompletedProcess[str]) -> dict:
    try:
        return json.loads(proc.stdout)
    except ValueError:
        message = f"not JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        raise AssertionError(message) from None


def by_name(report: dict) -> dict[str, dict]:
    import re

    return {re.sub(r"[-_.]+", "-", r["name"]).lower(): r for r in report["results"]}


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_server(name: str, port: int) -> None:
    """Skip when a real server is absent on a laptop; in CI a missing server is a failure."""
    if port_open(port):
        return
    message = f"{name} is not running on 127.0.0.1:{port}"
    if IN_CI:
        pytest.fail(message + " (CI=true: every service must be present)")
    pytest.skip(message)
