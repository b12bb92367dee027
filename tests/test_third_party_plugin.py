"""A third-party plugin installed next to patchcheck (entry-point group ``patchcheck``) adds a
probe, a knowledge entry and a report format, exactly like the built-ins; and a plugin's
reporter or service with a built-in's name replaces the built-in."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pluggy
import pytest
from pc_testutil import ROOT, build_venv, shared_tmp

import patchcheck.reporters as reporters_module
from patchcheck import hookspecs
from patchcheck.hookspecs import hookimpl
from patchcheck.plugins import PluginConflictWarning, collect_reporters, make_plugin_manager
from patchcheck.spec import ReporterSpec


@pytest.fixture(scope="module")
def plugin_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    # patchcheck itself comes from the tool's environment (--system-site-packages); a .pth
    # puts this checkout first, so a git worktree tests its own code, not the system's install.
    python = build_venv(shared_tmp(tmp_path_factory), "plugin-venv",
                        [ROOT / "tests" / "packages" / "pc_patchcheck_plugin",
                         ROOT / "tests" / "packages" / "pc_coop"])
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "_patchcheck_checkout.pth").write_text(str(ROOT) + "\n")
    return python


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
    # --skip stdlib: the implicit standard-library row is not what these tests are about
    proc = patchcheck(plugin_python, "scan", "pc_coop", "--python", plugin_python,
                      "--format", "csv", "--skip", "stdlib", cwd=tmp_path)
    assert proc.stdout.splitlines() == ["name,version,verdict", "pc-coop,1.0,cooperates"], (
        proc.stderr)
    proc = patchcheck(plugin_python, "scan", "pc_coop", "--python", plugin_python,
                      "--format", "json", "--no-cache", "--skip", "stdlib", cwd=tmp_path)
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


def test_plugin_table_reporter_replaces_the_builtin(plugin_python: str, tmp_path: Path) -> None:
    proc = patchcheck(plugin_python, "scan", "pc_coop", "--python", plugin_python,
                      "--format", "table", "--skip", "stdlib", cwd=tmp_path)
    assert proc.stdout == "pc_plugin table: pc-coop cooperates\n", proc.stderr
    assert "PluginConflictWarning" not in proc.stderr  # replacing a built-in is no conflict


def test_plugin_service_replaces_the_builtin(plugin_python: str, tmp_path: Path) -> None:
    proc = patchcheck(plugin_python, "doctor", "--python", plugin_python, "--format", "json",
                      cwd=tmp_path)
    services = {s["name"]: s for s in json.loads(proc.stdout)["services"]}
    assert services["silent"]["description"] == "pc_plugin's silent server", proc.stderr
    assert services["silent"]["reachable"] is True
    assert services["silent"]["detail"].endswith("/pc_plugin")
    assert services["slow_tcp"]["description"].startswith("TCP echo")  # the others stay


def test_builtins_are_used_without_the_plugin(plugin_python: str, tmp_path: Path) -> None:
    proc = patchcheck(plugin_python, "scan", "pc_coop", "--python", plugin_python,
                      "--format", "table", "--no-probes",
                      env={"PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD": "1"}, cwd=tmp_path)
    assert "pc_plugin table" not in proc.stdout and "pc-coop" in proc.stdout, proc.stderr


class _Reporters:
    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def patchcheck_add_reporters(self) -> list[ReporterSpec]:
        return [ReporterSpec(name=n, render=lambda report, options: "", origin="test")
                for n in self.names]


def test_two_plugins_with_one_name_are_reported_by_name() -> None:
    pm = make_plugin_manager()
    first, second = _Reporters("table", "tsv"), _Reporters("tsv")
    pm.register(first, name="team_a")
    pm.register(second, name="team_b")  # registered later: pluggy calls it first
    with pytest.warns(PluginConflictWarning) as caught:
        reporters = collect_reporters(pm)
    (warning,) = caught
    assert str(warning.message) == ("reporter 'tsv' is provided by plugin 'team_b' and by "
                                    "plugin 'team_a'; using the one from 'team_b'")
    assert warning.filename == __file__  # points at the losing hookimpl
    assert reporters["table"].origin == "test"  # team_a's replaces the built-in silently
    assert reporters["json"].origin == "builtin"


def test_a_builtin_loses_even_when_registered_last() -> None:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(_Reporters("table"), name="team")
    pm.register(reporters_module, name="patchcheck.reporters")
    reporters = collect_reporters(pm)
    assert reporters["table"].origin == "test"
    assert reporters["json"].origin == "builtin"
