"""Run probes and controls in children, with the services they need, and remedies.

Tool side only: services are started here (outside the measured child), endpoints are handed
to the child in its spec, and the child's measurement comes back as ``Measurement`` JSON.
"""
from __future__ import annotations

import functools
import heapq
import itertools
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures import wait as futures_wait
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable

from patchcheck.model import (
    DistributionResult,
    ImportOrder,
    Measurement,
    Outcome,
    Phase,
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
           "measurement_of", "probe_slots", "probe_slots_max", "probe_task", "remedies_to_try",
           "starved_twice"]

CONTROL_WAIT_S = 0.3
#: Probe children run at once: always 1 per job (``--jobs``, default the CPU count), and up
#: to this many per job while a CPU is free. A probe child spends most of its life waiting on
#: its slow peer (summed, the example's 80 children wait ~60 s and compute ~15 s), so the
#: extra slots are what makes a probe scan take seconds, not half a minute. They are given one
#: at a time and only while the machine has an idle CPU (``_cpu_free``), so a child's CPU-heavy
#: start (fork, the library's import, ``patch_all()``) never waits for a core behind other
#: checks; on a full machine (a CI runner's other jobs) the scan falls back to 1 per job. A
#: measurement that still came out starved (``Measurement.starved``: the hub thread waited for
#: a CPU, not on the library) is taken again with no other child running (``_Slots.alone``).
#: Once 2 fixed slots per job were tried: faster, but a full 2-core machine starved a psycopg
#: run (433 ms stall, 18 ms CPU: ``blocks``) with nothing to tell it from a real stall.
#: 6 per job since the probe children stopped patching each (their zygote does): with 4 the
#: example's hanging grpc, amqp and kombu runs held most of the 8 slots while a CPU idled;
#: 6 measured 15.4-15.8 s against 16.3-16.8 s in turns, and bench/meter_stability.py
#: --jobs 12 --fork gave 0 flaps in 520 runs.
PROBE_SLOTS_PER_JOB = 1
PROBE_SLOTS_MAX_PER_JOB = 6
#: An extra slot is given at most this often (s): the child just started must have shown up
#: in the run queue before the next look at it.
EXTRA_SLOT_SPACING_S = 0.03
#: Slot priorities: the controls go first (the probes start beside them), then a starved run
#: measured again, then a remedy of a probe whose plain run is known, before a probe not
#: started yet, so a probe's chain of runs never waits behind the whole queue and ends the
#: scan late. Plain runs go longest first (the scan ends
#: with short runs filling the tail): by how long the probe took last time in this
#: environment (``ProbeRunner(durations=...)``, from the cache folder; only the order, never a
#: result), else by ``default_estimate``.
_CONTROL, _AGAIN, _FOLLOW_UP, _FIRST = -2, -1, 0, 1
#: A plain run of a probe that declares remedies, still running ``SPECULATE_AFTER_S`` (its
#: start) + ``SPECULATE_FACTOR`` × K × S after it got its slot, will not cooperate on time (a
#: cooperating run takes about S, a blocking one K × S): its remedies and the threadpool start
#: then, beside it, rather than after it — a hang (grpc's ``channel_ready_future``) otherwise
#: costs its whole bound twice in a row. What the plain run then does not call for is dropped.
SPECULATE_AFTER_S = 0.5
SPECULATE_FACTOR = 1.5


def probe_slots(jobs: int) -> int:
    """How many probe children always may run at once for ``--jobs jobs``."""
    return max(1, jobs) * PROBE_SLOTS_PER_JOB


def probe_slots_max(jobs: int) -> int:
    """How many probe children run at once for ``--jobs jobs`` while a CPU is free."""
    return max(1, jobs) * PROBE_SLOTS_MAX_PER_JOB


@functools.lru_cache(maxsize=1)
def _cpu_count() -> int:
    """This process's CPUs (read once: ``_cpu_free`` asks every few milliseconds)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _cpu_free() -> bool:
    """Is a CPU idle right now? Linux's count of runnable tasks (``/proc/loadavg``'s
    ``R/T``, which counts the thread reading it) against this process's CPUs; False where
    unknown, so only the fixed slots are used."""
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return False
    return running - 1 < _cpu_count()


class _Slots:
    """The scan's limit on probe children running at once: a semaphore whose waiters are
    served by (priority, estimate, arrival). ``base`` slots are always there; the next, up to
    ``limit``, only while ``cpu_free()`` and one per ``EXTRA_SLOT_SPACING_S``. ``alone`` waits
    until no other child runs and holds every slot. Threads only wait for a slot; a holder
    never waits for another, so any number of threads may queue without deadlock."""

    def __init__(self, base: int, limit: int | None = None,
                 cpu_free: Any = _cpu_free) -> None:
        self._base = max(1, base)
        self._limit = max(self._base, limit or self._base)
        self._cpu_free = cpu_free
        self._used = 0
        self._alone = False
        self._last_extra = 0.0
        self._cond = threading.Condition()
        self._queue: list[tuple[int, float, int, bool]] = []
        self._arrival = itertools.count()
        #: the most children that ran at once (bench/probe_scan.py prints it)
        self.peak = 0

    def _grant(self, alone: bool) -> bool | None:
        """Whether the head of the queue may start now; None: not yet, but maybe soon without
        a release (an extra slot waits for a free CPU)."""
        if self._alone:
            return False
        if alone:
            return self._used == 0
        if self._used < self._base:
            return True
        if self._used >= self._limit:
            return False
        now = time.monotonic()
        if now - self._last_extra >= EXTRA_SLOT_SPACING_S and self._cpu_free():
            self._last_extra = now
            return True
        return None

    @contextmanager
    def held(self, priority: int, *, alone: bool = False,
             estimate: float = 0.0) -> Iterator[None]:
        """Hold a slot; waiters go by ``priority``, then the longest ``estimate`` (seconds
        the run and what follows it will take), then arrival."""
        ticket = (priority, -estimate, next(self._arrival), alone)
        with self._cond:
            heapq.heappush(self._queue, ticket)
            while True:
                granted = self._queue[0] == ticket and self._grant(alone)
                if granted:
                    break
                self._cond.wait(EXTRA_SLOT_SPACING_S if granted is None else None)
            heapq.heappop(self._queue)
            self._used += 1
            self._alone = alone
            self.peak = max(self.peak, self._used)
            # another slot may still be free for the next in line
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._used -= 1
                self._alone = False
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


def starved_twice(m: Measurement) -> Measurement:
    """A run starved even with no other check running: the machine's other load took the
    CPU from the hub thread; no verdict on the library can be drawn from it."""
    queued = "" if m.run_queue_ms is None else f" for {m.run_queue_ms:.0f} ms"
    return replace(m, outcome=Outcome.INCONCLUSIVE, phase=Phase.CALL, stack=(), error=(
        f"the hub thread waited{queued} for a CPU during the calls, twice (the second time "
        f"with no other check of this scan running): the machine is too busy to measure "
        f"this probe; run the scan again with fewer jobs or on a quieter machine"))


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


def default_estimate(spec: ProbeSpec) -> float:
    """Seconds a probe's runs take, before it was ever timed: a blocking run (K × S) plus a
    start-up, twice for a probe that declares remedies (a library known to need one: its
    plain run is likely followed by more)."""
    one = 0.5 + spec.wait * max(1, spec.concurrency)
    return 2 * one if spec.remedies else one


def speculate_after(spec: ProbeSpec) -> float:
    """Seconds after which a plain run still running will not cooperate on time, so that a
    probe's remedies start beside it (``SPECULATE_*``)."""
    return SPECULATE_AFTER_S + SPECULATE_FACTOR * spec.wait * max(1, spec.concurrency)


def _finished(run: Future[Measurement], within: float) -> bool:
    try:
        run.result(timeout=within)
    except FuturesTimeout:
        return False
    return True


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
                 child_runner: Runner | None = None,
                 durations: Mapping[str, float] | None = None) -> None:
        self.request = request
        self.pm = pm
        self.progress: ProgressSink = progress or NoProgress()
        self.registry: Any = None
        # The scan's runner when given (it closes it); else our own, closed on exit.
        self._own_runner = child_runner is None
        self.child_runner: Runner = child_runner or make_runner(request.python)
        jobs = int(getattr(request, "jobs", 1) or 1)
        self._slots = _Slots(probe_slots(jobs), probe_slots_max(jobs))
        self._services: Future[None] | None = None
        #: how long each probe took last time (the start order), and this time (to keep)
        self._hints = dict(durations or {})
        self.durations: dict[str, float] = {}
        self._services_detail = ""

    def __enter__(self) -> ProbeRunner:
        from patchcheck.services import ServiceRegistry

        specs = collect_services(self.pm)
        urls = dict(getattr(self.request, "services", {}) or {})
        self.registry = ServiceRegistry(specs, urls=urls)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._services is not None:  # never close the registry under a starting service
            futures_wait([self._services])
        if self.registry is not None:
            self.registry.close()
        if self._own_runner:
            self.child_runner.close()

    # -- services -------------------------------------------------------------------------
    def start_services(self, probes: Mapping[str, Sequence[ProbeSpec]]) -> None:
        """Start (or find) every service the controls and ``probes`` need, side by side and in
        the background: the import checks run meanwhile, and the first measurement waits for
        them (``await_services``; nothing is timed while they start). Each is asked for with
        the delay its probe asks for, so the probes reuse what started here."""
        wanted = {(name, CONTROL_WAIT_S): None for c in CONTROLS
                  for name in CONTROL_SERVICES.get(c, ())}
        wanted.update({(name, spec.wait): None for specs in probes.values() for spec in specs
                       for name in spec.services})
        if not wanted:
            return
        from patchcheck.services import PROXY_PREFIX

        self._services_detail = ", ".join(
            dict.fromkeys(name.removeprefix(PROXY_PREFIX) for name, _ in wanted))

        def start_all() -> None:
            with ThreadPoolExecutor(max_workers=max(1, self.request.jobs) + 1) as pool:
                # The controls' zygote starts beside the services (the first control would
                # otherwise wait for it), on a thread of its own.
                prepare = getattr(self.child_runner, "prepare", None)
                zygote = (pool.submit(prepare, ControlTask(control=next(iter(CONTROLS)),
                                                           wait=CONTROL_WAIT_S),
                                      timeout=self.request.timeout)
                          if prepare is not None and CONTROLS else None)
                # A service that cannot start is an answer (ServiceUnavailable) its probes
                # report.
                list(pool.map(lambda key: self.registry.endpoint(key[0], delay=key[1]),
                              wanted))
                if zygote is not None:
                    zygote.exception()  # a zygote that cannot start: the runs fall back

        starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="patchcheck-services")
        self._services = starter.submit(start_all)
        starter.shutdown(wait=False)

    def await_services(self) -> None:
        """Wait for ``start_services``; the progress line names the services meanwhile."""
        started, self._services = self._services, None
        if started is None:
            return
        if not started.done():
            self.progress.phase(ScanPhase.SERVICES, detail=self._services_detail)
        started.result()

    # -- controls -------------------------------------------------------------------------
    def run_controls(self) -> tuple[ProbeOutcome, ...]:
        return self.start_controls()()

    def start_controls(self) -> Callable[[], tuple[ProbeOutcome, ...]]:
        """Start the controls (after the services); returns the call that waits for them.
        Their runs go before any probe's (``_CONTROL``), so probes may start meanwhile: they
        are judged only if every control measured what it must (``control_ok``)."""
        self.await_services()

        def one(name: str) -> ProbeOutcome:
            services, missing = self.endpoints(CONTROL_SERVICES.get(name, ()), CONTROL_WAIT_S)
            if missing:
                m = Measurement(outcome=Outcome.SKIPPED, error=missing[0].reason)
            else:
                # The controls measure the meter at the probes' concurrency (same slots).
                m = self._measured(
                    ControlTask(control=name, wait=CONTROL_WAIT_S, services=services),
                    _CONTROL, timeout=min(self.request.timeout, 30.0),
                    wait=CONTROL_WAIT_S, concurrency=0)
            return ProbeOutcome(probe=f"control:{name}", origin="builtin", plain=m,
                                expected=Outcome(CONTROLS[name]))

        self.progress.phase(ScanPhase.CONTROLS, detail=f"{len(CONTROLS)} controls")
        pool = ThreadPoolExecutor(max_workers=len(CONTROLS) or 1,
                                  thread_name_prefix="patchcheck-control")
        runs = [pool.submit(one, name) for name in CONTROLS]
        pool.shutdown(wait=False)
        return lambda: tuple(run.result() for run in runs)

    @staticmethod
    def control_ok(outcome: ProbeOutcome) -> bool:
        return outcome.as_expected

    # -- probes ---------------------------------------------------------------------------
    def measure(self, task: ProbeTask, *, timeout: float, wait: float,
                concurrency: int) -> Measurement:
        """One more run of a probe (patch bisection's): in a slot, before probes not started
        yet, and taken again alone if it starved, like the scan's own runs."""
        return self._measured(task, _FOLLOW_UP, timeout=timeout, wait=wait,
                              concurrency=concurrency)

    def endpoints(self, names: Sequence[str], delay: float
                  ) -> tuple[dict[str, Any], list[ServiceUnavailable]]:
        """The services' endpoints for a probe (started on first use), and those missing."""
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
               order: ImportOrder, remedy: RemedySpec | None, *,
               on_start: Callable[[], object] | None = None) -> Measurement:
        task = probe_task(spec, services, child_modules(spec, modules, order),
                          _CHILD_ORDER[order], remedy, patch_args=self.request.patch_args)
        # A hang is a verdict: the budget covers K sequential waits plus start-up, not more.
        budget = min(self.request.timeout, 20.0 + spec.wait * spec.concurrency * 4)
        # The plain runs of each probe (both orders, queued together) longest first; a
        # remedy, started once the plain run is known, before them.
        priority = _FIRST if remedy is None else _FOLLOW_UP
        estimate = self._hints.get(spec.name, default_estimate(spec)) if remedy is None else 0.0
        return self._measured(task, priority, timeout=budget, wait=spec.wait,
                              concurrency=spec.concurrency,
                              remedy=None if remedy is None else remedy.label,
                              on_start=on_start, estimate=estimate)

    def _measured(self, task: ProbeTask | ControlTask, priority: int, *, timeout: float,
                  wait: float, concurrency: int, remedy: str | None = None,
                  on_start: Callable[[], object] | None = None,
                  estimate: float = 0.0) -> Measurement:
        """Run ``task`` in a slot (``on_start`` called once it has one); a starved measurement
        (the hub thread waited for a CPU, not on the library) is taken again alone, and
        starved twice is inconclusive."""
        with self._slots.held(priority, estimate=estimate):
            if on_start is not None:
                on_start()
            res = self.child_runner.run(task, timeout=timeout)
        first = measurement_of(res, wait=wait, concurrency=concurrency, remedy=remedy)
        if not first.starved:
            return first
        with self._slots.held(_AGAIN, alone=True):
            res = self.child_runner.run(task, timeout=timeout)
        again = replace(measurement_of(res, wait=wait, concurrency=concurrency, remedy=remedy),
                        measured_alone=True)
        return starved_twice(again) if again.starved else again

    def run_probe(self, spec: ProbeSpec, modules: Sequence[str],
                  native_libraries: Sequence[str] = ()) -> list[ProbeOutcome]:
        services, missing = self.endpoints(spec.services, spec.wait)
        if missing:
            why = "; ".join(f"{m.name}: {m.reason}" + (f" (install: {m.install_hint})"
                                                       if m.install_hint else "") for m in missing)
            return [ProbeOutcome(probe=spec.name, origin=spec.origin,
                                 plain=Measurement(outcome=Outcome.SKIPPED, error=why,
                                                   wait_ms=spec.wait * 1000))]
        order = _plain_order(spec)
        always = spec.measure_remedies == "always" or bool(
            getattr(self.request, "all_remedies", False))

        def remedy_run(remedy: RemedySpec) -> Measurement:
            return self._child(spec, services, modules, order, remedy)

        started = threading.Event()
        began: list[float] = []  # when the plain run got its slot: the probe's duration

        def on_start() -> None:
            began.append(time.monotonic())
            started.set()

        with ThreadPoolExecutor(max_workers=len(spec.remedies) + 6,
                                thread_name_prefix="patchcheck-run") as pool:
            # The other order does not depend on the plain run: it queues beside it.
            before = (pool.submit(self._child, spec, services, modules,
                                  ImportOrder.BEFORE_PATCH, None)
                      if spec.import_order == "both" else None)
            plain_run = pool.submit(self._child, spec, services, modules, order, None,
                                    on_start=on_start)
            early = {}
            if spec.remedies and not always and started.wait(self.request.timeout) \
                    and not _finished(plain_run, speculate_after(spec)):
                # Overdue: it will not cooperate on time. Its remedies start now, beside it.
                early = {r: pool.submit(remedy_run, r)
                         for r in (*spec.remedies, THREADPOOL_REMEDY)}
            plain = plain_run.result()
            wanted = remedies_to_try(spec, plain, native_libraries, always=always)
            runs = [early.get(r) or pool.submit(remedy_run, r) for r in wanted]
            for remedy, run in early.items():
                if remedy not in wanted:
                    run.cancel()  # the plain run cooperated after all: not needed
            outcomes = [ProbeOutcome(probe=spec.name, origin=spec.origin, plain=plain,
                                     remedies=tuple(run.result() for run in runs),
                                     order=order)]
            if before is not None:
                outcomes.append(ProbeOutcome(probe=spec.name, origin=spec.origin,
                                             plain=before.result(),
                                             order=ImportOrder.BEFORE_PATCH))
        if began:
            self.durations[spec.name] = time.monotonic() - began[0]
        return outcomes

    def run_all(self, probes: Mapping[str, Sequence[ProbeSpec]],
                results: Mapping[str, DistributionResult], *,
                on_measured: Callable[[str, list[ProbeOutcome]], object] | None = None
                ) -> dict[str, list[ProbeOutcome]]:
        """Every probe of every distribution: one thread per probe, the children they start
        limited by the scan's slots (``probe_slots``), plain runs in plan order.
        ``on_measured(key, outcomes)`` is called (on a probe thread) as soon as the last probe
        of a distribution ends, with its outcomes in the order returned."""
        self.await_services()
        out: dict[str, list[ProbeOutcome]] = {}
        jobs = []
        # The progress counts distributions: one is done when its last probe is.
        left = {key: len(specs) for key, specs in probes.items()}
        ended: dict[str, dict[int, list[ProbeOutcome]]] = {key: {} for key in probes}
        lock = threading.Lock()
        self.progress.phase(ScanPhase.PROBES, total=sum(1 for n in left.values() if n))

        def one(key: str, index: int, spec: ProbeSpec, modules: Sequence[str],
                libraries: Sequence[str]) -> list[ProbeOutcome]:
            outcomes: list[ProbeOutcome] | None = None
            try:
                outcomes = self.run_probe(spec, modules, libraries)
                return outcomes
            finally:
                with lock:
                    left[key] -= 1
                    done = left[key] == 0
                    if outcomes is not None:
                        ended[key][index] = outcomes
                    complete = len(ended[key]) == len(probes[key])
                if done:
                    self.progress.advance(results[key].name)
                    if on_measured is not None and complete:
                        on_measured(key, [o for i in sorted(ended[key]) for o in ended[key][i]])

        count = sum(len(specs) for specs in probes.values())
        with ThreadPoolExecutor(max_workers=max(1, count),
                                thread_name_prefix="patchcheck-probe") as pool:
            for key, specs in probes.items():
                modules = results[key].modules
                libraries = client_libraries(results[key])
                for index, spec in enumerate(specs):
                    jobs.append((key, pool.submit(one, key, index, spec, modules, libraries)))
            for key, fut in jobs:
                out.setdefault(normalize_name(key), []).extend(fut.result())
        return out
