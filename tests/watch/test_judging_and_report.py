"""The watch package's words and documents, on in-memory stall records (no process is watched
here: tests/watch/test_watchdog_in_pytest.py watches real pytest runs)."""
from __future__ import annotations

import json
from pathlib import Path

from patchcheck.watch.judging import failure_text, headline, report_section, warning_text
from patchcheck.watch.report import (
    WATCH_SCHEMA,
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
        "hub stalled 300 ms (limit 100 ms) in psycopg2-binary at psycopg2/extras.py:236, in "
        "cur.execute (psycopg2.extensions.cursor); remedy: psycogreen.gevent.patch_psycopg() "
        "(+1 more stall(s) in call)")
    assert headline(OWN) == "hub stalled 150 ms (limit 100 ms) in your code at app/work.py:12"


def test_strict_failure_describes_every_stall() -> None:
    text = failure_text([DB, OWN], "setup")
    assert text.splitlines()[0] == ("patchcheck: the gevent hub stalled during setup "
                                    "(2 stall(s) over 100 ms)")
    assert "library: psycopg2-binary  at psycopg2/extras.py:236" in text
    assert "stall 150 ms (limit 100 ms, cpu-bound, CPU 140 ms)" in text
    assert report_section([DB]) == "\n".join(DB.describe())


def test_records_survive_the_trip_from_an_xdist_worker() -> None:
    assert StallRecord.from_json(json.loads(json.dumps(DB.to_json()))) == DB


def test_libraries_come_before_your_code_in_the_summary() -> None:
    assert [g.label for g in by_library([OWN, DB, DB])] == ["psycopg2-binary", "your code"]
    lines = summary_lines([OWN, DB])
    assert lines[0] == ("psycopg2-binary: 1 stall(s) in 1 test(s), worst 300 ms, "
                        "total 300 ms")
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
