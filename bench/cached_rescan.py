"""Benchmark: a re-scan of an unchanged environment, answered from the cache (the results and
the target's inspection; issue #13: <= 0.3 s for 30 distributions).

Scans the first N (``-n``, default 30) installed distributions once with a fresh cache folder
(``PATCHCHECK_CACHE_DIR``, so the user's cache is untouched) and ``--no-probes``, then R more
times (``--repeat``), and prints each cached run's wall time and CPU time (user + sys of
patchcheck and every child it started), their medians, and the load average. On a shared
machine the wall time is mostly waiting for a core; the CPU time is the work.
``--baseline-src DIR`` does the same for the patchcheck in that source tree, in turns with this
one. The last line is issue #13's goal 4: the median wall time and its ratio to 0.3 s (1.00x
or less meets it). Nothing is asserted. ``PYTHONDONTWRITEBYTECODE`` is dropped for these runs
(an installed patchcheck has its bytecode compiled).

Usage: python bench/cached_rescan.py [-n N] [--repeat R] [--python PATH] [--baseline-src DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

GOAL_S = 0.3  # issue #13, goal 4
INSTRUMENT = {"gevent", "greenlet", "zope-event", "zope-interface", "patchcheck"}


def installed(python: str, n: int) -> list[str]:
    code = ("import importlib.metadata as md, json, re\n"
            "names = {re.sub(r'[-_.]+', '-', d.metadata['Name']).lower()\n"
            "         for d in md.distributions() if d.metadata['Name']}\n"
            "print(json.dumps(sorted(names)))\n")
    names = json.loads(subprocess.check_output([python, "-c", code], text=True))
    return [n for n in names if n not in INSTRUMENT][:n]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def scan(python: str, names: list[str], cache: str, src: str | None) -> tuple[float, float, int]:
    argv = [sys.executable, "-m", "patchcheck", "scan", *names, "--python", python,
            "--no-probes", "--format", "json", "--fail-on", "never"]
    env = dict(os.environ, PATCHCHECK_CACHE_DIR=cache)
    # An installed patchcheck has its bytecode compiled; without it every start recompiles
    # the whole package (0.7 s of CPU here), which is not what a user waits for.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if src:
        env["PYTHONPATH"] = src
    cpu, start = _children_cpu(), time.perf_counter()
    # Not from a checkout: ``-m`` would import the working directory's patchcheck.
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800,
                         cwd=tempfile.gettempdir()).stdout
    return time.perf_counter() - start, _children_cpu() - cpu, len(json.loads(out)["results"])


def _load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--baseline-src", default=None)
    args = ap.parse_args()
    names = installed(args.python, args.n)
    print(f"{len(names)} distributions, {os.cpu_count()} CPUs, {_load()}")
    sides = {"patchcheck": None} | ({"baseline": args.baseline_src} if args.baseline_src else {})
    with tempfile.TemporaryDirectory(prefix="patchcheck-bench-cache-") as root:
        caches = {side: os.path.join(root, side) for side in sides}
        for side, src in sides.items():
            wall, cpu, count = scan(args.python, names, caches[side], src)
            print(f"{side}: first scan (fills the cache) {wall:.2f} s, {cpu:.2f} s CPU, "
                  f"{count} results")
        times: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        for _ in range(args.repeat):
            for side, src in sides.items():
                wall, cpu, count = scan(args.python, names, caches[side], src)
                times[side].append((wall, cpu))
                print(f"{side}: cached re-scan {wall:.3f} s, {cpu:.3f} s CPU  {_load()}",
                      flush=True)
    for side, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        print(f"{side}: median cached re-scan {wall:.3f} s, "
              f"{statistics.median(c for _, c in runs):.3f} s CPU")
        if len(names) == 30:
            print(f"{side}: goal 4 (<= {GOAL_S} s for 30 distributions): {wall:.3f} s wall, "
                  f"{wall / GOAL_S:.2f}x the goal  {_load()}")


if __name__ == "__main__":
    main()
