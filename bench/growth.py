"""Benchmark: does a scan's cost per distribution stay flat as the scan grows? (issue #13)

Scans N = 10, 50, 150 (``-n``) installed distributions of the target interpreter — the first
N of the list ``scan --all`` checks, shuffled with a fixed seed (``--seed``) so that each N is a
sample of the same mix of light and heavy libraries, and each N contains the smaller ones —
with ``--no-probes --no-cache``, and prints
for each N: wall time, CPU time (user + sys of the tool and every child), both per
distribution, the tool process's peak RSS (VmHWM) and the peak RSS of the whole process tree
(tool + zygotes + checks, sampled every 50 ms). Per-distribution figures that climb with N
mean per-distribution work that grows with the scan. Then one ``scan --all`` (the goal: <= 10 s
without probes), then, over the distributions it imported, one fresh process each, serial
(``--no-floor`` skips them): the naive loop of both orders (``python -c "import
gevent.monkey; gevent.monkey.patch_all(); import M..."`` and the library first), and the
floor any faithful scan stands on, the libraries' own imports in both orders (each process's
CPU less that of the same process without the library), spread over the machine's cores.
Nothing is asserted; the load average is printed with every line. ``--baseline-src DIR``
scans with the patchcheck whose source tree is DIR (``git archive REV | tar -x -C DIR``).

Usage: python bench/growth.py [-n 10 50 150] [--seed S] [--python PATH] [--no-all]
                              [--no-floor] [--save-all REPORT.json] [--baseline-src DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time

INSTRUMENT = {"gevent", "greenlet", "zope-event", "zope-interface", "patchcheck"}


def installed(python: str) -> list[str]:
    code = ("import importlib.metadata as md, json, re\n"
            "names = {re.sub(r'[-_.]+', '-', d.metadata['Name']).lower()\n"
            "         for d in md.distributions() if d.metadata['Name']}\n"
            "print(json.dumps(sorted(names)))\n")
    names = json.loads(subprocess.check_output([python, "-c", code], text=True))
    return [n for n in names if n not in INSTRUMENT]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    ppid = int(f.read().rpartition(b")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, ()))
    return out


class Sampler(threading.Thread):
    """Peak RSS of the tool (VmHWM) and of its whole process tree (sum of VmRSS)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.tool_kb, self.tree_kb = pid, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.tool_kb = max(self.tool_kb, _status_kb(self.pid, "VmHWM"))
            self.tree_kb = max(self.tree_kb, sum(_status_kb(p, "VmRSS")
                                                 for p in _tree(self.pid)))


def scan(python: str, args: list[str],
         src: str | None = None) -> tuple[float, float, int, int, dict]:
    argv = [sys.executable, "-m", "patchcheck", "scan", *args, "--python", python,
            "--no-probes", "--no-cache", "--format", "json", "--fail-on", "never"]
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    cpu, start = _children_cpu(), time.perf_counter()
    # Not from a checkout: ``-m`` would import the working directory's patchcheck.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tempfile.gettempdir(), env=env)
    sampler = Sampler(proc.pid)
    sampler.start()
    out, err = proc.communicate(timeout=3600)
    wall = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    if not out.strip():
        raise SystemExit(f"the scan printed no report (exit {proc.returncode}): {err.strip()}")
    return wall, _children_cpu() - cpu, sampler.tool_kb, sampler.tree_kb, json.loads(out)


def _guarded(modules: list[str]) -> str:
    return "".join(f"try:\n import {m}\nexcept BaseException:\n pass\n" for m in modules)


def _cpu_of(python: str, code: str) -> float:
    before = _children_cpu()
    subprocess.run([python, "-c", code], capture_output=True, timeout=300,
                   cwd=tempfile.gettempdir())
    return _children_cpu() - before


def naive_and_floor(python: str, report: dict) -> dict[str, float]:
    """CPU of the naive loops over the report's distributions, one fresh process each, serial.

    ``first``/``after``: patch first, or after the import (what a user's loop costs: gevent's
    import, its ~25 plugin look-ups over every installed distribution and ``patch_all()``).
    ``floor``: the libraries' own imports in both orders, nothing else: each process's CPU
    less that of the same process without the library (``pass``, or just patching).
    """
    patch = "import gevent.monkey\ngevent.monkey.patch_all()\n"
    empty = min(_cpu_of(python, "pass") for _ in range(5))
    patched = min(_cpu_of(python, patch) for _ in range(5))
    cpu = {"first": 0.0, "after": 0.0, "floor": 0.0, "count": 0.0}
    start = time.perf_counter()
    for result in report.get("results", ()):
        modules = [m for m in result["modules"] if isinstance(m, str)]
        if not modules:
            continue
        cpu["count"] += 1
        first = _cpu_of(python, patch + _guarded(modules))
        cpu["first"] += first
        cpu["after"] += _cpu_of(python, _guarded(modules) + patch)
        alone = _cpu_of(python, _guarded(modules))
        cpu["floor"] += max(0.0, alone - empty) + max(0.0, first - patched)
    cpu["wall"] = time.perf_counter() - start
    return cpu


def _load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, nargs="+", default=[10, 50, 150])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--no-all", action="store_true", help="skip the final scan --all")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--no-floor", action="store_true",
                    help="skip the naive both-orders loop after --all")
    ap.add_argument("--save-all", metavar="PATH", help="write the --all scan's JSON report here")
    ap.add_argument("--baseline-src", metavar="DIR",
                    help="scan with the patchcheck of this source tree")
    args = ap.parse_args()
    names = installed(args.python)
    random.Random(args.seed).shuffle(names)
    print(f"{len(names)} distributions installed (without the instrument), "
          f"{os.cpu_count()} CPUs, {_load()}")
    print(f"{'N':>5} {'wall s':>8} {'wall/N':>7} {'CPU s':>8} {'CPU/N':>7} "
          f"{'tool MB':>8} {'tree MB':>8}  load")
    runs: list[tuple[str, list[str]]] = [(str(min(n, len(names))), names[:n]) for n in args.n]
    if not args.no_all:
        runs.append(("--all", ["--all"]))
    for label, scan_args in runs:
        wall, cpu, tool_kb, tree_kb, report = scan(args.python, scan_args, args.baseline_src)
        if label == "--all" and args.save_all:
            with open(args.save_all, "w", encoding="utf-8") as f:
                json.dump(report, f)
        count = len(report.get("results", ())) or 1
        print(f"{label:>5} {wall:8.2f} {wall / count:7.3f} {cpu:8.2f} {cpu / count:7.3f} "
              f"{tool_kb / 1024:8.1f} {tree_kb / 1024:8.1f}  {_load()}"
              + (f"  ({count} distributions)" if label == "--all" else ""), flush=True)
        if label == "--all" and not args.no_floor:
            naive = naive_and_floor(args.python, report)
            cores = os.cpu_count() or 1
            loop = naive["first"] + naive["after"]
            print(f"naive loop, both orders, {int(naive['count'])} distributions, serial: "
                  f"{loop:.2f} s CPU (patch first {naive['first']:.2f} s, after the import "
                  f"{naive['after']:.2f} s); --all used {cpu / loop:.2f}x its CPU")
            print(f"floor, the libraries' own imports in both orders: {naive['floor']:.2f} s "
                  f"CPU = {naive['floor'] / cores:.2f} s on {cores} cores; --all used "
                  f"{(cpu - naive['floor']) / count:.3f} s CPU per distribution above it  "
                  f"{_load()}", flush=True)

if __name__ == "__main__":
    main()
