"""Benchmark: a probe scan's wall time, phase by phase (issue #13, goal 2).

Runs ``patchcheck scan FILE --install --no-cache`` in this process (the CLI's own ``main``) with
timers around each phase, and prints the wall time of each phase, the total, the load average
before and after, and what the probe phase spent its time on: how many children ran, their
summed time, how many ran at once on average, and the longest ones (the critical path). The
venv ``--install`` builds is cached; run once first so that it exists (the ``install`` phase
then only checks it). ``--verdicts`` prints each row's verdict, to compare two versions.

    python bench/probe_scan.py [FILE] [--runs N] [--jobs J] [--verdicts] [-- extra scan args]

Goal: total <= 12 s on examples/requirements.txt (the issue measured 39.5 s at load < 0.5).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import patchcheck.audit as audit_mod  # noqa: E402
import patchcheck.bisect.run as bisect_mod  # noqa: E402
import patchcheck.engine as engine_mod  # noqa: E402
import patchcheck.install as install_mod  # noqa: E402
import patchcheck.runner.forkserver as forkserver_mod  # noqa: E402
import patchcheck.runner.probing as probing_mod  # noqa: E402
import patchcheck.services as services_mod  # noqa: E402
from patchcheck.cli import main as cli_main  # noqa: E402
from patchcheck.runner.protocol import ControlTask, ProbeTask  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Timeline:
    """Phase intervals and the probe children's intervals, from wrappers on the real code."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.phases: list[tuple[str, float, float]] = []
        self.children: list[tuple[str, float, float]] = []
        self.stops: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def phase(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                self.phases.append((name, start - self.t0, time.monotonic() - self.t0))
        return timed

    def stop(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(registry: Any, handle: Any) -> Any:
            # the name before stopping: a stopped fixture has no endpoint
            endpoint = getattr(handle, "endpoint", None)
            name = str(getattr(handle, "name", "") or getattr(endpoint, "name", "")
                       or type(handle).__name__)
            start = time.monotonic()
            try:
                return fn(registry, handle)
            finally:
                self.stops.append((name, time.monotonic() - start))
        return timed

    def child(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A runner's ``run``: the time a probe or control child really ran (after it got its
        slot), labelled by probe, remedy and order."""
        def timed(runner: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
            label = _label(task)
            start = time.monotonic()
            try:
                return fn(runner, task, *args, **kwargs)
            finally:
                if label:
                    with self._lock:
                        self.children.append((label, start - self.t0,
                                              time.monotonic() - self.t0))
        return timed


def _label(task: Any) -> str:
    if isinstance(task, ControlTask):
        return f"control:{task.control}"
    if not isinstance(task, ProbeTask):
        return ""  # import checks, target info: not the probe phase
    label = task.name + ("" if task.remedy is None else f" + {task.remedy.label[:40]}")
    return label + ("" if task.import_order == "after" else f" [{task.import_order}]")


def install_timers(tl: Timeline) -> list[tuple[Any, str, Any]]:
    """Wrap the phases; returns what to restore."""
    saved: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, attr: str, new: Any) -> None:
        saved.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, new)

    wrap(install_mod, "ensure_environment",
         tl.phase("install (cached venv)", install_mod.ensure_environment))
    wrap(engine_mod, "inspect_target", tl.phase("target info", engine_mod.inspect_target))
    wrap(engine_mod.Scan, "_import_phase",
         tl.phase("import checks", engine_mod.Scan._import_phase))
    wrap(engine_mod.Scan, "_probe_phase",
         tl.phase("probe phase (all)", engine_mod.Scan._probe_phase))
    wrap(probing_mod.ProbeRunner, "await_services",
         tl.phase("  services (left to wait for)", probing_mod.ProbeRunner.await_services))
    wrap(probing_mod.ProbeRunner, "run_all",
         tl.phase("  probes + remedies", probing_mod.ProbeRunner.run_all))
    for cls in (forkserver_mod.ForkRunner, forkserver_mod.SpawnRunner):
        wrap(cls, "run", tl.child(cls.run))
    wrap(services_mod.ServiceRegistry, "close",
         tl.phase("  services stop", services_mod.ServiceRegistry.close))
    wrap(services_mod.ServiceRegistry, "_stop_handle",
         tl.stop(services_mod.ServiceRegistry._stop_handle))
    wrap(bisect_mod, "bisect_results", tl.phase("bisect", bisect_mod.bisect_results))
    wrap(audit_mod, "judge", tl.phase("judge", audit_mod.judge))
    return saved


def in_flight(children: list[tuple[str, float, float]], start: float, end: float) -> float:
    """Average number of probe children running at once over [start, end]."""
    busy = sum(max(0.0, min(e, end) - max(s, start)) for _, s, e in children)
    return busy / max(end - start, 1e-9)


def one_run(argv: list[str], report: Path) -> tuple[float, int, Timeline]:
    tl = Timeline()
    saved = install_timers(tl)
    try:
        started = time.monotonic()
        code = int(cli_main(argv + ["--format", "json", "-o", str(report)]))
        return time.monotonic() - started, code, tl
    finally:
        for owner, attr, value in reversed(saved):
            setattr(owner, attr, value)


def print_run(total: float, code: int, tl: Timeline, load0: tuple[float, ...],
              load1: tuple[float, ...], top: int) -> None:
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}   "
          f"after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}   (cpus: {os.cpu_count()})")
    for name, s, e in sorted(tl.phases, key=lambda p: p[1]):
        print(f"  {name:<26} {e - s:7.2f} s   [{s:6.2f} .. {e:6.2f}]")
    slow = sorted(tl.stops, key=lambda x: -x[1])[:5]
    if slow:
        print("  slowest service stops: " + ", ".join(f"{n} {d:.2f} s" for n, d in slow))
    phase = [(s, e) for name, s, e in tl.phases if name == "probe phase (all)"]
    # only the probe phase's children (bisection runs probes of its own later)
    kids = [c for c in tl.children if phase and phase[0][0] <= c[1] <= phase[0][1]]
    if kids:
        first, last = phase[0]
        summed = sum(e - s for _, s, e in kids)
        print(f"  probe phase: {len(kids)} children (controls, probes, remedies), summed "
              f"{summed:.1f} s in {last - first:.1f} s = "
              f"{in_flight(kids, first, last):.2f} at once on average")
        edges = sorted([(s, 1) for _, s, _ in kids] + [(e, -1) for _, _, e in kids])
        running = peak = 0
        for _, step in edges:
            running += step
            peak = max(peak, running)
        print(f"  most children at once: {peak}")
        controls = [(s, e) for label, s, e in kids if label.startswith("control:")]
        if controls:
            # the probes start beside the controls: their span, not a phase of its own
            print(f"  controls: {len(controls)} children in [{min(s for s, _ in controls):6.2f}"
                  f" .. {max(e for _, e in controls):6.2f}]")
        print(f"  longest children (of {len(kids)}):")
        for label, s, e in sorted(kids, key=lambda c: c[1] - c[2])[:top]:
            print(f"    {e - s:6.2f} s  [{s:6.2f} .. {e:6.2f}]  {label}")
    print(f"TOTAL {total:.2f} s  (exit {code})")


def starved_line(report: Path) -> str:
    """How many measurements came out starved (the hub thread waited for a CPU) and were
    taken again alone, and the largest run-queue wait of any measurement."""
    data = json.loads(report.read_text())
    runs = [m for r in data["results"] for p in r.get("probes") or ()
            for m in (p["plain"], *(p.get("remedies") or ()))]
    runs += [c["plain"] for c in data.get("controls") or ()]
    again = sum(1 for m in runs if m.get("measured_alone"))
    twice = sum(1 for m in runs if m.get("measured_alone") and m.get("starved"))
    queued = [m["run_queue_ms"] for m in runs if m.get("run_queue_ms") is not None]
    most = f"{max(queued):.0f} ms" if queued else "unknown"
    return (f"measurements: {len(runs)}; starved and taken again alone: {again} "
            f"(starved twice: {twice}); largest run-queue wait of the hub thread: {most}")


def verdicts(report: Path) -> dict[str, str]:
    data = json.loads(report.read_text())
    return {r["name"]: r["verdict"] for r in data["results"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?", default=str(ROOT / "examples" / "requirements.txt"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=None, help="pass -j J to the scan")
    ap.add_argument("--top", type=int, default=8, help="longest children to list")
    ap.add_argument("--verdicts", action="store_true", help="print each row's verdict")
    ap.add_argument("--keep", metavar="DIR", help="keep each run's JSON report in DIR")
    ap.add_argument("extra", nargs="*", help="more scan arguments (after --)")
    args = ap.parse_args(argv)

    scan_argv = ["scan", args.file, "--install", "--no-cache", *args.extra]
    if args.jobs:
        scan_argv += ["-j", str(args.jobs)]
    totals = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            report = Path(args.keep or tmp) / f"report{n}.json"
            load0 = os.getloadavg()
            total, code, tl = one_run(scan_argv, report)
            load1 = os.getloadavg()
            print(f"--- run {n + 1} of {args.runs}: patchcheck {' '.join(scan_argv)}")
            print_run(total, code, tl, load0, load1, args.top)
            if report.exists():
                print("  " + starved_line(report))
            totals.append(total)
            if args.verdicts and report.exists():
                for name, verdict in verdicts(report).items():
                    print(f"    {name:<18} {verdict}")
    if len(totals) > 1:
        print(f"TOTAL median {statistics.median(totals):.2f} s, min {min(totals):.2f} s, "
              f"max {max(totals):.2f} s over {len(totals)} runs (goal <= 12 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
