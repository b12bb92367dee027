"""The scan engine: the one API the CLI and the pytest plugin drive.

sources → targets → plan → runner → (harness in children) → verdicts. The engine carries out a
``Plan``: import checks and the native-code scan for every distribution, then the controls and
the probes, then the verdicts; results come from the cache where nothing they depend on changed.
It never imports a target library and never patches the tool process.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from patchcheck.model import (
    DistributionResult,
    Environment,
    Finding,
    GeventPlugin,
    InstalledDistribution,
    Outcome,
    ProbeOutcome,
    ScanReport,
    TargetInfo,
)
from patchcheck.plan import (
    INSTRUMENT,
    Plan,
    PlannedDistribution,
    ScanRequest,
    make_plan,
    probes_for_order_risk,
)
from patchcheck.plugins import collect_probes
from patchcheck.progress import NoProgress, ProgressSink, ScanPhase
from patchcheck.runner.forkserver import make_runner
from patchcheck.runner.process import ChildResult
from patchcheck.runner.protocol import ImportTask
from patchcheck.targets.resolve import inspect_target
from patchcheck.verdicts.fold import (
    CheckOutcome,
    fold_verdict,
    import_findings,
    instrument_result,
    leftover_findings,
    not_installed_result,
    stdlib_result,
    version_findings,
    with_probes,
)

__all__ = ["INSTRUMENT", "FollowUp", "ScanRequest", "Scan", "scan", "outcome_of"]


class FollowUp(Protocol):
    """Work a caller starts on a distribution's result while the scan still measures others
    (patch bisection: ``bisect.run.BisectAhead``). ``offer`` gets each probed distribution's
    result once its probes are measured and the controls passed, with the scan's
    ``ProbeRunner`` (its services and slots), and must not block; ``drain`` waits for what it
    started, before that runner closes."""

    def offer(self, result: DistributionResult, probes: Any) -> None: ...

    def drain(self) -> None: ...


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
        leftover_processes=res.leftover_processes,
    )


class Scan:
    """One scan. ``run()`` returns the report; patchcheck's own failures become ``problems``."""

    def __init__(self, request: ScanRequest, *, progress: ProgressSink | None = None,
                 plugin_manager: Any = None, follow_up: FollowUp | None = None) -> None:
        self.request = request
        self.progress: ProgressSink = progress or NoProgress()
        self._pm = plugin_manager
        self._follow_up = follow_up
        self.problems: list[str] = []
        self.notes: list[str] = list(request.notes)
        #: distributions whose checks hit a patchcheck problem: never cached
        self._troubled: set[str] = set()
        self._meter_ok = False  # the controls ran and measured as expected

    def run(self) -> ScanReport:
        # One fork server per scan (fresh processes where it is unsupported or turned off).
        with make_runner(self.request.python) as self._runner:
            try:
                return self._run()
            finally:
                inventory = getattr(self, "_inventory", None)
                if inventory is not None:
                    inventory.cancel()  # the scan ended early: an inventory not yet begun

    def _run(self) -> ScanReport:
        started = time.monotonic()
        req = self.request
        # --deps needs every installed distribution's Requires-Dist to follow them
        target = inspect_target(req.python, [r.name for r in req.requirements],
                                all_installed=req.all_installed or req.include_deps,
                                timeout=req.timeout, patch_args=req.patch_args,
                                runner=self._runner,
                                # a re-scan of an unchanged environment starts no child
                                cache=self._cache() if req.use_cache else None)
        # The gevent plugin inventory (from the cache, or a child) while the scan is planned.
        inventory_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="patchcheck")
        self._inventory = inventory_pool.submit(self._plugin_findings, target)
        inventory_pool.shutdown(wait=False)
        pm = self._plugin_manager()
        # --no-probes: the probe files are not even loaded (a third of a cached re-scan's time)
        probes = collect_probes(pm) if req.run_probes else []
        plan = make_plan(req, target, probes,
                         probe_digests=_probe_digests(probes) if req.use_cache else None,
                         tool_digest=_tool_digest() if req.use_cache else "")
        if req.shard is not None:
            from patchcheck.shard import shard_plan

            plan = shard_plan(plan, req.shard)
        self.notes.extend(plan.notes)
        if any(item.implicit for item in plan.items):
            self.notes.append("the standard library is reported because this scan runs probes; "
                              "it fails the run only when 'stdlib' is asked for")
        cached = self._from_cache(plan)
        # Counted in distributions, the report's rows (docs/architecture.md, "What the
        # terminal shows").
        self.progress.phase(ScanPhase.IMPORTS, total=len(plan.items))

        with ExitStack() as stack:
            runner = self._probe_runner(plan, cached, pm, stack)
            results = self._import_phase(plan, target, cached)
            # Probes run after the import checks so that CPU-heavy imports do not share the
            # machine with timing-sensitive measurements (the services start meanwhile).
            controls = self._probe_phase(plan, results, cached, runner)
        self._to_cache(plan, results, cached, controls, target.environment)
        for item in plan.items:
            if item.instrument and item.dist is not None:
                results[item.key] = instrument_result(item.requirement, item.dist.name,
                                                      item.dist.version, controls,
                                                      self._meter_ok,
                                                      self._instrument_findings(item, target))

        knowledge = self._knowledge(pm)
        ordered = tuple(self._with_knowledge(knowledge, results[item.key])
                        for item in plan.items)
        return ScanReport(
            environment=target.environment,
            results=ordered,
            controls=controls,
            duration_s=time.monotonic() - started,
            problems=tuple(self.problems),
            notes=tuple(self.notes),
            marker_skipped=plan.marker_skipped,
        )

    # -- phases -------------------------------------------------------------------------
    def _import_phase(self, plan: Plan, target: TargetInfo,
                      cached: Mapping[str, DistributionResult]) -> dict[str, DistributionResult]:
        results: dict[str, DistributionResult] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.request.jobs),
                                thread_name_prefix="patchcheck") as pool:
            futures = {
                item.key: (pool.submit(self._import_check, item.modules, "after"),
                           pool.submit(self._import_check, item.modules, "before"))
                for item in plan.installed if item.key not in cached and not item.stdlib
            }
            plugin_findings = self._inventory.result()
            for item in plan.items:
                req, dist = item.requirement, item.dist
                if item.instrument:
                    # recorded after the probes (gevent is measured by the controls)
                    self.progress.advance(f"{req.name} (the measuring instrument)")
                    continue
                if dist is None:
                    failures = self.request.install_failures
                    results[item.key] = not_installed_result(
                        req, target.environment.python,
                        failures.get(req.name) or failures.get(req.key))
                    self.progress.advance(f"{req.name} (not installed)")
                    continue
                if item.key in cached:
                    results[item.key] = cached[item.key]
                    self.progress.advance(f"{dist.name} (cached)")
                    continue
                if item.stdlib:  # no import or native checks: its probes are the result
                    results[item.key] = stdlib_result(item)
                    self.progress.advance(dist.name)
                    continue
                after, before = (f.result() for f in futures[item.key])
                for out in (after, before):
                    if out.harness_error:
                        self.problems.append(f"{dist.name}: harness failed: {out.harness_error}")
                        self._troubled.add(item.key)
                findings = import_findings(after, before)
                # Once per distribution: both orders usually leave the same process behind.
                findings += (leftover_findings("import-after", after)
                             or leftover_findings("import-before", before))
                findings += self._native_findings(dist)
                findings += plugin_findings.get(dist.key, [])
                findings += version_findings(req, dist.name, dist.version)
                verdict, folded = fold_verdict(findings, installed=True)
                results[item.key] = DistributionResult(
                    name=dist.name, version=dist.version, verdict=verdict,
                    requirement=req.line or req.name, origin=req.origin,
                    modules=item.modules, findings=folded)
                self.progress.advance(dist.name)
        return results

    def _probe_runner(self, plan: Plan, cached: Mapping[str, DistributionResult], pm: Any,
                      stack: ExitStack) -> Any:
        """The scan's ``ProbeRunner`` (None without probes to run), its services starting in
        the background: they take seconds, and need only the probes, not the import checks."""
        to_probe = {item.key: item.probes for item in plan.installed
                    if item.probes and item.key not in cached}
        if not to_probe:
            return None
        from patchcheck.runner.probing import ProbeRunner

        # Last time's durations set the start order only (longest first): read and kept even
        # with --no-cache, since no result comes from them.
        cache = self._cache()
        key = cache.key(kind="probe-durations", python=self.request.python,
                        patch_args=dict(self.request.patch_args or {}))
        runner = stack.enter_context(ProbeRunner(self.request, pm, progress=self.progress,
                                                 child_runner=self._runner,
                                                 durations=cache.get_durations(key)))
        stack.callback(_keep_durations, cache, key, runner.durations)
        if self._follow_up is not None:
            stack.callback(self._follow_up.drain)  # unwound first: the runner is still open
        runner.start_services(to_probe)
        return runner

    def _probe_phase(self, plan: Plan, results: dict[str, DistributionResult],
                     cached: Mapping[str, DistributionResult], runner: Any
                     ) -> tuple[ProbeOutcome, ...]:
        # What the import checks found decides the orders: a library that loads ssl or keeps
        # originals when imported first is also measured imported first (issue #10).
        to_probe = {item.key: list(probes_for_order_risk(item.probes,
                                                         results[item.key].findings))
                    for item in plan.installed if item.probes and item.key not in cached}
        if not to_probe or runner is None:
            return ()
        # The probes start beside the controls (theirs go first) and count only if the
        # controls measured what they must.
        controls_done = runner.start_controls()
        measured = runner.run_all(to_probe, results,
                                  on_measured=self._offer(results, runner, controls_done))
        controls = controls_done()
        bad = [c for c in controls if not runner.control_ok(c)]
        if bad:
            self.problems.append(
                "the hub meter is unreliable on this machine: control "
                + ", ".join(f"{c.probe} measured {c.plain.outcome.value}" for c in bad)
                + " (run 'patchcheck doctor' for details)")
            return controls
        self._meter_ok = True
        for key, outcomes in measured.items():
            results[key] = with_probes(results[key], outcomes)
        return controls

    def _offer(self, results: Mapping[str, DistributionResult], runner: Any,
               controls_done: Callable[[], tuple[ProbeOutcome, ...]]
               ) -> Callable[[str, list[ProbeOutcome]], None] | None:
        """``run_all``'s hook: a measured distribution's result to the follow-up, if the
        controls passed (else the probes are not judged at all)."""
        follow_up = self._follow_up
        if follow_up is None:
            return None

        def measured(key: str, outcomes: list[ProbeOutcome]) -> None:
            try:
                if all(runner.control_ok(c) for c in controls_done()):
                    follow_up.offer(with_probes(results[key], outcomes), runner)
            except Exception as exc:  # the follow-up's failure never loses a measurement
                self.problems.append(f"{results[key].name}: follow-up failed: {exc}")
        return measured

    # -- cache --------------------------------------------------------------------------
    def _cache(self) -> Any:
        from patchcheck.cache import ResultCache

        root = Path(self.request.cache_dir) if self.request.cache_dir else None
        return ResultCache(root)

    def _from_cache(self, plan: Plan) -> dict[str, DistributionResult]:
        if not self.request.use_cache:
            return {}
        cache = self._cache()
        hits = {}
        for item in plan.installed:
            hit = cache.get(item.cache_key) if item.cache_key else None
            if hit is not None:
                req = item.requirement
                hits[item.key] = replace(
                    hit, requirement=None if item.implicit else (req.line or req.name),
                    origin=req.origin, implicit=item.implicit)
        return hits

    def _to_cache(self, plan: Plan, results: Mapping[str, DistributionResult],
                  cached: Mapping[str, DistributionResult],
                  controls: Sequence[ProbeOutcome], environment: Environment) -> None:
        if not self.request.use_cache:
            return
        cache = self._cache()
        unwritten = 0
        for item in plan.installed:
            result = results.get(item.key)
            if (item.cache_key and result is not None and item.key not in cached
                    and not {item.key, item.dist.key if item.dist else ""} & self._troubled
                    and _cacheable(item, result, self._meter_ok)):
                unwritten += not cache.put(item.cache_key, result, environment=environment)
        if unwritten:
            # A full disk or a read-only cache folder costs the next run time, not this result.
            self.notes.append(f"warning: the result cache {cache.root} could not be written "
                              f"({unwritten} result{'s' if unwritten != 1 else ''} not cached); "
                              "set PATCHCHECK_CACHE_DIR to a writable folder")

    # -- checks -------------------------------------------------------------------------
    def _plugin_manager(self) -> Any:
        if self._pm is None:
            from patchcheck.plugins import make_plugin_manager

            self._pm = make_plugin_manager(self.request.probe_paths)
        return self._pm

    def _import_check(self, modules: Sequence[str], order: str) -> CheckOutcome:
        res = self._runner.run(ImportTask(modules=tuple(modules), order=order,
                                          patch_args=dict(self.request.patch_args)),
                               timeout=self.request.timeout)
        return outcome_of(res)

    def _native_findings(self, dist: InstalledDistribution) -> list[Finding]:
        if not dist.native_files:
            return []
        from patchcheck.targets.native import findings_for, problems_for, scan_distribution

        try:
            reports = scan_distribution(list(dist.native_files))
        except Exception as exc:  # a detector never takes the scan down
            self.problems.append(f"{dist.name}: native-code check failed: {exc}")
            self._troubled.add(dist.key)
            return []
        # A file the check could not read is patchcheck's problem, not a clean result.
        unread = problems_for(reports)
        if unread:
            self.problems.extend(f"{dist.name}: {problem}" for problem in unread)
            self._troubled.add(dist.key)
        return list(findings_for(reports))

    def _plugin_findings(self, target: TargetInfo) -> dict[str, list[Finding]]:
        """gevent plugins of the target environment (they run inside every patch_all())."""
        from patchcheck.inventory import plugin_findings

        try:
            plugins = self._gevent_plugins(target)
        except Exception as exc:  # the inventory is advisory; never take the scan down
            self.problems.append(f"gevent plugin inventory failed: {exc}")
            return {}
        for plugin in plugins:
            if plugin.error:
                self.notes.append(
                    f"gevent plugin {plugin.name!r} ({plugin.group}) from "
                    f"{plugin.distribution} fails to load, so every patch_all() in this "
                    f"environment raises: {str(plugin.error).splitlines()[0][:160]}")
        return plugin_findings(plugins)

    def _gevent_plugins(self, target: TargetInfo) -> list[GeventPlugin]:
        """The inventory, from the cache when the plugins and their distributions are the
        ones it was taken of (``TargetInfo.plugins_fingerprint``): a re-scan of an unchanged
        environment then starts no child but ``info``. Cached only when every plugin loaded
        (a failure may be a crash or a hang of that moment)."""
        from patchcheck.inventory import gevent_plugins

        key = None
        if self.request.use_cache and target.plugins_fingerprint:
            env = target.environment
            key = self._cache().key(kind="gevent-plugins", python=env.python,
                                    python_version=env.python_version,
                                    gevent=env.gevent_version, greenlet=env.greenlet_version,
                                    plugins=target.plugins_fingerprint, tool=_tool_digest())
            rows = self._cache().get_plugins(key)
            if rows is not None:
                try:
                    return [GeventPlugin.from_json(row) for row in rows]
                except (KeyError, TypeError, ValueError, AttributeError):
                    pass  # an entry of another shape: take the inventory again
        plugins = gevent_plugins(self.request.python, timeout=self.request.timeout,
                                 runner=self._runner)
        if key is not None and all(p.loaded is True for p in plugins):
            self._cache().put_plugins(key, [p.to_json() for p in plugins])
        return plugins

    def _instrument_findings(self, item: PlannedDistribution, target: TargetInfo
                             ) -> list[Finding]:
        """PC004/PC005: the instrument judged against its own metadata and known bugs."""
        from patchcheck.knowledge import instrument_bugs
        from patchcheck.verdicts.instrument import instrument_findings

        assert item.dist is not None
        env = target.environment
        return instrument_findings(item.dist, python_version=env.python_version,
                                   markers=target.markers, greenlet_version=env.greenlet_version,
                                   requirements=self.request.requirements,
                                   bugs=instrument_bugs())

    def _knowledge(self, pm: Any) -> list[Any]:
        from patchcheck.knowledge import all_entries

        try:
            return all_entries(pm)
        except Exception as exc:  # knowledge is advisory; a broken plugin must not end the scan
            self.problems.append(f"knowledge lookup failed: {exc}")
            return []

    @staticmethod
    def _with_knowledge(entries: Sequence[Any], result: DistributionResult) -> DistributionResult:
        from patchcheck.knowledge import matching_entries

        matched = matching_entries(entries, result)
        return replace(result, known=tuple(matched)) if matched else result


def _keep_durations(cache: Any, key: str, measured: Mapping[str, float]) -> None:
    """This scan's probe durations over last time's (a probe not run this time keeps its)."""
    if measured:
        cache.put_durations(key, {**cache.get_durations(key), **measured})


def _probe_digests(probes: Sequence[Any]) -> dict[str, str]:
    """Each probe file's content digest, for the plan's cache keys (the plan reads no file)."""
    from patchcheck.cache import file_digest

    return {path: file_digest(path) for path in {p.path for p in probes}}


def _tool_digest() -> str:
    from patchcheck.cache import tool_digest

    return tool_digest()


def _cacheable(item: PlannedDistribution, result: DistributionResult, meter_ok: bool) -> bool:
    """Only firm results are cached: not with a skipped probe (the server may come back), and
    a result that should carry measurements only when the meter was trusted and they ran."""
    if any(p.plain.outcome.skipped for p in result.probes):
        return False
    # A remedy not tried (its package missing) is measured once the package is installed.
    if any(m.outcome is Outcome.NOT_TRIED for p in result.probes for m in p.remedies):
        return False
    if item.probes:
        return meter_ok and bool(result.probes)
    return True


def scan(request: ScanRequest, *, progress: ProgressSink | None = None,
         plugin_manager: Any = None, follow_up: FollowUp | None = None) -> ScanReport:
    return Scan(request, progress=progress, plugin_manager=plugin_manager,
                follow_up=follow_up).run()
