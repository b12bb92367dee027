"""What is known about libraries under gevent, as data (``known.toml``), plus plugin entries.

Knowledge never overrides a measurement: the engine attaches matching entries beside the
measured verdict, and reporters show disagreement or "known, not measured here".
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from patchcheck.hookspecs import hookimpl
from patchcheck.model import DistributionResult, ImportOrder, Outcome, normalize_name
from patchcheck.spec import KnowledgeEntry
from patchcheck.tomlfile import load_toml
from patchcheck.verdicts.instrument import InstrumentBug

KNOWN_FILE = Path(__file__).with_name("known.toml")


@lru_cache(maxsize=1)
def builtin_entries() -> tuple[KnowledgeEntry, ...]:
    data = load_toml(KNOWN_FILE)
    return tuple(
        KnowledgeEntry(
            distribution=e["distribution"],
            versions=e.get("versions", ""),
            finding=e["finding"],
            summary=e["summary"],
            remedy=e.get("remedy"),
            evidence=tuple(e.get("evidence", ())),
            applied_when=tuple(e.get("applied_when", ())),
            probe_remedy=e.get("probe_remedy"),
        )
        for e in data.get("entry", ())
    )


@lru_cache(maxsize=1)
def instrument_bugs() -> tuple[InstrumentBug, ...]:
    """Known bugs of gevent releases (``[[instrument_bug]]`` in ``known.toml``): PC005."""
    data = load_toml(KNOWN_FILE)
    return tuple(
        InstrumentBug(id=e["id"], distribution=e["distribution"], versions=e["versions"],
                      fixed_in=e["fixed_in"], summary=e["summary"], python=e.get("python", ""),
                      evidence=tuple(e.get("evidence", ())))
        for e in data.get("instrument_bug", ())
    )


@dataclass(frozen=True)
class SameCode:
    """Distributions that install one import package from one source (``[[same_code]]``)."""

    import_name: str
    distributions: tuple[str, ...]
    why: str  # shown as "measured as OTHER (WHY)"
    evidence: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def same_code_groups() -> tuple[SameCode, ...]:
    data = load_toml(KNOWN_FILE)
    return tuple(
        SameCode(import_name=e["import_name"], distributions=tuple(e["distributions"]),
                 why=e["why"], evidence=tuple(e.get("evidence", ())))
        for e in data.get("same_code", ())
    )


def same_code_as(name: str) -> SameCode | None:
    """The ``[[same_code]]`` group distribution ``name`` belongs to, if any."""
    key = normalize_name(name)
    return next((g for g in same_code_groups()
                 if key in {normalize_name(d) for d in g.distributions}), None)


def entry_matches(entry: KnowledgeEntry, name: str, version: str | None) -> bool:
    if normalize_name(entry.distribution) != normalize_name(name):
        return False
    if entry.versions and version:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion, Version

        try:
            return Version(version) in SpecifierSet(entry.versions)
        except (InvalidSpecifier, InvalidVersion):
            return True
    return True


def all_entries(pm: Any) -> list[KnowledgeEntry]:
    """Every knowledge entry the plugins provide (built-in ``known.toml`` among them)."""
    from patchcheck.plugins import collect_knowledge

    return collect_knowledge(pm)


def matching_entries(entries: Sequence[KnowledgeEntry],
                     result: DistributionResult) -> list[dict[str, Any]]:
    """The entries about ``result``'s distribution, each with how it compares to what was
    measured."""
    # Compare with the worst plain measurement of the probes that ran in the recommended order
    # (patch first); the "imported before patch_all" variants measure the app's mistake.
    outcomes = [p.plain.outcome for p in result.probes
                if not (p.plain.outcome.skipped or p.plain.outcome.inconclusive)
                and p.order is ImportOrder.AFTER_PATCH]
    worst = max(outcomes, key=lambda o: o.severity) if outcomes else None
    out = []
    for e in entries:
        if not entry_matches(e, result.name, result.version):
            continue
        if worst is not None:
            status = "agrees" if _same(worst, e.finding) else f"disagrees (measured {worst})"
        else:
            status = "known, not measured here"
        out.append({
            "finding": e.finding, "summary": e.summary, "remedy": e.remedy,
            "evidence": list(e.evidence), "versions": e.versions, "origin": e.origin,
            "status": status,
        })
    return out


def _same(measured: Outcome, known: str) -> bool:
    """Does a measurement agree with an entry's ``finding`` (a verdict name)?"""
    return measured.verdict.value == known



@hookimpl
def patchcheck_add_knowledge() -> list[KnowledgeEntry]:
    return list(builtin_entries())
