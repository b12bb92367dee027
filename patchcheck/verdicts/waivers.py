"""Waivers: a team's written, reasoned, expiring decision to accept a finding.

Configured as::

    [[tool.patchcheck.waivers]]
    distribution = "pycurl"
    codes = ["PC140"]          # optional: without it the whole distribution is waived
    reason = "only used by the offline export job, never under gevent"
    expires = 2027-01-31       # optional: a TOML date or an ISO "2027-01-31" string

A waived finding stays in the report (``Finding.waived`` holds the reason) so reporters can
show it; it just stops counting towards the verdict. An expired waiver waives nothing and
produces a note, so the decision gets revisited instead of silently living forever.

Pure: no I/O.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from patchcheck.errors import ConfigError
from patchcheck.model import DistributionResult, Finding, ScanReport, normalize_name

#: Keys a waiver table may have.
WAIVER_KEYS = ("distribution", "codes", "reason", "expires")


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


def parse_waivers(raw: Any, origin: Any) -> list[Waiver]:
    """Validate the ``waivers`` array of a config file.

    :param raw: the TOML value (a list of tables).
    :param origin: a :class:`patchcheck.config.ConfigOrigin` (messages get ``file:line``) or a
        plain string naming the source.
    :raises ConfigError: on a missing reason, a bad date, an unknown key, a wrong type.
    """
    if not isinstance(raw, list):
        raise ConfigError(
            f"{_label(origin, 'waivers')} = {_show(raw)}: expected a list of tables",
            hint="write each waiver as a [[tool.patchcheck.waivers]] table",
        )
    waivers = []
    for index, entry in enumerate(raw):
        where = _where(origin, "", index)
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{_entry(origin, index, where)} = {_show(entry)}: expected a table with"
                " distribution and reason"
            )
        for key, value in entry.items():
            if key not in WAIVER_KEYS:
                raise ConfigError(
                    f"{_entry(origin, index, _where(origin, key, index))} {key} = {_show(value)}:"
                    f" unknown key; expected one of {', '.join(WAIVER_KEYS)}"
                )
        for key in ("distribution", "reason"):
            if key not in entry:
                raise ConfigError(
                    f"{_entry(origin, index, where)}: missing required key {key!r}",
                    hint="every waiver needs a distribution and a reason saying why it is safe",
                )
            value = entry[key]
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(
                    f"{_entry(origin, index, _where(origin, key, index))} {key} = {_show(value)}:"
                    " expected a non-empty string"
                )
        codes = entry.get("codes", [])
        if isinstance(codes, str):
            codes = [codes]
        if (
            not isinstance(codes, list)
            or not all(isinstance(c, str) and c.strip() for c in codes)
        ):
            raise ConfigError(
                f"{_entry(origin, index, _where(origin, 'codes', index))} codes = {_show(codes)}:"
                ' expected a list of finding codes such as ["PC140"]'
            )
        expires = _parse_date(entry.get("expires"), origin, index)
        waivers.append(
            Waiver(
                distribution=entry["distribution"].strip(),
                reason=entry["reason"].strip(),
                codes=tuple(c.strip().upper() for c in codes),
                expires=expires,
                origin=where,
            )
        )
    return waivers


def _parse_date(value: Any, origin: Any, index: int) -> _dt.date | None:
    if value is None:
        return None
    # TOML datetimes are datetime instances, which are also dates: take the day.
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(
        f"{_entry(origin, index, _where(origin, 'expires', index))} expires = {_show(value)}:"
        " expected a date such as 2027-01-31"
    )


def _where(origin: Any, key: str, index: int) -> str:
    if isinstance(origin, str):
        return origin
    return origin.where(key, array="waivers", index=index)


def _entry(origin: Any, index: int, where: str) -> str:
    table = ".".join((*getattr(origin, "table", ()), "waivers"))
    return f"{where}: [[{table}]] #{index + 1}"


def _label(origin: Any, key: str) -> str:
    if isinstance(origin, str):
        return f"{origin}: {key}"
    return f"{origin.where(key)}: {origin.header}{key}"


def _show(value: Any) -> str:
    from patchcheck.config import show

    return show(value)


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
