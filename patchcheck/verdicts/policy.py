"""Policy: which verdicts fail a run (``--fail-on``) and the exit code. Pure.

``--fail-on LEVEL`` fails the run when any distribution's verdict ranks at or above the level
(``FAIL_ON_LEVELS``: untested < warns < blocks < breaks; ``never`` never fails). patchcheck's own
problems (``ScanReport.problems``) always win: exit 3, because no verdict can be trusted then.
"""
from __future__ import annotations

from patchcheck.errors import ConfigError
from patchcheck.exitcode import ExitCode
from patchcheck.model import FAIL_ON_LEVELS, DistributionResult, ScanReport, Severity, Verdict

#: The verdict a finding of each severity leads to (INFO leads to none).
SEVERITY_VERDICT = {
    Severity.BREAKS: Verdict.BREAKS,
    Severity.BLOCKS: Verdict.BLOCKS,
    Severity.WARNING: Verdict.WARNS,
}

# Verdicts that do not come from findings, so a waiver never changes them.
_NOT_FROM_FINDINGS = (Verdict.COOPERATES, Verdict.UNTESTED, Verdict.SKIPPED, Verdict.NOT_INSTALLED)


def threshold(fail_on: str) -> int:
    """The lowest verdict rank that fails under ``fail_on``."""
    try:
        return FAIL_ON_LEVELS[fail_on]
    except KeyError:
        raise ConfigError(
            f"fail-on = {fail_on!r}: expected one of {', '.join(FAIL_ON_LEVELS)}"
        ) from None


def failing(report: ScanReport, fail_on: str) -> list[DistributionResult]:
    """The distributions whose verdict is at or above ``fail_on``, in report order."""
    level = threshold(fail_on)
    return [r for r in report.results if r.verdict.rank >= level]


def exit_code_for(report: ScanReport, fail_on: str) -> ExitCode:
    """3 if patchcheck itself had problems, 1 if anything fails ``fail_on``, else 0."""
    level = threshold(fail_on)  # validate even when there are problems
    if report.problems:
        return ExitCode.INTERNAL_ERROR
    if any(r.verdict.rank >= level for r in report.results):
        return ExitCode.FINDINGS
    return ExitCode.OK


def effective_verdict(result: DistributionResult) -> Verdict:
    """The verdict of ``result`` counting only findings that are not waived.

    Same rule as ``patchcheck.verdicts.fold.fold_verdict`` (a test keeps them in step): the
    worst non-waived finding decides; with none left, a verdict that never came from findings
    (cooperates, untested, skipped, not-installed) stays, and one that did falls back to what
    the probes measured: cooperates if one measured cooperation, skipped if all were skipped,
    else untested.
    """
    if result.verdict == Verdict.NOT_INSTALLED:
        return result.verdict
    active = [f for f in result.findings if not f.waived]
    worst = max((f.severity for f in active), default=Severity.INFO)
    if worst in SEVERITY_VERDICT:
        return SEVERITY_VERDICT[worst]
    if result.verdict in _NOT_FROM_FINDINGS:
        return result.verdict
    outcomes = [p.plain.outcome for p in result.probes]
    if "cooperates" in outcomes:
        return Verdict.COOPERATES
    if outcomes and all(o == "skipped" for o in outcomes):
        return Verdict.SKIPPED
    return Verdict.UNTESTED
