"""``scan --stalls``: the watchdog's report of a real test suite as evidence in the scan.

The suite runs for real (pytester, in a subprocess, patched and watched); the scan reads the
report it wrote and judges the library its tests stalled in.
"""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from pc_testutil import by_name, json_report, run_patchcheck
from pc_watch_testutil import WATCH

#: slowlib blocks only when called (it looks the original sleep up then, as a C driver blocks
#: inside its own code): it imports cleanly in either order, so a scan alone says "untested".
SLOWLIB = """\
def wait(seconds):
    from gevent.monkey import get_original

    get_original("time", "sleep")(seconds)
"""
SLOW_LINE = 4

SUITE = """
    import slowlib

    def test_quick_export():
        slowlib.wait(0.25)

    def test_slow_report():
        slowlib.wait(0.5)

    def test_nothing_blocks():
        pass
"""


@pytest.fixture
def suite_stalls(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The watchdog's report of a small real suite whose tests block in slowlib-dist."""
    site = pytester.mkdir("site")
    (site / "slowlib").mkdir()
    (site / "slowlib" / "__init__.py").write_text(SLOWLIB)
    info = site / "slowlib_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: slowlib-dist\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("slowlib\n")
    (info / "RECORD").write_text(textwrap.dedent("""\
        slowlib/__init__.py,,
        slowlib_dist-1.0.dist-info/METADATA,,
        slowlib_dist-1.0.dist-info/RECORD,,
        """))
    pytester.makeini("[pytest]\npythonpath = site\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    pytester.makepyfile(test_reports=SUITE)
    result = pytester.runpytest_subprocess(*WATCH, "--patchcheck-watch-report", "stalls.json")
    result.assert_outcomes(passed=3, warnings=2)
    return pytester.path / "stalls.json"


def _scan(cwd: Path, *args: str):
    return run_patchcheck("scan", "slowlib-dist", "--python", sys.executable, "--no-cache",
                          "--timeout", "30", *args, cwd=cwd,
                          env={"PYTHONPATH": str(cwd / "site")})


def test_the_suite_measures_a_library_no_probe_exercises(suite_stalls: Path) -> None:
    cwd = suite_stalls.parent
    before = _scan(cwd, "--format", "json")
    assert by_name(json_report(before))["slowlib-dist"]["verdict"] == "untested", before.stderr
    assert before.returncode == 0

    after = _scan(cwd, "--format", "json", "--stalls", "stalls.json")
    assert after.returncode == 1, after.stderr  # blocks is at the default --fail-on
    result = by_name(json_report(after))["slowlib-dist"]
    assert result["verdict"] == "blocks"
    (finding,) = [f for f in result["findings"] if f["code"] == "PC210"]
    evidence = finding["evidence"]
    assert evidence["stalls"] == 2
    assert evidence["worst_test"] == "test_reports.py::test_slow_report"
    assert evidence["worst_location"] == f"slowlib/__init__.py:{SLOW_LINE}"
    assert 450 <= evidence["worst_ms"] <= evidence["total_ms"]
    assert set(evidence["tests"]) == {"test_reports.py::test_slow_report",
                                      "test_reports.py::test_quick_export"}
    assert finding["summary"].startswith("blocked the hub 2 times in your test suite, worst ")
    assert finding["summary"].endswith(" ms: test_reports.py::test_slow_report")

    table = _scan(cwd, "--stalls", "stalls.json", "--format", "table")
    row = next(line for line in table.stdout.splitlines() if line.startswith("slowlib-dist"))
    assert "blocks" in row and "in your test suite" in row, table.stdout

    page = cwd / "report.html"
    _scan(cwd, "--stalls", "stalls.json", "--format", "markdown", "--report", f"html={page}")
    text = page.read_text(encoding="utf-8")
    assert "<h2>Your test suite</h2>" in text and "test_reports.py::test_slow_report" in text


def test_a_malformed_stalls_file_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "stalls.json"
    bad.write_text('{"schema": "patchcheck.watch/1",\n "stalls": [}\n')
    proc = run_patchcheck("scan", "attrs", "--stalls", str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == (
        f"patchcheck: error: {bad}:2:13: stalls file is not valid JSON: Expecting value")
    assert "Traceback" not in proc.stderr

    bad.write_text(json.dumps({"schema": "patchcheck.watch/1", "stalls": [{"library": "x"}]}))
    proc = run_patchcheck("scan", "attrs", "--stalls", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"patchcheck: error: {bad}: stall 1 is malformed: ")

    proc = run_patchcheck("scan", "attrs", "--stalls", str(tmp_path / "nope.json"),
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"patchcheck: error: --stalls {tmp_path / 'nope.json'}: ")
