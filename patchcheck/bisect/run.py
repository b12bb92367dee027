"""Patch bisection, tool side: which ``patch_all()`` arguments make a failing check fail.

For each distribution that breaks (or, with ``--bisect``, blocks) under the configured
``patch_all()``, the failing check (the import check, or the probe that blocked or broke) is
re-run in fresh children with subsets of the enabled patches turned off, and ``ddmin`` narrows
them to a 1-minimal set. The remedy is then re-measured on its own, and its cost measured by
the stdlib probes of the patches it turns off, with the same arguments.

The scan hands over its report; this module returns the report with ``bisect`` set on the
distributions it examined (``bisect_results``). It never patches the tool process.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable

from patchcheck.bisect.ddmin import ddmin
from patchcheck.bisect.result import BisectResult, CostProbe, outcome_rank
from patchcheck.model import DistributionResult, ScanReport, Severity, Verdict
from patchcheck.plugins import collect_probes
from patchcheck.runner.protocol import ImportTask, PatchSignatureTask

#: Child runs ddmin may spend on one distribution (Zeller's worst case for the 14 patches of
#: gevent 26 is 239; one culprit takes about 10, two about 16).
MAX_RUNS = 32
#: Default-on rule: without ``--bisect``/``--no-bisect``, bisect the ``breaks`` that did not
#: hang (a hang costs a timeout per run) when at most this many distributions break.
DEFAULT_MAX_DISTRIBUTIONS = 3
#: The finding codes of a hang, which default-on bisection leaves to ``--bisect``; a probe
#: that broke after this long most likely hung too.
HANG_CODES = frozenset({"PC102"})
HANG_PROBE_MS = 10_000.0
#: A run with the culprits on may hang: it is stopped after this many times the all-off run
#: (at least BISECT_MIN_TIMEOUT_S, at most the scan's --timeout).
TIMEOUT_FACTOR = 4.0
BISECT_MIN_TIMEOUT_S = 2.0

#: Which built-in stdlib probes measure what a patch_all() argument patches (probe name
#: prefixes). An argument missing here is looked up as ``stdlib.<name>``; a modifier
#: (``aggressive``) is measured by the probes of the patches it modifies (from the signature).
#: queue.Queue waits on threading locks, so its probe measures ``thread``; gevent's ``queue``
#: patch replaces queue.SimpleQueue, which no built-in probe measures.
PATCH_PROBES: Mapping[str, tuple[str, ...]] = {
    "thread": ("stdlib.threading.", "stdlib.queue"),
    "queue": (),
    "socket": ("stdlib.socket", "stdlib.http.", "stdlib.urllib."),
    "select": ("stdlib.select", "stdlib.selectors"),
    "selectors": ("stdlib.selectors",),
    "time": ("stdlib.time.",),
    "dns": ("stdlib.dns",),
}

ProgressFn = Callable[[str], None]


@dataclass(frozen=True)
class PatchParam:
    """One keyword argument of the target's ``patch_all()``."""

    name: str
    default: Any
    boolean: bool
    modifies: tuple[str, ...] = ()  # patch_<x>() functions taking the same keyword


def patch_signature(runner: Any, timeout: float) -> tuple[PatchParam, ...]:
    """The target gevent's ``patch_all()`` parameters, read in a child."""
    res = runner.run(PatchSignatureTask(), timeout=timeout)
    if res.data is None:
        why = res.harness_error or res.describe_end()
        raise RuntimeError(f"reading patch_all()'s signature failed: {why}")
    return tuple(PatchParam(p["name"], p["default"], bool(p["boolean"]), tuple(p["modifies"]))
                 for p in res.data["parameters"])


def enabled_patches(params: Sequence[PatchParam], patch_args: Mapping[str, Any]) -> tuple[str, ...]:
    """Boolean arguments that are on in the configured call, in the signature's order."""
    return tuple(p.name for p in params
                 if p.boolean and bool(patch_args.get(p.name, p.default)) is True)


def wants_bisect(report: ScanReport, flag: bool | None) -> list[DistributionResult]:
    """The distributions to bisect: ``--bisect`` (True) every breaks/blocks, ``--no-bisect``
    (False) none, unset: ``breaks`` when cheap (see DEFAULT_MAX_DISTRIBUTIONS, HANG_CODES)."""
    if flag is False:
        return []
    # The standard library's row in a scan that did not ask for it never fails the run:
    # nothing to explain.
    judged = [r for r in report.results if not r.implicit]
    if flag:
        return [r for r in judged if _bisectable(r, flag)]
    breaking = [r for r in judged if r.verdict is Verdict.BREAKS]
    if len(breaking) > DEFAULT_MAX_DISTRIBUTIONS:
        return []
    return [r for r in breaking if _bisectable(r, flag)]


def _bisectable(result: DistributionResult, flag: bool | None) -> bool:
    """Whether ``wants_bisect`` takes this result, but for the count of the default rule."""
    if flag is False or result.implicit:
        return False
    if flag:
        return result.verdict in (Verdict.BREAKS, Verdict.BLOCKS)
    return (result.verdict is Verdict.BREAKS
            and not any(f.code in HANG_CODES for f in result.findings)
            and not any(p.plain.outcome == "breaks" and p.plain.elapsed_ms > HANG_PROBE_MS
                        for p in result.probes))


def _same_input(early: DistributionResult, final: DistributionResult) -> bool:
    """The result a bisection started from is the report's (knowledge aside)."""
    return ((early.key, early.verdict, early.findings, early.probes, early.modules)
            == (final.key, final.verdict, final.findings, final.probes, final.modules))


class _Check:
    """Re-runs one failing check with given patch_all() arguments; returns its outcome."""

    def __init__(self, bisector: Bisector, result: DistributionResult) -> None:
        self.b = bisector
        self.result = result
        self.name: str | None = None  # None: no check this module can re-run
        self.before = "breaks"
        self.probe_spec: Any = None
        if any(f.check == "import-after" and f.severity is Severity.BREAKS
               for f in result.findings):
            self.name = "import-after"
        else:
            for outcome in result.probes:
                # skipped / inconclusive: nothing about the library was measured
                if (outcome_rank(outcome.plain.outcome) > 0
                        and not (outcome.plain.outcome.skipped
                                 or outcome.plain.outcome.inconclusive)):
                    spec = bisector.probes.get(outcome.probe)
                    if spec is not None:
                        self.probe_spec = spec
                        self.name = f"probe:{spec.name}"
                        self.before = ("breaks" if outcome.plain.outcome == "breaks"
                                       else "blocks")
                        break

    def outcome(self, patch_args: Mapping[str, Any], timeout: float) -> str:
        if self.probe_spec is not None:
            return self.b.probe_outcome(self.probe_spec, self.result.modules, patch_args,
                                        timeout).outcome
        from patchcheck.engine import outcome_of
        from patchcheck.verdicts.fold import import_findings

        res = self.b.runner.run(ImportTask(modules=tuple(self.result.modules), order="after",
                                           patch_args=dict(patch_args)), timeout=timeout)
        found = import_findings(outcome_of(res), None)
        return ("breaks" if any(f.severity is Severity.BREAKS for f in found) else "imports")


class Bisector:
    """One bisection session: a child runner, the probes and services, the signature."""

    def __init__(self, request: Any, plugin_manager: Any, runner: Any, *,
                 max_runs: int = MAX_RUNS, progress: ProgressFn | None = None,
                 probe_runner: Any = None) -> None:
        self.request = request
        self.runner = runner
        self.max_runs = max_runs
        self.progress = progress or (lambda text: None)
        self.probes = {p.name: p for p in collect_probes(plugin_manager)}
        #: set to give up: the next run raises (``BisectAhead`` once the result is unwanted)
        self.abandoned = threading.Event()
        # The scan's ProbeRunner while the scan runs (its services and slots), else our own.
        self._own_probe_runner = probe_runner is None
        if probe_runner is None:
            from patchcheck.runner.probing import ProbeRunner

            probe_runner = ProbeRunner(request, plugin_manager, child_runner=runner)
            probe_runner.__enter__()
        self._probe_runner = probe_runner
        self.params = patch_signature(runner, min(request.timeout, 60.0))

    def close(self) -> None:
        if self._own_probe_runner:
            self._probe_runner.__exit__(None, None, None)

    def probe_outcome(self, spec: Any, modules: Sequence[str], patch_args: Mapping[str, Any],
                      timeout: float) -> Any:
        from patchcheck.model import Measurement, Outcome
        from patchcheck.runner.probing import probe_task

        services, missing = self._probe_runner.endpoints(spec.services, spec.wait)
        if missing:
            return Measurement(outcome=Outcome.SKIPPED, error=missing[0].reason)
        order = "before" if spec.import_order == "before" else "after"
        task = probe_task(spec, services, modules, order, patch_args=patch_args)
        budget = min(timeout, 20.0 + spec.wait * spec.concurrency * 4)
        # In a slot, starved runs taken again alone: a run starved of CPU by the scan's other
        # children must not read "blocks" and move the culprits.
        return self._probe_runner.measure(task, timeout=budget, wait=spec.wait,
                                          concurrency=spec.concurrency)

    def _cost_probes(self, culprits: Sequence[str]) -> tuple[list[tuple[str, Any]], list[str]]:
        by_name = {p.name: p for p in self.params}
        chosen: list[tuple[str, Any]] = []
        unmeasured: list[str] = []
        for culprit in culprits:
            param = by_name.get(culprit)
            targets = list(param.modifies) if param and param.modifies else [culprit]
            found = False
            for target in targets:
                prefixes = PATCH_PROBES.get(target, (f"stdlib.{target}",))
                for name in sorted(self.probes):
                    if any(name == p or (p.endswith(".") and name.startswith(p)) or
                           name == p.rstrip(".") for p in prefixes):
                        if all(name != c[1].name for c in chosen):
                            chosen.append((culprit, self.probes[name]))
                        found = True
            if not found:
                unmeasured.append(culprit)
        return chosen, unmeasured

    def bisect(self, result: DistributionResult) -> BisectResult | None:
        check = _Check(self, result)
        if check.name is None:
            return None
        started = time.monotonic()
        base = dict(self.request.patch_args)
        candidates = enabled_patches(self.params, base)
        timeout = [min(self.request.timeout, 60.0)]

        def off(subset: Sequence[str]) -> dict[str, Any]:
            return {**base, **{name: False for name in subset}}

        def test(subset: tuple[str, ...]) -> bool:
            if self.abandoned.is_set():
                raise _Abandoned(result.name)
            t0 = time.monotonic()
            got = check.outcome(off(subset), timeout[0])
            if len(subset) == len(candidates):
                # The all-off run sets the pace: a run that takes far longer is a hang.
                timeout[0] = min(timeout[0], max(BISECT_MIN_TIMEOUT_S,
                                                 TIMEOUT_FACTOR * (time.monotonic() - t0)))
            return outcome_rank(got) < outcome_rank(check.before)

        self.progress(f"bisecting {result.name} ({check.name}) over {len(candidates)} "
                      "patch_all() arguments")
        jobs = max(1, int(getattr(self.request, "jobs", 1) or 1))
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="patchcheck-bisect") as pool:
            found = ddmin(candidates, test, max_tests=self.max_runs, parallel=jobs,
                          map_fn=pool.map)
        culprits = found.minimal or ()
        verified = None
        unmeasured: list[str] = []
        costs: list[CostProbe] = []
        alternatives: list[str] = []
        if culprits:
            verified = check.outcome(off(culprits), timeout[0])
            # A modifier of a culprit patch (aggressive for select) may be the narrower remedy:
            # one run each, outside the ddmin budget.
            for param in self.params:
                if (param.name in candidates and param.name not in culprits
                        and set(param.modifies) & set(culprits)
                        and outcome_rank(check.outcome(off((param.name,)), timeout[0]))
                        < outcome_rank(check.before)):
                    alternatives.append(param.name)
            chosen, unmeasured = self._cost_probes(culprits)

            def cost_of(item: tuple[str, Any]) -> CostProbe:
                patch, spec = item
                # Cost probes are bounded by the meter's own hang watchdog; a short --timeout
                # (meant for the hanging check) must not cut their start-up short.
                m = self.probe_outcome(spec, (), off(culprits), max(self.request.timeout, 10.0))
                return CostProbe(patch=patch, probe=spec.name, outcome=m.outcome,
                                 max_gap_ms=m.max_gap_ms, ratio=m.ratio, error=m.error)

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                costs = list(pool.map(cost_of, chosen))
        return BisectResult(
            check=check.name, before=check.before, candidates=candidates,
            culprits=tuple(culprits), verified=verified, runs=found.tests,
            max_runs=self.max_runs, budget_exhausted=found.exhausted,
            duration_s=time.monotonic() - started, cost=tuple(costs),
            unmeasured=tuple(unmeasured), alternatives=tuple(alternatives))


class _Abandoned(Exception):
    """A bisection given up because its result is no longer wanted."""


class BisectAhead:
    """Bisections started during the scan (``engine.FollowUp``): a distribution is bisected
    as soon as its probes are measured, with the scan's ProbeRunner, while the scan measures
    the others, rather than after the scan (grpcio's takes 1.3 s). ``bisect_results`` takes
    a result from here when the report picks the distribution and the bisection started
    from the report's own result; otherwise it is dropped. Once more distributions break
    than the default rule bisects, nothing more is started and what runs is given up."""

    def __init__(self, request: Any, plugin_manager: Any, flag: bool | None) -> None:
        self.request = request
        self.plugin_manager = plugin_manager
        self.flag = flag
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="patchcheck-bisect")
        self._started: dict[str, tuple[DistributionResult, Future[_Early]]] = {}
        self._breaking = 0
        self._gave_up = False
        self._closed = False
        self._bisector: Bisector | None = None

    def offer(self, result: DistributionResult, probes: Any) -> None:
        if self.flag is None and result.verdict is Verdict.BREAKS and not result.implicit:
            with self._lock:
                self._breaking += 1
                if self._breaking > DEFAULT_MAX_DISTRIBUTIONS:
                    self._give_up()  # the default rule will bisect none of them
                    return
        if not _bisectable(result, self.flag):
            return
        with self._lock:
            if self._gave_up or self._closed or result.key in self._started:
                return
            self._started[result.key] = (result, self._pool.submit(self._bisect, result, probes))

    def _give_up(self) -> None:
        self._gave_up = True
        for _, future in self._started.values():
            future.cancel()
        if self._bisector is not None:
            self._bisector.abandoned.set()

    def _bisect(self, result: DistributionResult, probes: Any) -> _Early:
        said: list[str] = []
        try:
            if self._bisector is None:
                self._bisector = Bisector(self.request, self.plugin_manager or probes.pm,
                                          probes.child_runner, probe_runner=probes,
                                          progress=said.append)
            self._bisector.progress = said.append
            return _Early(self._bisector.bisect(result), tuple(said), None)
        except Exception as exc:  # reported if the report wants this one
            return _Early(None, tuple(said), exc)

    def drain(self) -> None:
        """Wait for the bisections started (the scan's services are still up)."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True)
        if self._bisector is not None:
            self._bisector.close()

    def take(self, result: DistributionResult) -> _Early | None:
        """What the bisection of ``result`` found, if one ran from this very result."""
        with self._lock:
            started = None if self._gave_up else self._started.get(result.key)
        if started is None or not _same_input(started[0], result):
            return None
        future = started[1]
        if future.cancelled():
            return None
        return future.result()


@dataclass(frozen=True)
class _Early:
    found: BisectResult | None
    said: tuple[str, ...]  # its progress lines, shown when the report takes it
    error: Exception | None


def bisect_results(report: ScanReport, request: Any, *, plugin_manager: Any = None,
                   flag: bool | None = None, runner: Any = None,
                   progress: ProgressFn | None = None,
                   ahead: BisectAhead | None = None) -> ScanReport:
    """The report with ``bisect`` set on the distributions that ``wants_bisect`` picks.

    ``request`` is the scan's ``ScanRequest`` (python, patch_args, timeout, jobs, probe_paths,
    services); ``flag`` is ``--bisect`` (True), ``--no-bisect`` (False) or unset (None). The
    verdicts are not changed: bisection explains, the audit still judges. ``ahead``: the
    bisections the scan already ran (``BisectAhead``); the others run here.
    """
    todo = wants_bisect(report, flag)
    if not todo:
        return report
    problems = list(report.problems)
    done: dict[str, BisectResult] = {}
    if ahead is not None:
        left = []
        for result in todo:
            early = ahead.take(result)
            if early is None:
                left.append(result)
                continue
            for line in early.said:
                (progress or (lambda text: None))(line)
            if early.error is not None:
                problems.append(f"{result.name}: patch bisection failed: {early.error}")
            elif early.found is not None:
                done[result.key] = early.found
        todo = left
        if not todo:
            return _with_bisections(report, done, problems)
    if plugin_manager is None:
        from patchcheck.plugins import make_plugin_manager

        plugin_manager = make_plugin_manager(request.probe_paths)
    own = runner is None
    if own:
        from patchcheck.runner.forkserver import make_runner

        runner = make_runner(request.python)
    try:
        bisector = Bisector(request, plugin_manager, runner, progress=progress)
        try:
            for result in todo:
                try:
                    found = bisector.bisect(result)
                except Exception as exc:  # a failed bisection is patchcheck's problem
                    problems.append(f"{result.name}: patch bisection failed: {exc}")
                    continue
                if found is not None:
                    done[result.key] = found
        finally:
            bisector.close()
    except Exception as exc:
        problems.append(f"patch bisection failed: {exc}")
    finally:
        if own:
            runner.close()
    return _with_bisections(report, done, problems)


def _with_bisections(report: ScanReport, done: Mapping[str, BisectResult],
                     problems: Sequence[str]) -> ScanReport:
    results = tuple(replace(r, bisect=done[r.key]) if r.key in done else r
                    for r in report.results)
    return replace(report, results=results, problems=tuple(problems))
