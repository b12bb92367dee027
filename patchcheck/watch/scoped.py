"""``with patchcheck.cooperative(max_block_ms=50): client.get(url)`` — a scoped assertion.

Like ``gevent.util.assert_switches(max_blocking_time=…, hub_only=True)`` (gevent #1182), but it
measures the *duration* of each stall with a heartbeat greenlet, captures the blocked stack
with a native sampler thread while the stall is happening, and names the distribution whose
frame (or C call) blocked. Raises :class:`NotCooperative` (an ``AssertionError``) on exit
when any stall inside the block exceeded the limit; an exception from the body wins.
"""
from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from patchcheck.watch.report import StallRecord, records_from_window


class NotCooperative(AssertionError):
    """The body of ``cooperative()`` stalled the gevent hub for longer than allowed."""

    def __init__(self, message: str, stalls: list[StallRecord]) -> None:
        super().__init__(message)
        self.stalls = stalls

    @property
    def worst(self) -> StallRecord:
        return max(self.stalls, key=lambda s: s.duration_ms)


class cooperative:  # noqa: N801 - used like a function: ``with patchcheck.cooperative():``
    """Assert that the hub kept running (no stall longer than ``max_block_ms``) in the block.

    :param max_block_ms: the longest stall allowed, in milliseconds.
    :param heartbeat_ms: the heartbeat period (the finest stall it can see).

    After the block, ``.stalls`` holds every stall at or above the limit and ``.max_gap_ms``
    the largest heartbeat gap, so a test can also assert on them itself.
    """

    def __init__(self, max_block_ms: float = 50.0, *, heartbeat_ms: float | None = None,
                 rootdir: str | Path | None = None) -> None:
        if max_block_ms <= 0:
            from patchcheck.errors import UsageError

            raise UsageError(f"cooperative(max_block_ms={max_block_ms!r}): must be > 0",
                             hint="give the longest stall you accept, e.g. 50")
        self.max_block_ms = float(max_block_ms)
        self.heartbeat_ms = heartbeat_ms or max(1.0, min(5.0, self.max_block_ms / 10.0))
        self.rootdir = Path(rootdir) if rootdir else Path.cwd()
        self.stalls: list[StallRecord] = []
        self.max_gap_ms = 0.0
        self._heartbeat: Any = None
        self._source: Any = None

    def __enter__(self) -> cooperative:
        try:
            import gevent  # noqa: F401
        except ImportError as exc:  # pragma: no cover - gevent is a dependency
            raise RuntimeError("patchcheck.cooperative() needs gevent") from exc
        from patchcheck.watch.meter import Heartbeat, SamplerSource, Window

        limit = self.max_block_ms / 1000.0
        self._heartbeat = Heartbeat(self.heartbeat_ms / 1000.0)
        self._source = SamplerSource(self._heartbeat)
        if not self._source.start(max(limit / 3.0, 0.002)):
            self._source = None
        self._heartbeat.start()
        self._heartbeat.open(Window(limit))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        window = self._heartbeat.close()
        self._heartbeat.stop()
        if self._source is not None:
            self._source.stop()
        if window is None:
            return
        self.max_gap_ms = window.max_gap_s * 1000.0
        self.stalls = records_from_window(window, limit_ms=self.max_block_ms,
                                          rootdir=self.rootdir)
        if exc_type is not None or not self.stalls:
            return
        raise NotCooperative(self.message(), self.stalls)

    def message(self) -> str:
        worst = max(self.stalls, key=lambda s: s.duration_ms)
        lines = [f"the gevent hub stalled for {worst.duration_ms:.0f} ms inside cooperative("
                 f"max_block_ms={self.max_block_ms:g}) — {len(self.stalls)} stall(s) over the "
                 "limit"]
        lines += worst.describe()
        return "\n".join(lines)
