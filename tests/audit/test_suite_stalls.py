"""Reading the watchdog's report and folding it into a scan's results (in memory)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from patchcheck.errors import UsageError
from patchcheck.model import DistributionResult, Environment, ScanReport, Verdict
from patchcheck.suitestalls import add_suite_stalls, load_stalls
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.waivers import Waiver, apply_waivers

ENV = Environment(python="/usr/bin/python3", python_version="3.11.2", implementation="CPython",
                  platform="linux", gevent_version="26.9.0", greenlet_version="3.2.4")


def _stall(library, duration, test, location="lib/x.py:7", cpu=1.0, kind="waiting"):
    # the kind is the watchdog's, decided where it measured (the report's field, not the CPU)
    return {"test": test, "phase": "call", "duration_ms": duration, "limit_ms": 100.0,
            "cpu_ms": cpu, "kind": kind, "library": library, "location": location,
            "via": None, "remedy": None, "known": None, "source": "gevent monitor thread",
            "worker": "", "stack": []}


def _write(tmp_path: Path, stalls) -> Path:
    path = tmp_path / "stalls.json"
    path.write_text(json.dumps({"schema": "patchcheck.watch/1", "settings": {},
                                "patching": {}, "stalls": stalls, "by_library": []}))
    return path


def test_stalls_are_grouped_by_distribution_worst_first(tmp_path):
    path = _write(tmp_path, [
        _stall("PyMySQL", 150.0, "t.py::a"), _stall("pymysql", 447.0, "t.py::b", cpu=400.0,
                                                     kind="cpu-bound"),
        _stall("PyMySQL", 120.0, "t.py::a", location="pymysql/c.py:9"),
        _stall(None, 300.0, "t.py::own"), _stall("elsewhere", 200.0, "t.py::c")])
    stalls = load_stalls(path)
    e = stalls.libraries["pymysql"]
    assert (e.stalls, e.worst_ms, e.total_ms, e.worst_test, e.cpu_bound) == (
        3, 447.0, 717.0, "t.py::b", 1)
    assert e.tests == ("t.py::b", "t.py::a") and e.locations == ("lib/x.py:7", "pymysql/c.py:9")
    assert stalls.own_code is not None and stalls.own_code.stalls == 1

    report = ScanReport(ENV, (
        DistributionResult("PyMySQL", Verdict.UNTESTED, version="1.1"),
        DistributionResult("redis", Verdict.COOPERATES, version="5.0")))
    out = add_suite_stalls(report, stalls)
    pymysql, redis = out.results
    assert pymysql.verdict is Verdict.BLOCKS and redis == report.results[1]
    (finding,) = pymysql.findings
    assert finding.code == "PC210" and isinstance(finding.evidence, ev.SuiteStalls)
    assert finding.summary == "blocked the hub 3 times in your test suite, worst 447 ms: t.py::b"
    assert [n.split(": ", 1)[1][:40] for n in out.notes] == [
        "your test suite stalled in elsewhere (1 ", "your own code stalled the hub in the tes"]

    # a waiver covers PC210 like any finding: the verdict goes back to what was measured
    waiver = Waiver(distribution="pymysql", codes=("PC210",), reason="tests only")
    waived, _ = apply_waivers(out, (waiver,), dt.date(2026, 1, 1))
    assert waived.results[0].verdict is Verdict.UNTESTED


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "not a patchcheck watchdog report (schema None"),
    ('{"schema": "patchcheck.report/1"}', "not a patchcheck watchdog report"),
    ('{"schema": "patchcheck.watch/1", "stalls": {}}', "'stalls' must be a list"),
    ('{"schema": "patchcheck.watch/1", "stalls": [{"duration_ms": "slow", "limit_ms": 1}]}',
     "stall 1 is malformed"),
])
def test_malformed_files_name_the_file(tmp_path, text, message):
    path = tmp_path / "stalls.json"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load_stalls(path)
    assert info.value.message.startswith(f"{path}: ") and message in info.value.message
