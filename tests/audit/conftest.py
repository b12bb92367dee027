"""Fixtures for the audit tests: virtualenvs with real gevent plugin distributions installed.

Each venv is ``python -m venv --system-site-packages`` (gevent comes from the tool's
environment) plus ``pip install --no-deps --no-build-isolation --no-index`` of the tiny
packages in ``tests/audit/packages/`` — offline, a few seconds each, built once per test run
and shared by xdist workers through a lock file.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from pc_testutil import build_venv, shared_tmp

PACKAGES = Path(__file__).resolve().parent / "packages"


@pytest.fixture(scope="session")
def plugins_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv with a gevent plugin that loads and one whose module raises on import."""
    return build_venv(shared_tmp(tmp_path_factory), "audit-plugins-venv",
                      [PACKAGES / "pc_gevent_plugin_ok", PACKAGES / "pc_gevent_plugin_broken"])


@pytest.fixture(scope="session")
def hanging_plugin_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv with a good gevent plugin and one whose import never finishes."""
    return build_venv(shared_tmp(tmp_path_factory), "audit-hang-venv",
                      [PACKAGES / "pc_gevent_plugin_ok", PACKAGES / "pc_gevent_plugin_hangs"])
