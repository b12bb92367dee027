"""The watchdog over a gevent-patched suite: warn, strict, markers, attribution, reports."""
from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET

import pytest
from pc_watch_testutil import BLOCK_LINE, WATCH

TESTS = """
    import gevent, pytest, blocklib, patchcheck

    def test_blocks():
        blocklib.wait(0.3)

    @pytest.mark.patchcheck(max_block_ms=5000)
    def test_blocks_within_its_limit():
        blocklib.wait(0.3)

    @pytest.mark.patchcheck(allow_blocking=True)
    def test_opted_out():
        blocklib.wait(0.3)

    def test_cooperates():
        for _ in range(3):
            gevent.sleep(0.1)

    def test_fixture_names_the_library(patchcheck_cooperative):
        with pytest.raises(patchcheck.NotCooperative) as info:
            with patchcheck_cooperative(max_block_ms=50):
                blocklib.wait(0.3)
        assert isinstance(info.value, AssertionError)
        stall = info.value.worst
        assert stall.library == "blocklib-dist", str(info.value)
        assert stall.location == "blocklib/__init__.py:%d"
        assert stall.duration_ms >= 250
        assert 'blocklib/__init__.py", line %d, in wait' in str(info.value)

    def test_cooperative_block_passes(patchcheck_cooperative):
        with patchcheck_cooperative(max_block_ms=50) as block:
            gevent.sleep(0.2)
        assert block.stalls == []
""".replace("%d", str(BLOCK_LINE))


def test_warn_mode_names_the_distribution_and_writes_reports(
        blocklib: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    (blocklib.path / "site" / "earlylib.py").write_text("from socket import socket\n")
    monkeypatch.setenv("PYTHONPATH", str(blocklib.path / "site"))
    blocklib.makepyfile(TESTS)
    result = blocklib.runpytest_subprocess(
        *WATCH, "-p", "earlylib", "--patchcheck-watch-report", "stalls.json",
        "--junitxml", "junit.xml")
    result.assert_outcomes(passed=6, warnings=2)
    result.stdout.fnmatch_lines([
        "patchcheck: gevent patched by --patchcheck-patch*",
        "patchcheck: stale reference (stays blocking): *",
        "patchcheck: watching hub stalls over 100 ms, warn, stacks from the gevent monitor*",
    ])
    result.stdout.fnmatch_lines([
        f"*HubStallWarning: hub stalled * ms (limit 100 ms, waiting) in blocklib-dist at "
        f"blocklib/__init__.py:{BLOCK_LINE}*",
        "*patchcheck: hub stalls by library*",
        "blocklib-dist: 2 stall(s) in 2 test(s), worst * ms, total * ms, waiting",
        f"    at blocklib/__init__.py:{BLOCK_LINE}",
        "    - test_warn_mode_names_the_distribution_and_writes_reports.py::test_blocks",
    ])
    doc = json.loads((blocklib.path / "stalls.json").read_text())
    assert doc["schema"] == "patchcheck.watch/1"
    assert "earlylib.socket → socket.socket" in doc["patching"]["stale"]
    assert "earlylib" in doc["patching"]["early_libraries"]
    tests = {s["test"].split("::")[1] for s in doc["stalls"]}
    assert tests == {"test_blocks", "test_fixture_names_the_library"}
    first = next(s for s in doc["stalls"] if s["test"].endswith("::test_blocks"))
    assert first["library"] == "blocklib-dist" and first["phase"] == "call"
    assert 250 <= first["duration_ms"] and first["kind"] == "waiting"
    assert first["stack"][-1]["file"].endswith("blocklib/__init__.py")
    assert [g["library"] for g in doc["by_library"]] == ["blocklib-dist"]
    suite = ET.parse(blocklib.path / "junit.xml").getroot()
    assert not list(suite.iter("failure"))


def test_strict_fails_the_test_with_the_evidence_marker_over_cli(
        blocklib: pytest.Pytester) -> None:
    blocklib.makepyfile("""
        import pytest, blocklib

        @pytest.fixture
        def slow_fixture():
            blocklib.wait(0.3)
            yield

        def test_within_cli_limit():
            blocklib.wait(0.3)

        @pytest.mark.patchcheck(max_block_ms=50)
        def test_marker_wins():
            blocklib.wait(0.3)

        @pytest.mark.patchcheck(max_block_ms=50)
        def test_setup_stall(slow_fixture):
            pass
        """)
    result = blocklib.runpytest_subprocess(*WATCH, "--patchcheck-strict",
                                           "--patchcheck-max-block-ms", "5000",
                                           "--junitxml", "junit.xml")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*_ test_marker_wins _*",
        "patchcheck: the gevent hub stalled during call (1 stall(s) over 50 ms)",
        "stall * ms (limit 50 ms, waiting, CPU * ms*)",  # (+ time queued for a CPU, if any)
        f"library: blocklib-dist  at blocklib/__init__.py:{BLOCK_LINE}",
        "stack (innermost last):",
        "*in test_marker_wins",
        f'  File "*blocklib/__init__.py", line {BLOCK_LINE}, in wait',
        "    _sleep(seconds)",
    ])
    result.stdout.fnmatch_lines(["*ERROR at setup of test_setup_stall*",
                                 "patchcheck: the gevent hub stalled during setup*"])
    failure = next(ET.parse(blocklib.path / "junit.xml").getroot().iter("failure"))
    assert "blocklib-dist" in failure.get("message", "")


def test_xdist_workers_watch_and_the_controller_summarises(blocklib: pytest.Pytester) -> None:
    blocklib.makeini("""
        [pytest]
        pythonpath = site
        patchcheck_patch = true
        patchcheck_watch = true
        patchcheck_strict = true
        patchcheck_max_block_ms = 100
        patchcheck_watch_report = out/stalls.json
        """)
    blocklib.makepyfile("""
        import pytest, blocklib, gevent

        @pytest.mark.parametrize("n", range(4))
        def test_blocks(n):
            blocklib.wait(0.2)

        @pytest.mark.parametrize("n", range(2))
        def test_cooperates(n):
            gevent.sleep(0.2)
        """)
    result = blocklib.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=2, failed=4)
    result.stdout.fnmatch_lines(["*patchcheck: hub stalls by library*",
                                 "blocklib-dist: 4 stall(s) in 4 test(s)*"])
    doc = json.loads((blocklib.path / "out" / "stalls.json").read_text())
    assert sorted(s["test"].split("::")[1] for s in doc["stalls"]) == [
        f"test_blocks[{n}]" for n in range(4)]
    assert {s["library"] for s in doc["stalls"]} == {"blocklib-dist"}
    assert {s["worker"] for s in doc["stalls"]} <= {"gw0", "gw1"}
    assert doc["settings"]["strict"] is True


def test_a_stall_gevents_monitor_does_not_report_is_still_attributed(
        blocklib: pytest.Pytester) -> None:
    # Greenlets that switch among themselves without yielding to the hub reset gevent's
    # monitor check at every switch: the backup sampler takes the stack.
    (blocklib.path / "site" / "blocklib" / "switching.py").write_text(textwrap.dedent("""\
        import greenlet
        from gevent.monkey import get_original

        _sleep = get_original("time", "sleep")


        def wait(seconds):
            caller = greenlet.getcurrent()

            def partner():
                while True:
                    _sleep(0.02)
                    caller.switch()

            other = greenlet.greenlet(partner)
            for _ in range(int(seconds / 0.04)):
                other.switch()
                _sleep(0.02)
            other.throw(greenlet.GreenletExit)
        """))
    blocklib.makepyfile("""
        import blocklib.switching

        def test_switches():
            blocklib.switching.wait(0.4)
        """)
    result = blocklib.runpytest_subprocess(*WATCH, "--patchcheck-watch-report", "stalls.json")
    result.assert_outcomes(passed=1, warnings=1)
    doc = json.loads((blocklib.path / "stalls.json").read_text())
    (stall,) = doc["stalls"]
    assert stall["library"] == "blocklib-dist", stall
    assert stall["source"] == "sampling sys._current_frames()", stall
    assert stall["stack"][-1]["file"].endswith("blocklib/switching.py"), stall
