"""Baselines: the document, atomic writing, loading errors, compare and gate."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from patchcheck.errors import ConfigError, UsageError
from patchcheck.exitcode import ExitCode
from patchcheck.model import (
    DistributionResult,
    Environment,
    Finding,
    ScanReport,
    Severity,
    Verdict,
)
from patchcheck.verdicts.baseline import (
    BASELINE_SCHEMA,
    Baseline,
    BaselineDiff,
    BaselineEntry,
    VerdictChange,
    compare,
    gate,
    load_baseline,
    write_baseline,
)

ENV = Environment("/usr/bin/python3", "3.11.7", "CPython", "linux", "26.9.0", "3.2.4",
                  {"thread": False})


def f(code: str, severity: Severity, waived: str | None = None) -> Finding:
    return Finding(code=code, severity=severity, check="c", summary=code, waived=waived)


def res(
    name: str, verdict: Verdict, *findings: Finding, version: str = "1.0"
) -> DistributionResult:
    return DistributionResult(name=name, verdict=verdict, version=version, findings=findings)


def rep(*results: DistributionResult, problems: tuple[str, ...] = ()) -> ScanReport:
    return ScanReport(environment=ENV, results=results, problems=problems)


TODAY = rep(
    res("PyCurl", Verdict.BLOCKS, f("PC200", Severity.BLOCKS), f("PC140", Severity.WARNING),
        f("PC140", Severity.WARNING), version="7.45.3"),
    res("grpcio", Verdict.WARNS, f("PC130", Severity.WARNING),
        f("PC110", Severity.WARNING, waived="known")),
    res("requests", Verdict.COOPERATES),
)


# --- writing and reading -----------------------------------------------------------------


def test_document_shape(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    write_baseline(TODAY, path)
    text = path.read_text()
    assert text.endswith("}\n")
    data = json.loads(text)
    assert data["schema"] == BASELINE_SCHEMA
    assert data["environment"] == {
        "python_version": "3.11.7", "implementation": "CPython", "gevent_version": "26.9.0",
        "greenlet_version": "3.2.4", "patch_args": {"thread": False},
    }
    assert data["distributions"] == {
        "grpcio": {"name": "grpcio", "version": "1.0", "verdict": "warns",
                   "findings": ["PC130"]},  # the waived PC110 is not recorded
        "pycurl": {"name": "PyCurl", "version": "7.45.3", "verdict": "blocks",
                   "findings": ["PC140", "PC200"]},
        "requests": {"name": "requests", "version": "1.0", "verdict": "cooperates",
                     "findings": []},
    }
    # the same report writes the same bytes (stable diffs in review)
    write_baseline(TODAY, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == text


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "baseline.json"  # folders are created
    write_baseline(TODAY, path)
    b = load_baseline(path)
    assert b.path == path
    assert b.get("pycurl") == BaselineEntry("PyCurl", "7.45.3", Verdict.BLOCKS,
                                            frozenset({"PC140", "PC200"}))
    assert b.get("PYCURL") == b.get("pycurl")
    assert b.environment["gevent_version"] == "26.9.0"
    assert compare(TODAY, b).unchanged
    assert [p.name for p in path.parent.iterdir()] == ["baseline.json"]  # no temp files left


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else False,
                    reason="root ignores directory permissions")
def test_write_failure_keeps_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "ro" / "baseline.json"
    path.parent.mkdir()
    path.write_text("precious")
    path.parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(UsageError) as info:
            write_baseline(TODAY, path)
        assert info.value.message == f"cannot write baseline {path}: Permission denied"
    finally:
        path.parent.chmod(stat.S_IRWXU)
    assert path.read_text() == "precious"


def test_write_failure_midway_keeps_existing_file(tmp_path: Path) -> None:
    # Works as root too: the baseline path is a directory, so the final rename fails after
    # the temporary file was written; the temporary file must be cleaned up.
    path = tmp_path / "baseline.json"
    path.mkdir()
    (path / "keep").write_text("precious")
    with pytest.raises(UsageError) as info:
        write_baseline(TODAY, path)
    assert info.value.message.startswith(f"cannot write baseline {path}: ")
    assert (path / "keep").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("{\n  \"schema\": ", "{path}:2:13: baseline is not valid JSON: Expecting value"),
        ('{"schema": "patchcheck.report/1"}',
         "{path}: not a patchcheck baseline (schema 'patchcheck.report/1', expected"
         " 'patchcheck.baseline/1')"),
        ("[]", "{path}: not a patchcheck baseline (schema None, expected 'patchcheck.baseline/1')"),
        ('{"schema": "patchcheck.baseline/1"}',
         "{path}: baseline 'distributions' must be an object"),
        ('{"schema": "patchcheck.baseline/1", "distributions": {"a": {"verdict": "meh"}}}',
         "{path}: baseline entry 'a' is malformed: {\"verdict\": \"meh\"}"),
        ('{"schema": "patchcheck.baseline/1", "distributions": {"a": {"verdict": "warns",'
         ' "findings": "PC1"}}}',
         "{path}: baseline entry 'a' is malformed: {\"verdict\": \"warns\", \"findings\":"
         " \"PC1\"}"),
        ('{"schema": "patchcheck.baseline/1", "distributions": {"a": 3}}',
         "{path}: baseline entry 'a' is malformed: 3"),
    ],
)
def test_load_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_baseline(path)
    assert info.value.message == message.replace("{path}", str(path))
    assert info.value.exit_code == 2


def test_load_missing(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as info:
        load_baseline(path)
    assert info.value.message == f"baseline {path} does not exist"
    assert info.value.hint == (
        f"write one first with: patchcheck scan ... --baseline {path} --update-baseline")


def test_load_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError) as info:
        load_baseline(path)
    assert info.value.message.startswith(f"cannot read baseline {path}: ")


# --- compare --------------------------------------------------------------------------------


def baseline_of(report: ScanReport, tmp_path: Path) -> Baseline:
    write_baseline(report, tmp_path / "b.json")
    return load_baseline(tmp_path / "b.json")


def test_compare_everything(tmp_path: Path) -> None:
    base = baseline_of(TODAY, tmp_path)
    later = rep(
        # PC200 fixed, PC141 new, verdict better
        res("pycurl", Verdict.WARNS, f("PC140", Severity.WARNING), f("PC141", Severity.WARNING)),
        # worse, PC100 new
        res("grpcio", Verdict.BREAKS, f("PC130", Severity.WARNING), f("PC100", Severity.BREAKS)),
        # requests removed; redis new
        res("redis", Verdict.COOPERATES),
    )
    assert compare(later, base) == BaselineDiff(
        new_findings=(("pycurl", "PC141"), ("grpcio", "PC100")),
        fixed_findings=(("pycurl", "PC200"),),
        worse=(VerdictChange("grpcio", Verdict.WARNS, Verdict.BREAKS),),
        better=(VerdictChange("pycurl", Verdict.BLOCKS, Verdict.WARNS),),
        new_distributions=("redis",),
        removed_distributions=("requests",),
    )


def test_waived_findings_are_neither_new_nor_kept(tmp_path: Path) -> None:
    base = baseline_of(TODAY, tmp_path)
    later = rep(
        res("PyCurl", Verdict.WARNS, f("PC200", Severity.BLOCKS, waived="ok"),
            f("PC140", Severity.WARNING), version="7.45.3"),
        TODAY.results[1], TODAY.results[2],
    )
    diff = compare(later, base)
    assert diff.new_findings == ()
    assert diff.fixed_findings == (("PyCurl", "PC200"),)


# --- gate -------------------------------------------------------------------------------------


def test_gate_passes_known_problems(tmp_path: Path) -> None:
    base = baseline_of(TODAY, tmp_path)
    assert gate(TODAY, base, "warns") == ExitCode.OK
    assert gate(TODAY, base, "untested") == ExitCode.OK


def test_gate_fails_on_worse_verdict(tmp_path: Path) -> None:
    base = baseline_of(TODAY, tmp_path)
    later = rep(res("grpcio", Verdict.BLOCKS, f("PC130", Severity.WARNING)))
    assert gate(later, base, "blocks") == ExitCode.FINDINGS
    assert gate(later, base, "breaks") == ExitCode.OK


def test_gate_fails_on_new_finding_at_level(tmp_path: Path) -> None:
    base = baseline_of(TODAY, tmp_path)
    # same verdict, new BLOCKS finding
    later = rep(res("pycurl", Verdict.BLOCKS, f("PC200", Severity.BLOCKS),
                    f("PC201", Severity.BLOCKS)))
    assert gate(later, base, "blocks") == ExitCode.FINDINGS
    # a new finding below the level does not fail, even in a failing distribution
    later = rep(res("pycurl", Verdict.BLOCKS, f("PC200", Severity.BLOCKS),
                    f("PC131", Severity.WARNING)))
    assert gate(later, base, "blocks") == ExitCode.OK
    assert gate(later, base, "warns") == ExitCode.FINDINGS
    # ... unless waived
    later = rep(res("pycurl", Verdict.BLOCKS, f("PC200", Severity.BLOCKS),
                    f("PC131", Severity.WARNING, waived="fine")))
    assert gate(later, base, "warns") == ExitCode.OK


def test_gate_fails_on_new_distribution_at_level(tmp_path: Path) -> None:
    base = baseline_of(TODAY, tmp_path)
    assert gate(rep(res("zmq", Verdict.BLOCKS)), base, "blocks") == ExitCode.FINDINGS
    assert gate(rep(res("zmq", Verdict.WARNS)), base, "blocks") == ExitCode.OK
    assert gate(rep(res("zmq", Verdict.COOPERATES)), base, "untested") == ExitCode.OK


def test_gate_problems_and_better(tmp_path: Path) -> None:
    base = baseline_of(TODAY, tmp_path)
    assert gate(rep(problems=("hub control failed",)), base, "never") == ExitCode.INTERNAL_ERROR
    better = rep(res("pycurl", Verdict.COOPERATES))
    assert gate(better, base, "untested") == ExitCode.OK
