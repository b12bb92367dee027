"""The gevent plugins inventory: real plugin distributions installed in real virtualenvs."""
from __future__ import annotations

import json
import subprocess

from pc_testutil import run_patchcheck

from patchcheck.inventory import GeventPlugin, gevent_plugins, plugin_findings, render_plugins
from patchcheck.model import Severity


def _by_name(plugins: list[GeventPlugin]) -> dict[str, GeventPlugin]:
    return {p.name: p for p in plugins}


def test_lists_every_plugin_with_its_distribution_and_loads_it(plugins_python: str) -> None:
    plugins = _by_name(gevent_plugins(plugins_python, timeout=60))
    ok = plugins["pc_ok_did_patch_all"]
    assert (ok.group, ok.value, ok.distribution, ok.version, ok.loaded, ok.error) == (
        "gevent.plugins.monkey.did_patch_all", "pc_gevent_plugin_ok:did_patch_all",
        "pc-gevent-plugin-ok", "1.0", True, None)
    assert plugins["pc_ok_will_patch_module"].event == "will_patch_module"
    assert plugins["pc_ok_will_patch_module"].loaded is True
    broken = plugins["pc_broken"]
    assert broken.loaded is False
    assert broken.distribution == "pc-gevent-plugin-broken" and broken.version == "2.0"
    assert broken.error == ("ImportError: pc_gevent_plugin_broken needs a module that is not "
                            "installed")
    assert "pc_gevent_plugin_broken/__init__.py" in (broken.traceback or "")
    # gevent registers one for itself; it is listed like the others.
    assert plugins["signal_os_incompat"].distribution == "gevent"


def test_what_the_inventory_reports_is_what_patch_all_does(plugins_python: str) -> None:
    # The reason PC151 is "breaks": gevent does not catch a plugin's failure, so patch_all()
    # itself raises; the plugin that loads really runs inside patch_all().
    code = ("from gevent import monkey\n"
            "try:\n    monkey.patch_all()\nexcept ImportError as e:\n    print('raised', e)\n"
            "import pc_gevent_plugin_ok\nprint(sorted(set(pc_gevent_plugin_ok.CALLS)))\n")
    out = subprocess.run([plugins_python, "-c", code], capture_output=True, text=True,
                         timeout=60).stdout
    assert "raised pc_gevent_plugin_broken needs a module" in out
    assert "GeventWillPatchModuleEvent" in out


def test_findings_per_providing_distribution(plugins_python: str) -> None:
    findings = plugin_findings(gevent_plugins(plugins_python, timeout=60))
    assert "gevent" not in findings  # gevent's own entry point is part of patching
    ok = findings["pc-gevent-plugin-ok"]
    assert sorted(f.code for f in ok) == ["PC150", "PC150"]
    assert all(f.severity is Severity.INFO and f.check == "gevent-plugins" for f in ok)
    (broken,) = findings["pc-gevent-plugin-broken"]
    assert broken.code == "PC151" and broken.severity is Severity.BREAKS
    assert broken.evidence.event == "did_patch_all"
    assert "ImportError" in broken.summary and "every patch_all()" in broken.summary


def test_plugin_findings_in_memory() -> None:
    own_broken = GeventPlugin("gevent.plugins.monkey.will_patch_all", "x", "gevent.monkey:x",
                              "gevent", "26.9.0", loaded=False, error="TypeError: boom")
    unchecked = GeventPlugin("gevent.plugins.hub.periodic_monitor_thread_started", "m",
                             "mon:start", "Mon.Itor", "1", loaded=None)
    found = plugin_findings([own_broken, unchecked])
    assert [f.code for f in found["gevent"]] == ["PC151"]
    assert [f.code for f in found["mon-itor"]] == ["PC150"]
    assert found["mon-itor"][0].evidence.event == "periodic_monitor_thread_started"
    assert "not checked" in render_plugins([unchecked])


def test_a_plugin_that_hangs_on_import_is_isolated(hanging_plugin_python: str) -> None:
    plugins = _by_name(gevent_plugins(hanging_plugin_python, timeout=4))
    hangs = plugins["pc_hangs"]
    assert hangs.loaded is False and hangs.distribution == "pc-gevent-plugin-hangs"
    assert "did not finish" in (hangs.error or "")
    assert "time.sleep" in (hangs.traceback or "") or "pc_gevent_plugin_hangs" in (
        hangs.traceback or "")
    # The others still got checked, each in a child of its own.
    assert plugins["pc_ok_did_patch_all"].loaded is True


def test_cli_plugins_json_and_table(plugins_python: str, tmp_path) -> None:
    proc = run_patchcheck("plugins", "--python", plugins_python, "--format", "json",
                          cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # a plugin fails to load: findings
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "patchcheck.plugins/1"
    names = {p["name"]: p for p in doc["plugins"]}
    assert names["pc_broken"]["loaded"] is False
    assert names["pc_ok_did_patch_all"]["loaded"] is True

    table = run_patchcheck("plugins", "--python", plugins_python, cwd=tmp_path)
    assert table.returncode == 1
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["event", "name", "value", "distribution", "loads"]
    row = next(line for line in lines if line.startswith("did_patch_all") and "pc_broken" in line)
    assert row.split()[-1] == "NO"
    assert "ImportError: pc_gevent_plugin_broken needs a module" in table.stdout
    assert "failing to load" in table.stderr
