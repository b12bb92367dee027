"""Shared fixtures: a target virtualenv with the test packages, and real-service gates.

The target venv is built once per test run (shared by xdist workers through a lock file):
``python -m venv --system-site-packages`` (so gevent comes from the tool's environment), then
one ``pip install --no-deps --no-build-isolation`` of every package in ``tests/packages/``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from pc_testutil import build_venv, shared_tmp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "tests" / "packages"
TARGET_PACKAGES = (
    "pc_coop", "pc_stale", "pc_epoll", "pc_hang", "pc_segv", "pc_native_thread",
    "pc_native_io", "pc_native_compute", "pc_broken",
)


@pytest.fixture(scope="session")
def target_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A target interpreter with every test package installed (C extensions compiled)."""
    return build_venv(shared_tmp(tmp_path_factory), "target-venv",
                      [PACKAGES / name for name in TARGET_PACKAGES])
