"""Run probes and controls in children, with the services they need, and remedies.

Tool side only: services are started here (outside the measured child), endpoints are handed
to the child in its spec, and the child's measurement comes back as ``Measurement`` JSON.
"""
from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from patchcheck.model import (
    DistributionResult,
    ImportOrder,
    Measurement,
    Outcome,
    ProbeOutcome,
    normalize_name,
)
from patchcheck.plugins import collect_services
from patchcheck.progress import NoProgress, ProgressSink, ScanPhase
from patchcheck.runner.forkserver import Runner, make_runner
from patchcheck.runner.process import ChildResult

# Controls check the meter itself (originals must block, patched objects must cooperate): a
# table of data shared with the child that runs them (harness/pc_protocol.json).
from patchcheck.runner.protocol import (
    CONTROL_SERVICES,
    CONTROLS,
    ControlTask,
    ProbeTask,
    RemedyCall,
)
from patchcheck.spec import (
    THREADPOOL_REMEDY,
    Endpoint,
    ProbeSpec,
    RemedySpec,
    ServiceUnavailable,
    greenify_remedy,
)
from patchcheck.verdicts.evidence import NativeCode

__all__ = ["CONTROLS", "CONTROL_SERVICES", "ProbeRunner", "child_modules", "client_libraries",
           "measurement_of", "probe_slots", "probe_task", "remedies_to_try"]

CONTROL_WAIT_S = 0.3
#: Probe children per job (``--jobs``, default the CPU count) run at once. A probe child spends
#: most of its life waiting on its slow peer, so 2 per job measured faster (``bench/probe_scan.py``:
#: 35.8 s against 73.7 s) and as stable in ``bench/meter_stability.py`` — but the test suite on 2
#: cores (its own 2 workers, each scanning) then saw a psycopg run starved for 433 ms with 18 ms
#: of CPU (``blocks``) and boto3 ``cpu-bound``: a verdict that changes between runs. 1 per job
#: until a measurement shows the meter holds with the machine full; the slots still order the
#: runs (follow-ups first) and let remedies start together.
PROBE_SLOTS_PER_JOB = 1
#: Slot priorities: a follow-up run (a remedy, the other import order) of a probe whose plain
#: run is known goes before a probe not started yet, so a probe's chain of runs never waits
#: behind the whole queue and ends the scan late.
_FOLLOW_UP, _FIRST = 0, 1


def probe_slots(jobs: int) -> int:
    """How many probe children run at once for ``--jobs jobs``."""
    return max(1, jobs) * PROBE_SLOTS_PER_JOB


class _Slots:
    """A counting semaphore whose waiters are served by (priority, arrival): the scan's limit
    on probe children running at once. Threads only wait for a slot; a holder never waits for
    another, so any number of threads may queue without deadlock."""

    def __init__(self, count: int) -> None:
        self._free = max(1, count)
        self._cond = threading.Condition()
        self._queue: list[tuple[int, int]] = []
        self._arrival = itertools.count()

    @contextmanager
    def held(self, priority: int) -> Iterator[None]:
        ticket = (priority, next(self._arrival))
        with self._cond:
            heapq.heappush(self._queue, ticket)
            while not (self._free and self._queue[0] == ticket):
                self._cond.wait()
            heapq.heappop(self._queue)
            self._free -= 1
            # another slot may still be free for the next in line
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._free += 1
                self._cond.notify_all()


def client_libraries(result: DistributionResult) -> tuple[str, ...]:
    """The sonames of the client libraries the native check found in the distribution's
    extension modules (PC140/PC141 evidence), bundled or linked from the system: what
    greenify is tried on."""
    names: dict[str, None] = {}
    for finding in result.findings:
        if isinstance(finding.evidence, NativeCode) and finding.evidence.extension:
            for lib in finding.evidence.libraries:
                names.setdefault(lib.soname, None)
    return tuple(names)


def remedies_to_try(spec: ProbeSpec, plain: Measurement, native_libraries: Sequence[str] = (),
                    *, always: bool = False) -> list[RemedySpec]:
    """Which remedies to measure after the plain run (pure: tested on data).

    A failed call (blocks, CPU-bound, breaks) gets the probe's remedies; ``always`` (the
    probe's ``measure_remedies="always"`` or ``--all-remedies``) also a cooperating one. The
    threadpool is added for blocks and breaks (C code that releases the GIL, or a call that
    fails only on the hub); greenify when the call blocked and the native check found client
    libraries to patch.
    """
    if plain.outcome.skipped or not (plain.outcome.failed or always):
        return []
    tried = list(spec.remedies)
    if (plain.outcome in (Outcome.BLOCKS, Outcome.BREAKS) or always) \
            and THREADPOOL_REMEDY not in tried:
        tried.append(THREADPOOL_REMEDY)
    if native_libraries and (plain.outcome is Outcome.BLOCKS or always):
        tried.append(greenify_remedy(native_libraries))
    return tried


def measurement_of(res: ChildResult, *, wait: float, concurrency: int,
                   remedy: str | None = None) -> Measurement:
    if res.data is not None:
        data = dict(res.data)
        data.setdefault("remedy", remedy)
        return Measurement.from_json(data)
    hung = res.timed_out  # killed on its wall-clock timeout: the call never returned
    if res.timed_out:
        error = f"did not return: the probe timed out after {res.duration_s:.0f} s"
    elif res.signal is not None:
        error = f"the process crashed: {res.describe_end()}"
    else:
        error = res.harness_error or res.problem or "no result"
    stack = tuple((res.stack_dump or res.stderr_tail).strip().splitlines()[-40:])
    return Measurement(outcome=Outcome.BREAKS, wait_ms=wait * 1000, concurrency=concurrency,
                       elapsed_ms=res.duration_s * 1000, error=error, stack=stack, remedy=remedy,
                       hung=hung)


#: The child spec's word for each order (``harness/pc_probe.py`` reads it).
_CHILD_ORDER = {ImportOrder.AFTER_PATCH: "after", ImportOrder.BEFORE_PATCH: "before"}


def child_modules(spec: ProbeSpec, modules: Sequence[str], order: ImportOrder
                  ) -> tuple[str, ...]:
    """The modules a measurement imports itself: imported before patching, the distribution's
    and the probe's ``before_imports`` (what the library's first use loads: an app's import
    lines); patched first, the factory imports what it uses."""
    if order is not ImportOrder.BEFORE_PATCH:
        return tuple(modules)
    return (*modules, *(m for m in spec.before_imports if m not in modules))


def _plain_order(spec: ProbeSpec) -> ImportOrder:
    """The order of a probe's first (plain) run."""
    return ImportOrder.BEFORE_PATCH if spec.import_order == "before" else ImportOrder.AFTER_PATCH


def probe_task(spec: ProbeSpec, services: Mapping[str, Any], modules: Sequence[str],
               order: str, remedy: RemedySpec | None = None, *,
               patch_args: Mapping[str, Any] | None = None) -> ProbeTask:
    """The child's task for one measurement of ``spec`` (imported ``order`` patching)."""
    return ProbeTask(
        name=spec.name, path=spec.path, function=spec.function, wait=spec.wait,
        concurrency=spec.concurrency, import_order=order,
        remedy=None if remedy is None else RemedyCall(
            remedy.label, remedy.function, requires=remedy.requires, install=remedy.install,
            libraries=remedy.libraries),
        services=dict(services), modules=tuple(modules), patch_args=dict(patch_args or {}))


class ProbeRunner:
    """Owns the services for one scan's probes; runs probes, remedies and controls."""

    def __init__(self, request: Any, pm: Any, *, progress: ProgressSink | None = None,
                 child_runner: Runner | None = None) -> None:
        self.request = request
        self.pm = pm
        self.progress: ProgressSink = progress or NoProgress()
        self.registry: Any = None
        # The scan's runner when given (it closes it); else our own, closed on exit.
        self._own_runner = child_runner is None
        self.child_runner: Runner = child_runner or make_runner(request.python)
        self._slots = _Slots(probe_slots(int(getattr(request, "jobs", 1) or 1)))

    def __enter__(self) -> ProbeRunner:
        from patchcheck.services import ServiceRegistry

        specs = collect_services(self.pm)
        urls = dict(getattr(self.request, "services", {}) or {})
        self.registry = ServiceRegistry(specs, urls=urls)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.registry is not None:
            self.registry.close()
        if self._own_runner:
            self.child_runner.close()

    # -- services -------------------------------------------------------------------------
    def start_services(self, probes: Mapping[str, Sequence[ProbeSpec]]) -> None:
        """Start (or find) every service the controls and ``probes`` need, side by side, before
        anything is measured; the progress line names them meanwhile. Each is asked for with
        the delay its probe asks for, so the probes reuse what started here."""
        wanted = {(name, CONTROL_WAIT_S): None for c in CONTROLS
                  for name in CONTROL_SERVICES.get(c, ())}
        wanted.update({(name, spec.wait): None for specs in probes.values() for spec in specs
                       for name in spec.services})
        if not wanted:
            return
        from patchcheck.services import PROXY_PREFIX

        names = dict.fromkeys(name.removeprefix(PROXY_PREFIX) for name, _ in wanted)
        self.progress.phase(ScanPhase.SERVICES, detail=", ".join(names))
        with ThreadPoolExecutor(max_workers=max(1, self.request.jobs)) as pool:
            # A service that cannot start is an answer (ServiceUnavailable) its probes report.
            list(pool.map(lambda key: self.registry.endpoint(key[0], delay=key[1]), wanted))

    # -- controls -------------------------------------------------------------------------
    def run_controls(self) -> tuple[ProbeOutcome, ...]:
        def one(name: str) -> ProbeOutcome:
            services, missing = self._endpoints(CONTROL_SERVICES.get(name, ()), CONTROL_WAIT_S)
            if missing:
                m = Measurement(outcome=Outcome.SKIPPED, error=missing[0].reason)
            else:
                # The controls measure the meter at the probes' concurrency (same slots).
                with self._slots.held(_FOLLOW_UP):
                    res = self.child_runner.run(
                        ControlTask(control=name, wait=CONTROL_WAIT_S, services=services),
                        timeout=min(self.request.timeout, 30.0))
                m = measurement_of(res, wait=CONTROL_WAIT_S, concurrency=0)
            return ProbeOutcome(probe=f"control:{name}", origin="builtin", plain=m,
                                expected=Outcome(CONTROLS[name]))

        self.progress.phase(ScanPhase.CONTROLS, detail=f"{len(CONTROLS)} controls")
        with ThreadPoolExecutor(max_workers=len(CONTROLS) or 1) as pool:
            return tuple(pool.map(one, CONTROLS))

    @staticmethod
    def control_ok(outcome: ProbeOutcome) -> bool:
        return outcome.as_expected

    # -- probes ---------------------------------------------------------------------------
    def _endpoints(self, names: Sequence[str], delay: float
                   ) -> tuple[dict[str, Any], list[ServiceUnavailable]]:
        endpoints: dict[str, Any] = {}
        missing: list[ServiceUnavailable] = []
        for name in names:
            got = self.registry.endpoint(name, delay=delay)
            if isinstance(got, Endpoint):
                endpoints[name] = got.to_json()
            else:
                missing.append(got)
        return endpoints, missing

    def _child(self, spec: ProbeSpec, services: Mapping[str, Any], modules: Sequence[str],
               order: ImportOrder, remedy: RemedySpec | None) -> Measurement:
        task = probe_task(spec, services, child_modules(spec, modules, order),
                          _CHILD_ORDER[order], remedy, patch_args=self.request.patch_args)
        # A hang is a verdict: the budget covers K sequential waits plus start-up, not more.
        budget = min(self.request.timeout, 20.0 + spec.wait * spec.concurrency * 4)
        # The plain run of each probe queues in plan order; every later run of a probe goes
        # first (see _FOLLOW_UP).
        priority = _FIRST if remedy is None and order.value == _plain_order(spec).value \
            else _FOLLOW_UP
        with self._slots.held(priority):
            res = self.child_runner.run(task, timeout=budget)
        return measurement_of(res, wait=spec.wait, concurrency=spec.concurrency,
                              remedy=None if remedy is None else remedy.label)

    def run_probe(self, spec: ProbeSpec, modules: Sequence[str],
                  native_libraries: Sequence[str] = ()) -> list[ProbeOutcome]:
        services, missing = self._endpoints(spec.services, spec.wait)
        if missing:
            why = "; ".join(f"{m.name}: {m.reason}" + (f" (install: {m.install_hint})"
                                                       if m.install_hint else "") for m in missing)
            return [ProbeOutcome(probe=spec.name, origin=spec.origin,
                                 plain=Measurement(outcome=Outcome.SKIPPED, error=why,
                                                   wait_ms=spec.wait * 1000))]
        order = (ImportOrder.BEFORE_PATCH if spec.import_order == "before"
                 else ImportOrder.AFTER_PATCH)
        plain = self._child(spec, services, modules, order, None)
        always = spec.measure_remedies == "always" or bool(
            getattr(self.request, "all_remedies", False))
        remedies = self._each(lambda remedy: self._child(spec, services, modules, order, remedy),
                              remedies_to_try(spec, plain, native_libraries, always=always))
        outcomes = [ProbeOutcome(probe=spec.name, origin=spec.origin, plain=plain,
                                 remedies=remedies, order=order)]
        if spec.import_order == "both":
            before = self._child(spec, services, modules, ImportOrder.BEFORE_PATCH, None)
            outcomes.append(ProbeOutcome(probe=spec.name, origin=spec.origin, plain=before,
                                         order=ImportOrder.BEFORE_PATCH))
        return outcomes

    @staticmethod
    def _each(run: Any, remedies: Sequence[RemedySpec]) -> tuple[Measurement, ...]:
        """Measure each remedy, all started at once as soon as the plain run is known (each
        waits for a slot of its own)."""
        if len(remedies) <= 1:
            return tuple(run(remedy) for remedy in remedies)
        with ThreadPoolExecutor(max_workers=len(remedies),
                                thread_name_prefix="patchcheck-remedy") as pool:
            return tuple(pool.map(run, remedies))

    def run_all(self, probes: Mapping[str, Sequence[ProbeSpec]],
                results: Mapping[str, DistributionResult]) -> dict[str, list[ProbeOutcome]]:
        """Every probe of every distribution: one thread per probe, the children they start
        limited by the scan's slots (``probe_slots``), plain runs in plan order."""
        out: dict[str, list[ProbeOutcome]] = {}
        jobs = []
        # The progress counts distributions: one is done when its last probe is.
        left = {key: len(specs) for key, specs in probes.items()}
        lock = threading.Lock()
        self.progress.phase(ScanPhase.PROBES, total=sum(1 for n in left.values() if n))

        def one(key: str, spec: ProbeSpec, modules: Sequence[str],
                libraries: Sequence[str]) -> list[ProbeOutcome]:
            try:
                return self.run_probe(spec, modules, libraries)
            finally:
                with lock:
                    left[key] -= 1
                    done = left[key] == 0
                if done:
                    self.progress.advance(results[key].name)

        count = sum(len(specs) for specs in probes.values())
        with ThreadPoolExecutor(max_workers=max(1, count),
                                thread_name_prefix="patchcheck-probe") as pool:
            for key, specs in probes.items():
                modules = results[key].modules
                libraries = client_libraries(results[key])
                for spec in specs:
                    jobs.append((key, pool.submit(one, key, spec, modules, libraries)))
            for key, fut in jobs:
                out.setdefault(normalize_name(key), []).extend(fut.result())
        return out
