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
