"""``scan --shard K/N`` as N real processes, then ``merge``: the unsharded result.

A real requirements list (small pure-Python distributions installed in the test interpreter,
plus redis and requests, which have probes against a real Redis and patchcheck's slow HTTP
server), ``--no-cache`` so every shard measures.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pc_testutil import by_name, json_report, require_server, run_patchcheck

REQUIREMENTS = ("six\nidna\ncertifi\nattrs\npackaging\ncharset-normalizer\nurllib3\n"
                "pyparsing\nredis\nrequests\ngevent\nnot-a-real-distribution-xyz\n")
N = 3


def _comparable(report: dict) -> dict[str, tuple]:
    """Per distribution what must agree (not timings): verdict, finding codes, probe outcomes."""
    return {key: (r["version"], r["verdict"], sorted(f["code"] for f in r["findings"]),
                  sorted((p["probe"], p["order"], p["plain"]["outcome"],
                          [m["outcome"] for m in p["remedies"]]) for p in r["probes"]))
            for key, r in by_name(report).items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_server("redis", 6379)
    tmp = tmp_path_factory.mktemp("shards")
    (tmp / "requirements.txt").write_text(REQUIREMENTS)
    env = dict(os.environ, PATCHCHECK_CACHE_DIR=str(tmp / "cache"))
    env.pop("PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD", None)
    common = ["requirements.txt", "--no-cache", "--no-bisect", "--format", "json", "--jobs", "1"]
    # The N shards side by side, as N CI jobs would run them.
    procs = [subprocess.Popen([sys.executable, "-m", "patchcheck", "scan", *common,
                               "--shard", f"{k}/{N}", "--output", f"shard-{k}.json"],
                              cwd=tmp, env=env, stderr=subprocess.PIPE, text=True)
             for k in range(1, N + 1)]
    for k, proc in enumerate(procs, 1):
        _, err = proc.communicate(timeout=600)
        (tmp / f"shard-{k}.err").write_text(err)
        assert proc.returncode in (0, 1), err
    whole = run_patchcheck("scan", *common, "--output", "whole.json", cwd=tmp, timeout=600)
    assert whole.returncode in (0, 1), whole.stderr
    return tmp


def _merge(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_patchcheck("merge", *args, cwd=tmp)


def test_merged_shards_equal_the_unsharded_scan(runs: Path) -> None:
    merged = _merge(runs, *(f"shard-{k}.json" for k in range(1, N + 1)), "--format", "json")
    report = json_report(merged)
    whole = json.loads((runs / "whole.json").read_text())
    assert report["schema"] == "patchcheck.report/1"
    assert _comparable(report) == _comparable(whole)
    assert report["summary"] == whole["summary"]
    # In the unsharded scan's order (by requirements line), not shard by shard.
    assert [r["name"] for r in report["results"]] == [r["name"] for r in whole["results"]]
    # The probed libraries were measured (not skipped) in whichever shard had them.
    outcomes = _comparable(report)
    assert outcomes["redis"][3] and outcomes["requests"][3]
    assert {p[2] for p in outcomes["redis"][3]} == {"cooperates"}
    # The exit code follows --fail-on like a scan: untested distributions fail at 'untested'.
    assert merged.returncode == 0, merged.stderr
    strict = _merge(runs, *(f"shard-{k}.json" for k in range(1, N + 1)), "--fail-on",
                    "untested", "--format", "json")
    assert strict.returncode == 1


def test_each_shard_checks_a_part_and_says_which(runs: Path) -> None:
    parts = [by_name(json.loads((runs / f"shard-{k}.json").read_text()))
             for k in range(1, N + 1)]
    keys = [k for part in parts for k in part]
    assert len(keys) == len(set(keys)) == len(by_name(json.loads((runs / "whole.json")
                                                                 .read_text())))
    assert all(parts), "a shard got nothing"
    # Shared rows (the instrument, not installed) are shard 1's.
    assert {"gevent", "not-a-real-distribution-xyz"} <= set(parts[0])
    for k in range(1, N + 1):
        assert f"shard {k}/{N}:" in (runs / f"shard-{k}.err").read_text()


def test_identical_duplicates_merge(runs: Path) -> None:
    proc = _merge(runs, "shard-1.json", "shard-1.json", *(f"shard-{k}.json"
                                                          for k in range(2, N + 1)),
                  "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert _comparable(json_report(proc)) == _comparable(json.loads((runs / "whole.json")
                                                                    .read_text()))


def test_conflicting_results_are_exit_2_naming_both_files(runs: Path) -> None:
    report = json.loads((runs / "shard-1.json").read_text())
    changed = next(r for r in report["results"] if r["verdict"] == "untested")
    changed["verdict"] = "breaks"
    (runs / "tampered.json").write_text(json.dumps(report))
    proc = _merge(runs, "shard-1.json", "tampered.json")
    assert proc.returncode == 2
    assert proc.stderr.startswith("patchcheck: error: conflicting results for ")
    assert "shard-1.json" in proc.stderr and "tampered.json" in proc.stderr
    assert changed["name"] in proc.stderr and "Traceback" not in proc.stderr


def test_a_file_that_is_not_a_report_is_exit_2(runs: Path) -> None:
    (runs / "broken.json").write_text('{"schema": "patchcheck.report/1",\n  "results": [}')
    proc = _merge(runs, "shard-1.json", "broken.json")
    assert proc.returncode == 2
    assert "broken.json:2: not JSON" in proc.stderr
    (runs / "other.json").write_text('{"schema": "something/9"}')
    proc = _merge(runs, "other.json")
    assert proc.returncode == 2 and "other.json: not a patchcheck report" in proc.stderr


def test_merge_writes_other_formats(runs: Path) -> None:
    proc = _merge(runs, *(f"shard-{k}.json" for k in range(1, N + 1)),
                  "--report", "junit=junit.xml", "--output", "merged.txt")
    assert proc.returncode == 0, proc.stderr
    assert "redis" in (runs / "merged.txt").read_text()
    assert "<testsuite" in (runs / "junit.xml").read_text()


def test_a_bad_shard_is_exit_2(tmp_path: Path) -> None:
    proc = run_patchcheck("scan", "six", "--shard", "4/3", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("patchcheck: error: --shard '4/3': K must be between 1 and N")
