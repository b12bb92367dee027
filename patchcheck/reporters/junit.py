"""JUnit XML: one test case per distribution, for CI test-result views.

The shape follows what Jenkins, GitLab and GitHub test reporters read (the same subset
pytest's ``--junitxml`` writes): ``<testsuites>`` › ``<testsuite name="patchcheck">`` ›
``<testcase classname="patchcheck.scan" name="redis==5.0.1">``. The classname stays constant
so a CI's per-test history follows a distribution from run to run until its version changes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from patchcheck.model import FAIL_ON_LEVELS, ScanReport, Verdict
from patchcheck.reporters import _views as v

CLASSNAME = "patchcheck.scan"

#: Characters XML 1.0 cannot carry at all (a library's stderr may contain them).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


def render_junit(report: ScanReport, *, fail_on: int = FAIL_ON_LEVELS["blocks"]) -> str:
    """A test failure for every verdict ranked at or above ``fail_on`` (see ``FAIL_ON_LEVELS``),
    a skip for skipped and not-installed below it, and an error for patchcheck's own problems."""
    suites = ET.Element("testsuites", name="patchcheck")
    suite = ET.SubElement(suites, "testsuite", name="patchcheck")
    props = ET.SubElement(suite, "properties")
    env = report.environment
    for name, value in (
        ("python", env.python),
        ("python_version", env.python_version),
        ("implementation", env.implementation),
        ("platform", env.platform),
        ("gevent_version", env.gevent_version or ""),
        ("greenlet_version", env.greenlet_version or ""),
    ):
        ET.SubElement(props, "property", name=name, value=_clean(value))

    failures = skipped = errors = 0
    for result in report.results:
        case = ET.SubElement(
            suite, "testcase", classname=CLASSNAME, name=_clean(v.pin_name(result))
        )
        case.set("time", "0")
        origin = v.parse_origin(result.origin)
        if origin is not None:
            case.set("file", _clean(origin[0]))
            case.set("line", str(origin[1]))
        evidence = v.key_evidence(result)
        details = v.plain_details(result)
        if result.verdict.rank >= fail_on:
            failures += 1
            failure = ET.SubElement(
                case,
                "failure",
                message=_clean(f"{result.verdict.value}: {evidence}"),
                type=result.verdict.value,
            )
            failure.text = _clean(details + "\n\n" + v.environment_line(env))
        elif result.verdict in (Verdict.SKIPPED, Verdict.NOT_INSTALLED):
            skipped += 1
            ET.SubElement(case, "skipped", message=_clean(f"{result.verdict.value}: {evidence}"))
            if v.needs_details(result):
                ET.SubElement(case, "system-out").text = _clean(details)
        else:
            # Passing (below --fail-on), but what was measured stays visible in the CI UI.
            out = ET.SubElement(case, "system-out")
            out.text = _clean(
                details
                if v.needs_details(result)
                else f"{v.display_name(result)}: {result.verdict.value} ({evidence})"
            )

    if report.problems:
        errors += 1
        case = ET.SubElement(
            suite, "testcase", classname="patchcheck.environment", name="patchcheck problems"
        )
        case.set("time", "0")
        error = ET.SubElement(
            case,
            "error",
            message=_clean(f"patchcheck failed (not a library verdict): {report.problems[0]}"),
            type="patchcheck",
        )
        error.text = _clean("\n".join(report.problems))

    tests = len(report.results) + (1 if report.problems else 0)
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
        element.set("skipped", str(skipped))
        element.set("time", f"{report.duration_s:.3f}")
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
