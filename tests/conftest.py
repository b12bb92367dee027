"""Shared fixtures: a target virtualenv with the test packages, and real-service gates.

The target venv is built once per test run (shared by xdist workers through a lock file):
``python -m venv --system-site-packages`` (so gevent comes from the tool's environment), then
one ``pip install --no-deps --no-build-isolation`` of every package in ``tests/packages/``.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "tests" / "packages"
TARGET_PACKAGES = (
    "pc_coop", "pc_stale", "pc_epoll", "pc_hang", "pc_segv", "pc_native_thread",
    "pc_native_io", "pc_native_compute",
)


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@pytest.fixture(scope="session")
def target_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A target interpreter with every test package installed (C extensions compiled)."""
    shared = tmp_path_factory.getbasetemp().parent  # common to all xdist workers of this run
    venv = shared / "target-venv"
    marker = venv / ".patchcheck-ready"
    with open(shared / "target-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                           check=True)
            # Build from copies: pip builds in-tree and other processes may build the same dir.
            import shutil
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                dirs = []
                for name in TARGET_PACKAGES:
                    dst = Path(tmp) / name
                    shutil.copytree(PACKAGES / name, dst,
                                    ignore=shutil.ignore_patterns("build", "*.egg-info", "*.so"))
                    dirs.append(str(dst))
                proc = subprocess.run(
                    [str(_venv_python(venv)), "-m", "pip", "install", "-q", "--no-deps",
                     "--no-build-isolation", "--no-index", *dirs],
                    capture_output=True, text=True)
                if proc.returncode:
                    raise RuntimeError("installing the test packages failed:\n" + proc.stdout
                                       + proc.stderr)
            marker.write_text("ok")
    return str(_venv_python(venv))
