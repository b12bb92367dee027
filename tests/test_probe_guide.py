"""The README's probe-writing guide: its worked example is this repository's file, and works."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from pc_testutil import IN_CI, ROOT, by_name, json_report, require_server, run_patchcheck

EXAMPLE = ROOT / "examples" / "probes" / "pg8000_probe.py"


def test_readme_shows_the_tested_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert EXAMPLE.read_text(encoding="utf-8").strip() in readme
    # "about 15 lines": the probe itself, without the module docstring
    code = EXAMPLE.read_text(encoding="utf-8").split('"""', 2)[2].strip().splitlines()
    assert len(code) <= 16


def test_probes_lists_the_local_probe_and_where_it_came_from(tmp_path: Path) -> None:
    proc = run_patchcheck("probes", "--probe-path", str(EXAMPLE.parent), "--format", "json",
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    probes = {p["name"]: p for p in json.loads(proc.stdout)}
    assert probes["pg8000.pg_sleep"]["distributions"] == ["pg8000"]
    assert probes["pg8000.pg_sleep"]["services"] == ["postgresql"]
    assert str(EXAMPLE.parent) in probes["pg8000.pg_sleep"]["origin"]
    assert any(name.startswith("stdlib.") for name in probes)  # built-ins listed too


def test_worked_example_measures_pg8000_cooperating(tmp_path: Path) -> None:
    if importlib.util.find_spec("pg8000") is None:
        if IN_CI:
            pytest.fail("pg8000 is not installed (it is in the test extra)")
        pytest.skip("pg8000 is not installed")
    require_server("PostgreSQL", 5432)
    proc = run_patchcheck(
        "scan", "pg8000", "--probe-path", str(EXAMPLE.parent), "--format", "json", "--no-cache",
        cwd=tmp_path,
        env={"PATCHCHECK_POSTGRES_URL": "postgresql://postgres@127.0.0.1:5432/postgres"})
    result = by_name(json_report(proc))["pg8000"]
    assert result["verdict"] == "cooperates", proc.stderr
    # The built-in probe (pg8000.native_run) runs beside the guide's example.
    outcome = {p["probe"]: p for p in result["probes"]
               if p.get("order") != "before-patch"}["pg8000.pg_sleep"]
    plain = outcome["plain"]
    assert plain["outcome"] == "cooperates"
    assert plain["ratio"] < 2.0 and plain["max_gap_ms"] < 150
    assert plain["elapsed_ms"] >= 250  # it really waited on the server's pg_sleep
