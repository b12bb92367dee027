"""Policy: which verdicts fail a run (``--fail-on``) and the exit code. Pure.

``--fail-on LEVEL`` fails the run when any distribution's verdict ranks at or above the level
(``FAIL_ON_LEVELS``: untested < warns < blocks < breaks; ``never`` never fails). patchcheck's own
problems (``ScanReport.problems``) always win: exit 3, because no verdict can be trusted then.
"""
from __future__ import annotations

from patchcheck.errors import ConfigError
from patchcheck.exitcode import ExitCode
from patchcheck.model import FAIL_ON_LEVELS, DistributionResult, ScanReport, Verdict
from patchcheck.verdicts.fold import SEVERITY_VERDICT, verdict_for

__all__ = ["SEVERITY_VERDICT", "effective_verdict", "exit_code_for", "failing", "threshold"]

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
    return [r for r in report.results if r.verdict.rank >= level and not r.implicit]


def exit_code_for(report: ScanReport, fail_on: str) -> ExitCode:
    """3 if patchcheck itself had problems, 1 if anything fails ``fail_on``, else 0."""
    threshold(fail_on)  # validate even when there are problems
    if report.problems:
        return ExitCode.INTERNAL_ERROR
    if failing(report, fail_on):
        return ExitCode.FINDINGS
    return ExitCode.OK


def effective_verdict(result: DistributionResult) -> Verdict:
    """The verdict of ``result`` counting only findings that are not waived.

    The fold's own rule (``fold.verdict_for``) on the result's findings and probes; a waiver
    only removes findings, so a verdict that never came from findings (cooperates, untested,
    skipped, not-installed) stays when no unwaived finding outranks it.
    """
    verdict = verdict_for(result.findings, result.probes,
                          installed=result.verdict is not Verdict.NOT_INSTALLED)
    if verdict in _NOT_FROM_FINDINGS and result.verdict in _NOT_FROM_FINDINGS:
        return result.verdict
    return verdict
