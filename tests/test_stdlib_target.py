"""The standard library is a target: ``patchcheck scan stdlib`` measures it as one row, every
scan that runs probes reports that row too (without failing the run on it), and a team's own
probe for a stdlib module runs in it. Real scans in subprocesses, real children, real fixture
servers; one measurement of the stdlib, reused from the cache by the second scan."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pc_testutil import ROOT, by_name, json_report, run_patchcheck

TEAM_PROBES = ROOT / "tests" / "probes" / "stdlib_local"
E2E_PROBES = ROOT / "tests" / "e2e_probes"


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"PATCHCHECK_CACHE_DIR": str(tmp_path_factory.mktemp("stdlib-cache"))}


@pytest.fixture(scope="module")
def stdlib_scan(target_python: str, cache_env: dict[str, str],
                tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("stdlib")
    # --no-bisect: explaining Pool()'s hang by patch argument is bisect's test, not this one
    proc = run_patchcheck("scan", "stdlib", "--python", target_python, "--format", "json",
                          "--probe-path", str(TEAM_PROBES), "--no-bisect", cwd=tmp,
                          env=cache_env)
    report = json_report(proc)
    report["_exit"] = proc.returncode
    return report


def _outcomes(row: dict) -> dict[str, str]:
    return {p["probe"]: p["plain"]["outcome"] for p in row["probes"]}


def _remedy(row: dict, probe: str, label_start: str) -> str:
    (outcome,) = [p for p in row["probes"] if p["probe"] == probe]
    return next(m["outcome"] for m in outcome["remedies"] if m["remedy"].startswith(label_start))


def test_scan_stdlib_is_one_row_with_the_target_pythons_version(stdlib_scan: dict) -> None:
    (row,) = stdlib_scan["results"]
    assert row["name"] == "stdlib"
    assert row["version"] == stdlib_scan["environment"]["python_version"]
    assert row["requirement"] == "stdlib" and "implicit" not in row
    assert stdlib_scan["problems"] == []
    # asked for by name, its verdict counts: Pool() hangs, so the run fails
    assert row["verdict"] == "breaks" and stdlib_scan["_exit"] == 1


def test_stdlib_probes_measure_what_gevent_does(stdlib_scan: dict) -> None:
    (row,) = stdlib_scan["results"]
    got = _outcomes(row)
    for name in ("stdlib.socket", "stdlib.ssl", "stdlib.dns", "stdlib.dns.thread",
                 "stdlib.time.sleep", "stdlib.select", "stdlib.subprocess", "stdlib.queue"):
        assert got[name] == "cooperates", (name, got)
    assert got["stdlib.os.read"] == "blocks"
    assert _remedy(row, "stdlib.os.read", "gevent.os.nb_read") == "cooperates"
    assert got["stdlib.sqlite3.locked"] == "blocks"
    assert _remedy(row, "stdlib.sqlite3.locked", "gevent.get_hub().threadpool") == "cooperates"
    assert got["stdlib.multiprocessing.queue"] == "blocks"
    assert got["stdlib.multiprocessing.pool"] == "breaks"
    assert got["stdlib.concurrent.futures.threadpool"] in ("blocks", "cpu-bound")
    assert _remedy(row, "stdlib.concurrent.futures.threadpool",
                   "gevent.threadpool.ThreadPoolExecutor") == "cooperates"
    (pool,) = [p for p in row["probes"] if p["probe"] == "stdlib.multiprocessing.pool"]
    # bounded in seconds, not by the child's wall-clock timeout: the meter's hang watchdog
    # (a hang in the call) or, when it comes first, the probe's own alarm
    plain = pool["plain"]
    if plain["hung"]:
        assert plain["phase"] == "call", plain
    else:
        assert plain["elapsed_ms"] < 10_000 and "Pool() did not return" in plain["error"]


def test_the_scan_keeps_how_long_each_probe_took_for_the_next_scans_order(
        stdlib_scan: dict, cache_env: dict[str, str]) -> None:
    # One file for this interpreter, beside the results; only the next scan's start order
    # reads it (runner/probing.py), never a verdict.
    (kept,) = Path(cache_env["PATCHCHECK_CACHE_DIR"]).glob("results/durations/*/*.json")
    seconds = json.loads(kept.read_text())["seconds"]
    measured = {p["probe"] for p in stdlib_scan["results"][0]["probes"]}
    assert measured <= set(seconds), (measured - set(seconds), seconds)
    assert all(value > 0 for value in seconds.values()), seconds
    # a hang and its remedies take longer than a call that cooperates
    assert seconds["stdlib.multiprocessing.pool"] > seconds["stdlib.time.sleep"], seconds


def test_a_teams_own_stdlib_probe_runs_in_the_stdlib_row(stdlib_scan: dict) -> None:
    (row,) = stdlib_scan["results"]
    (team,) = [p for p in row["probes"] if p["probe"] == "stdlib.sqlite3.team_update"]
    assert team["origin"] == str(TEAM_PROBES)
    # the hub stalls while SQLite waits in C (cpu-bound when its busy loop shows as CPU)
    assert team["plain"]["outcome"] in ("blocks", "cpu-bound")
    assert any(f["code"] in ("PC200", "PC201")
               and f["evidence"]["probe"] == "stdlib.sqlite3.team_update"
               for f in row["findings"])


def test_a_scan_that_runs_probes_reports_the_stdlib_too(
        stdlib_scan: dict, target_python: str, cache_env: dict[str, str],
        tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "pc_coop", "--python", target_python, "--format", "json",
                          "--probe-path", str(TEAM_PROBES), "--probe-path", str(E2E_PROBES),
                          cwd=tmp_path, env=cache_env)
    report = json_report(proc)
    rows = by_name(report)
    assert list(rows) == ["pc-coop", "stdlib"]
    assert rows["pc-coop"]["verdict"] == "cooperates"
    stdlib = rows["stdlib"]
    assert stdlib["implicit"] is True and stdlib["requirement"] is None
    # the same measurement as the scan above (from the cache: same Python, gevent, probes)
    assert _outcomes(stdlib) == _outcomes(stdlib_scan["results"][0])
    # reported, but nobody asked about the stdlib: its "breaks" does not fail the run
    assert stdlib["verdict"] == "breaks" and proc.returncode == 0, proc.stderr
    assert "standard library is reported" in proc.stderr
    jsonschema = pytest.importorskip("jsonschema")
    schema = ROOT / "patchcheck" / "reporters" / "report.schema.json"
    jsonschema.validate(report, json.loads(schema.read_text(encoding="utf-8")))


def test_skip_stdlib_leaves_the_row_out(target_python: str, cache_env: dict[str, str],
                                        tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "pc_coop", "--python", target_python, "--format", "json",
                          "--probe-path", str(E2E_PROBES), "--skip", "stdlib",
                          cwd=tmp_path, env=cache_env)
    assert list(by_name(json_report(proc))) == ["pc-coop"]


def test_stdlib_with_a_version_is_a_usage_error(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("gevent\nstdlib>=1.0\n")
    proc = run_patchcheck("scan", str(req), "--no-probes", cwd=tmp_path)
    assert proc.returncode == 2
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("patchcheck: error:")]
    assert "requirements.txt:2" in line and "standard library" in line
    assert "Traceback" not in proc.stderr
