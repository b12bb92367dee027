"""The wheel, installed the ordinary way in a fresh virtualenv (not the development checkout):
it ships the harness, the built-in probes under patchcheck's namespace (no top-level ``probes``
package), the knowledge file and the report schema, and it scans."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pc_testutil import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True)
    (built,) = out.glob("patchcheck-*.whl")
    return built


def test_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    # patchcheck_probe: the probe API under the name probe files import (a re-export).
    name, version = wheel.name.split("-")[:2]
    assert tops == {"patchcheck", "patchcheck_probe", f"{name}-{version}.dist-info"}
    for required in ("patchcheck/harness/pc_child.py", "patchcheck/harness/pc_zygote.py",
                     "patchcheck/harness/pc_protocol.json",
                     "patchcheck/harness/patchcheck_probe.py",
                     "patchcheck/_builtin_probes/stdlib_socket.py",
                     "patchcheck/_builtin_probes/lib_postgres.py",
                     "patchcheck/knowledge/known.toml",
                     "patchcheck/reporters/report.schema.json", "patchcheck/py.typed",
                     "patchcheck_probe/__init__.py", "patchcheck_probe/py.typed"):
        assert required in names, required
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "patchcheck = patchcheck.cli:console_main" in entry_points
    assert "[pytest11]" in entry_points


def test_installed_wheel_scans(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel), "requests"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PATCHCHECK_CACHE_DIR": str(tmp_path / "c"),
           "HOME": str(tmp_path)}
    probes = subprocess.run([str(venv / "bin" / "patchcheck"), "probes", "--format", "json"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    paths = {p["path"] for p in json.loads(probes.stdout)}
    assert paths and all("site-packages/patchcheck/_builtin_probes/" in p for p in paths)
    # --patches-first: the measured verdict, not requests' import-order findings
    scan = subprocess.run([str(venv / "bin" / "patchcheck"), "scan", "requests", "--format",
                           "json", "--patches-first"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    results = json.loads(scan.stdout)["results"]
    (result,) = [r for r in results if not r.get("implicit")]  # beside the stdlib row
    assert result["name"] == "requests" and result["verdict"] == "cooperates", scan.stderr
    # no top-level "probes" package installed (cwd: not the checkout, which has a probes/ dir)
    assert subprocess.run([str(python), "-c", "import probes"], capture_output=True,
                          cwd=tmp_path).returncode != 0
