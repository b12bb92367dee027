from __future__ import annotations

import dataclasses
import os
import pty
import re
import threading

import pytest

from patchcheck.model import DistributionResult, Outcome, ScanReport, Verdict
from patchcheck.reporters.table import ProgressDisplay, render_table

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def test_table_matches_golden(sample_report, golden):
    golden("table-100.txt", render_table(sample_report, color=False, width=100))


def test_narrow_table_matches_golden(sample_report, golden):
    golden("table-60.txt", render_table(sample_report, color=False, width=60))


def test_verbose_table_matches_golden(sample_report, golden):
    golden("table-100-verbose.txt",
           render_table(sample_report, color=False, width=100, verbose=True))


@pytest.mark.parametrize("width", [40, 60, 80, 100, 160])
def test_no_line_is_wider_than_the_terminal(sample_report, width):
    text = render_table(sample_report, color=False, width=width)
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert too_wide == []


def test_colour_is_only_ansi_decoration(sample_report):
    plain = render_table(sample_report, color=False, width=100)
    coloured = render_table(sample_report, color=True, width=100)
    assert "\x1b[" not in plain
    assert "\x1b[1;31mbreaks" in coloured  # breaks in bold red
    assert "\x1b[32mcooperates" in coloured
    # Removing the escape codes gives back the plain report exactly: colour never shifts
    # columns or changes words.
    assert ANSI.sub("", coloured) == plain


def test_rows_carry_the_key_evidence(sample_report):
    text = render_table(sample_report, color=False, width=120)
    rows = {line.split()[0]: line for line in text.splitlines()[2:10]}
    assert "stall 503 ms, ratio 2.9×" in rows["psycopg2-binary"]
    assert rows["grpcio"].endswith("LoopExit")
    assert "stale: redis.connection.socket" in rows["redis"]
    assert "native: zmq.backend.cython._zmq: connect, recv, send" in rows["pyzmq"]
    assert "memcached is not running" in rows["pymemcache"]
    assert re.search(r"uvloop\s+-\s+not-installed", rows["uvloop"])


def test_details_only_for_non_clean_distributions(sample_report):
    for verbose in (False, True):
        text = render_table(sample_report, color=False, width=200, verbose=verbose)
        details = text.split("\nDetails\n", 1)[1]
        heads = re.findall(r"^(\S+) (?:\S+ )?— (\S+)", details, flags=re.M)
        assert heads == [
            ("psycopg2-binary", "blocks"),
            ("grpcio", "breaks"),
            ("redis", "warns"),
            ("pyzmq", "warns"),
            ("pymemcache", "skipped"),
            ("uvloop", "not-installed"),
        ]
        assert "requests 2.32.3 —" not in details


def _section(text: str, head: str) -> list[str]:
    """The lines of one distribution's details, from its head to the blank line after it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(head))
    end = next(i for i in range(start, len(lines)) if not lines[i])
    return lines[start:end]


def test_default_details_are_one_screen_per_problem(sample_report):
    """Issue #15 item 10: after a measured ``blocks`` the measurement, the blocking frame,
    the remedy result and one line pointing at -v — not the native suspicion it settled."""
    text = render_table(sample_report, color=False, width=100)
    psycopg = "\n".join(_section(text, "psycopg2-binary 2.9.9 — blocks"))
    assert "hub stalled 503 ms while waiting (ratio 2.9× for 3 concurrent calls)" in psycopg
    assert "blocked at psycopg2/extensions.py:21 in execute:" in psycopg  # the innermost frame
    assert "pc_meter.py" not in psycopg and "(last 8 of 10 lines)" not in psycopg
    assert ("remedies measured (without one: blocks, stall 503 ms, ratio 2.9×):\n"
            "      cooperates with psycogreen.gevent.patch_psycopg() (stall 6 ms, ratio 1.0×)"
            in psycopg)
    # The native finding (a suspicion the probe measured) and the agreeing knowledge: -v.
    assert "PC141" not in psycopg.replace("more with -v: PC141", "")
    assert "native calls:" not in psycopg and "loads bundled" not in psycopg
    assert "known upstream:" not in psycopg
    assert psycopg.splitlines()[-1] == ("  more with -v: PC141, the full measurement, "
                                        "the full blocking stack, upstream notes")
    assert len(psycopg.splitlines()) <= 10
    # A traceback shows the library's frame that called into gevent's wait, not the hub's.
    grpc = "\n".join(_section(text, "grpcio 1.62.1 — breaks"))
    assert "raised at grpc/_channel.py:1155 in _blocking: event = call.next_event()" in grpc
    # Without a measurement the native suspicion is the evidence: shown.
    pyzmq = "\n".join(_section(text, "pyzmq 25.1.2 — warns"))
    assert "native calls: net: connect, recv, send" in pyzmq
    assert "known, not measured here:" in pyzmq  # no probe ran: the only word on it
    assert "more with -v" not in pyzmq


def test_verbose_details_keep_every_piece_of_evidence(sample_report):
    text = render_table(sample_report, color=False, width=200, verbose=True)
    details = text.split("\nDetails\n", 1)[1]
    # The blocking stack is cut to its innermost 8 lines.
    assert "(last 8 of 10 lines)" in details
    assert "pc_meter.py" in details and "greenlet.py" not in details
    assert "probe psycopg2.pg_sleep blocks: 3 × 300 ms waits took 870 ms" in details
    assert "PC141 psycopg2/_psycopg" in details and "native calls: net: connect" in details
    assert "cooperates with psycogreen.gevent.patch_psycopg() (stall 6 ms, ratio 1.0×)" in details
    assert "known upstream:" in details  # psycopg2: the measurement agrees with the entry
    assert "known, not measured here:" in details  # pyzmq: no probe ran
    assert "waived: psycogreen is applied in gunicorn.conf.py" in details
    assert "more with -v" not in details
    assert "controls: control.cooperating cooperates (stall 2 ms, ratio 1.0×)" in details


def test_controls_are_one_line_unless_one_failed(sample_report):
    text = render_table(sample_report, color=False, width=100)
    assert "meter checked: 2 controls ok\n" in text and "controls:" not in text
    wrong = dataclasses.replace(
        sample_report.controls[1],
        plain=dataclasses.replace(sample_report.controls[1].plain, outcome=Outcome.COOPERATES))
    failed = dataclasses.replace(sample_report, controls=(sample_report.controls[0], wrong))
    text = render_table(failed, color=False, width=200)
    assert "controls: control.cooperating cooperates (stall 2 ms, ratio 1.0×); " \
           "control.blocking cooperates" in text
    assert "meter checked" not in text


def test_ends_with_summary_and_environment(sample_report):
    lines = render_table(sample_report, color=False, width=200).splitlines()
    assert lines[-2] == (
        "8 distributions in 14.2 s: 1 breaks, 1 blocks, 2 warns, 1 untested, 1 skipped, "
        "1 not-installed, 1 cooperates"
    )
    assert lines[-1] == "measured on CPython 3.11.2, gevent 26.9.0, greenlet 3.2.4 (linux-x86_64)"


def test_problems_are_shown_apart_from_verdicts(sample_report):
    report = dataclasses.replace(
        sample_report,
        problems=(
            "control.blocking measured ratio 1.0× (expected ≥ 2): "
            "the machine is too loaded to trust",
        ),
    )
    text = render_table(report, color=False, width=100)
    assert "patchcheck problems (not library verdicts)" in text
    assert "  - control.blocking measured ratio 1.0×" in text


def test_empty_report(sample_report):
    report = ScanReport(environment=sample_report.environment, results=())
    text = render_table(report, color=False, width=80)
    assert text.startswith("no distributions scanned\n")
    assert "0 distributions" in text


def test_odd_evidence_never_crashes(sample_report):
    from patchcheck.model import Finding, Severity

    weird = DistributionResult(
        name="weird",
        version="0.0.1",
        verdict=Verdict.BREAKS,
        origin="<command line>",
        findings=(
            Finding(
                code="PC100",
                severity=Severity.BREAKS,
                check="import-after",
                summary="import failed",
                evidence={
                    "exception": "",
                    "traceback": "line1\n\tline2\x00",
                    "nested": {"a": [1, float("nan")]},
                    "stale": "not-a-list",
                    "symbols": [],
                    "stack": 42,
                },
            ),
        ),
    )
    report = dataclasses.replace(sample_report, results=(weird,))
    text = render_table(report, color=False, width=70)
    assert "weird 0.0.1 — breaks" in text
    assert "nested:" in text


# --- ProgressDisplay ----------------------------------------------------------------------


class _PtyReader:
    """The master side of a real pseudo-terminal, drained on a thread (a full pty buffer
    would block the writer)."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.stream = os.fdopen(self.slave, "w", encoding="utf-8", buffering=1)
        self.chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.chunks.append(data)

    def text(self) -> str:
        self.stream.close()
        self._thread.join(timeout=5)
        os.close(self.master)
        return b"".join(self.chunks).decode("utf-8")


def test_progress_is_silent_when_not_a_terminal(tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with open(tmp_path / "stderr.txt", "w", encoding="utf-8") as stream:
        progress = ProgressDisplay(3, stream=stream, verb="scanning")
        assert not progress.enabled
        progress.advance("redis")
        progress.close()
    assert (tmp_path / "stderr.txt").read_text() == ""


def test_progress_on_a_terminal_rewrites_one_line(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    reader = _PtyReader()
    progress = ProgressDisplay(40, stream=reader.stream, verb="scanning")
    assert progress.enabled
    progress.advance("requests")
    progress.advance("redis")
    progress.close()
    progress.close()  # idempotent
    progress.advance("late")  # after close: nothing
    out = reader.text()
    assert "[1/40] scanning requests…" in out
    assert "[2/40] scanning redis…" in out
    assert "\n" not in out.replace("\r\n", "")  # never a new line, only carriage returns
    assert out.endswith("\r\x1b[K")  # the line is erased for the report that follows
    assert "late" not in out


def test_progress_is_off_in_ci_even_on_a_terminal(monkeypatch):
    monkeypatch.setenv("CI", "true")
    reader = _PtyReader()
    progress = ProgressDisplay(2, stream=reader.stream)
    assert not progress.enabled
    progress.advance("redis")
    progress.close()
    assert reader.text() == ""


def test_progress_counts_every_advance_from_many_threads(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    reader = _PtyReader()
    progress = ProgressDisplay(stream=reader.stream)  # total unknown at first
    progress.set_total(8 * 25)

    def work(n: int) -> None:
        for i in range(25):
            progress.advance(f"dist-{n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    progress.close()
    out = reader.text()
    counts = [int(m) for m in re.findall(r"\[(\d+)/200\]", out)]
    # Every advance wrote exactly one whole update, in order, none lost or interleaved.
    assert counts == list(range(1, 201))


def test_progress_phases_count_again_and_say_what_they_wait_for(monkeypatch):
    from patchcheck.progress import ScanPhase

    monkeypatch.delenv("CI", raising=False)
    reader = _PtyReader()
    progress = ProgressDisplay(stream=reader.stream)
    progress.phase(ScanPhase.IMPORTS, total=2)
    progress.advance("redis")
    progress.advance("uvloop (not installed)")
    progress.phase(ScanPhase.SERVICES, detail="postgresql, redis")
    progress.interrupt()  # a note is printed: the line goes, the next update draws it again
    progress.phase(ScanPhase.PROBES, total=1)
    progress.advance("psycopg2-binary")
    progress.close()
    states = [s.replace("\x1b[K", "") for s in reader.text().split("\r")]
    assert [s for s in states if s] == [
        "[0/2] checking imports…", "[1/2] checking imports: redis…",
        "[2/2] checking imports: uvloop (not installed)…",
        "starting services: postgresql, redis…",
        "[0/1] measuring…", "[1/1] measuring: psycopg2-binary…"]


def test_remedies_of_several_probes_are_headed_by_their_probe(sample_report):
    psycopg = sample_report.results[1]
    second = dataclasses.replace(psycopg.probes[0], probe="psycopg2.copy")
    both = dataclasses.replace(psycopg, probes=(*psycopg.probes, second))
    text = render_table(dataclasses.replace(sample_report, results=(both,)), width=120)
    assert ("  remedies measured for psycopg2.pg_sleep (without one: blocks, stall 503 ms, "
            "ratio 2.9×):\n      cooperates with psycogreen") in text
    assert "  remedies measured for psycopg2.copy (without one: blocks" in text


def test_stdlib_row_names_its_problem_modules_and_says_a_hint_once(sample_report):
    from patchcheck.model import Measurement, ProbeOutcome
    from patchcheck.verdicts.fold import with_probes

    def probe(name: str, outcome: Outcome, gap: float) -> ProbeOutcome:
        return ProbeOutcome(probe=name, origin="builtin", plain=Measurement(
            outcome=outcome, wait_ms=300, concurrency=3, elapsed_ms=gap + 300, ratio=3.0,
            max_gap_ms=gap, cpu_ms=5))

    blank = DistributionResult(name="stdlib", version="3.11.7", verdict=Verdict.UNTESTED,
                               origin="<standard library>")
    stdlib = with_probes(blank, [probe("stdlib.os.read", Outcome.BLOCKS, 903),
                                 probe("stdlib.sqlite3.locked", Outcome.BLOCKS, 978),
                                 probe("stdlib.socket", Outcome.COOPERATES, 6),
                                 probe("stdlib.time.sleep", Outcome.COOPERATES, 4)])
    report = dataclasses.replace(sample_report, results=(stdlib,))
    default = render_table(report, width=100)
    assert "by module: os blocks, sqlite3 blocks, 2 more cooperate\n" in default
    assert default.count("hint: Every greenlet stops") == 1
    assert "PC204" not in default.replace("more with -v: PC204", "")
    verbose = render_table(report, width=100, verbose=True)
    assert "by module: os blocks, sqlite3 blocks, socket cooperates, time cooperates" in verbose
    assert verbose.count("hint: Every greenlet stops") == 2

    # Reported only because probes ran (not asked for): its modules, and where the rest is.
    implicit = dataclasses.replace(stdlib, implicit=True)
    text = render_table(dataclasses.replace(sample_report, results=(implicit,)), width=100)
    section = _section(text, "stdlib 3.11.7 — blocks")
    assert section[1:] == [
        "  by module: os blocks, sqlite3 blocks, 2 more cooperate",
        "  not failing this run (add 'stdlib' to the requirements for that); -v shows the "
        "evidence"]
    text = render_table(dataclasses.replace(sample_report, results=(implicit,)), width=100,
                        verbose=True)
    assert "PC200 stdlib.os.read" in text


def test_gevent_row_has_details_only_when_the_meter_is_in_doubt(sample_report):
    from patchcheck.model import Requirement
    from patchcheck.verdicts.fold import instrument_result

    req = Requirement(name="gevent", origin="requirements.txt:1")
    passed = instrument_result(req, "gevent", "26.9.0", sample_report.controls, True)
    report = dataclasses.replace(sample_report, results=(passed,))
    default = render_table(report, width=100)
    assert "Details" not in default and "PC003" not in default
    assert "gevent 26.9.0 — untested" in render_table(report, width=100, verbose=True)
    failed = instrument_result(req, "gevent", "26.9.0", sample_report.controls, False)
    default = render_table(dataclasses.replace(sample_report, results=(failed,)), width=100)
    assert "PC003" in default and "controls_ok: false" in default


@pytest.mark.parametrize("outcome, shown", [(Outcome.BLOCKS, False),
                                            (Outcome.INCONCLUSIVE, True)])
def test_a_native_suspicion_goes_under_v_only_after_a_real_measurement(sample_report, outcome,
                                                                        shown):
    from patchcheck.model import Measurement, ProbeOutcome
    from patchcheck.verdicts.fold import with_probes

    pyzmq = sample_report.results[4]
    assert any(f.code == "PC140" for f in pyzmq.findings)
    measured = with_probes(pyzmq, [ProbeOutcome(
        probe="pyzmq.req_rep", origin="builtin", plain=Measurement(
            outcome=outcome, wait_ms=300, concurrency=3, elapsed_ms=905, ratio=3.0,
            max_gap_ms=903, cpu_ms=4, error=None if outcome is Outcome.BLOCKS else
            "the call did not wait on the peer"))])
    text = render_table(dataclasses.replace(sample_report, results=(measured,)), width=100)
    assert ("native calls: net: connect, recv, send" in text) is shown
    assert ("more with -v: PC140" in text) is not shown


def test_the_blocking_frame_passes_over_gevent_and_frozen_importlib():
    from patchcheck.reporters._text import frame_line

    stack = [
        'File "/venv/lib/python3.11/site-packages/urllib3/connection.py", line 60, in connect',
        "    import ssl_helper",
        'File "<frozen importlib._bootstrap_external>", line 1131, in get_data',
        'File "/venv/lib/python3.11/site-packages/gevent/hub.py", line 9, in wait',
        "    return self.switch()",
    ]
    assert frame_line(stack) == "urllib3/connection.py:60 in connect: import ssl_helper"
    assert frame_line(stack[2:3]) == "<frozen importlib._bootstrap_external>:1131 in get_data"
    assert frame_line(["Fatal Python error: Segmentation fault"]) is None
