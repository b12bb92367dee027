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
        self.source: Any = None
        self._limit_ms = default_limit_ms

    @property
    def source_name(self) -> str:
        return self.source.name if self.source is not None else ""

    def start(self) -> None:
        period = monitor_period(self.default_limit_ms)
        for cls in (MonitorSource, SamplerSource):
            source = cls(self.heartbeat)
            if source.start(period):
                self.source = source
                break
        self.heartbeat.start()
        if self.source is not None:
            self.source.ignore_current()

    def open(self, limit_ms: float) -> None:
        self._limit_ms = limit_ms
        if self.source is not None:
            self.source.set_period(monitor_period(limit_ms))
            self.source.watch_current()
        self.heartbeat.open(Window(limit_ms / 1000.0))

    def close(self, *, test: str = "", phase: str = "") -> list[StallRecord]:
        window = self.heartbeat.close()
        if self.source is not None:
            self.source.ignore_current()
        if window is None or not window.stalls:
            return []
        return records_from_window(window, limit_ms=self._limit_ms, rootdir=self.rootdir,
                                   test=test, phase=phase, source=self.source_name)

    def stop(self) -> None:
        self.heartbeat.stop()
        if self.source is not None:
            self.source.stop()
            self.source = None
