"""Waivers: parsing (messages asserted exactly) and applying them to a report."""
from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from patchcheck.config import load_settings, parse_waivers
from patchcheck.errors import ConfigError
from patchcheck.model import (
    DistributionResult,
    Environment,
    Finding,
    Measurement,
    ProbeOutcome,
    ScanReport,
    Severity,
    Verdict,
)
from patchcheck.verdicts.policy import effective_verdict
from patchcheck.verdicts.waivers import Waiver, apply_waivers

TODAY = dt.date(2026, 6, 1)
ENV = Environment("/usr/bin/python3", "3.11.7", "CPython", "linux", "26.9.0", "3.2.4")


def finding(code: str, severity: Severity, check: str = "native") -> Finding:
    return Finding(code=code, severity=severity, check=check, summary=f"{code} happened")


def probe(outcome: str) -> ProbeOutcome:
    return ProbeOutcome(probe="x.wait", origin="builtin", plain=Measurement(outcome=outcome))


def result(name: str, verdict: Verdict, *findings: Finding, probes=()) -> DistributionResult:
    return DistributionResult(name=name, verdict=verdict, version="1.0",
                              findings=tuple(findings), probes=tuple(probes))


def report(*results: DistributionResult) -> ScanReport:
    return ScanReport(environment=ENV, results=tuple(results))


# --- parsing ---------------------------------------------------------------------------------


def test_parse_minimal_and_full() -> None:
    waivers = parse_waivers(
        [
            {"distribution": "pycurl", "reason": "export job only"},
            {"distribution": "PyMySQL", "codes": ["pc120", "PC110"], "reason": " ok ",
             "expires": dt.date(2027, 1, 31)},
            {"distribution": "grpcio", "codes": "PC130", "reason": "r", "expires": "2027-02-01"},
            {"distribution": "x", "reason": "r",
             "expires": dt.datetime(2027, 3, 1, 12, 0)},
        ],
        "test",
    )
    assert waivers == [
        Waiver("pycurl", "export job only", (), None, "test"),
        Waiver("PyMySQL", "ok", ("PC120", "PC110"), dt.date(2027, 1, 31), "test"),
        Waiver("grpcio", "r", ("PC130",), dt.date(2027, 2, 1), "test"),
        Waiver("x", "r", (), dt.date(2027, 3, 1), "test"),
    ]
    assert waivers[1].key == "pymysql"
    assert waivers[1].describe() == "PyMySQL (PC120, PC110)"


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"distribution": "pycurl"},
         "test: [[waivers]] #1: missing required key 'reason'"),
        ({"reason": "because"},
         "test: [[waivers]] #1: missing required key 'distribution'"),
        ({"distribution": "pycurl", "reason": "  "},
         "test: [[waivers]] #1 reason = '  ': expected a non-empty string"),
        ({"distribution": "pycurl", "reason": "r", "expires": "next year"},
         "test: [[waivers]] #1 expires = 'next year': expected a date such as 2027-01-31"),
        ({"distribution": "pycurl", "reason": "r", "expires": 20270131},
         "test: [[waivers]] #1 expires = 20270131: expected a date such as 2027-01-31"),
        ({"distribution": "pycurl", "reason": "r", "code": ["PC140"]},
         "test: [[waivers]] #1 code = ['PC140']: unknown key; expected one of distribution,"
         " codes, reason, expires"),
        ({"distribution": "pycurl", "reason": "r", "codes": [140]},
         "test: [[waivers]] #1 codes = [140]: expected a list of finding codes such as"
         ' ["PC140"]'),
    ],
)
def test_parse_errors(entry: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_waivers([entry], "test")
    assert info.value.message == message


def test_parse_not_a_list() -> None:
    with pytest.raises(ConfigError) as info:
        parse_waivers({"distribution": "x"}, "test")
    assert info.value.message == "test: waivers = {'distribution': 'x'}: expected a list of tables"


def test_errors_from_a_file_name_the_line_of_the_entry(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""\
        [tool.patchcheck]
        fail-on = "warns"

        [[tool.patchcheck.waivers]]
        distribution = "pycurl"
        reason = "export job only"

        [[tool.patchcheck.waivers]]
        distribution = "grpcio"
        codes = ["PC130"]
        reason = "pinned, tracked in OPS-12"
        expires = "31/01/2027"
        """))
    with pytest.raises(ConfigError) as info:
        load_settings({}, {}, tmp_path)
    assert info.value.message == (
        "pyproject.toml:12: [[tool.patchcheck.waivers]] #2 expires = '31/01/2027': expected a"
        " date such as 2027-01-31"
    )
    text = (tmp_path / "pyproject.toml").read_text().replace('expires = "31/01/2027"\n', "")
    (tmp_path / "pyproject.toml").write_text(text.replace('reason = "export job only"\n', ""))
    with pytest.raises(ConfigError) as info:
        load_settings({}, {}, tmp_path)
    assert info.value.message == (
        "pyproject.toml:4: [[tool.patchcheck.waivers]] #1: missing required key 'reason'"
    )


def test_inline_waivers_array_points_at_the_key(tmp_path: Path) -> None:
    (tmp_path / "patchcheck.toml").write_text(
        'jobs = 1\nwaivers = [{distribution = "a", reason = "r", expire = 2027-01-01}]\n'
    )
    with pytest.raises(ConfigError) as info:
        load_settings({}, {}, tmp_path)
    assert info.value.message == (
        "patchcheck.toml:2: [[waivers]] #1 expire = 2027-01-01: unknown key;"
        " expected one of distribution, codes, reason, expires"
    )


# --- applying ----------------------------------------------------------------------------------


def test_code_waiver_marks_finding_and_recomputes_verdict() -> None:
    r = report(
        result("pycurl", Verdict.BLOCKS,
               finding("PC200", Severity.BLOCKS, "probe:pycurl.get"),
               finding("PC140", Severity.WARNING)),
        result("requests", Verdict.COOPERATES, probes=[probe("cooperates")]),
    )
    w = Waiver("pycurl", "only in the export job", ("PC200",), dt.date(2026, 6, 1))
    new, notes = apply_waivers(r, [w], TODAY)  # the expiry day itself still counts
    pycurl = new.results[0]
    assert [f.waived for f in pycurl.findings] == ["only in the export job", None]
    assert pycurl.verdict == Verdict.WARNS
    assert new.results[1] is r.results[1]  # untouched
    assert notes == []
    assert r.results[0].verdict == Verdict.BLOCKS  # the input report is not modified


def test_distribution_waiver_waives_everything() -> None:
    r = report(result("PyCurl", Verdict.BREAKS,
                      finding("PC100", Severity.BREAKS, "import-after"),
                      finding("PC140", Severity.WARNING)))
    new, notes = apply_waivers(r, [Waiver("pycurl", "legacy")], TODAY)
    assert all(f.waived == "legacy" for f in new.results[0].findings)
    assert new.results[0].verdict == Verdict.UNTESTED
    assert notes == []


def test_all_waived_falls_back_to_what_probes_measured() -> None:
    coop = result("a", Verdict.WARNS, finding("PC130", Severity.WARNING),
                  probes=[probe("cooperates")])
    skipped = result("b", Verdict.WARNS, finding("PC130", Severity.WARNING),
                     probes=[probe("skipped")])
    new, _ = apply_waivers(report(coop, skipped), [Waiver("a", "r"), Waiver("b", "r")], TODAY)
    assert [x.verdict for x in new.results] == [Verdict.COOPERATES, Verdict.SKIPPED]


def test_info_findings_do_not_count() -> None:
    r = report(result("a", Verdict.BLOCKS, finding("PC200", Severity.BLOCKS),
                      finding("PC204", Severity.INFO), probes=[probe("blocks")]))
    new, _ = apply_waivers(r, [Waiver("a", "r", ("PC200",))], TODAY)
    assert new.results[0].verdict == Verdict.UNTESTED


def test_first_matching_waiver_gives_the_reason() -> None:
    r = report(result("a", Verdict.WARNS, finding("PC130", Severity.WARNING)))
    new, notes = apply_waivers(r, [Waiver("a", "first", ("PC130",)), Waiver("a", "second")], TODAY)
    assert new.results[0].findings[0].waived == "first"
    assert notes == [
        "waiver for a matched no finding; remove it if the problem is fixed [<waiver>]"
    ]


def test_expired_waiver_stops_waiving_and_leaves_a_note() -> None:
    r = report(result("pycurl", Verdict.BLOCKS, finding("PC200", Severity.BLOCKS)))
    w = Waiver("pycurl", "export job only", ("PC200",), dt.date(2026, 1, 31),
               origin="pyproject.toml:20")
    new, notes = apply_waivers(r, [w], TODAY)
    assert new.results[0].verdict == Verdict.BLOCKS
    assert new.results[0].findings[0].waived is None
    assert notes == [
        "waiver for pycurl (PC200) expired on 2026-01-31 (reason: export job only); its"
        " findings count again [pyproject.toml:20]"
    ]


def test_unused_waiver_note_only_for_scanned_distributions() -> None:
    r = report(result("a", Verdict.COOPERATES))
    _, notes = apply_waivers(r, [Waiver("a", "r", ("PC999",)), Waiver("not-scanned", "r")], TODAY)
    assert notes == [
        "waiver for a (PC999) matched no finding; remove it if the problem is fixed [<waiver>]"
    ]


def test_already_waived_findings_keep_their_reason() -> None:
    f = Finding("PC130", Severity.WARNING, "threads", "s", waived="earlier")
    r = report(result("a", Verdict.COOPERATES, f))
    new, _ = apply_waivers(r, [Waiver("a", "later")], TODAY)
    assert new.results[0].findings[0].waived == "earlier"


def test_effective_verdict_keeps_verdicts_not_from_findings() -> None:
    assert effective_verdict(result("a", Verdict.NOT_INSTALLED)) == Verdict.NOT_INSTALLED
    assert effective_verdict(result("a", Verdict.SKIPPED)) == Verdict.SKIPPED
    assert effective_verdict(result("a", Verdict.COOPERATES)) == Verdict.COOPERATES
    assert effective_verdict(
        result("a", Verdict.COOPERATES, finding("PC130", Severity.WARNING))
    ) == Verdict.WARNS


def test_effective_verdict_agrees_with_fold() -> None:
    fold = pytest.importorskip("patchcheck.verdicts.fold")
    cases = [
        ([finding("PC200", Severity.BLOCKS), finding("PC140", Severity.WARNING)],
         [probe("blocks")]),
        ([finding("PC100", Severity.BREAKS)], []),
        ([finding("PC130", Severity.WARNING)], [probe("cooperates")]),
        ([finding("PC204", Severity.INFO)], [probe("cooperates")]),
        ([finding("PC205", Severity.INFO)], [probe("skipped")]),
        ([], []),
    ]
    for findings, probes in cases:
        for waive in (False, True):
            fs = [Finding(f.code, f.severity, f.check, f.summary,
                          waived="w" if waive and f.severity > Severity.INFO else None)
                  for f in findings]
            expected, _ = fold.fold_verdict(fs, installed=True, probes=probes)
            # a result the engine folded, then waived: same verdict either way
            unwaived = [Finding(f.code, f.severity, f.check, f.summary) for f in fs]
            before, _ = fold.fold_verdict(unwaived, installed=True, probes=probes)
            got = effective_verdict(result("a", before, *fs, probes=probes))
            assert got == expected, (findings, probes, waive)
