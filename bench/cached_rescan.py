"""Benchmark: a re-scan of an unchanged environment, answered from the result cache (issue #13:
<= 0.3 s for 30 distributions).

Scans the first N (``-n``, default 30) installed distributions once with a fresh cache folder
(``PATCHCHECK_CACHE_DIR``, so the user's cache is untouched) and ``--no-probes``, then R more
times (``--repeat``), and prints each cached run's wall time, its median, how many results it
reported, and the load average. Nothing is asserted. ``PYTHONDONTWRITEBYTECODE`` is dropped
for these runs (an installed patchcheck has its bytecode compiled).

Usage: python bench/cached_rescan.py [-n N] [--repeat R] [--python PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

INSTRUMENT = {"gevent", "greenlet", "zope-event", "zope-interface", "patchcheck"}


def installed(python: str, n: int) -> list[str]:
    code = ("import importlib.metadata as md, json, re\n"
            "names = {re.sub(r'[-_.]+', '-', d.metadata['Name']).lower()\n"
            "         for d in md.distributions() if d.metadata['Name']}\n"
            "print(json.dumps(sorted(names)))\n")
    names = json.loads(subprocess.check_output([python, "-c", code], text=True))
    return [n for n in names if n not in INSTRUMENT][:n]


def scan(python: str, names: list[str], cache: str) -> tuple[float, dict]:
    argv = [sys.executable, "-m", "patchcheck", "scan", *names, "--python", python,
            "--no-probes", "--format", "json", "--fail-on", "never"]
    env = dict(os.environ, PATCHCHECK_CACHE_DIR=cache)
    # An installed patchcheck has its bytecode compiled; without it every start recompiles
    # the whole package (0.7 s of CPU here), which is not what a user waits for.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    # Not from a checkout: ``-m`` would import the working directory's patchcheck.
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800,
                         cwd=tempfile.gettempdir()).stdout
    return time.perf_counter() - start, json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    names = installed(args.python, args.n)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{len(names)} distributions, {os.cpu_count()} CPUs, load {load}")
    with tempfile.TemporaryDirectory(prefix="patchcheck-bench-cache-") as cache:
        first, _ = scan(args.python, names, cache)
        print(f"first scan (fills the cache): {first:.2f} s")
        times = []
        for _ in range(args.repeat):
            wall, report = scan(args.python, names, cache)
            times.append(wall)
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"cached re-scan: {wall:.3f} s  ({len(report['results'])} results)  "
                  f"load {load}")
    print(f"median cached re-scan: {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
