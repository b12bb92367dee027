"""The measuring instrument judged (issue #15.2): does the gevent the scan measures with (or the
gevent the project pins) fit its greenlet and Python, and does that release have a known bug?

PC004 (instrument-incompatible): gevent's own Requires-Dist on greenlet, evaluated for the target
interpreter's markers, against the installed greenlet and against the scan's greenlet pin;
its Requires-Python and the Python versions its classifiers list, against the target's Python.
PC005 (instrument-known-bug): the known bugs (``knowledge/known.toml`` ``[[instrument_bug]]``)
of the gevent version checked: the scan's ``==`` pin when there is one (so a pin is judged
without installing it), else the installed version.

Pure: no I/O; the engine passes what the target reported and the knowledge data.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from patchcheck.model import Finding, InstalledDistribution, Requirement, normalize_name
from patchcheck.verdicts import evidence as ev

GEVENT = "gevent"
GREENLET = "greenlet"


@dataclass(frozen=True)
class InstrumentBug:
    """A known bug of a gevent release range (``[[instrument_bug]]``)."""

    id: str  # "CVE-2023-41419", "gevent#1957"
    distribution: str
    versions: str  # affected releases, PEP 440
    fixed_in: str
    summary: str
    python: str = ""  # only on these Pythons (PEP 440 on the target's python_full_version)
    evidence: tuple[str, ...] = ()


def exact_pin(req: Requirement | None) -> str | None:
    """The version of an ``==X`` (or ``===X``) requirement, else None."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if req is None or not req.specifier:
        return None
    try:
        specs = list(SpecifierSet(req.specifier))
    except InvalidSpecifier:
        return None
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def instrument_findings(dist: InstalledDistribution, *, python_version: str,
                        markers: Mapping[str, str], greenlet_version: str | None,
                        requirements: Sequence[Requirement],
                        bugs: Sequence[InstrumentBug]) -> list[Finding]:
    """PC004 and PC005 findings for gevent's row (none for greenlet, zope.*: gevent's metadata
    is what says which of them it needs)."""
    if dist.key != GEVENT:
        return []
    # Only the lines whose marker holds for the target are its pins: Odoo pins gevent once per
    # Python version, and the last line (for 3.13) must not speak for a 3.11 target.
    pins = {r.key: r for r in requirements if pin_applies(r, markers)}
    # The greenlet pin is judged by this gevent's metadata only when the gevent pin (if any)
    # is this version: another release may require another greenlet.
    gevent_pin = exact_pin(pins.get(GEVENT))
    greenlet_pin = pins.get(GREENLET) if gevent_pin in (None, dist.version) else None
    findings = _requires_findings(dist, markers, greenlet_version, greenlet_pin)
    findings += _python_findings(dist, python_version)
    findings += _bug_findings(dist, python_version, pins.get(GEVENT), bugs)
    return findings


def pin_applies(req: Requirement, markers: Mapping[str, str]) -> bool:
    """Whether the requirement line holds for the target (its marker true): only those lines
    pin anything (also ``install.find_conflicts``)."""
    from packaging.markers import (
        InvalidMarker,
        Marker,
        UndefinedComparison,
        UndefinedEnvironmentName,
    )

    if not req.marker:
        return True
    try:
        return bool(Marker(req.marker).evaluate({**markers, "extra": ""}))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False


def _requires_findings(dist: InstalledDistribution, markers: Mapping[str, str],
                       greenlet_version: str | None,
                       greenlet_pin: Requirement | None) -> list[Finding]:
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Pep508
    from packaging.version import InvalidVersion, Version

    from patchcheck.verdicts.fold import make_finding

    out: list[Finding] = []
    for line in dist.requires:
        try:
            req = Pep508(line)
            if normalize_name(req.name) != GREENLET:
                continue
            if req.marker is not None and not req.marker.evaluate({**markers, "extra": ""}):
                continue
        except (InvalidRequirement, InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            continue
        requires = f"{req.name}{req.specifier}"
        candidates = [("installed", greenlet_version, "")]
        pinned = exact_pin(greenlet_pin)
        if greenlet_pin is not None and pinned and pinned != greenlet_version:
            candidates.append(("pin", pinned, f"{greenlet_pin.line or greenlet_pin.name} "
                                              f"({greenlet_pin.origin})"))
        for source, have, where in candidates:
            try:
                ok = have is not None and req.specifier.contains(Version(have), prereleases=True)
            except InvalidVersion:
                continue
            if ok:
                continue
            what = (f"greenlet {have} is {'pinned' if source == 'pin' else 'installed'}"
                    if have else "greenlet is not installed")
            out.append(make_finding(
                "PC004", "instrument",
                f"gevent {dist.version} requires {requires} here, but {what}"
                + (f" ({where})" if where else ""),
                evidence=ev.InstrumentIncompatible(
                    distribution=dist.name, version=dist.version, requirement=GREENLET,
                    requires=requires, have=have, source=source, pinned=where)))
    return out


def _python_findings(dist: InstalledDistribution, python_version: str) -> list[Finding]:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    from patchcheck.verdicts.fold import make_finding

    try:
        python = Version(python_version)
    except InvalidVersion:
        return []
    if dist.requires_python:
        try:
            if not SpecifierSet(dist.requires_python).contains(python, prereleases=True):
                return [make_finding(
                    "PC004", "instrument",
                    f"gevent {dist.version} requires Python {dist.requires_python}, but the "
                    f"target is Python {python_version}",
                    evidence=ev.InstrumentIncompatible(
                        distribution=dist.name, version=dist.version, requirement="python",
                        requires=f"python{dist.requires_python}", have=python_version))]
        except InvalidSpecifier:
            pass
    listed = sorted({v for v in dist.python_classifiers}, key=_minor_key)
    short = f"{python.major}.{python.minor}"
    # Only a Python newer than every one gevent lists: a release made before that Python existed
    # (older ones are caught by Requires-Python, and gaps in the list are usually oversights).
    if listed and short not in listed and _minor_key(short) > _minor_key(listed[-1]):
        return [make_finding(
            "PC004", "instrument",
            f"gevent {dist.version} lists Python {listed[0]}–{listed[-1]} (classifiers), but the "
            f"target is Python {python_version}: released before it, not tested on it",
            evidence=ev.InstrumentIncompatible(
                distribution=dist.name, version=dist.version, requirement="python",
                requires=f"python {listed[0]}–{listed[-1]} (classifiers)", have=python_version))]
    return []


def _minor_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)


def _bug_findings(dist: InstalledDistribution, python_version: str,
                  gevent_pin: Requirement | None,
                  bugs: Sequence[InstrumentBug]) -> list[Finding]:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    from patchcheck.verdicts.fold import make_finding

    pinned = exact_pin(gevent_pin)
    version, source = (pinned, "pin") if pinned else (dist.version, "installed")
    if not version:
        return []
    out: list[Finding] = []
    for bug in bugs:
        if normalize_name(bug.distribution) != dist.key:
            continue
        try:
            if not SpecifierSet(bug.versions).contains(Version(version), prereleases=True):
                continue
            if bug.python and not SpecifierSet(bug.python).contains(Version(python_version)):
                continue
        except (InvalidSpecifier, InvalidVersion):
            continue
        what = "pinned" if source == "pin" else "installed"
        out.append(make_finding(
            "PC005", "instrument",
            f"gevent {version} ({what}): {bug.id}, fixed in {bug.fixed_in}: {bug.summary}",
            hint=f"pin gevent>={bug.fixed_in}",
            evidence=ev.InstrumentKnownBug(
                id=bug.id, distribution=dist.name, version=version, source=source,
                affected=bug.versions, fixed_in=bug.fixed_in, links=tuple(bug.evidence))))
    return out
