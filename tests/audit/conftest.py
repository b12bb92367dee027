"""Fixtures for the audit tests: virtualenvs with real gevent plugin distributions installed.

Each venv is ``python -m venv --system-site-packages`` (gevent comes from the tool's
environment) plus ``pip install --no-deps --no-build-isolation --no-index`` of the tiny
packages in ``tests/audit/packages/`` — offline, a few seconds each, built once per test run
and shared by xdist workers through a lock file.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parent / "packages"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def build_venv(base: Path, name: str, packages: tuple[str, ...]) -> str:
    venv = base / name
    marker = venv / ".patchcheck-ready"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                           check=True)
            with tempfile.TemporaryDirectory() as tmp:
                dirs = []
                for pkg in packages:  # pip builds in-tree: build from copies
                    dst = Path(tmp) / pkg
                    shutil.copytree(PACKAGES / pkg, dst,
                                    ignore=shutil.ignore_patterns("build", "*.egg-info"))
                    dirs.append(str(dst))
                proc = subprocess.run(
                    [str(venv_python(venv)), "-m", "pip", "install", "-q", "--no-deps",
                     "--no-build-isolation", "--no-index", *dirs],
                    capture_output=True, text=True)
                if proc.returncode:
                    raise RuntimeError("installing the test plugins failed:\n" + proc.stdout
                                       + proc.stderr)
            marker.write_text("ok")
    return str(venv_python(venv))


@pytest.fixture(scope="session")
def plugins_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv with a gevent plugin that loads and one whose module raises on import."""
    return build_venv(tmp_path_factory.getbasetemp().parent, "audit-plugins-venv",
                      ("pc_gevent_plugin_ok", "pc_gevent_plugin_broken"))


@pytest.fixture(scope="session")
def hanging_plugin_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv with a good gevent plugin and one whose import never finishes."""
    return build_venv(tmp_path_factory.getbasetemp().parent, "audit-hang-venv",
                      ("pc_gevent_plugin_ok", "pc_gevent_plugin_hangs"))
