"""The scan engine: the one API the CLI and the pytest plugin drive.

sources → targets → plan → runner → (harness in children) → verdicts. The engine never imports
a target library and never patches the tool process.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from patchcheck.model import (
    DistributionResult,
    Finding,
    ProbeOutcome,
    Requirement,
    ScanReport,
    Verdict,
    normalize_name,
)
from patchcheck.runner.forkserver import make_runner
from patchcheck.runner.process import ChildResult
from patchcheck.targets.resolve import InstalledDistribution, TargetInfo, inspect_target
from patchcheck.verdicts.fold import CheckOutcome, fold_verdict, import_findings, probe_findings

ProgressFn = Callable[[str], None]


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
    skip: tuple[str, ...] = ()
    use_cache: bool = True
    services: Mapping[str, str] = field(default_factory=dict)  # name → URL from config
    cache_dir: str | None = None  # None: the platform's user cache dir (PATCHCHECK_CACHE_DIR)
    install_failures: Mapping[str, str] = field(default_factory=dict)  # name → installer error


#: In ``--all`` scans these are the measuring instrument itself, not dependencies to judge.
INSTRUMENT = ("gevent", "greenlet", "zope-event", "zope-interface", "patchcheck")


def outcome_of(res: ChildResult) -> CheckOutcome:
    """Plain data of a child's end, for the pure verdict logic."""
    sig = None
    if res.signal is not None:
        import signal as _signal

        try:
            sig = _signal.Signals(res.signal).name
        except ValueError:
            sig = str(res.signal)
    return CheckOutcome(
        # A child that was stopped for running too long may still have written a result on
        # its way out (SIGINT raised KeyboardInterrupt inside the import): the hang is the fact.
        data=None if res.timed_out else res.data,
        timed_out=res.timed_out,
        signal=sig,
        problem=res.problem,
        harness_error=res.harness_error,
        stack_dump=res.stack_dump,
        stderr_tail=res.stderr_tail,
        stdout_tail=res.stdout_tail,
        duration_s=res.duration_s,
    )


def _import_modules(dist: InstalledDistribution, request: ScanRequest) -> tuple[str, ...]:
    names = request.import_names
    override = names.get(normalize_name(dist.name)) or names.get(dist.name)
    if override:
        return tuple(override)
    return dist.import_names


class Scan:
    """One scan. ``run()`` returns the report; patchcheck's own failures become ``problems``."""

    def __init__(self, request: ScanRequest, *, progress: ProgressFn | None = None,
                 plugin_manager: Any = None) -> None:
        self.request = request
        self.progress = progress or (lambda label: None)
        self._pm = plugin_manager
        self.problems: list[str] = []
        self.notes: list[str] = []

    # -- plan ---------------------------------------------------------------------------
    def _pm_or_build(self) -> Any:
        if self._pm is None:
            from patchcheck.plugins import make_plugin_manager

            self._pm = make_plugin_manager(self.request.probe_paths)
        return self._pm

    def _applicable(self, target: TargetInfo) -> tuple[list[Requirement], tuple[str, ...]]:
        """Requirements whose markers hold for the *target* interpreter, one per name."""
        from patchcheck.sources import ParsedSource, applicable

        skip = {normalize_name(s) for s in self.request.skip}
        source = applicable(ParsedSource(tuple(self.request.requirements), ()),
                            {**dict(target.markers), "extra": ""})
        kept = [r for r in source.requirements if r.key not in skip]
        return kept, source.notes

    # -- run ----------------------------------------------------------------------------
    def run(self) -> ScanReport:
        # One fork server per scan (fresh processes where it is unsupported or turned off).
        with make_runner(self.request.python) as self._runner:
            return self._run()

    def _run(self) -> ScanReport:
        started = time.monotonic()
        req = self.request
        names = [r.name for r in req.requirements]
        target = inspect_target(req.python, names, all_installed=req.all_installed,
                                timeout=req.timeout, patch_args=req.patch_args)
        requirements, notes = self._applicable(target)
        self.notes = list(notes)
        if req.all_installed:
            seen = {normalize_name(r.name) for r in requirements}
            skip = {normalize_name(x) for x in req.skip}
            instrument = []
            for inst in target.installed.values():
                if inst.key in seen or inst.key in skip:
                    continue
                if inst.key in INSTRUMENT:
                    instrument.append(inst.name)
                    continue
                requirements.append(Requirement(name=inst.name, origin="<installed>"))
                seen.add(inst.key)
            if instrument:
                self.notes.append("not scanned with --all (patchcheck's measuring instrument): "
                                  + ", ".join(sorted(instrument)))
        pm = self._pm_or_build()
        probes = self._probes_by_distribution(pm) if req.run_probes else {}
        jobs = max(1, req.jobs)
        results: dict[str, DistributionResult] = {}
        cache = self._cache()
        keys: dict[str, str] = {}
        cached: dict[str, DistributionResult] = {}
        for r in requirements:
            found = target.installed.get(normalize_name(r.name))
            if found is None or cache is None:
                continue
            keys[r.key] = self._cache_key(target, found, probes.get(found.key, ()))
            hit = cache.get(keys[r.key])
            if hit is not None:
                cached[r.key] = replace(hit, requirement=r.line or r.name, origin=r.origin)
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="patchcheck") as pool:
            inventory = pool.submit(self._plugin_findings, target)
            futures = {}
            for r in requirements:
                dist = target.installed.get(normalize_name(r.name))
                if dist is None or r.key in cached:
                    continue
                modules = _import_modules(dist, req)
                futures[r.key] = (
                    pool.submit(self._import_check, dist, modules, "after"),
                    pool.submit(self._import_check, dist, modules, "before"),
                )
            plugin_findings = inventory.result()
            for r in requirements:
                dist = target.installed.get(normalize_name(r.name))
                if dist is None:
                    results[r.key] = self._not_installed(r, target)
                    continue
                if r.key in cached:
                    results[r.key] = cached[r.key]
                    self.progress(f"{dist.name} (cached)")
                    continue
                after_f, before_f = futures[r.key]
                after, before = after_f.result(), before_f.result()
                findings = import_findings(after, before)
                findings += self._native_findings(dist)
                findings += plugin_findings.get(dist.key, [])
                if dist.version and r.specifier:
                    findings += _version_findings(r, dist)
                for out in (after, before):
                    if out.harness_error:
                        self.problems.append(f"{dist.name}: harness failed: {out.harness_error}")
                verdict, folded = fold_verdict(findings, installed=True)
                results[r.key] = DistributionResult(
                    name=dist.name, version=dist.version, verdict=verdict,
                    requirement=r.line or str(r.name), origin=r.origin,
                    modules=_import_modules(dist, req), findings=folded)
                self.progress(f"{dist.name} imported")

        # Probes run after the import checks so that CPU-heavy imports do not share the
        # machine with timing-sensitive measurements.
        controls: tuple[ProbeOutcome, ...] = ()
        to_probe = {key: probes[key] for key in results if key in probes and key not in cached}
        if to_probe:
            from patchcheck.runner.probing import ProbeRunner

            with ProbeRunner(req, pm, progress=self.progress,
                             child_runner=self._runner) as runner:
                controls = runner.run_controls()
                bad = [c for c in controls if not runner.control_ok(c)]
                if bad:
                    self.problems.append(
                        "the hub meter is unreliable on this machine: control "
                        + ", ".join(f"{c.probe} measured {c.plain.outcome}" for c in bad)
                        + " (run 'patchcheck doctor' for details)")
                else:
                    measured = runner.run_all(to_probe, {key: results[key] for key in results})
                    for key, outcomes in measured.items():
                        results[key] = _with_probes(results[key], outcomes)
        if cache is not None:
            for key, result in results.items():
                if key in keys and key not in cached and self._cacheable(result, controls):
                    cache.put(keys[key], result)
        ordered = tuple(results[r.key] for r in requirements if r.key in results)
        ordered = tuple(self._with_knowledge(pm, r) for r in ordered)
        return ScanReport(
            environment=target.environment,
            results=ordered,
            controls=controls,
            duration_s=time.monotonic() - started,
            problems=tuple(self.problems),
            notes=tuple(self.notes),
        )

    # -- helpers ------------------------------------------------------------------------
    def _not_installed(self, r: Requirement, target: TargetInfo) -> DistributionResult:
        python = target.environment.python
        failure = self.request.install_failures.get(r.name) or self.request.install_failures.get(
            r.key)
        if failure:
            finding = Finding(code="PC002", severity=_info(), check="targets",
                              summary=f"{r.name} could not be installed: "
                                      f"{failure.strip().splitlines()[-1][:160]}",
                              evidence={"installer": failure[-4000:]},
                              hint="fix the requirement or its build dependencies; the rest of "
                                   "the scan went on")
        else:
            finding = Finding(code="PC000", severity=_info(), check="targets",
                              summary=f"{r.name} is not installed in {python}",
                              hint=f"{python} -m pip install '{r.line or r.name}', "
                                   "or scan with --install")
        return DistributionResult(name=r.name, verdict=Verdict.NOT_INSTALLED,
                                  requirement=r.line or r.name, origin=r.origin,
                                  findings=(finding,))

    def _cache(self) -> Any:
        if not self.request.use_cache:
            return None
        from pathlib import Path

        from patchcheck.cache import ResultCache

        return ResultCache(Path(self.request.cache_dir) if self.request.cache_dir else None)

    def _cache_key(self, target: TargetInfo, dist: InstalledDistribution,
                   probes: Sequence[Any]) -> str:
        import hashlib

        from patchcheck.cache import ResultCache

        def probe_id(spec: Any) -> list[str]:
            try:
                with open(spec.path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()[:16]
            except OSError:
                digest = "?"
            return [spec.name, spec.version, digest]

        env = target.environment
        return ResultCache.key(
            distribution=dist.key, version=dist.version, files=dist.files_digest,
            python=env.python, python_version=env.python_version, gevent=env.gevent_version,
            greenlet=env.greenlet_version, patch=dict(self.request.patch_args),
            modules=list(_import_modules(dist, self.request)),
            probes=sorted(probe_id(p) for p in probes) if self.request.run_probes else None,
            services=dict(self.request.services),
        )

    @staticmethod
    def _cacheable(result: DistributionResult, controls: Sequence[ProbeOutcome]) -> bool:
        """Only firm results are cached: no skipped probe (the server may come back), and
        probes only when every control measured as expected."""
        if any(p.plain.outcome == "skipped" for p in result.probes):
            return False
        if result.probes and not controls:
            return False
        return True

    def _plugin_findings(self, target: TargetInfo) -> dict[str, list[Finding]]:
        """gevent plugins of the target environment (they run inside every patch_all())."""
        from patchcheck.inventory import gevent_plugins, plugin_findings

        try:
            plugins = gevent_plugins(self.request.python, timeout=self.request.timeout)
        except Exception as exc:  # the inventory is advisory; never take the scan down
            self.problems.append(f"gevent plugin inventory failed: {exc}")
            return {}
        for plugin in plugins:
            if getattr(plugin, "error", None):
                self.notes.append(
                    f"gevent plugin {plugin.name!r} ({plugin.group}) from "
                    f"{plugin.distribution} fails to load, so every patch_all() in this "
                    f"environment raises: {str(plugin.error).splitlines()[0][:160]}")
        return plugin_findings(plugins)

    def _import_check(self, dist: InstalledDistribution, modules: Sequence[str],
                      order: str) -> CheckOutcome:
        res = self._runner.run({"task": "import", "order": order, "modules": list(modules),
                                "patch_args": dict(self.request.patch_args)},
                               timeout=self.request.timeout)
        return outcome_of(res)

    def _native_findings(self, dist: InstalledDistribution) -> list[Finding]:
        if not dist.native_files:
            return []
        try:
            from patchcheck.targets.native import findings_for, scan_distribution
        except ImportError:  # pragma: no cover - during development
            return []
        try:
            return list(findings_for(scan_distribution(list(dist.native_files))))
        except Exception as exc:  # a detector never takes the scan down
            self.problems.append(f"{dist.name}: native-code check failed: {exc}")
            return []

    def _probes_by_distribution(self, pm: Any) -> dict[str, list[Any]]:
        by_dist: dict[str, list[Any]] = {}
        for group in pm.hook.patchcheck_add_probes():
            for spec in group or ():
                for dist in spec.distributions:
                    by_dist.setdefault(normalize_name(dist), []).append(spec)
        return by_dist

    def _with_knowledge(self, pm: Any, result: DistributionResult) -> DistributionResult:
        from patchcheck.knowledge import matching_entries

        try:
            entries = matching_entries(pm, result)
        except Exception as exc:  # knowledge is advisory
            self.problems.append(f"knowledge lookup failed: {exc}")
            return result
        return replace(result, known=tuple(entries)) if entries else result


def _info() -> Any:
    from patchcheck.model import Severity

    return Severity.INFO


def _version_findings(req: Requirement, dist: InstalledDistribution) -> list[Finding]:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        ok = Version(dist.version or "") in SpecifierSet(req.specifier)
    except (InvalidSpecifier, InvalidVersion):
        return []
    if ok:
        return []
    return [Finding(code="PC001", severity=_info(), check="targets",
                    summary=f"installed {dist.name} {dist.version} does not satisfy "
                            f"'{req.specifier}' ({req.origin}): the installed version was scanned",
                    evidence={"installed": dist.version, "required": req.specifier})]


def _with_probes(result: DistributionResult,
                 outcomes: Sequence[ProbeOutcome]) -> DistributionResult:
    findings = list(result.findings)
    for o in outcomes:
        findings += probe_findings(o)
    verdict, folded = fold_verdict(findings, installed=True, probes=outcomes)
    return replace(result, verdict=verdict, findings=folded, probes=tuple(outcomes))


def scan(request: ScanRequest, *, progress: ProgressFn | None = None,
         plugin_manager: Any = None) -> ScanReport:
    return Scan(request, progress=progress, plugin_manager=plugin_manager).run()
