"""The plan layer: which distributions to check, with which modules, probes and cache key.

Pure (no subprocess, no file reads, no gevent, no runner import): built from the request, what
the target interpreter reported (``model.TargetInfo``), the probes the plugins provide and the
digests of their files (read by the engine); the engine carries the plan out.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from patchcheck.errors import UsageError
from patchcheck.model import (
    STDLIB,
    Conflict,
    InstalledDistribution,
    MarkerSkip,
    Requirement,
    TargetInfo,
    normalize_name,
)
from patchcheck.spec import ProbeSpec
from patchcheck.targets.modules import import_targets

#: In ``--all`` scans these are the measuring instrument itself, not dependencies to judge.
INSTRUMENT = ("gevent", "greenlet", "zope-event", "zope-interface", "patchcheck")

#: A probe targets the standard library when its ``distributions`` name one of these
#: (``"python"``: the name built-in probes used before the stdlib was a target).
STDLIB_PROBE_TARGETS = (STDLIB, "python")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class ScanRequest:
    """What to scan and how; built by the CLI or the pytest plugin from settings."""

    python: str
    requirements: tuple[Requirement, ...] = ()
    all_installed: bool = False
    patch_args: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 60.0
    jobs: int = max(1, os.cpu_count() or 1)
    probe_paths: tuple[str, ...] = ()
    run_probes: bool = True
    import_names: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: import-check a distribution's test packages too (``include-test-packages``)
    include_test_packages: bool = False
    skip: tuple[str, ...] = ()
    use_cache: bool = True
    services: Mapping[str, str] = field(default_factory=dict)  # name → URL from config
    cache_dir: str | None = None  # None: the platform's user cache dir (PATCHCHECK_CACHE_DIR)
    install_failures: Mapping[str, str] = field(default_factory=dict)  # name → installer error
    #: requirements ``--install`` could not install together (copied onto the report)
    install_conflicts: tuple[Conflict, ...] = ()
    #: Also check the installed dependencies of the requirements, recursively (``--deps``).
    include_deps: bool = False
    #: Check only this shard of the plan (``--shard K/N``; ``patchcheck.shard``).
    shard: Shard | None = None
    #: Measure every probe's remedies even when the plain call cooperates (``--all-remedies``).
    all_remedies: bool = False
    #: what the shell wants in the report's notes (``--install``: remedy packages it added)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedDistribution:
    """One requirement and what will be done for it."""

    requirement: Requirement
    dist: InstalledDistribution | None  # None: not installed in the target
    modules: tuple[str, ...] = ()  # top-level import names to check
    probes: tuple[ProbeSpec, ...] = ()
    cache_key: str | None = None  # None: the cache is off (or nothing to cache)
    #: gevent, greenlet, zope.*: what patchcheck measures *with*; not judged as a dependency
    #: (gevent's own modules hold the originals on purpose, its loop does I/O in C by design).
    instrument: bool = False
    #: the standard library: its probes only (no import or native checks)
    stdlib: bool = False
    #: added because the scan runs probes, not asked for: reported, never fails the run
    implicit: bool = False

    @property
    def key(self) -> str:
        return self.requirement.key


@dataclass(frozen=True)
class Plan:
    items: tuple[PlannedDistribution, ...]
    notes: tuple[str, ...] = ()
    #: requirements left out because their marker is false for the target
    marker_skipped: tuple[MarkerSkip, ...] = ()

    @property
    def installed(self) -> tuple[PlannedDistribution, ...]:
        """The distributions to check: installed, and not the measuring instrument."""
        return tuple(item for item in self.items
                     if item.dist is not None and not item.instrument)


def import_modules(dist: InstalledDistribution, overrides: Mapping[str, Sequence[str]], *,
                   include_tests: bool = False) -> tuple[str, ...]:
    """The import names to check: the config's override, else the library's own top-level
    modules among what the metadata says (``targets/modules.py``: not its test suite, docs or
    private modules; test packages too with ``include_tests``)."""
    override = overrides.get(normalize_name(dist.name)) or overrides.get(dist.name)
    if override:
        return tuple(override)
    return import_targets(dist.import_names, include_tests=include_tests)


def probes_by_distribution(probes: Sequence[ProbeSpec]) -> dict[str, list[ProbeSpec]]:
    """Probes by the normalised name of each distribution they target; the standard
    library's under ``STDLIB`` (a probe listed once there however it names it)."""
    by_dist: dict[str, list[ProbeSpec]] = {}
    for spec in probes:
        keys = {STDLIB if normalize_name(d) in STDLIB_PROBE_TARGETS else normalize_name(d)
                for d in spec.distributions}
        for key in sorted(keys):
            by_dist.setdefault(key, []).append(spec)
    return by_dist


def stdlib_distribution(target: TargetInfo) -> InstalledDistribution:
    """The standard library as a target: its version is the target Python's."""
    return InstalledDistribution(requested=STDLIB, name=STDLIB,
                                 version=target.environment.python_version,
                                 import_names=(), native_files=())


def stdlib_cache_key(request: ScanRequest, target: TargetInfo, probes: Sequence[ProbeSpec],
                     probe_digests: Mapping[str, str], tool_digest: str = "") -> str:
    """The standard library's result depends on the Python build (interpreter path, version,
    implementation, platform), gevent and greenlet, the patch, its probes' files and
    patchcheck's own code (as ``cache_key``)."""
    from patchcheck.cache import ResultCache

    env = target.environment
    return ResultCache.key(
        distribution=STDLIB, python=env.python, python_version=env.python_version,
        implementation=env.implementation, platform=env.platform, gevent=env.gevent_version,
        greenlet=env.greenlet_version, patch=dict(request.patch_args),
        probes=sorted([p.name, p.version, probe_digests.get(p.path, "?")] for p in probes)
        if request.run_probes else None,
        services=dict(request.services), tool=tool_digest,
    )


def _stdlib_requirement(req: Requirement) -> Requirement:
    """``req`` if it asks for the standard library plainly; a version, extras or URL mean a
    distribution called "stdlib", which the reserved name cannot scan."""
    if req.specifier or req.extras or req.url:
        raise UsageError(
            f"{req.origin}: {req.line or req.name!r}: 'stdlib' is patchcheck's name for the "
            "Python standard library and takes no version, extras or URL",
            hint="write 'stdlib' alone to scan the standard library; a PyPI distribution "
                 "called stdlib cannot be scanned by patchcheck")
    return req


def cache_key(request: ScanRequest, target: TargetInfo, dist: InstalledDistribution,
              modules: Sequence[str], probes: Sequence[ProbeSpec],
              probe_digests: Mapping[str, str], tool_digest: str = "") -> str:
    """Everything a distribution's result depends on (see ``patchcheck.cache``).

    ``probe_digests``: each probe file's content digest by path (``cache.file_digest``); a
    probe file edited since is a new measurement. ``tool_digest``: patchcheck's own code
    (``cache.tool_digest``); another patchcheck measures anew.
    """
    from patchcheck.cache import ResultCache

    env = target.environment
    return ResultCache.key(
        distribution=dist.key, version=dist.version, files=dist.files_digest,
        python=env.python, python_version=env.python_version, gevent=env.gevent_version,
        greenlet=env.greenlet_version, patch=dict(request.patch_args), modules=list(modules),
        probes=sorted([p.name, p.version, probe_digests.get(p.path, "?")] for p in probes)
        if request.run_probes else None,
        services=dict(request.services),
        remedies="always" if request.all_remedies else "failed",
        tool=tool_digest,
    )


def make_plan(request: ScanRequest, target: TargetInfo, probes: Sequence[ProbeSpec], *,
              probe_digests: Mapping[str, str] | None = None, tool_digest: str = "") -> Plan:
    """Requirements whose markers hold for the *target*, one per name, minus ``skip``; with
    ``all_installed`` every other installed distribution too (not the measuring instrument).

    ``probe_digests`` (probe file path → content digest) and ``tool_digest`` (patchcheck's
    own code) go into the cache keys; a probe without a digest keys as ``"?"``.
    """
    from patchcheck.sources import ParsedSource, applicable

    skip = {normalize_name(s) for s in request.skip}
    source = applicable(ParsedSource(tuple(request.requirements), ()),
                        {**dict(target.markers), "extra": ""})
    notes = list(source.notes)
    requirements = [r for r in source.requirements if r.key not in skip]
    stdlib_req = next((_stdlib_requirement(r) for r in requirements if r.key == STDLIB), None)
    requirements = [r for r in requirements if r.key != STDLIB]
    if STDLIB in target.installed and target.installed[STDLIB].version is not None:
        notes.append(f"a distribution called {target.installed[STDLIB].name!r} is installed: "
                     "not scanned ('stdlib' is patchcheck's name for the standard library)")
    if request.all_installed:
        seen = {r.key for r in requirements}
        instrument = []
        for inst in target.installed.values():
            if inst.key in seen or inst.key in skip or inst.key == STDLIB:
                continue
            if inst.key in INSTRUMENT:
                instrument.append(inst.name)
                continue
            requirements.append(Requirement(name=inst.name, origin="<installed>"))
            seen.add(inst.key)
        if instrument:
            notes.append("not scanned with --all (patchcheck's measuring instrument): "
                         + ", ".join(sorted(instrument)))
    if request.include_deps:
        deps, dep_notes = installed_dependencies(requirements, target, skip)
        requirements += deps
        notes += dep_notes
    by_dist = probes_by_distribution(probes) if request.run_probes else {}
    items = []
    for req in requirements:
        dist = target.installed.get(req.key)
        if dist is None:
            items.append(PlannedDistribution(requirement=req, dist=None))
            continue
        if dist.key in INSTRUMENT:
            items.append(PlannedDistribution(requirement=req, dist=dist, instrument=True))
            continue
        modules = import_modules(dist, request.import_names,
                                 include_tests=request.include_test_packages)
        specs = tuple(by_dist.get(dist.key, ()))
        key = (cache_key(request, target, dist, modules, specs, probe_digests or {},
                         tool_digest)
               if request.use_cache else None)
        items.append(PlannedDistribution(requirement=req, dist=dist, modules=modules,
                                         probes=specs, cache_key=key))
    # The standard library: when asked for, and in every scan that runs probes (informational
    # there: the team did not ask about it and cannot remove it).
    runs_probes = any(item.probes for item in items)
    if STDLIB not in skip and (stdlib_req is not None or runs_probes):
        specs = tuple(by_dist.get(STDLIB, ()))
        items.append(PlannedDistribution(
            requirement=stdlib_req or Requirement(name=STDLIB, origin="<standard library>"),
            dist=stdlib_distribution(target), probes=specs, stdlib=True,
            implicit=stdlib_req is None,
            cache_key=stdlib_cache_key(request, target, specs, probe_digests or {}, tool_digest)
            if request.use_cache else None))
    return Plan(items=tuple(items), notes=tuple(notes),
                marker_skipped=tuple(MarkerSkip.of(r) for r in source.marker_skipped))


def installed_dependencies(requirements: Sequence[Requirement], target: TargetInfo,
                           skip: set[str]) -> tuple[list[Requirement], list[str]]:
    """The installed distributions the requirements depend on, recursively (breadth first),
    with the markers and extras of each ``Requires-Dist`` evaluated for the target. The
    measuring instrument (gevent, greenlet, zope.*) is left out."""
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Pep508

    seen = {r.key for r in requirements} | set(skip)
    queue = [(r.key, set(r.extras)) for r in requirements]
    found: list[Requirement] = []
    missing: list[str] = []
    while queue:
        key, extras = queue.pop(0)
        dist = target.installed.get(key)
        if dist is None:
            continue
        for text in dist.requires:
            try:
                dep = Pep508(text)
            except InvalidRequirement:
                continue
            if dep.marker is not None:
                try:
                    wanted = any(dep.marker.evaluate({**dict(target.markers), "extra": extra})
                                 for extra in (extras or {""}))
                except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
                    wanted = True
                if not wanted:
                    continue
            dep_key = normalize_name(dep.name)
            if dep_key in seen or dep_key in INSTRUMENT or dep_key == STDLIB:
                continue
            seen.add(dep_key)
            if dep_key not in target.installed:
                missing.append(f"{dep.name} (required by {dist.name})")
                continue
            found.append(Requirement(name=target.installed[dep_key].name,
                                     specifier=str(dep.specifier), extras=tuple(dep.extras),
                                     origin=f"dependency of {dist.name}", line=str(dep)))
            queue.append((dep_key, set(dep.extras)))
    notes = [f"--deps: not installed, not scanned: {', '.join(missing)}"] if missing else []
    return found, notes
