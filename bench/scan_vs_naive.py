"""Benchmark: `patchcheck scan` against the naive loop a user would write.

The naive loop runs, once per package and one after another:
    python -c "import gevent.monkey; gevent.monkey.patch_all(); import X"
patchcheck does far more per package (import after *and* before patching, stale references,
native threads, ELF scan of extension modules, verdicts) in parallel children. Both are timed in
one run on the same machine and the ratio is printed (lower is better; target <= 1.0).

Usage: python bench/scan_vs_naive.py [-n N] [--python PATH] [--jobs J]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def installed(python: str, n: int) -> list[tuple[str, str]]:
    """(distribution, first import name) for up to n installed distributions that import."""
    code = r"""
import json, importlib.metadata as md
out = []
for d in md.distributions():
    name = d.metadata["Name"]
    tl = (d.read_text("top_level.txt") or "").split()
    tl = [t for t in tl
          if t.isidentifier() and not t.startswith("_") and t not in ("tests", "test")]
    if name and tl:
        out.append((name, tl[0]))
print(json.dumps(sorted(set(map(tuple, out)))))
"""
    dists = json.loads(subprocess.check_output([python, "-c", code], text=True))
    skip = {"pip", "setuptools", "wheel", "patchcheck", "gevent", "greenlet"}
    good = []
    for name, mod in dists:
        if name.lower() in skip:
            continue
        # only packages that import cleanly on their own, so both sides do the same work
        if subprocess.run([python, "-c", f"import {mod}"], capture_output=True,
                          timeout=60).returncode == 0:
            good.append((name, mod))
        if len(good) >= n:
            break
    return good


def naive(python: str, mods: list[str]) -> float:
    start = time.perf_counter()
    for mod in mods:
        subprocess.run([python, "-c",
                        f"import gevent.monkey; gevent.monkey.patch_all(); import {mod}"],
                       capture_output=True, timeout=120)
    return time.perf_counter() - start


def patchcheck(python: str, names: list[str], jobs: int | None) -> tuple[float, dict]:
    argv = [sys.executable, "-m", "patchcheck", "scan", *names, "--python", python,
            "--format", "json", "--no-probes", "--no-cache", "--fail-on", "never"]
    if jobs:
        argv += ["--jobs", str(jobs)]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    return elapsed, json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--jobs", type=int, default=None)
    args = ap.parse_args()
    pkgs = installed(args.python, args.n)
    names = [p[0] for p in pkgs]
    mods = [p[1] for p in pkgs]
    print(f"{len(pkgs)} packages on {os.cpu_count()} CPUs: {', '.join(names)}")
    t_naive = naive(args.python, mods)
    t_pc, report = patchcheck(args.python, names, args.jobs)
    counts = report.get("summary", {})
    print(f"naive loop (1 child per package, serial): {t_naive:7.2f} s")
    print(f"patchcheck scan (2 children per package + ELF scan, --jobs "
          f"{args.jobs or os.cpu_count()}): {t_pc:7.2f} s   verdicts: {counts}")
    print(f"ratio patchcheck / naive: {t_pc / t_naive:.2f}")


if __name__ == "__main__":
    main()
