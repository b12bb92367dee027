"""Stall records, the "hub stalls by library" summary and the JSON report.

A :class:`StallRecord` is plain, JSON-able data: it travels from pytest-xdist workers to the
controller on the test report, so everything in it is built in the process that measured it.
"""
from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from patchcheck.files import write_atomic
from patchcheck.watch.attribution import best_attribution
from patchcheck.watch.stacks import FrameInfo, format_frames, trim_runner, with_source

#: Version of the watchdog's JSON report (``--patchcheck-watch-report``).
WATCH_SCHEMA = "patchcheck.watch/1"

#: a stall is cpu-bound when the hub thread's CPU time is at least this share of the time it
#: was not queued for a CPU, and of the limit
CPU_BOUND_FRACTION = 0.5


class StallKind(str, enum.Enum):
    """What the hub thread did while the hub stood still. Str-valued: the JSON ``kind``."""

    WAITING = "waiting"  # asleep in the kernel: blocking I/O, a lock, a sleep in C
    CPU_BOUND = "cpu-bound"  # computing

    @classmethod
    def of(cls, duration_ms: float, cpu_ms: float, runqueue_ms: float | None,
           limit_ms: float) -> StallKind:
        """Decided once, where the stall was measured; every output reads it from the record.

        ``cpu_ms`` is the hub thread's CPU time (never the process's: the monitor thread's
        own work is not the stall's), ``runqueue_ms`` the time it was runnable but waited for
        a CPU (Linux; None elsewhere). That wait is the machine's load, neither computing nor
        waiting on I/O, so it is left out: a CPU-bound stall on a loaded 2-core box gets a
        fifth of the CPU yet is cpu-bound, and a short I/O wait whose thread then queued for
        a CPU is still waiting. CPU time does not grow with load, so it must also be at least
        half the limit: a thread preempted right after sending a query spends the whole wait
        in the run queue (0.4 ms of CPU in a 52 ms stall of a 20 ms ``SLEEP``) — it did not
        compute, it waited for the server and then for a CPU.
        """
        awake = duration_ms - (runqueue_ms or 0.0)
        computing = cpu_ms >= CPU_BOUND_FRACTION * max(awake, cpu_ms)
        return cls.CPU_BOUND if computing and cpu_ms >= CPU_BOUND_FRACTION * limit_ms \
            else cls.WAITING


@dataclass(frozen=True)
class StallRecord:
    """One stall over the limit: how long, where, whose code, what to do about it."""

    duration_ms: float
    limit_ms: float
    cpu_ms: float
    library: str | None  # distribution name; None: the project's own code / unknown
    location: str  # "psycopg2/extras.py:236"
    via: str | None = None  # "cur.execute (psycopg2.extensions.cursor)"
    stack: tuple[FrameInfo, ...] = ()
    remedy: str | None = None
    known: str | None = None  # what patchcheck.knowledge says about the library
    test: str = ""  # pytest node id
    phase: str = ""  # setup | call | teardown | "" (cooperative())
    source: str = ""  # which instrument saw the stack
    worker: str = ""  # pytest-xdist worker id ("gw0") that measured it
    #: how long the hub thread waited for a CPU during the stall (Linux); None: unknown
    runqueue_ms: float | None = None
    #: waiting or cpu-bound; None: decided from the numbers above (:meth:`StallKind.of`)
    kind: StallKind = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.kind is None:
            object.__setattr__(self, "kind", StallKind.of(self.duration_ms, self.cpu_ms,
                                                          self.runqueue_ms, self.limit_ms))

    @property
    def label(self) -> str:
        return self.library or "your code"

    def describe(self) -> list[str]:
        busy = ""
        if self.runqueue_ms is not None and self.runqueue_ms >= 0.1 * self.duration_ms:
            busy = f", {self.runqueue_ms:.0f} ms waiting for a CPU"
        head = f"stall {self.duration_ms:.0f} ms (limit {self.limit_ms:g} ms, " \
               f"{self.kind.value}, CPU {self.cpu_ms:.0f} ms{busy})"
        lines = [head, f"library: {self.label}  at {self.location}"]
        if self.via:
            lines.append(f"  blocked in a call: {self.via}")
        if self.known:
            lines.append(f"known: {self.known}")
        if self.remedy:
            lines.append(f"remedy: {self.remedy}")
        if self.stack:
            lines.append("stack (innermost last):")
            lines += format_frames(self.stack)
        elif not self.source:
            lines.append("stack: not captured (no sampling thread ran during the stall: C code "
                         "holding the GIL, or a machine too busy to schedule it)")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "test": self.test, "phase": self.phase,
            "duration_ms": round(self.duration_ms, 1), "limit_ms": self.limit_ms,
            "cpu_ms": round(self.cpu_ms, 1),
            "runqueue_ms": None if self.runqueue_ms is None else round(self.runqueue_ms, 1),
            "kind": self.kind.value,
            "library": self.library, "location": self.location, "via": self.via,
            "remedy": self.remedy, "known": self.known, "source": self.source,
            "worker": self.worker,
            "stack": [f.to_json() for f in self.stack],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StallRecord:
        return cls(
            duration_ms=float(data["duration_ms"]), limit_ms=float(data["limit_ms"]),
            cpu_ms=float(data.get("cpu_ms", 0.0)), library=data.get("library"),
            location=data.get("location", ""), via=data.get("via"),
            stack=tuple(FrameInfo.from_json(f) for f in data.get("stack") or ()),
            remedy=data.get("remedy"), known=data.get("known"), test=data.get("test", ""),
            phase=data.get("phase", ""), source=data.get("source", ""),
            worker=data.get("worker", ""),
            runqueue_ms=(None if data.get("runqueue_ms") is None
                         else float(data["runqueue_ms"])),
            # the measuring process decided it; a report from before the field: None, decided
            # from the numbers
            kind=_kind(data.get("kind")),  # type: ignore[arg-type]
        )


def _kind(value: Any) -> StallKind | None:
    try:
        return StallKind(value)
    except ValueError:
        return None


@lru_cache(maxsize=256)
def knowledge_for(distribution: str | None) -> tuple[str | None, str | None]:
    """(summary, remedy) from ``patchcheck.knowledge`` for a distribution, if known."""
    if not distribution:
        return None, None
    try:
        from patchcheck.knowledge import builtin_entries
        from patchcheck.model import normalize_name
    except Exception:
        return None, None
    key = normalize_name(distribution)
    for entry in builtin_entries():
        if normalize_name(entry.distribution) == key and entry.finding in ("blocks", "breaks"):
            return entry.summary, entry.remedy
    return None, None


def records_from_window(window: Any, *, limit_ms: float, rootdir: Path | None = None,
                        test: str = "", phase: str = "", source: str = "") -> list[StallRecord]:
    """Turn a closed :class:`patchcheck.watch.meter.Window` into attributed records."""
    out = []
    for raw in window.stalls:
        duration_ms = raw.duration_s * 1000.0
        if duration_ms < limit_ms:
            continue
        attribution, sample = best_attribution(raw.samples, rootdir)
        known, remedy = knowledge_for(attribution.distribution if attribution else None)
        out.append(StallRecord(
            duration_ms=duration_ms, limit_ms=limit_ms, cpu_ms=raw.cpu_s * 1000.0,
            runqueue_ms=None if raw.runqueue_s is None else raw.runqueue_s * 1000.0,
            library=attribution.distribution if attribution else None,
            location=attribution.location if attribution else "<no stack captured>",
            via=attribution.via if attribution else None,
            stack=with_source(trim_runner(sample.frames)) if sample is not None else (),
            remedy=remedy, known=known, test=test, phase=phase,
            source=(sample.source or source) if sample is not None else "",
            worker=os.environ.get("PYTEST_XDIST_WORKER", ""),
        ))
    return out


# --- the summary -----------------------------------------------------------------------------


@dataclass
class LibrarySummary:
    library: str | None
    stalls: int = 0
    worst_ms: float = 0.0
    total_ms: float = 0.0
    tests: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)
    remedy: str | None = None
    known: str | None = None
    cpu_bound: int = 0  # how many of the stalls were cpu-bound (the rest waited)

    @property
    def label(self) -> str:
        return self.library or "your code"

    @property
    def kinds(self) -> str:
        """``waiting``, ``cpu-bound`` or ``1 cpu-bound, 2 waiting``: the records' own kinds."""
        if not self.cpu_bound:
            return StallKind.WAITING.value
        if self.cpu_bound == self.stalls:
            return StallKind.CPU_BOUND.value
        return (f"{self.cpu_bound} {StallKind.CPU_BOUND.value}, {self.stalls - self.cpu_bound} "
                f"{StallKind.WAITING.value}")

    def to_json(self) -> dict[str, Any]:
        return {"library": self.library, "stalls": self.stalls, "cpu_bound": self.cpu_bound,
                "worst_ms": round(self.worst_ms, 1), "total_ms": round(self.total_ms, 1),
                "tests": self.tests, "locations": self.locations, "via": self.via,
                "remedy": self.remedy, "known": self.known}


def by_library(records: Iterable[StallRecord]) -> list[LibrarySummary]:
    """De-duplicated per library (and per location inside it), worst first."""
    groups: dict[str | None, LibrarySummary] = {}
    for r in records:
        g = groups.setdefault(r.library, LibrarySummary(r.library, remedy=r.remedy,
                                                        known=r.known))
        g.stalls += 1
        g.cpu_bound += r.kind is StallKind.CPU_BOUND
        g.total_ms += r.duration_ms
        g.worst_ms = max(g.worst_ms, r.duration_ms)
        if r.test and r.test not in g.tests:
            g.tests.append(r.test)
        if r.location not in g.locations:
            g.locations.append(r.location)
        if r.via and r.via not in g.via:
            g.via.append(r.via)
    # libraries before "your code", then by how much they stalled
    return sorted(groups.values(), key=lambda g: (g.library is None, -g.total_ms))


def summary_lines(records: Sequence[StallRecord], *, limit: int = 5) -> list[str]:
    lines: list[str] = []
    for g in by_library(records):
        tests = len(g.tests)
        lines.append(f"{g.label}: {g.stalls} stall(s) in {tests} test(s), worst "
                     f"{g.worst_ms:.0f} ms, total {g.total_ms:.0f} ms, {g.kinds}")
        for loc in g.locations[:limit]:
            lines.append(f"    at {loc}")
        if len(g.locations) > limit:
            lines.append(f"    (+{len(g.locations) - limit} more locations)")
        for via in g.via[:limit]:
            lines.append(f"    blocked in a call: {via}")
        if g.known:
            lines.append(f"    known: {g.known}")
        if g.remedy:
            lines.append(f"    remedy: {g.remedy}")
        for test in g.tests[:limit]:
            lines.append(f"    - {test}")
        if tests > limit:
            lines.append(f"    - (+{tests - limit} more tests)")
    return lines


def json_document(records: Sequence[StallRecord], *, settings: Mapping[str, Any],
                  patching: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "schema": WATCH_SCHEMA,
        "settings": dict(settings),
        "patching": dict(patching or {}),
        "stalls": [r.to_json() for r in records],
        "by_library": [g.to_json() for g in by_library(records)],
    }


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    write_atomic(path, json.dumps(document, indent=2) + "\n")


def write_watch_report(path: Path, records: Sequence[StallRecord], *, limit_ms: float,
                       strict: bool, watched_tests: int, note: str | None,
                       patching: Mapping[str, Any] | None) -> None:
    """``--patchcheck-watch-report FILE``: the run's stalls and settings, atomically."""
    settings = {"max_block_ms": limit_ms, "strict": strict, "watched_tests": watched_tests,
                "note": note}
    write_json(path, json_document(records, settings=settings, patching=patching))
