"""The hub meter checks itself: when a control measures wrongly, no library verdict is given.

A real way to get there: an installed gevent plugin that vetoes patching (``DoNotPatch`` from a
``will_patch_all`` entry point). patch_all() then patches nothing, so the "patched" controls
block, and patchcheck must report an unreliable meter (exit 3), not library verdicts.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pc_testutil import ROOT, build_venv, json_report, run_patchcheck, shared_tmp


@pytest.fixture(scope="module")
def vetoed_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_venv(shared_tmp(tmp_path_factory), "veto-venv",
                      [ROOT / "tests" / "packages" / "pc_gevent_veto",
                       ROOT / "tests" / "packages" / "pc_coop"])


def test_wrong_controls_make_the_run_unreliable(vetoed_python: str, tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "pc_coop", "--python", vetoed_python, "--format", "json",
                          "--no-cache", "--probe-path", str(ROOT / "tests" / "e2e_probes"),
                          cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    report = json_report(proc)
    controls = {c["probe"]: c["plain"]["outcome"] for c in report["controls"]}
    assert controls["control:sleep-original"] == "blocks"
    assert controls["control:sleep-patched"] == "blocks"  # nothing was patched
    assert any("unreliable" in p for p in report["problems"])
    assert "hub meter is unreliable" in proc.stderr
    # no library verdict was measured on an unreliable meter
    assert all(not r["probes"] for r in report["results"])


def test_doctor_says_what_is_wrong(vetoed_python: str, tmp_path: Path) -> None:
    proc = run_patchcheck("doctor", "--python", vetoed_python, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False
