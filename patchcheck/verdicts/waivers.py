"""Waivers: a team's written, reasoned, expiring decision to accept a finding.

Configured as::

    [[tool.patchcheck.waivers]]
    distribution = "pycurl"
    codes = ["PC140"]          # optional: without it the whole distribution is waived
    reason = "only used by the offline export job, never under gevent"
    expires = 2027-01-31       # optional: a TOML date or an ISO "2027-01-31" string

Waivers are read and validated with the rest of the settings
(``patchcheck.config.waivers.parse_waivers``); this module only holds them and applies them.

A waived finding stays in the report (``Finding.waived`` holds the reason) so reporters can
show it; it just stops counting towards the verdict. An expired waiver waives nothing and
produces a note, so the decision gets revisited instead of silently living forever.

Pure: no I/O.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from patchcheck.model import DistributionResult, Finding, ScanReport, normalize_name


@dataclass(frozen=True)
class Waiver:
    """Accept some (or all) findings of one distribution, for a reason, maybe until a date."""

    distribution: str  # as written; matched by normalised name
    reason: str
    codes: tuple[str, ...] = ()  # empty: every finding of the distribution
    expires: _dt.date | None = None  # the last day the waiver applies
    origin: str = "<waiver>"  # "pyproject.toml:31", for notes

    @property
    def key(self) -> str:
        return normalize_name(self.distribution)

    def expired(self, today: _dt.date) -> bool:
        return self.expires is not None and today > self.expires

    def covers(self, result: DistributionResult, finding: Finding) -> bool:
        return result.key == self.key and (not self.codes or finding.code in self.codes)

    def describe(self) -> str:
        """``pycurl`` or ``pycurl (PC140, PC141)``."""
        return f"{self.distribution} ({', '.join(self.codes)})" if self.codes else self.distribution


def apply_waivers(
    report: ScanReport, waivers: Sequence[Waiver], today: _dt.date
) -> tuple[ScanReport, list[str]]:
    """Mark findings covered by a live waiver and recompute those distributions' verdicts.

    :returns: the new report and notes for the user: expired waivers, and waivers that matched
        a scanned distribution but none of its findings (probably fixed: remove the waiver).

    Distributions with no waived finding keep their result untouched.
    """
    from patchcheck.verdicts.policy import effective_verdict

    notes: list[str] = []
    live = []
    for waiver in waivers:
        if waiver.expired(today):
            notes.append(
                f"waiver for {waiver.describe()} expired on {waiver.expires.isoformat()}"  # type: ignore[union-attr]
                f" (reason: {waiver.reason}); its findings count again [{waiver.origin}]"
            )
        else:
            live.append(waiver)
    used: set[int] = set()
    results = []
    for result in report.results:
        changed = False
        findings = []
        for finding in result.findings:
            if finding.waived is None:
                for i, waiver in enumerate(live):
                    if waiver.covers(result, finding):
                        finding = replace(finding, waived=waiver.reason)
                        used.add(i)
                        changed = True
                        break
            findings.append(finding)
        if changed:
            result = replace(result, findings=tuple(findings))
            result = result.with_verdict(effective_verdict(result))
        results.append(result)
    scanned = {r.key for r in report.results}
    for i, waiver in enumerate(live):
        if i not in used and waiver.key in scanned:
            notes.append(
                f"waiver for {waiver.describe()} matched no finding; remove it if the problem"
                f" is fixed [{waiver.origin}]"
            )
    return replace(report, results=tuple(results)), notes
