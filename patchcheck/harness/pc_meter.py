"""The hub meter: did the gevent hub keep running while a call waited on a slow peer?

Runs inside the child (standard library + gevent only, Python 3.9+). ``measure()`` runs K
copies of a call at once, each in its own greenlet, and measures over the window from their
release to the last return:

* **concurrency ratio** (primary, noise-robust): ``ratio = elapsed / T`` where ``T`` is the
  median duration of one call as that call saw it (≈ S, the peer's delay). Cooperating copies
  overlap, so ``elapsed ≈ T`` and ratio ≈ 1; blocking copies run one after the other, so
  ``elapsed ≈ K×T`` and ratio ≈ K. Normalising by the measured ``T`` rather than the nominal S
  keeps a call that makes two round trips (2×S each) from looking like a blocker.
* **largest heartbeat gap**: a greenlet sleeps 2 ms in a loop and we keep its beat times; the
  largest interval between two beats inside the window. Load on the machine can only make a
  gap *longer* (the process was descheduled), never shorter, so a small gap is hard evidence
  that the hub ran.
* **CPU time** of the process over the window: a stall that burns CPU ≈ elapsed is
  ``cpu-bound``; a blocked wait burns almost none.
* **the blocking stack**, from gevent's monitor thread (``EventLoopBlocked``) or, when that is
  unavailable, by sampling ``sys._current_frames()`` from a native thread.

Classification (``classify()``), with T and the thresholds chosen for a loaded 2-core box:

* any exception from a call → ``breaks`` (``LoopExit``, ``BlockingSwitchOutError``,
  ``greenlet.error`` included).
* a hang → ``breaks`` with ``hung`` and the ``phase`` that hung (``factory`` or ``call``):
  a native watchdog thread (an OS thread captured before patching, so it runs while the hub
  is blocked in C) declares it after ``max(2 s, 4×K×S)`` of the call (``max(8 s, 4×K×S)`` of
  the factories), writes every thread's and greenlet's stack and the result through
  ``on_hang`` and ends the child (``os._exit``). A call that waits *cooperatively* for an
  answer that never comes (grpc's ``channel_ready_future``) is declared after
  ``idle_hang_bound`` (today the call bound), when the heartbeat shows the hub ran without a
  stall of ``max(S/2, 100 ms)`` over the last ``max(K×S, 0.2 s)``: K copies that each wait S
  are done by K×S even one after the other, and a hub that keeps beating is not in a slow C
  call.
  One detector, one bound per kind: a hub stuck in C (a ``connect`` that never returns) keeps
  the full bound. Without ``on_hang`` (a direct caller) the cooperative join timeout reports
  the same result for hangs that leave the hub alive.
* a probe problem → ``inconclusive`` (nothing about the library was measured): the calls
  did not wait on the peer (median per-call time ``T < S/4`` while the hub ran), or the
  factory raised (other than gevent's own hub errors, which are the library's ``breaks``)
  or returned something that is not callable.
* ``blocks`` when ``ratio ≥ (K+1)/2`` (halfway between 1 and K: 2.0 for K=3) **and** the
  largest gap ``≥ max(T/2, 25 ms)`` (the hub really stalled for half a call). The gap rule
  stops a library that merely *serialises* its calls with a cooperative lock (ratio high,
  hub alive) from being called a blocker. For K=1 only the gap rule applies.
* ``cpu-bound`` when it ``blocks`` and the hub thread was *runnable* for ``≥ 0.5 × elapsed``:
  on Linux, CPU time plus run-queue wait of the hub thread (``/proc/thread-self/schedstat``),
  which stays ≈ elapsed for a CPU-bound stall even when other processes take the CPU (plain
  CPU time fell to ~30 % of elapsed on a loaded 2-core box); elsewhere the process CPU time.
  The reported ``cpu_ms`` is always the process CPU time.
* otherwise ``cooperates``.
* ``starved`` (a flag beside ``blocks``/``cpu-bound``): the run would be ``cooperates`` had
  each heartbeat gap been shortened by the hub thread's run-queue wait inside it (schedstat,
  read at every beat): the stall was the machine's, not the library's. The tool re-measures
  such a run with no other check running (``runner/probing.py``).

The result is a dict in ``patchcheck.model.Measurement.to_json()`` shape.
"""
from __future__ import annotations

import bisect
import itertools
import os
import statistics
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any, Callable

#: heartbeat period: far below gevent's default 100 ms blocking threshold
HEARTBEAT_S = 0.002
#: a gap shorter than this is never "blocking" (a busy 2-core box easily shows 10-20 ms)
MIN_BLOCK_GAP_S = 0.025
#: fraction of elapsed time spent on CPU above which a stall is "cpu-bound"
CPU_BOUND_FRACTION = 0.5
#: how many distinct blocking stacks to keep, and frames per stack
MAX_STACKS = 3
MAX_FRAMES = 25
#: the least time the measured calls / the factories get before the watchdog calls it a hang
MIN_CALL_HANG_S = 2.0
MIN_FACTORY_HANG_S = 8.0
#: how many times the whole expected wait (K×S) a phase may take before it is a hang
HANG_FACTOR = 4.0
#: ... and a call whose hub kept running (no stall, see ``idle_hang_bound``). Once 2×K×S and
#: 1 s: on a loaded machine paramiko's three concurrent ssh execs of `sleep 0.3` took longer
#: than 1.8 s while cooperating, and were reported as a hang. A hang must never be a guess, so
#: the bound is the call bound's again; the mechanism stays for a probe that declares a
#: shorter one.
IDLE_HANG_FACTOR = HANG_FACTOR
MIN_IDLE_HANG_S = MIN_CALL_HANG_S
#: the hub "kept running" when no heartbeat gap reached max(S/2, this) over the last
#: max(K×S, IDLE_WINDOW_MIN_S): a blocking C call of S makes a gap of S
IDLE_GAP_MIN_S = 0.1
IDLE_WINDOW_MIN_S = 0.2
#: how often the watchdog looks
WATCHDOG_PERIOD_S = 0.05
#: a call shorter than this fraction of S did not wait on the peer
NO_WAIT_FRACTION = 0.25
#: at most this many (t_ms, gap_ms) heartbeat points per measurement (the report's chart)
HEARTBEAT_POINTS = 200

OUTCOMES = ("cooperates", "blocks", "cpu-bound", "breaks", "skipped", "inconclusive")
PHASES = ("load", "remedy", "factory", "call")


def _native_primitives() -> tuple[Any, Any, Any, Any]:
    """start_new_thread, allocate_lock, get_ident and sleep of the OS, even if patched."""
    import _thread

    if "gevent.monkey" in sys.modules:
        from gevent.monkey import get_original

        return (get_original("_thread", "start_new_thread"),
                get_original("_thread", "allocate_lock"), get_original("_thread", "get_ident"),
                get_original("time", "sleep"))
    return _thread.start_new_thread, _thread.allocate_lock, _thread.get_ident, time.sleep


# Captured at import: pc_probe imports this module before it patches.
(_start_native_thread, _allocate_native_lock, _native_get_ident,
 _native_sleep) = _native_primitives()


def hang_bounds(concurrency: int, wait: float) -> tuple[float, float]:
    """(factory bound, call bound) in seconds: a phase still running then is a hang."""
    whole = HANG_FACTOR * max(1, concurrency) * wait
    return max(MIN_FACTORY_HANG_S, whole), max(MIN_CALL_HANG_S, whole)


def idle_hang_bound(concurrency: int, wait: float) -> float:
    """Seconds after which calls still waiting while the hub runs are hung (never later than
    the call bound of ``hang_bounds``)."""
    whole = max(1, concurrency) * wait
    return min(max(MIN_IDLE_HANG_S, IDLE_HANG_FACTOR * whole), hang_bounds(concurrency, wait)[1])

_THIS_FILE = os.path.basename(__file__).rsplit(".", 1)[0]  # "pc_meter" (also for .pyc)


def blocks_threshold(concurrency: int) -> float:
    """The ratio at or above which K copies count as having run one after the other."""
    return (concurrency + 1) / 2.0


def classify(*, concurrency: int, per_call_s: float, elapsed_s: float, max_gap_s: float,
             cpu_s: float) -> str:
    """Pure classification of a finished, error-free run (see the module docstring).

    ``cpu_s`` is the hub thread's runnable time (CPU + run-queue wait) where known."""
    t = max(per_call_s, 1e-6)
    gap_stalled = max_gap_s >= max(t / 2.0, MIN_BLOCK_GAP_S)
    if concurrency >= 2:
        stalled = (elapsed_s / t) >= blocks_threshold(concurrency) and gap_stalled
    else:
        stalled = gap_stalled
    if not stalled:
        return "cooperates"
    if elapsed_s > 0 and cpu_s >= CPU_BOUND_FRACTION * elapsed_s:
        return "cpu-bound"
    return "blocks"


def result_dict(outcome: str, *, wait_s: float = 0.0, concurrency: int = 0,
                elapsed_s: float = 0.0, ratio: float = 0.0, max_gap_s: float = 0.0,
                cpu_s: float = 0.0, stack: Sequence[str] = (), error: str | None = None,
                remedy: str | None = None, hung: bool = False,
                phase: str | None = None,
                heartbeat: Sequence[Sequence[float]] = (), starved: bool = False,
                run_queue_s: float | None = None,
                max_gap_unstarved_s: float | None = None) -> dict[str, Any]:
    """A dict in ``Measurement.to_json()`` shape (times in ms). ``hung``: calls never
    returned (the tool side reports PC203 from it, not from the error text); ``phase``:
    where the run ended early (one of ``PHASES``); ``heartbeat``: ``_Heartbeat.series()``,
    left out when empty; ``starved``: a ``blocks``/``cpu-bound`` run whose stall was mostly
    the hub thread waiting for a CPU; ``run_queue_s``: that wait over the calls (schedstat),
    None where unknown; ``max_gap_unstarved_s``: the largest gap less that wait inside it."""
    data: dict[str, Any] = {
        "outcome": outcome,
        "hung": hung,
        "wait_ms": round(wait_s * 1000.0, 1),
        "concurrency": concurrency,
        "elapsed_ms": round(elapsed_s * 1000.0, 1),
        "ratio": round(ratio, 2),
        "max_gap_ms": round(max_gap_s * 1000.0, 1),
        "cpu_ms": round(cpu_s * 1000.0, 1),
        "stack": list(stack),
        "error": error,
        "remedy": remedy,
        "phase": phase,
        "not_installed": None,  # set for "not-tried" (pc_probe)
        "install": None,
        "remedy_lines": [],
        "starved": starved,
        "run_queue_ms": None if run_queue_s is None else round(run_queue_s * 1000.0, 1),
        "max_gap_unstarved_ms": None if max_gap_unstarved_s is None
        else round(max_gap_unstarved_s * 1000.0, 1),
        "measured_alone": False,  # the tool's to say (runner/probing.py)
    }
    if heartbeat:
        data["heartbeat"] = [list(point) for point in heartbeat]
    return data


def describe_exception(exc: BaseException) -> str:
    cls = type(exc)
    mod = cls.__module__
    name = cls.__name__ if mod in ("builtins", "__main__") else "%s.%s" % (mod, cls.__qualname__)
    text = str(exc)
    return "%s: %s" % (name, text) if text else name


def _schedstat_paths() -> list[str]:
    import threading

    paths = ["/proc/thread-self/schedstat"]
    if hasattr(threading, "get_native_id"):
        paths.append("/proc/self/task/%d/schedstat" % threading.get_native_id())
    return paths


def schedstat() -> tuple[float, float] | None:
    """(CPU time, run-queue wait) of the calling thread in seconds (Linux), or None."""
    for path in _schedstat_paths():
        try:
            with open(path) as f:
                on_cpu, waiting = f.read().split()[:2]
            return int(on_cpu) / 1e9, int(waiting) / 1e9
        except (OSError, ValueError):
            continue
    return None


def runnable_seconds() -> float | None:
    """CPU time + run-queue wait of the calling thread (Linux schedstat), or None."""
    stat = schedstat()
    return None if stat is None else stat[0] + stat[1]


def run_queue_clock() -> Callable[[], float] | None:
    """A clock of the *calling* thread's run-queue wait in seconds — time it was ready to run
    but had no CPU — kept open for reading at every heartbeat (about 1 µs a read); None where
    there is no schedstat. Bound to the thread that calls this, whoever reads it later."""
    for path in _schedstat_paths():
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            int(os.pread(fd, 128, 0).split()[1])
        except (OSError, ValueError, IndexError):
            os.close(fd)
            continue
        return _reader(fd)
    return None


def _reader(fd: int) -> Callable[[], float]:
    pread = os.pread

    def waited() -> float:
        return int(pread(fd, 128, 0).split()[1]) / 1e9

    return waited


# --- blocking stacks ---------------------------------------------------------------------


def _trim_frames(frames: Sequence[str]) -> list[str]:
    """Drop the meter's own outer frames: the stack starts at the probe's call."""
    frames = list(frames)
    cut = 0
    for i, frame in enumerate(frames):
        if (_THIS_FILE + ".py") in frame:
            cut = i + 1
    frames = frames[cut:] or frames
    return frames[-MAX_FRAMES:]


class _StackCollector:
    """Keeps distinct blocking stacks seen while the window is open (thread-safe enough:
    list.append is atomic under the GIL)."""

    def __init__(self) -> None:
        self.open = False
        self._seen: set = set()
        self.stacks: list[list[str]] = []
        self.source = "none"
        #: when a source last saw a stall (perf_counter): the backup sampler's "already seen"
        self.last_seen = 0.0

    def add_frames(self, frames: Sequence[str]) -> None:
        if not self.open:
            return
        self.last_seen = time.perf_counter()
        if len(self.stacks) >= MAX_STACKS:
            return
        trimmed = _trim_frames(frames)
        key = "".join(trimmed)
        if key in self._seen:
            return
        self._seen.add(key)
        self.stacks.append(trimmed)

    def lines(self) -> list[str]:
        out: list[str] = []
        for n, frames in enumerate(self.stacks):
            if len(self.stacks) > 1:
                out.append("--- blocking stack %d of %d ---" % (n + 1, len(self.stacks)))
            for frame in frames:
                out.extend(line for line in frame.rstrip("\n").split("\n") if line.strip())
        return out


def _split_stack_text(text: str) -> list[str]:
    # traceback.format_stack() entries start with '  File "…"'; the monitor joins them.
    frames: list[str] = []
    for line in text.splitlines(True):
        if line.startswith('  File "') or not frames:
            frames.append(line)
        else:
            frames[-1] += line
    return frames


class _MonitorWatch:
    """gevent's monitor thread → ``EventLoopBlocked`` → the hub thread's stack."""

    def __init__(self, collector: _StackCollector, threshold: float) -> None:
        self.collector = collector
        self.threshold = threshold
        self._stop: Callable[[], None] | None = None

    def start(self) -> bool:
        import pc_monitor

        started = pc_monitor.start_monitor(self.threshold, self._on_blocked)
        if started is None:
            return False
        self._stop = started[1]
        self.collector.source = "gevent monitor thread"
        return True

    def _on_blocked(self, event: Any) -> None:
        if not self.collector.open:
            return
        info = list(getattr(event, "info", None) or ())
        for i, line in enumerate(info):
            if str(line).startswith("Blocked Stack") and i + 1 < len(info):
                self.collector.add_frames(_split_stack_text(str(info[i + 1])))
                return

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


class _SamplerWatch:
    """A native thread samples the hub thread's frame when the heartbeat is late: the stack
    source where gevent's monitor cannot run, and beside it a backup (``backup=True``) that
    samples only a stall the monitor has not reported — the monitor reports only when its
    tracer saw no switch between two checks, and a loaded CI machine once had a 900 ms stall
    without a report."""

    def __init__(self, collector: _StackCollector, threshold: float,
                 last_beat: Callable[[], float], backup: bool = False) -> None:
        self.collector = collector
        self.threshold = threshold
        self.last_beat = last_beat
        self.backup = backup
        self.running = False

    def start(self) -> bool:
        try:
            from gevent.monkey import get_original

            start_new_thread = get_original(("_thread", "thread"), "start_new_thread")
            self._sleep = get_original("time", "sleep")
            get_ident = get_original(("_thread", "thread"), "get_ident")
        except Exception:
            return False
        self._hub_ident = get_ident()
        self.running = True
        start_new_thread(self._run, ())
        if not self.backup:
            self.collector.source = "sampling sys._current_frames()"
        return True

    def _run(self) -> None:
        period = max(self.threshold / 2.0, 0.005)
        while self.running:
            self._sleep(period)
            if not self.collector.open:
                continue
            stalled_since = self.last_beat()
            if time.perf_counter() - stalled_since < self.threshold:
                continue
            if self.backup and self.collector.last_seen >= stalled_since:
                continue  # the monitor has this stall
            frame = sys._current_frames().get(self._hub_ident)
            if frame is not None:
                self.collector.add_frames(traceback.format_stack(frame))

    def stop(self) -> None:
        self.running = False


# --- the measurement -----------------------------------------------------------------------


class _Heartbeat:
    def __init__(self) -> None:
        self.beats: list[float] = []
        #: the hub thread's run-queue wait (seconds, cumulative) at each beat, where known:
        #: how much of a gap the machine, not the library, took (``max_gap_unstarved``)
        self.queued: list[float] = []
        self.running = True

    def run(self) -> None:
        import gevent

        append = self.beats.append
        now = time.perf_counter
        waited = run_queue_clock()  # opened here: in the hub's thread
        queue = self.queued.append
        while True:
            if waited is not None:
                queue(waited())
            append(now())
            if not self.running:
                return
            gevent.sleep(HEARTBEAT_S)

    def last(self) -> float:
        return self.beats[-1] if self.beats else 0.0

    def ran_since(self, start: float, stall: float) -> bool:
        """True when, from ``start`` to now, the hub never went ``stall`` seconds without a
        beat. Safe from another thread: beats are only appended, in time order."""
        beats = self.beats
        now = time.perf_counter()
        recent = beats[bisect.bisect_left(beats, start):]
        points = [start] + recent + [now]
        return all(b - a < stall for a, b in zip(points, points[1:]))

    def max_gap(self, start: float, end: float) -> float:
        """Largest interval without a beat inside [start, end] (clipped to the window)."""
        points = [start] + [b for b in self.beats if start < b < end] + [end]
        # The beat just before the window may have been the start of a stall into it.
        return max((b - a for a, b in zip(points, points[1:])), default=0.0)

    def max_gap_unstarved(self, start: float, end: float) -> float:
        """``max_gap`` with each gap less the hub thread's run-queue wait inside it: the
        stall the hub thread caused while it had a CPU. Without schedstat, ``max_gap``."""
        beats, queued = self.beats, self.queued
        n = min(len(beats), len(queued))
        if n == 0:
            return self.max_gap(start, end)
        lo = max(bisect.bisect_left(beats, start, 0, n) - 1, 0)
        largest = 0.0
        for j in range(lo + 1, n):
            a, b = beats[j - 1], beats[j]
            if b <= start:
                continue
            if a >= end:
                break
            gap = min(b, end) - max(a, start)
            largest = max(largest, gap - min(gap, queued[j] - queued[j - 1]))
        if beats[n - 1] < end:  # no beat after the window yet: the tail counts whole
            largest = max(largest, end - max(beats[n - 1], start))
        if beats[lo] > start:  # the window began before the first beat
            largest = max(largest, beats[lo] - start)
        return largest

    def series(self, start: float, end: float,
               limit: int = HEARTBEAT_POINTS) -> list[list[float]]:
        """``[t_ms, gap_ms]`` for each beat in [start, end]: its time since ``start`` and the
        gap that ended at it (the same intervals as ``max_gap``). Longer series keep, per time
        slice, the point with the largest gap, so a stall is never averaged away."""
        points = [start] + [b for b in self.beats if start < b < end] + [end]
        pairs = [(b - start, b - a) for a, b in zip(points, points[1:])]
        if len(pairs) > limit:
            span = max(end - start, 1e-9)
            slots: dict[int, tuple[float, float]] = {}
            for t, gap in pairs:
                i = min(int(t / span * limit), limit - 1)
                if i not in slots or gap > slots[i][1]:
                    slots[i] = (t, gap)
            pairs = [slots[i] for i in sorted(slots)]
        return [[round(t * 1000.0, 1), round(gap * 1000.0, 1)] for t, gap in pairs]


class _HangWatchdog:
    """A native thread that ends a hung run the same way every time (module docstring).

    The meter reports which phase it is in (``enter``) and when it is done (``finish``); a
    lock makes "done" and "declared hung" exclusive, so a run that returns at the deadline
    is either measured or hung, never both.
    """

    def __init__(self, bounds: dict[str, float], on_hang: Callable[[dict[str, Any]], Any],
                 describe: Callable[[str, float], dict[str, Any]],
                 idle: dict[str, tuple[float, Callable[[], bool]]] | None = None) -> None:
        self.bounds = bounds
        self.on_hang = on_hang
        self.describe = describe
        #: phase → (sooner bound, "the hub kept running"): a hang that leaves the hub idle
        self.idle = idle or {}
        self._lock = _allocate_native_lock()
        self._phase: str | None = None
        self._since = 0.0
        self._done = False

    def start(self) -> None:
        _start_native_thread(self._run, ())

    def enter(self, phase: str) -> None:
        with self._lock:
            self._phase, self._since = phase, time.perf_counter()

    def finish(self) -> bool:
        """Stop watching; False when the watchdog already declared a hang."""
        with self._lock:
            if self._done:
                return False
            self._done = True
            return True

    def _run(self) -> None:
        while True:
            _native_sleep(WATCHDOG_PERIOD_S)
            with self._lock:
                if self._done:
                    return
                phase = self._phase
                if phase is None:
                    continue
                ran, bound = time.perf_counter() - self._since, self.bounds[phase]
                if ran < bound:
                    sooner = self.idle.get(phase)
                    if sooner is None or ran < sooner[0] or not sooner[1]():
                        continue
                    bound = sooner[0]
                self._done = True
            try:
                result = self.describe(phase, bound)
            except BaseException as exc:  # evidence only: the hang is still a hang
                result = result_dict("breaks", hung=True, phase=phase,
                                     error="the %s did not return within %.1f s (%s)"
                                     % (phase, bound, describe_exception(exc)))
            self.on_hang(result)
            return


def _raised_in_library(tb: Any, probe_file: str | None) -> bool:
    """True when the innermost frame of ``tb`` is neither the probe's own file nor the harness:
    the library under test raised while the probe's factory set it up."""
    if tb is None or not probe_file:
        return False
    frames = traceback.extract_tb(tb)
    if not frames:
        return False
    inner = os.path.realpath(frames[-1].filename)
    harness = os.path.dirname(os.path.realpath(__file__))
    return inner != os.path.realpath(probe_file) and os.path.dirname(inner) != harness


def measure(factory: Callable[[int], Callable[[], Any]], *, wait: float, concurrency: int = 3,
            remedy: str | None = None,
            wrap: Callable[[Callable[[], Any]], Callable[[], Any]] | None = None,
            join_timeout: float | None = None, monitor: bool = True,
            skip_exceptions: tuple[type, ...] = (),
            on_hang: Callable[[dict[str, Any]], Any] | None = None,
            probe_file: str | None = None) -> dict[str, Any]:
    """Run ``concurrency`` copies of ``factory(i)()`` together and measure the hub.

    :param factory: ``factory(i)`` does the setup of copy ``i`` (in its own greenlet) and
        returns the zero-argument call to measure.
    :param wait: S, how long the peer delays (seconds).
    :param wrap: applied to each call (the threadpool remedy).
    :param skip_exceptions: exceptions from a factory that mean "cannot run here"
        (→ ``skipped``), e.g. ``patchcheck_probe.Skip``.
    :param on_hang: called from the native watchdog thread with the hung result; it must
        deliver it and end the process (``pc_child``). None: no watchdog.
    """
    import gevent
    from gevent.event import Event

    k = max(1, int(concurrency))
    s = float(wait)
    factory_bound, call_bound = hang_bounds(k, s)
    if join_timeout is None:
        # Only for a direct caller without a watchdog; with one, the watchdog fires first.
        join_timeout = call_bound + (5.0 if on_hang is not None else 0.0)
    common = dict(wait_s=s, concurrency=k, remedy=remedy)

    collector = _StackCollector()
    heartbeat = _Heartbeat()
    threshold = min(max(s / 4.0, 0.02), 0.1)
    watches: list[Any] = []
    if monitor:
        watch = _MonitorWatch(collector, threshold)
        if watch.start():
            watches.append(watch)
    sampler = _SamplerWatch(collector, threshold, heartbeat.last, backup=bool(watches))
    if sampler.start():
        watches.append(sampler)

    ready_count = [0]
    all_ready = Event()
    release = Event()
    spans: dict[int, tuple[float, float]] = {}
    setup_errors: list[tuple[int, BaseException, str]] = []
    call_errors: list[tuple[int, BaseException, str]] = []
    t_marks = {"release": 0.0}
    hub_ident = _native_get_ident()
    greenlets: list[Any] = []

    def hung_result(phase: str, bound: float) -> dict[str, Any]:
        """The same result whichever detector saw the hang (watchdog or join timeout)."""
        now = time.perf_counter()
        if phase == "factory":
            error = "%d of %d factories did not return within %.1f s" % (
                k - ready_count[0], k, bound)
            return result_dict("breaks", hung=True, phase=phase, error=error,
                               stack=_hang_stacks(greenlets, hub_ident), **common)
        t_release = t_marks["release"]
        error = "%d of %d calls did not return within %.1f s" % (k - len(spans), k, bound)
        return result_dict("breaks", hung=True, phase=phase, error=error,
                           elapsed_s=now - t_release,
                           max_gap_s=heartbeat.max_gap(t_release, now),
                           stack=_hang_stacks(greenlets, hub_ident), **common)

    dog = None
    if on_hang is not None:
        idle_window = max(k * s, IDLE_WINDOW_MIN_S)
        idle_stall = max(s / 2.0, IDLE_GAP_MIN_S)

        def hub_ran() -> bool:
            return heartbeat.ran_since(time.perf_counter() - idle_window, idle_stall)

        dog = _HangWatchdog({"factory": factory_bound, "call": call_bound}, on_hang,
                            hung_result, idle={"call": (idle_hang_bound(k, s), hub_ran)})
        dog.start()

    def worker(i: int) -> None:
        try:
            call = factory(i)
            if not callable(call):
                raise _NotCallable("the factory returned %r, not a zero-argument callable"
                                   % (call,))
            if wrap is not None:
                call = wrap(call)
        except gevent.GreenletExit:
            raise
        except BaseException as exc:  # the library's failure is data, whatever it is
            setup_errors.append((i, exc, traceback.format_exc()))
            call = None
        ready_count[0] += 1
        if ready_count[0] >= k:
            all_ready.set()
        if call is None:
            return
        release.wait()
        t0 = time.perf_counter()
        try:
            call()
        except gevent.GreenletExit:
            raise
        except BaseException as exc:
            call_errors.append((i, exc, traceback.format_exc()))
        finally:
            spans[i] = (t0, time.perf_counter())

    def finished(result: dict[str, Any]) -> dict[str, Any]:
        if dog is not None and not dog.finish():
            # The watchdog declared a hang at this very moment and is ending the process.
            _native_sleep(60)
        return result

    if dog is not None:
        dog.enter("factory")
    beat_greenlet = gevent.spawn(heartbeat.run)
    greenlets.extend(gevent.spawn(worker, i) for i in range(k))
    try:
        if not all_ready.wait(timeout=factory_bound):
            return finished(hung_result("factory", factory_bound))
        if setup_errors:
            i, exc, tb = setup_errors[0]
            release.set()
            if skip_exceptions and isinstance(exc, skip_exceptions):
                return finished(result_dict("skipped", error=str(exc), **common))
            if _is_hub_error(exc) or _raised_in_library(exc.__traceback__, probe_file):
                # gevent's own failures (LoopExit …) are the library's, even in the setup; so
                # is an exception raised inside the library's code (trio's import needing
                # select.epoll), told from the traceback's innermost frame, not its message.
                return finished(result_dict("breaks", phase="factory",
                                            error="setup: " + describe_exception(exc),
                                            stack=_tb_lines(tb), **common))
            return finished(result_dict(
                "inconclusive", phase="factory",
                error="the probe's factory failed: " + describe_exception(exc),
                stack=_tb_lines(tb), **common))
        gevent.sleep(0.01)  # let the heartbeat settle after setup
        cpu0 = time.process_time()
        stat0 = schedstat()
        collector.open = True
        t_release = time.perf_counter()
        t_marks["release"] = t_release
        if dog is not None:
            dog.enter("call")
        release.set()
        done = gevent.joinall(greenlets, timeout=join_timeout)
        t_joined = time.perf_counter()
        cpu1 = time.process_time()
        stat1 = schedstat()
        collector.open = False
        if len(done) < len(greenlets):
            result = hung_result("call", join_timeout)
            result["cpu_ms"] = round((cpu1 - cpu0) * 1000.0, 1)
            result["elapsed_ms"] = round((t_joined - t_release) * 1000.0, 1)
            series = heartbeat.series(t_release, t_joined)
            if series:
                result["heartbeat"] = [list(point) for point in series]
            return finished(result)
        t_end = max(end for _, end in spans.values())
        elapsed = t_end - t_release
        durations = [end - start for start, end in spans.values()]
        per_call = statistics.median(durations)
        max_gap = heartbeat.max_gap(t_release, t_end)
        cpu = cpu1 - cpu0
        ratio = elapsed / per_call if per_call > 0 else 0.0
        unstarved = (None if stat0 is None or stat1 is None
                     else heartbeat.max_gap_unstarved(t_release, t_end))
        numbers = dict(elapsed_s=elapsed, ratio=ratio, max_gap_s=max_gap, cpu_s=cpu,
                       heartbeat=heartbeat.series(t_release, t_end),
                       run_queue_s=None if stat0 is None or stat1 is None
                       else stat1[1] - stat0[1], max_gap_unstarved_s=unstarved)
        if call_errors:
            i, exc, tb = call_errors[0]
            return finished(result_dict("breaks", phase="call", error=describe_exception(exc),
                                        stack=_tb_lines(tb) + collector.lines(),
                                        **numbers, **common))
        busy = cpu if stat0 is None or stat1 is None else sum(stat1) - sum(stat0)
        outcome = classify(concurrency=k, per_call_s=per_call, elapsed_s=elapsed,
                           max_gap_s=max_gap, cpu_s=busy)
        # A stall that is mostly the hub thread waiting for a CPU (the machine's load, other
        # checks) is not the library's: the tool measures such a run again alone.
        starved = outcome in ("blocks", "cpu-bound") and classify(
            concurrency=k, per_call_s=per_call, elapsed_s=elapsed,
            max_gap_s=max_gap if unstarved is None else unstarved,
            cpu_s=busy) == "cooperates"
        if outcome == "cooperates" and per_call < NO_WAIT_FRACTION * s:
            # Decided from the measured T against S: the call did not wait on the peer, so
            # the hub had nothing to keep running through. Not a pass.
            return finished(result_dict(
                "inconclusive", phase="call",
                error="the call did not wait on the peer: one call took %.1f ms, expected "
                      "about %.0f ms" % (per_call * 1000.0, s * 1000.0),
                **numbers, **common))
        stack = collector.lines() if outcome in ("blocks", "cpu-bound") else []
        return finished(result_dict(outcome, stack=stack, starved=starved, **numbers,
                                    **common))
    finally:
        collector.open = False
        heartbeat.running = False
        for watch in watches:
            watch.stop()
        release.set()
        for g in greenlets:
            if not g.dead:
                g.kill(block=False)
        beat_greenlet.kill(block=False)


class _NotCallable(TypeError):
    """The probe's factory returned something that is not a call (a probe problem)."""


def _is_hub_error(exc: BaseException) -> bool:
    """gevent's own failure types: the library broke the hub, even during setup."""
    try:
        import greenlet
        from gevent.exceptions import BlockingSwitchOutError, LoopExit
    except ImportError:  # pragma: no cover - gevent is always importable in the child
        return False
    return isinstance(exc, (LoopExit, BlockingSwitchOutError, greenlet.error))


def _tb_lines(tb: str, limit: int = 40) -> list[str]:
    lines = [line for line in tb.rstrip("\n").split("\n") if line.strip()]
    return lines[-limit:]


def _hang_stacks(greenlets: Sequence[Any], hub_ident: int, limit: int = 300) -> list[str]:
    """The stacks that explain a hang, the most telling *last* (reports show the tail): the
    library's other threads, each unfinished copy's suspended greenlet, then what the hub's
    thread runs now (a call stuck in C is there). The harness's and gevent's own threads
    (watchdogs, the monitor) are left out. Safe from the watchdog thread: it only reads."""
    sections: list[list[str]] = []

    def add(title: str, frame: Any) -> None:
        lines = ["--- %s ---" % (title,)]
        for entry in _trim_frames(traceback.format_stack(frame)):
            lines.extend(x for x in entry.rstrip("\n").split("\n") if x.strip())
        sections.append(lines)

    try:
        frames = sys._current_frames()
        me = _native_get_ident()
        for ident, frame in frames.items():
            if ident not in (hub_ident, me) and not _is_own_thread(frame):
                add("thread %#x" % (ident,), frame)
        for i, g in enumerate(greenlets):
            frame = getattr(g, "gr_frame", None)
            if not g.dead and frame is not None:
                add("copy %d (a suspended greenlet)" % (i,), frame)
        if hub_ident in frames:
            add("the hub's thread (running now)", frames[hub_ident])
    except Exception as exc:  # evidence only; never fail the hang report over it
        sections.append(["(stacks unavailable: %s)" % (describe_exception(exc),)])
    lines = [line for section in sections for line in section]
    return lines[-limit:]


_HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))


def _is_own_thread(frame: Any) -> bool:
    """A thread of the harness (pc_child's dump watchdog) or gevent's monitor thread."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if os.path.dirname(os.path.abspath(filename)) == _HARNESS_DIR \
                or filename.endswith(os.path.join("gevent", "_monitor.py")):
            return True
        frame = frame.f_back
    return False


def _run_info(limit: int = 400) -> list[str]:
    """Every thread's and greenlet's stack, for a hang (gevent.util.format_run_info)."""
    try:
        from gevent.util import format_run_info

        lines: list[str] = []
        # Greenlets first: a hung call is a greenlet's frame; the threads' stacks follow.
        for chunk in itertools.chain(
                format_run_info(thread_stacks=False, greenlet_stacks=True),
                format_run_info(thread_stacks=True, greenlet_stacks=False)):
            lines.extend(str(chunk).rstrip("\n").split("\n"))
        return lines[:limit]
    except Exception as exc:  # evidence only; never fail the measurement over it
        return ["(format_run_info failed: %s)" % (exc,)]
