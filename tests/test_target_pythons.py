"""The harness runs in the *target* interpreter, on every Python gevent supports: scan a venv of
the oldest and the newest Python on this machine (gevent and requests from the package index),
with import checks in both orders, controls and probes, through the fork server."""
from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pc_testutil import by_name, json_report, run_patchcheck, shared_tmp

VERSIONS = ("3.9", "3.13")


def find_python(version: str) -> str | None:
    candidates = [f"python{version}"]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")))
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in candidates:
        try:
            proc = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                  capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0 and proc.stdout.strip() == str(
                tuple(int(x) for x in version.split("."))):
            return candidate
    return None


@pytest.fixture(scope="module", params=VERSIONS)
def other_python(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> str:
    version = request.param
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        pytest.skip("that is the tool's own Python, tested everywhere else")
    base = find_python(version)
    if base is None:
        pytest.skip(f"no Python {version} on this machine")
    venv = shared_tmp(tmp_path_factory) / f"py{version}-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "gevent", "requests"],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode:
            pytest.fail(f"installing gevent for Python {version} failed:\n{proc.stderr[-2000:]}")
    return str(python)


def test_scan_on_another_python(other_python: str, tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "requests", "--python", other_python, "--format", "json",
                          "--no-cache", cwd=tmp_path)
    report = json_report(proc)
    assert proc.returncode == 0, proc.stderr
    assert report["environment"]["python"].startswith(str(Path(other_python).parent.parent))
    result = by_name(report)["requests"]
    # both import orders ran in that interpreter: gevent's own ssl warning (imported first),
    # which the patched-first measurements cannot clear: order-sensitive
    assert "PC110" in {f["code"] for f in result["findings"]}
    assert result["verdict"] == "order-sensitive"
    assert {p["plain"]["outcome"] for p in result["probes"]
            if p["order"] == "after-patch"} == {"cooperates"}
    assert {p["order"] for p in result["probes"]} == {"after-patch", "before-patch"}
    outcomes = {c["probe"]: c["plain"]["outcome"] for c in report["controls"]}
    assert outcomes["control:socket-original"] == "blocks"
    assert outcomes["control:socket-patched"] == "cooperates"
