"""The heartbeat series the meter records for the report's chart (real children, real JSON)."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pc_probe_testutil import explain, probe_child_spec, run_task

from patchcheck.harness import pc_meter
from patchcheck.model import (
    DistributionResult,
    Environment,
    Measurement,
    ProbeOutcome,
    ScanReport,
    Verdict,
)
from patchcheck.probeloader import load_probe_file
from patchcheck.reporters.json_report import load_schema, render_json

PROBES = {p.name: p for p in load_probe_file(Path(__file__).parent / "probe_files"
                                             / "heartbeat.py")}
ENV = Environment(python="/usr/bin/python3", python_version="3.11.2", implementation="CPython",
                  platform="linux", gevent_version="26.9.0", greenlet_version="3.2.4")


def _measure(name: str) -> Measurement:
    data = run_task(probe_child_spec(PROBES[name], {}))
    return Measurement.from_json(data)


def _check_series(m: Measurement) -> None:
    times = [t for t, _ in m.heartbeat]
    assert 0 < len(m.heartbeat) <= pc_meter.HEARTBEAT_POINTS
    assert times == sorted(times)
    assert times[-1] == pytest.approx(m.elapsed_ms, abs=0.2)  # it ends with the window
    # the chart's tallest bar is the stall the report quotes
    assert max(gap for _, gap in m.heartbeat) == pytest.approx(m.max_gap_ms, abs=0.2)


def test_a_blocked_hub_shows_as_long_gaps():
    m = _measure("beat.blocks")
    assert m.outcome.value == "blocks", explain(m.to_json())
    _check_series(m)
    stalls = [gap for _, gap in m.heartbeat if gap >= 100.0]
    # three 200 ms calls one after the other: most of the window is one or more stalls
    assert sum(stalls) >= 0.8 * m.elapsed_ms, m.heartbeat


def test_a_cooperating_hub_beats_throughout():
    m = _measure("beat.cooperates")
    assert m.outcome.value == "cooperates", explain(m.to_json())
    _check_series(m)
    # not downsampled (a beat every few ms over ~200 ms): the gaps tile the window
    assert len(m.heartbeat) > 20
    assert sum(gap for _, gap in m.heartbeat) == pytest.approx(m.elapsed_ms, rel=0.02)


def test_the_series_is_in_the_json_report_on_one_line_and_valid():
    m = _measure("beat.blocks")
    probe = ProbeOutcome("beat.blocks", "test", m, remedies=(_measure("beat.cooperates"),))
    report = ScanReport(ENV, (DistributionResult("beat", Verdict.BLOCKS, probes=(probe,)),))
    text = render_json(report)
    doc = json.loads(text)
    jsonschema.validate(doc, load_schema())
    plain = doc["results"][0]["probes"][0]["plain"]
    assert plain["heartbeat"] == [[t, gap] for t, gap in m.heartbeat]
    lines = [line for line in text.splitlines() if '"heartbeat"' in line]
    assert len(lines) == 2 and all(line.rstrip().endswith(("]", "],")) for line in lines)
    assert ScanReport.from_json(doc) == report


def test_a_measurement_from_before_the_series_still_loads():
    old = {"outcome": "blocks", "wait_ms": 300.0, "concurrency": 3, "elapsed_ms": 903.0,
           "ratio": 3.0, "max_gap_ms": 903.0, "cpu_ms": 4.0, "stack": [], "error": None,
           "remedy": None}
    m = Measurement.from_json(old)
    assert m.heartbeat == ()
    assert "heartbeat" not in m.to_json()  # nothing new written for it either


def test_a_long_series_keeps_the_largest_gap_of_each_slice():
    hb = pc_meter._Heartbeat()
    hb.beats = [i * 0.002 for i in range(1, 1000)] + [2.5] + [2.5 + i * 0.002 for i in
                                                               range(1, 500)]
    series = hb.series(0.0, 3.5, limit=100)
    assert len(series) <= 100
    # the one 502 ms stall (1.998 s → 2.5 s) survives among 1500 beats cut to 100 points
    assert max(series, key=lambda point: point[1]) == [2500.0, 502.0]
    assert [t for t, _ in series] == sorted(t for t, _ in series)


def test_a_stall_gevents_monitor_does_not_report_still_has_a_stack():
    # Greenlets switching among themselves reset the monitor's check: only the backup
    # sampler (which needs nothing but a late heartbeat) can name the blocking stack.
    m = _measure("beat.switches")
    assert m.outcome.value == "blocks", explain(m.to_json())
    assert any("heartbeat.py" in line and ("in partner" in line or "in call" in line)
               for line in m.stack), m.stack
