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
  ``greenlet.error`` included); a call still running after ``K×S×4+5`` s → ``breaks``
  ("did not return within …", with the stuck greenlets' stacks). A call that blocks the hub
  forever never gets here: the tool side's timeout and faulthandler dump catch it.
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

The result is a dict in ``patchcheck.model.Measurement.to_json()`` shape.
"""
from __future__ import annotations

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
#: how long the factories (setup: connect, login …) may take before it counts as a hang
SETUP_TIMEOUT_S = 30.0

OUTCOMES = ("cooperates", "blocks", "cpu-bound", "breaks", "skipped")

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
                remedy: str | None = None, hung: bool = False) -> dict[str, Any]:
    """A dict in ``Measurement.to_json()`` shape (times in ms). ``hung``: calls never
    returned (the tool side reports PC203 from it, not from the error text)."""
    return {
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
        "not_installed": None,  # set for "not-tried" (pc_probe)
        "install": None,
        "remedy_lines": [],
    }


def describe_exception(exc: BaseException) -> str:
    cls = type(exc)
    mod = cls.__module__
    name = cls.__name__ if mod in ("builtins", "__main__") else "%s.%s" % (mod, cls.__qualname__)
    text = str(exc)
    return "%s: %s" % (name, text) if text else name


def runnable_seconds() -> float | None:
    """CPU time + run-queue wait of the calling thread (Linux schedstat), or None."""
    import threading

    paths = ["/proc/thread-self/schedstat"]
    if hasattr(threading, "get_native_id"):
        paths.append("/proc/self/task/%d/schedstat" % threading.get_native_id())
    for path in paths:
        try:
            with open(path) as f:
                on_cpu, waiting = f.read().split()[:2]
            return (int(on_cpu) + int(waiting)) / 1e9
        except (OSError, ValueError):
            continue
    return None


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

    def add_frames(self, frames: Sequence[str]) -> None:
        if not self.open or len(self.stacks) >= MAX_STACKS:
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
    """Fallback: a native thread samples the hub thread's frame when the heartbeat is late."""

    def __init__(self, collector: _StackCollector, threshold: float,
                 last_beat: Callable[[], float]) -> None:
        self.collector = collector
        self.threshold = threshold
        self.last_beat = last_beat
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
        self.collector.source = "sampling sys._current_frames()"
        return True

    def _run(self) -> None:
        period = max(self.threshold / 2.0, 0.005)
        while self.running:
            self._sleep(period)
            if not self.collector.open:
                continue
            if time.perf_counter() - self.last_beat() < self.threshold:
                continue
            frame = sys._current_frames().get(self._hub_ident)
            if frame is not None:
                self.collector.add_frames(traceback.format_stack(frame))

    def stop(self) -> None:
        self.running = False


# --- the measurement -----------------------------------------------------------------------


class _Heartbeat:
    def __init__(self) -> None:
        self.beats: list[float] = []
        self.running = True

    def run(self) -> None:
        import gevent

        append = self.beats.append
        now = time.perf_counter
        append(now())
        while self.running:
            gevent.sleep(HEARTBEAT_S)
            append(now())

    def last(self) -> float:
        return self.beats[-1] if self.beats else 0.0

    def max_gap(self, start: float, end: float) -> float:
        """Largest interval without a beat inside [start, end] (clipped to the window)."""
        points = [start] + [b for b in self.beats if start < b < end] + [end]
        # The beat just before the window may have been the start of a stall into it.
        return max((b - a for a, b in zip(points, points[1:])), default=0.0)


def measure(factory: Callable[[int], Callable[[], Any]], *, wait: float, concurrency: int = 3,
            remedy: str | None = None,
            wrap: Callable[[Callable[[], Any]], Callable[[], Any]] | None = None,
            join_timeout: float | None = None, monitor: bool = True,
            skip_exceptions: tuple[type, ...] = ()) -> dict[str, Any]:
    """Run ``concurrency`` copies of ``factory(i)()`` together and measure the hub.

    :param factory: ``factory(i)`` does the setup of copy ``i`` (in its own greenlet) and
        returns the zero-argument call to measure.
    :param wait: S, how long the peer delays (seconds).
    :param wrap: applied to each call (the threadpool remedy).
    :param skip_exceptions: exceptions from a factory that mean "cannot run here"
        (→ ``skipped``), e.g. ``patchcheck_probe.Skip``.
    """
    import gevent
    from gevent.event import Event

    k = max(1, int(concurrency))
    s = float(wait)
    if join_timeout is None:
        join_timeout = k * s * 4 + 5
    common = dict(wait_s=s, concurrency=k, remedy=remedy)

    collector = _StackCollector()
    heartbeat = _Heartbeat()
    threshold = min(max(s / 4.0, 0.02), 0.1)
    watch: Any = None
    if monitor:
        watch = _MonitorWatch(collector, threshold)
        if not watch.start():
            watch = None
    if watch is None:
        watch = _SamplerWatch(collector, threshold, heartbeat.last)
        if not watch.start():
            watch = None

    ready_count = [0]
    all_ready = Event()
    release = Event()
    spans: dict[int, tuple[float, float]] = {}
    setup_errors: list[tuple[int, BaseException, str]] = []
    call_errors: list[tuple[int, BaseException, str]] = []

    def worker(i: int) -> None:
        try:
            call = factory(i)
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

    beat_greenlet = gevent.spawn(heartbeat.run)
    greenlets = [gevent.spawn(worker, i) for i in range(k)]
    try:
        if not all_ready.wait(timeout=SETUP_TIMEOUT_S + k * s * 2):
            return result_dict("breaks", error="the probe's setup did not finish within %.0f s"
                               % (SETUP_TIMEOUT_S + k * s * 2), stack=_run_info(), **common)
        if setup_errors:
            i, exc, tb = setup_errors[0]
            if skip_exceptions and isinstance(exc, skip_exceptions):
                return result_dict("skipped", error=str(exc), **common)
            release.set()
            return result_dict("breaks", error="setup: " + describe_exception(exc),
                               stack=_tb_lines(tb), **common)
        gevent.sleep(0.01)  # let the heartbeat settle after setup
        cpu0 = time.process_time()
        busy0 = runnable_seconds()
        collector.open = True
        t_release = time.perf_counter()
        release.set()
        done = gevent.joinall(greenlets, timeout=join_timeout)
        t_joined = time.perf_counter()
        cpu1 = time.process_time()
        busy1 = runnable_seconds()
        collector.open = False
        if len(done) < len(greenlets):
            stuck = [g for g in greenlets if not g.dead]
            stack = _run_info()
            for g in stuck:
                g.kill(block=False)
            return result_dict(
                "breaks", hung=True, elapsed_s=t_joined - t_release,
                max_gap_s=heartbeat.max_gap(t_release, t_joined), cpu_s=cpu1 - cpu0,
                error="%d of %d calls did not return within %.1f s" % (
                    len(stuck), k, join_timeout),
                stack=stack, **common)
        t_end = max(end for _, end in spans.values())
        elapsed = t_end - t_release
        durations = [end - start for start, end in spans.values()]
        per_call = statistics.median(durations)
        max_gap = heartbeat.max_gap(t_release, t_end)
        cpu = cpu1 - cpu0
        ratio = elapsed / per_call if per_call > 0 else 0.0
        numbers = dict(elapsed_s=elapsed, ratio=ratio, max_gap_s=max_gap, cpu_s=cpu)
        if call_errors:
            i, exc, tb = call_errors[0]
            return result_dict("breaks", error=describe_exception(exc),
                               stack=_tb_lines(tb) + collector.lines(), **numbers, **common)
        busy = cpu if busy0 is None or busy1 is None else busy1 - busy0
        outcome = classify(concurrency=k, per_call_s=per_call, elapsed_s=elapsed,
                           max_gap_s=max_gap, cpu_s=busy)
        error = None
        if per_call < s / 4.0:
            # The call did not wait on the peer: nothing was really measured.
            error = ("inconclusive: one call took %.1f ms, expected about %.0f ms; the probe "
                     "does not wait on the slow peer" % (per_call * 1000.0, s * 1000.0))
        stack = collector.lines() if outcome in ("blocks", "cpu-bound") else []
        return result_dict(outcome, stack=stack, error=error, **numbers, **common)
    finally:
        collector.open = False
        heartbeat.running = False
        if watch is not None:
            watch.stop()
        release.set()
        for g in greenlets:
            if not g.dead:
                g.kill(block=False)
        beat_greenlet.kill(block=False)


def _tb_lines(tb: str, limit: int = 40) -> list[str]:
    lines = [line for line in tb.rstrip("\n").split("\n") if line.strip()]
    return lines[-limit:]


def _run_info(limit: int = 200) -> list[str]:
    """Every thread's and greenlet's stack, for a hang (gevent.util.format_run_info)."""
    try:
        from gevent.util import format_run_info

        lines: list[str] = []
        for chunk in format_run_info(thread_stacks=True, greenlet_stacks=True):
            lines.extend(str(chunk).rstrip("\n").split("\n"))
        return lines[:limit]
    except Exception as exc:  # evidence only; never fail the measurement over it
        return ["(format_run_info failed: %s)" % (exc,)]
