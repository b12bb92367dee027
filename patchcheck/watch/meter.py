"""Measuring hub stalls in a process that runs under gevent (the pytest process, an app).

Two instruments, as in the child-side meter (``patchcheck.harness.pc_meter``) but for a
long-lived process whose measurement windows open and close many times:

* a **heartbeat greenlet** that sleeps a few milliseconds in a loop: the time between two
  beats inside an open window is how long the hub did not run (the stall's duration; gevent's
  ``EventLoopBlocked`` only carries the threshold, GEVENT-NOTES);
* a **stack source**: gevent's monitor thread (``EventLoopBlocked``, period = a third of the
  limit so that a stall at the limit always spans a whole period) or, where it cannot run, a
  native sampler thread that looks at the hub thread's frame when the heartbeat is late.

Windows are cheap to open and close (attribute writes): the overhead between windows is nil
because the hub never runs the heartbeat while the main greenlet does not yield.

A stall's CPU time is the **hub thread's**, read by the heartbeat (which runs in that thread)
at its last beat before and its first beat after the stall (:class:`HubClock`). Not the
process's: gevent's monitor thread builds a report every period while the hub is stalled
(``format_run_info`` walks every object, ~10 ms in a pytest process), so at a 5–10 ms limit
the process's CPU was mostly the monitor's own work and real I/O waits read as ``cpu-bound``
(issue #15 item 8). The monitor's reports are also trimmed to the blocked stack
(``start_monitor(brief_reports=True)``) so that, holding the GIL, it no longer steals a large
share of a CPU-bound stall's time from the hub thread.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from patchcheck.watch.stacks import Sample, sample_thread

#: samples kept per window (a long stall is reported once per monitor period)
MAX_SAMPLES = 40


class HubClock:
    """CPU time and run-queue wait of the thread that reads it (the hub's).

    ``time.thread_time()`` is the CPU time (exact: the kernel brings a running thread's total
    up to date for the call, which ``/proc/…/schedstat`` does only at scheduler ticks). On
    Linux the run-queue wait — time the thread was runnable but another process had the CPU —
    comes from ``/proc/thread-self/schedstat``, opened once in the hub's thread and re-read
    with ``pread`` (a few microseconds a beat); elsewhere it is unknown (None). Both are read
    in the hub's thread, so the monitor thread's work is never counted.
    """

    def __init__(self) -> None:
        self._fd: int | None = None
        self._pid = os.getpid()
        try:
            # thread-self is resolved when opened: the file stays this thread's
            self._fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
            self.read()
        except (OSError, ValueError):
            self.close()

    def read(self) -> tuple[float, float | None]:
        """(CPU seconds, run-queue seconds or None) of this thread since it started."""
        cpu = time.thread_time()
        fd = self._fd
        if fd is None:
            return cpu, None
        if os.getpid() != self._pid:  # a forked child: the file is the parent's thread
            self.close()
            return cpu, None
        try:
            return cpu, int(os.pread(fd, 64, 0).split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            self.close()
            return cpu, None

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and os.getpid() == self._pid:
            try:
                os.close(fd)
            except OSError:
                pass


@dataclass
class RawStall:
    """One interval without a heartbeat inside a window."""

    start: float  # perf_counter
    end: float
    cpu_s: float  # the hub thread's CPU time during the interval
    #: how long the hub thread was runnable but waited for a CPU (machine load); None: unknown
    runqueue_s: float | None = None
    samples: list[Sample] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.end - self.start


class Window:
    """One measured stretch (a test phase, a ``cooperative()`` block)."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.stalls: list[RawStall] = []
        self.samples: list[Sample] = []
        self.max_gap_s = 0.0


class Heartbeat:
    """A greenlet that beats every ``period`` seconds and records gaps in the open window."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.window: Window | None = None
        self.clock = HubClock()  # built in the hub's thread: the one it measures
        self.last = time.perf_counter()
        self.last_cpu, self.last_queue = self.clock.read()
        self._greenlet: Any = None
        self.running = False

    def start(self) -> None:
        import gevent

        self.running = True
        self._greenlet = gevent.spawn(self._run)
        self._greenlet.name = "patchcheck-heartbeat"

    def _stall(self, now: float, cpu: float, queue: float | None) -> RawStall:
        waited = None if queue is None or self.last_queue is None else queue - self.last_queue
        return RawStall(self.last, now, cpu - self.last_cpu, waited)

    def _run(self) -> None:
        from gevent import sleep

        perf, read = time.perf_counter, self.clock.read
        while self.running:
            sleep(self.period)
            now = perf()
            cpu, queue = read()
            w = self.window
            if w is not None:
                gap = now - self.last
                if gap > w.max_gap_s:
                    w.max_gap_s = gap
                if gap >= w.limit_s:
                    w.stalls.append(self._stall(now, cpu, queue))
            self.last, self.last_cpu, self.last_queue = now, cpu, queue

    def open(self, window: Window) -> None:
        # The hub may not have run since the last window closed (pytest's own work between
        # tests never yields): start counting now, not at the last beat.
        self.last = time.perf_counter()
        self.last_cpu, self.last_queue = self.clock.read()
        self.window = window

    def close(self) -> Window | None:
        w, self.window = self.window, None
        if w is None:
            return None
        now = time.perf_counter()
        gap = now - self.last
        if gap > w.max_gap_s:
            w.max_gap_s = gap
        if gap >= w.limit_s:  # the window ended inside a stall
            w.stalls.append(self._stall(now, *self.clock.read()))
        for s in w.samples:  # give each stall the stacks seen during it
            for st in w.stalls:
                if st.start <= s.at <= st.end + 0.001:
                    st.samples.append(s)
                    break
        return w

    def stop(self) -> None:
        self.running = False
        self.window = None
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None
        self.clock.close()


class MonitorSource:
    """gevent's monitor thread → ``EventLoopBlocked`` → a sample of the hub thread."""

    name = "gevent monitor thread"

    def __init__(self, heartbeat: Heartbeat) -> None:
        self.heartbeat = heartbeat
        self._unsubscribe: Callable[[], None] | None = None
        self._monitor: Any = None
        self._hub_ident = 0
        self._period = 0.0

    def start(self, period: float) -> bool:
        import gevent

        from patchcheck.harness.pc_monitor import start_monitor

        started = start_monitor(period, self._on_blocked, brief_reports=True)
        if started is None:
            return False
        self._monitor, self._unsubscribe = started
        self._hub_ident = gevent.get_hub().thread_ident
        self._period = period
        return True

    def set_period(self, period: float) -> None:
        """The monitor re-reads ``max_blocking_time`` on every loop (GEVENT-NOTES)."""
        if abs(period - self._period) > 1e-6:
            import gevent

            gevent.config.max_blocking_time = period
            self._period = period

    def watch_current(self) -> None:
        # The monitor only reports an active greenlet; between windows we told it to ignore.
        try:
            self._monitor.monitor_current_greenlet_blocking()
        except Exception:
            pass

    def ignore_current(self) -> None:
        try:
            self._monitor.ignore_current_greenlet_blocking()
        except Exception:
            pass

    def _on_blocked(self, event: Any) -> None:
        w = self.heartbeat.window
        if w is None or len(w.samples) >= MAX_SAMPLES:
            return
        try:
            sample = sample_thread(self._hub_ident, time.perf_counter(), self.name)
        except Exception:
            return
        if sample is not None:
            w.samples.append(sample)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


class SamplerSource:
    """A native thread that samples the hub thread while the heartbeat is late.

    The stack source where gevent's monitor cannot run, and beside it a **backup**
    (``backup=True``): it then samples only a stall that has no sample yet. gevent's monitor
    reports only when its tracer saw no greenlet switch between two of its checks, and one CI
    run on a loaded machine had stalls of twice the limit with no report at all; the sampler
    needs nothing but the heartbeat being late.
    """

    name = "sampling sys._current_frames()"

    def __init__(self, heartbeat: Heartbeat, *, backup: bool = False) -> None:
        self.heartbeat = heartbeat
        self.backup = backup
        self.running = False
        self._period = 0.05

    def start(self, period: float) -> bool:
        try:
            from gevent.monkey import get_original

            # In a patched process threading/time are gevent's: take the originals.
            start_new_thread = get_original(("_thread", "thread"), "start_new_thread")
            self._sleep = get_original("time", "sleep")
            get_ident = get_original(("_thread", "thread"), "get_ident")
        except Exception:
            return False
        self._hub_ident = get_ident()
        self._period = period
        self.running = True
        start_new_thread(self._run, ())
        return True

    def set_period(self, period: float) -> None:
        self._period = period

    def watch_current(self) -> None:
        pass

    def ignore_current(self) -> None:
        pass

    def _run(self) -> None:
        perf = time.perf_counter
        while self.running:
            self._sleep(self._period)
            w = self.heartbeat.window
            if w is None or len(w.samples) >= MAX_SAMPLES:
                continue
            now = perf()
            stalled_since = self.heartbeat.last
            if now - stalled_since < self._period:
                continue
            if self.backup and w.samples and w.samples[-1].at >= stalled_since:
                continue  # the monitor already has this stall
            try:
                sample = sample_thread(self._hub_ident, now, self.name)
            except Exception:
                continue
            if sample is not None:
                w.samples.append(sample)

    def stop(self) -> None:
        self.running = False


def gevent_state() -> tuple[bool, str]:
    """(is this process patched by gevent, a sentence saying how we know)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None:
        return False, "gevent.monkey was never imported: this run is not patched"
    try:
        patched = monkey.is_module_patched("socket") or monkey.is_module_patched("time")
    except Exception:
        patched = False
    if patched:
        return True, "patched by gevent.monkey"
    return False, "gevent.monkey.patch_all() was not called in this process"
