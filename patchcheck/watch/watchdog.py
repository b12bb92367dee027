"""The watchdog over a test suite: one heartbeat and one stack source for the whole session,
a window per test phase.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from patchcheck.watch.meter import Heartbeat, MonitorSource, SamplerSource, Window
from patchcheck.watch.report import StallRecord, records_from_window


def heartbeat_period(limit_ms: float) -> float:
    """Seconds between beats: a tenth of the limit, between 2 and 10 ms."""
    return min(max(limit_ms / 10.0, 2.0), 10.0) / 1000.0


def monitor_period(limit_ms: float) -> float:
    """A third of the limit (at most 100 ms): a stall at the limit then spans a whole monitor
    period, so the monitor (which samples once per period) always sees it (GEVENT-NOTES
    "Limits" 1). Capped because the monitor thread sleeps a whole period before it re-reads
    the setting: a long period would blind it for the next test with a smaller limit."""
    return max(min(limit_ms, 100.0) / 3.0, 5.0) / 1000.0


class Watchdog:
    """Measures hub stalls in windows; started once, in the thread that runs the tests."""

    def __init__(self, default_limit_ms: float, *, rootdir: Path | None = None) -> None:
        self.default_limit_ms = default_limit_ms
        self.rootdir = rootdir
        self.heartbeat = Heartbeat(heartbeat_period(default_limit_ms))
        #: the stack sources: gevent's monitor thread and the sampler as its backup, or the
        #: sampler alone where the monitor cannot run
        self.sources: list[Any] = []
        self._limit_ms = default_limit_ms

    @property
    def source_name(self) -> str:
        return self.sources[0].name if self.sources else ""

    @property
    def sources_description(self) -> str:
        """For the session header: "gevent monitor thread (backup: sampling …)"."""
        if not self.sources:
            return ""
        if len(self.sources) == 1:
            return self.sources[0].name
        return f"{self.sources[0].name} (backup: {self.sources[1].name})"

    def start(self) -> None:
        period = monitor_period(self.default_limit_ms)
        monitor = MonitorSource(self.heartbeat)
        if monitor.start(period):
            self.sources.append(monitor)
        sampler = SamplerSource(self.heartbeat, backup=bool(self.sources))
        if sampler.start(period):
            self.sources.append(sampler)
        self.heartbeat.start()
        for source in self.sources:
            source.ignore_current()

    def open(self, limit_ms: float) -> None:
        self._limit_ms = limit_ms
        for source in self.sources:
            source.set_period(monitor_period(limit_ms))
            source.watch_current()
        self.heartbeat.open(Window(limit_ms / 1000.0))

    def close(self, *, test: str = "", phase: str = "") -> list[StallRecord]:
        window = self.heartbeat.close()
        for source in self.sources:
            source.ignore_current()
        if window is None or not window.stalls:
            return []
        return records_from_window(window, limit_ms=self._limit_ms, rootdir=self.rootdir,
                                   test=test, phase=phase, source=self.source_name)

    def stop(self) -> None:
        self.heartbeat.stop()
        for source in self.sources:
            source.stop()
        self.sources = []
