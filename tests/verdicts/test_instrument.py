"""The measuring instrument judged (issue #15.2): PC004 (gevent's own Requires-Dist and Python
support not met) and PC005 (a known bug of the gevent version), on gevent's row. Pure cases on
in-memory metadata, and one real scan that judges a gevent pin without installing it."""
from __future__ import annotations

from pc_testutil import json_report, run_patchcheck

from patchcheck.knowledge import instrument_bugs
from patchcheck.model import InstalledDistribution, Requirement
from patchcheck.verdicts import evidence as ev
from patchcheck.verdicts.fold import instrument_result
from patchcheck.verdicts.instrument import exact_pin, instrument_findings

MARKERS = {"python_version": "3.12", "platform_python_implementation": "CPython",
           "sys_platform": "linux"}
REQUIRES = ['greenlet>=2.0.0; platform_python_implementation == "CPython" and '
            'python_version < "3.11"',
            'greenlet>=3.0rc3; platform_python_implementation == "CPython" and '
            'python_version >= "3.11"', "zope.event"]


def _gevent(version: str = "23.9.1", **kw: object) -> InstalledDistribution:
    fields = {"requires": tuple(REQUIRES), "requires_python": ">=3.8",
              "python_classifiers": ("3.8", "3.9", "3.10", "3.11", "3.12"), **kw}
    return InstalledDistribution(requested="gevent", name="gevent", version=version,
                                 import_names=("gevent",), native_files=(), **fields)  # type: ignore[arg-type]


def _pin(name: str, spec: str, line: int) -> Requirement:
    return Requirement(name=name, specifier=spec, origin=f"requirements.txt:{line}",
                       line=f"{name}{spec}")


def _codes(findings) -> list[tuple[str, object]]:
    return [(f.code, f.evidence) for f in findings]


def test_greenlet_installed_below_what_gevent_requires_here() -> None:
    found = instrument_findings(_gevent(), python_version="3.12.1", markers=MARKERS,
                                greenlet_version="2.0.2", requirements=(), bugs=())
    [(code, evidence)] = _codes(found)
    assert code == "PC004"
    assert evidence == ev.InstrumentIncompatible(
        distribution="gevent", version="23.9.1", requirement="greenlet",
        requires="greenlet>=3.0rc3", have="2.0.2", source="installed")


def test_the_greenlet_pin_is_judged_even_when_another_greenlet_is_installed() -> None:
    pins = (_pin("gevent", "==23.9.1", 1), _pin("greenlet", "==2.0.2", 2))
    found = instrument_findings(_gevent(), python_version="3.12.1", markers=MARKERS,
                                greenlet_version="3.0.3", requirements=pins, bugs=())
    [finding] = found
    assert finding.evidence.source == "pin"
    assert finding.evidence.pinned == "greenlet==2.0.2 (requirements.txt:2)"
    # Another gevent pinned than the one installed: its metadata says nothing about the pin.
    other = (_pin("gevent", "==22.10.2", 1), _pin("greenlet", "==2.0.2", 2))
    assert instrument_findings(_gevent(), python_version="3.12.1", markers=MARKERS,
                               greenlet_version="3.0.3", requirements=other, bugs=()) == []


def test_on_python_3_10_the_older_greenlet_is_fine() -> None:
    assert instrument_findings(_gevent(), python_version="3.10.13",
                               markers={**MARKERS, "python_version": "3.10"},
                               greenlet_version="2.0.2", requirements=(), bugs=()) == []


def test_python_beyond_requires_python_and_the_classifiers() -> None:
    old = instrument_findings(_gevent(requires_python=">=3.9"), python_version="3.8.18",
                              markers={**MARKERS, "python_version": "3.8"},
                              greenlet_version="3.0.3", requirements=(), bugs=())
    assert [f.evidence.requires for f in old] == ["python>=3.9"]
    new = instrument_findings(_gevent(), python_version="3.13.1",
                              markers={**MARKERS, "python_version": "3.13"},
                              greenlet_version="3.1.1", requirements=(), bugs=())
    assert [(f.code, f.evidence.requirement, f.evidence.have) for f in new] == [
        ("PC004", "python", "3.13.1")]


def test_known_bugs_of_the_pinned_version_not_the_installed_one() -> None:
    pins = (_pin("gevent", "==23.7.0", 1),)
    found = instrument_findings(_gevent("24.2.1"), python_version="3.12.1", markers=MARKERS,
                                greenlet_version="3.0.3", requirements=pins,
                                bugs=instrument_bugs())
    ids = [f.evidence.id for f in found if f.code == "PC005"]
    assert "CVE-2023-41419" in ids and "gevent#1985" in ids and "gevent#1957" in ids
    assert all(f.evidence.source == "pin" and f.evidence.version == "23.7.0"
               for f in found if f.code == "PC005")
    # Without a pin, the installed version: 24.2.1 has neither the CVE nor gevent#1985.
    installed = instrument_findings(_gevent("24.2.1"), python_version="3.12.1", markers=MARKERS,
                                    greenlet_version="3.0.3", requirements=(),
                                    bugs=instrument_bugs())
    assert {f.evidence.id for f in installed} == {"gevent#1957", "gevent#2075"}


def test_greenlet_and_zope_rows_are_not_judged_and_the_verdict_follows() -> None:
    greenlet = InstalledDistribution(requested="greenlet", name="greenlet", version="2.0.2",
                                     import_names=(), native_files=())
    assert instrument_findings(greenlet, python_version="3.12.1", markers=MARKERS,
                               greenlet_version="2.0.2", requirements=(),
                               bugs=instrument_bugs()) == []
    judged = instrument_findings(_gevent(), python_version="3.12.1", markers=MARKERS,
                                 greenlet_version="2.0.2", requirements=(), bugs=())
    result = instrument_result(Requirement(name="gevent"), "gevent", "23.9.1", (), False, judged)
    assert result.verdict.value == "warns"
    assert [f.code for f in result.findings] == ["PC003", "PC004"]
    plain = instrument_result(Requirement(name="gevent"), "gevent", "23.9.1", (), False)
    assert plain.verdict.value == "untested"


def test_exact_pin() -> None:
    assert exact_pin(_pin("gevent", "==23.9.1", 1)) == "23.9.1"
    assert exact_pin(_pin("gevent", ">=23.9", 1)) is None
    assert exact_pin(_pin("gevent", "==23.*", 1)) is None


def test_a_known_bad_gevent_pin_is_reported_without_installing_it(tmp_path) -> None:
    proc = run_patchcheck("scan", "gevent==23.7.0", "--no-probes", "--format", "json",
                          cwd=tmp_path)
    report = json_report(proc)
    assert proc.returncode == 0, proc.stderr  # warns is below the default fail-on (blocks)
    gevent = next(r for r in report["results"] if r["name"] == "gevent")
    assert gevent["verdict"] == "warns"
    bugs = {f["evidence"]["id"]: f["evidence"] for f in gevent["findings"] if f["code"] == "PC005"}
    assert bugs["CVE-2023-41419"]["fixed_in"] == "23.9.0"
    assert bugs["CVE-2023-41419"]["version"] == "23.7.0"
    assert bugs["CVE-2023-41419"]["source"] == "pin"
    assert "https://github.com/gevent/gevent/issues/1989" in bugs["CVE-2023-41419"]["links"]
    table = run_patchcheck("scan", "gevent==23.7.0", "--no-probes", cwd=tmp_path)
    assert "the measuring instrument: CVE-2023-41419 (fixed in 23.9.0)" in table.stdout


def test_only_the_pins_whose_marker_holds_for_the_target_are_judged() -> None:
    """Odoo pins gevent and greenlet once per Python version: on 3.11 the lines for 3.11
    apply (gevent 23.9.1 with greenlet 2.0.2: PC004), not the last lines of the file."""
    markers = {**MARKERS, "python_version": "3.11"}
    pins = (Requirement(name="gevent", specifier="==23.9.1", origin="requirements.txt:1",
                        line="gevent==23.9.1", marker="python_version == '3.11'"),
            Requirement(name="gevent", specifier="==24.11.1", origin="requirements.txt:2",
                        line="gevent==24.11.1", marker="python_version >= '3.13'"),
            Requirement(name="greenlet", specifier="==2.0.2", origin="requirements.txt:3",
                        line="greenlet==2.0.2", marker="python_version == '3.11'"),
            Requirement(name="greenlet", specifier="==3.1.1", origin="requirements.txt:4",
                        line="greenlet==3.1.1", marker="python_version >= '3.13'"))
    found = instrument_findings(_gevent(), python_version="3.11.7", markers=markers,
                                greenlet_version="3.5.6", requirements=pins, bugs=instrument_bugs())
    pc004 = [f for f in found if f.code == "PC004"]
    assert [f.evidence.pinned for f in pc004] == ["greenlet==2.0.2 (requirements.txt:3)"]
    assert all("23.9.1" in f.summary for f in found if f.code == "PC005")
