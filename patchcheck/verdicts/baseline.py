"""Baselines: accept today's state, fail only on what gets worse.

A baseline is a small JSON document, sorted and indented so it diffs well in review::

    {
      "schema": "patchcheck.baseline/1",
      "patchcheck": "0.1.0",
      "environment": {"python_version": "3.11.7", "gevent_version": "26.9.0", ...},
      "distributions": {
        "pycurl": {"name": "pycurl", "version": "7.45.3", "verdict": "blocks",
                   "findings": ["PC140", "PC200"]}
      }
    }

Keys are normalised distribution names. ``findings`` holds the codes of findings that were not
waived (a waived finding does not fail a run anyway, and when its waiver expires it should
show up as new). Findings are compared by code: a second finding with a code the baseline
already has for that distribution is not "new".

Reading and writing touch one file; comparing is pure.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchcheck.errors import ConfigError, UsageError
from patchcheck.exitcode import ExitCode
from patchcheck.files import write_atomic
from patchcheck.model import DistributionResult, ScanReport, Severity, Verdict, normalize_name
from patchcheck.verdicts.policy import SEVERITY_VERDICT, threshold

BASELINE_SCHEMA = "patchcheck.baseline/1"

#: Shown when the baseline file is missing; the CLI owns the flag name.
WRITE_HINT = "write one first with: patchcheck scan ... --baseline {path} --update-baseline"


@dataclass(frozen=True)
class BaselineEntry:
    name: str
    version: str | None
    verdict: Verdict
    codes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Baseline:
    entries: Mapping[str, BaselineEntry]  # normalised name -> entry
    environment: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def get(self, name: str) -> BaselineEntry | None:
        return self.entries.get(normalize_name(name))


@dataclass(frozen=True)
class VerdictChange:
    name: str
    before: Verdict
    after: Verdict


@dataclass(frozen=True)
class BaselineDiff:
    """What changed since the baseline. Pairs are (distribution name, finding code)."""

    new_findings: tuple[tuple[str, str], ...] = ()
    fixed_findings: tuple[tuple[str, str], ...] = ()
    worse: tuple[VerdictChange, ...] = ()
    better: tuple[VerdictChange, ...] = ()
    new_distributions: tuple[str, ...] = ()
    removed_distributions: tuple[str, ...] = ()

    @property
    def unchanged(self) -> bool:
        return not (
            self.new_findings or self.fixed_findings or self.worse or self.better
            or self.new_distributions or self.removed_distributions
        )


def baseline_document(report: ScanReport) -> dict[str, Any]:
    """The JSON document :func:`write_baseline` writes."""
    from patchcheck import __version__

    env = report.environment
    distributions = {}
    for result in report.results:
        codes = sorted({f.code for f in result.findings if not f.waived})
        distributions[result.key] = {
            "name": result.name,
            "version": result.version,
            "verdict": result.verdict.value,
            "findings": codes,
        }
    return {
        "schema": BASELINE_SCHEMA,
        "patchcheck": __version__,
        "environment": {
            "python_version": env.python_version,
            "implementation": env.implementation,
            "gevent_version": env.gevent_version,
            "greenlet_version": env.greenlet_version,
            "patch_args": dict(env.patch_args),
        },
        "distributions": dict(sorted(distributions.items())),
    }


def write_baseline(report: ScanReport, path: Path) -> None:
    """Write the baseline atomically: a temporary file in the same folder, then a rename.

    On any error the temporary file is removed and an existing baseline is left as it was.
    :raises UsageError: the file cannot be written (the message names it).
    """
    path = Path(path)
    text = json.dumps(baseline_document(report), indent=2, sort_keys=False) + "\n"
    try:
        write_atomic(path, text, durable=True)
    except OSError as exc:
        raise UsageError(
            f"cannot write baseline {path}: {exc.strerror or exc}",
            hint="check that the folder exists and is writable",
        ) from None


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file. :raises ConfigError: naming the file and what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"baseline {path} does not exist", hint=WRITE_HINT.format(path=path)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"cannot read baseline {path}: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno}:{exc.colno}: baseline is not valid JSON: {exc.msg}",
            hint="restore it from version control or write a new one",
        ) from None
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise ConfigError(
            f"{path}: not a patchcheck baseline (schema {found!r}, expected {BASELINE_SCHEMA!r})",
            hint="was it written by a newer patchcheck? write a new one",
        )
    raw = data.get("distributions")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: baseline 'distributions' must be an object")
    entries = {}
    for key, item in raw.items():
        try:
            codes = item.get("findings") or []
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                raise TypeError
            name = item.get("name") or key
            if not isinstance(name, str):
                raise TypeError
            version = item.get("version")
            entry = BaselineEntry(
                name=name,
                version=version if isinstance(version, str) else None,
                verdict=Verdict(item["verdict"]),
                codes=frozenset(codes),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ConfigError(
                f"{path}: baseline entry {key!r} is malformed: {json.dumps(item)[:120]}",
                hint='each entry needs "verdict" (a verdict name) and "findings" (a list of codes)',
            ) from None
        entries[normalize_name(key)] = entry
    env = data.get("environment")
    return Baseline(entries=entries, environment=env if isinstance(env, dict) else {}, path=path)


def compare(report: ScanReport, baseline: Baseline) -> BaselineDiff:
    """New and fixed findings, verdicts that got worse or better, distributions added/removed."""
    new_findings: list[tuple[str, str]] = []
    fixed: list[tuple[str, str]] = []
    worse: list[VerdictChange] = []
    better: list[VerdictChange] = []
    added: list[str] = []
    seen = set()
    for result in report.results:
        seen.add(result.key)
        entry = baseline.entries.get(result.key)
        codes = {f.code for f in result.findings if not f.waived}
        if entry is None:
            added.append(result.name)
            continue
        new_findings += [(result.name, c) for c in sorted(codes - entry.codes)]
        fixed += [(result.name, c) for c in sorted(entry.codes - codes)]
        if result.verdict.rank > entry.verdict.rank:
            worse.append(VerdictChange(result.name, entry.verdict, result.verdict))
        elif result.verdict.rank < entry.verdict.rank:
            better.append(VerdictChange(result.name, entry.verdict, result.verdict))
    removed = [e.name for k, e in sorted(baseline.entries.items()) if k not in seen]
    return BaselineDiff(
        new_findings=tuple(new_findings),
        fixed_findings=tuple(fixed),
        worse=tuple(worse),
        better=tuple(better),
        new_distributions=tuple(added),
        removed_distributions=tuple(removed),
    )


def failures(report: ScanReport, baseline: Baseline, fail_on: str) -> list[DistributionResult]:
    """The distributions that fail under a baseline: only what is new or worse, at or above
    ``fail_on``, in report order.

    A distribution fails when its verdict is at/above ``fail_on`` and it is new to the baseline,
    its verdict is worse than the baseline's, or it has a non-waived finding whose code the
    baseline lacks and whose severity alone reaches ``fail_on``.
    """
    level = threshold(fail_on)
    out = []
    for result in report.results:
        if result.verdict.rank < level or result.implicit:
            continue
        entry = baseline.entries.get(result.key)
        if entry is None or result.verdict.rank > entry.verdict.rank:
            out.append(result)
            continue
        for finding in result.findings:
            if finding.waived or finding.code in entry.codes:
                continue
            verdict = SEVERITY_VERDICT.get(Severity(finding.severity))
            if verdict is not None and verdict.rank >= level:
                out.append(result)
                break
    return out


def gate(report: ScanReport, baseline: Baseline, fail_on: str) -> ExitCode:
    """Exit code under a baseline: 1 when :func:`failures` finds any. Problems still give 3."""
    found = failures(report, baseline, fail_on)  # validates fail_on even with problems
    if report.problems:
        return ExitCode.INTERNAL_ERROR
    return ExitCode.FINDINGS if found else ExitCode.OK
