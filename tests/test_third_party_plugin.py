"""A third-party plugin installed next to patchcheck (entry-point group ``patchcheck``) adds a
probe, a knowledge entry and a report format, exactly like the built-ins."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from pc_testutil import ROOT, build_venv, shared_tmp


@pytest.fixture(scope="module")
def plugin_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    # patchcheck itself comes from the tool's environment (--system-site-packages)
    return build_venv(shared_tmp(tmp_path_factory), "plugin-venv",
                      [ROOT / "tests" / "packages" / "pc_patchcheck_plugin",
                       ROOT / "tests" / "packages" / "pc_coop"])


def patchcheck(python: str, *args: str, env: dict[str, str] | None = None,
               cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD"}
    full.update({"PATCHCHECK_CACHE_DIR": str(cwd / "cache")}, **(env or {}))
    return subprocess.run([python, "-m", "patchcheck", *args], capture_output=True, text=True,
                          env=full, cwd=cwd, timeout=300)


def test_plugin_probe_is_listed_with_its_origin(plugin_python: str, tmp_path: Path) -> None:
    proc = patchcheck(plugin_python, "probes", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    probes = {p["name"]: p for p in json.loads(proc.stdout)}
    assert probes["plugin.pc_coop.fetch"]["origin"].startswith("entry point pc_plugin")


def test_plugin_format_probe_and_knowledge_in_a_scan(plugin_python: str, tmp_path: Path) -> None:
    proc = patchcheck(plugin_python, "scan", "pc_coop", "--python", plugin_python,
                      "--format", "csv", cwd=tmp_path)
    assert proc.stdout.splitlines() == ["name,version,verdict", "pc-coop,1.0,cooperates"], (
        proc.stderr)
    proc = patchcheck(plugin_python, "scan", "pc_coop", "--python", plugin_python,
                      "--format", "json", "--no-cache", cwd=tmp_path)
    (result,) = json.loads(proc.stdout)["results"]
    assert [p["probe"] for p in result["probes"]] == ["plugin.pc_coop.fetch"]
    assert result["known"][0]["origin"].startswith("entry point pc_plugin")
    assert result["known"][0]["status"] == "agrees"


def test_autoload_can_be_switched_off(plugin_python: str, tmp_path: Path) -> None:
    proc = patchcheck(plugin_python, "scan", "pc_coop", "--python", plugin_python,
                      "--format", "csv", env={"PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD": "1"},
                      cwd=tmp_path)
    assert proc.returncode == 2
    assert "--format csv: unknown format" in proc.stderr
