"""The watch package's words and documents, on in-memory stall records (no process is watched
here: tests/watch/test_watchdog_in_pytest.py watches real pytest runs)."""
from __future__ import annotations

import json
from pathlib import Path

from patchcheck.watch.judging import failure_text, headline, report_section, warning_text
from patchcheck.watch.report import (
    WATCH_SCHEMA,
    StallKind,
    StallRecord,
    by_library,
    summary_lines,
    write_watch_report,
)

DB = StallRecord(duration_ms=300.0, limit_ms=100.0, cpu_ms=2.0, library="psycopg2-binary",
                 location="psycopg2/extras.py:236", via="cur.execute (psycopg2.extensions.cursor)",
                 remedy="psycogreen.gevent.patch_psycopg()", test="tests/test_db.py::test_q",
                 phase="call")
OWN = StallRecord(duration_ms=150.0, limit_ms=100.0, cpu_ms=140.0, library=None,
                  location="app/work.py:12", test="tests/test_app.py::test_work", phase="call")


def test_warning_names_the_worst_stall_its_remedy_and_how_many_more() -> None:
    assert warning_text([OWN, DB], "call") == (
        "hub stalled 300 ms (limit 100 ms, waiting) in psycopg2-binary at "
        "psycopg2/extras.py:236, in "
        "cur.execute (psycopg2.extensions.cursor); remedy: psycogreen.gevent.patch_psycopg() "
        "(+1 more stall(s) in call)")
    assert headline(OWN) == ("hub stalled 150 ms (limit 100 ms, cpu-bound) in your code at "
                             "app/work.py:12")


def test_strict_failure_describes_every_stall() -> None:
    text = failure_text([DB, OWN], "setup")
    assert text.splitlines()[0] == ("patchcheck: the gevent hub stalled during setup "
                                    "(2 stall(s) over 100 ms)")
    assert "library: psycopg2-binary  at psycopg2/extras.py:236" in text
    assert "stall 150 ms (limit 100 ms, cpu-bound, CPU 140 ms)" in text
    assert report_section([DB]) == "\n".join(DB.describe())


def test_records_survive_the_trip_from_an_xdist_worker() -> None:
    assert StallRecord.from_json(json.loads(json.dumps(DB.to_json()))) == DB


def test_kind_leaves_the_wait_for_a_cpu_out() -> None:
    # I/O: 10 ms stall, the thread asleep 4 ms then 6 ms queued for a CPU on a busy box
    assert StallKind.of(10.0, 0.3, 6.0, limit_ms=5.0) is StallKind.WAITING
    # a spin on a loaded box: a fifth of the time on a CPU, the rest queued
    assert StallKind.of(300.0, 60.0, 240.0, limit_ms=10.0) is StallKind.CPU_BOUND
    # preempted right after sending a query: the whole wait in the run queue, no computing
    assert StallKind.of(52.5, 0.4, 51.9, limit_ms=10.0) is StallKind.WAITING
    # no run-queue figure (not Linux): CPU time against the whole stall
    assert StallKind.of(300.0, 60.0, None, limit_ms=100.0) is StallKind.WAITING
    assert StallKind.of(300.0, 200.0, None, limit_ms=100.0) is StallKind.CPU_BOUND
    assert StallKind.of(300.0, 0.0, 300.0, limit_ms=100.0) is StallKind.WAITING


def test_the_kind_measured_is_the_kind_every_output_says() -> None:
    # decided where it was measured: a record read back keeps it (no re-deriving from rounded
    # numbers in the xdist controller), and the summary counts the records' own kinds
    spin = StallRecord(duration_ms=300.0, limit_ms=10.0, cpu_ms=60.0, runqueue_ms=240.0,
                       library=None, location="app/work.py:12", test="t::spin")
    assert spin.kind is StallKind.CPU_BOUND
    back = StallRecord.from_json(json.loads(json.dumps(spin.to_json())))
    assert back.kind is StallKind.CPU_BOUND and back == spin
    old = {k: v for k, v in DB.to_json().items() if k not in ("kind", "runqueue_ms")}
    assert StallRecord.from_json(old).kind is StallKind.WAITING
    assert "(limit 10 ms, cpu-bound, CPU 60 ms, 240 ms waiting for a CPU)" in spin.describe()[0]
    groups = by_library([spin, OWN, DB])
    assert [(g.label, g.kinds, g.cpu_bound) for g in groups] == [
        ("psycopg2-binary", "waiting", 0), ("your code", "cpu-bound", 2)]
    assert summary_lines([spin])[0] == (
        "your code: 1 stall(s) in 1 test(s), worst 300 ms, total 300 ms, cpu-bound")
    mixed = summary_lines([spin, StallRecord(duration_ms=50.0, limit_ms=10.0, cpu_ms=1.0,
                                             library=None, location="app/io.py:3")])
    assert mixed[0].endswith("total 350 ms, 1 cpu-bound, 1 waiting")


def test_libraries_come_before_your_code_in_the_summary() -> None:
    assert [g.label for g in by_library([OWN, DB, DB])] == ["psycopg2-binary", "your code"]
    lines = summary_lines([OWN, DB])
    assert lines[0] == ("psycopg2-binary: 1 stall(s) in 1 test(s), worst 300 ms, "
                        "total 300 ms, waiting")
    assert "    remedy: psycogreen.gevent.patch_psycopg()" in lines


def test_watch_report_document(tmp_path: Path) -> None:
    path = tmp_path / "stalls.json"
    write_watch_report(path, [DB, OWN], limit_ms=100.0, strict=False, watched_tests=7,
                       note=None, patching={"patched": True})
    doc = json.loads(path.read_text())
    assert doc["schema"] == WATCH_SCHEMA
    assert doc["settings"] == {"max_block_ms": 100.0, "strict": False, "watched_tests": 7,
                               "note": None}
    assert doc["patching"] == {"patched": True}
    assert [StallRecord.from_json(s) for s in doc["stalls"]] == [DB, OWN]
    assert [g["library"] for g in doc["by_library"]] == ["psycopg2-binary", None]
    assert list(tmp_path.iterdir()) == [path]  # written atomically: no temporary file left
