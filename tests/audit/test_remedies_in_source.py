"""Remedies the project's source already applies (issue #15.6): Locust imports ``zmq.green as
zmq``, so pyzmq's plain ``blocks`` is not its problem. The real case scans a small project
(pyproject.toml + ``pkg/rpc.py``) with the real pyzmq probe; the pure cases run the step on
in-memory reports."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from pc_testutil import by_name, json_report, run_patchcheck

from patchcheck.exitcode import ExitCode
from patchcheck.knowledge import builtin_entries
from patchcheck.model import (
    DistributionResult,
    Environment,
    Measurement,
    Outcome,
    ProbeOutcome,
    ScanReport,
    Verdict,
)
from patchcheck.sources.project_source import Occurrence
from patchcheck.verdicts.applied import apply_source_remedies
from patchcheck.verdicts.fold import with_probes

PROJECT = Path(__file__).parent / "projects" / "zmq_green_app"
ENV = Environment(python="/venv/bin/python", python_version="3.11.7", implementation="CPython",
                  platform="linux-x86_64", gevent_version="24.2.1", greenlet_version="3.0.3")
GREEN = "import zmq.green as zmq"


@pytest.mark.skipif(not importlib.util.find_spec("zmq"), reason="needs pyzmq installed")
def test_a_project_importing_zmq_green_passes_on_the_measured_remedy(tmp_path) -> None:
    project = tmp_path / "app"
    shutil.copytree(PROJECT, project)
    proc = run_patchcheck("scan", "pyproject.toml", "--format", "json", "--no-cache",
                          cwd=project)
    assert proc.returncode == ExitCode.OK, proc.stderr
    pyzmq = by_name(json_report(proc))["pyzmq"]
    [applied] = [f for f in pyzmq["findings"] if f["code"] == "PC208"]
    assert applied["evidence"] == {"remedy": GREEN, "pattern": "import:zmq.green",
                                   "file": "pkg/rpc.py", "line": 3, "probe": "pyzmq.req_rep",
                                   "outcome": "cooperates"}
    blocking = [f for f in pyzmq["findings"] if f["code"] == "PC200"]
    assert blocking and all(f["waived"] == "remedy applied at pkg/rpc.py:3 (measured: "
                                           "cooperates)" for f in blocking)
    assert pyzmq["verdict"] not in ("blocks", "breaks")

    table = run_patchcheck("scan", "pyproject.toml", cwd=project)
    assert table.returncode == ExitCode.OK, table.stderr
    assert "remedy applied at pkg/rpc.py:3 (measured: cooperates)" in table.stdout

    # The same requirements without the project's source: the plain measurement fails the run.
    (tmp_path / "requirements.txt").write_text("pyzmq\n")
    plain = run_patchcheck("scan", "requirements.txt", cwd=tmp_path)
    assert plain.returncode == ExitCode.FINDINGS, plain.stdout
    # --source names the folder explicitly.
    given = run_patchcheck("scan", "requirements.txt", "--source", str(project), cwd=tmp_path)
    assert given.returncode == ExitCode.OK, given.stdout


def _pyzmq(remedy_outcome: Outcome) -> DistributionResult:
    probe = ProbeOutcome(
        probe="pyzmq.req_rep", origin="builtin",
        plain=Measurement(outcome=Outcome.BLOCKS, wait_ms=300, concurrency=3, ratio=3.0),
        remedies=(Measurement(outcome=remedy_outcome, remedy=GREEN, ratio=1.0),))
    base = DistributionResult(name="pyzmq", version="27.0.0", verdict=Verdict.UNTESTED)
    return with_probes(base, [probe])


def _apply(result: DistributionResult, found: list[Occurrence]) -> DistributionResult:
    report = ScanReport(environment=ENV, results=(result,))
    return apply_source_remedies(report, builtin_entries(), found).results[0]


def test_a_cooperating_remedy_waives_the_plain_measurement() -> None:
    before = _pyzmq(Outcome.COOPERATES)
    assert before.verdict is Verdict.BLOCKS
    after = _apply(before, [Occurrence("import:zmq.green", "pkg/rpc.py", 3)])
    assert after.verdict is Verdict.COOPERATES
    assert [f.summary for f in after.findings if f.code == "PC208"] == [
        f"remedy applied at pkg/rpc.py:3 (measured: cooperates): {GREEN}"]


def test_a_remedy_that_did_not_help_waives_nothing() -> None:
    after = _apply(_pyzmq(Outcome.BLOCKS), [Occurrence("import:zmq.green", "pkg/rpc.py", 3)])
    assert after.verdict is Verdict.BLOCKS
    assert not any(f.waived for f in after.findings)
    assert [f.evidence.outcome for f in after.findings if f.code == "PC208"] == ["blocks"]


def test_no_occurrence_or_another_distribution_leaves_the_result_alone() -> None:
    result = _pyzmq(Outcome.COOPERATES)
    assert _apply(result, []) == result
    assert _apply(result, [Occurrence("call:psycogreen.gevent.patch_psycopg", "a.py", 1)]) \
        == result
