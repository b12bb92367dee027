"""Benchmark: `patchcheck scan` against the naive loop a user would write.

The naive loop runs, once per package and one after another:
    python -c "import gevent.monkey; gevent.monkey.patch_all(); import X"
patchcheck does far more per package (import after *and* before patching, stale references,
native threads, ELF scan of extension modules, verdicts) in parallel children. Both are timed in
one run on the same machine and the ratio is printed (lower is better; target <= 0.5,
issue #13), with the load average before and after (the machine may be shared).

The CPU time (user + sys of every process each side ran) is printed too: on a shared machine
it moves less than the wall time. ``--repeat R`` runs the sides in turn R times and prints
medians. ``--baseline-src DIR`` also times the patchcheck whose source tree is DIR (e.g. made with
``git archive main | tar -x -C DIR``) in the same run, for a before/after pair.

Usage: python bench/scan_vs_naive.py [-n N] [--python PATH] [--jobs J] [--repeat R]
                                     [--baseline-src DIR]
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


class Timed:
    """Wall time and the CPU time (user + sys) of every process it waited for."""

    def __enter__(self) -> Timed:
        self._wall = time.perf_counter()
        self._cpu = _children_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = _children_cpu() - self._cpu


def _children_cpu() -> float:
    # Descendants count once reaped: the check children by the zygote, the zygote by
    # patchcheck, patchcheck by us.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def naive(python: str, mods: list[str]) -> Timed:
    with Timed() as t:
        for mod in mods:
            subprocess.run([python, "-c",
                            f"import gevent.monkey; gevent.monkey.patch_all(); import {mod}"],
                           capture_output=True, timeout=120)
    return t


def patchcheck(python: str, names: list[str], jobs: int | None,
               src: str | None = None) -> tuple[Timed, dict]:
    argv = [sys.executable, "-m", "patchcheck", "scan", *names, "--python", python,
            "--format", "json", "--no-probes", "--no-cache", "--fail-on", "never"]
    if jobs:
        argv += ["--jobs", str(jobs)]
    env = dict(os.environ, PYTHONPATH=src) if src else None
    with Timed() as t:
        # Not from the checkout: ``-m`` puts the working directory ahead of PYTHONPATH.
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, env=env,
                              cwd=tempfile.gettempdir())
    return t, json.loads(proc.stdout)


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds, each running every side once in turn (medians printed)")
    ap.add_argument("--baseline-src", default=None,
                    help="also time the patchcheck in this source tree (before/after)")
    args = ap.parse_args()
    pkgs = installed(args.python, args.n)
    names = [p[0] for p in pkgs]
    mods = [p[1] for p in pkgs]
    print(f"{len(pkgs)} packages on {os.cpu_count()} CPUs: {', '.join(names)}")
    sides: dict[str, list[Timed]] = {"naive": [], "patchcheck": []}
    if args.baseline_src:
        sides["baseline"] = []
    for round_no in range(1, args.repeat + 1):
        print(f"round {round_no}: {_load()}", flush=True)
        sides["naive"].append(naive(args.python, mods))
        t, report = patchcheck(args.python, names, args.jobs)
        sides["patchcheck"].append(t)
        if args.baseline_src:
            t, base = patchcheck(args.python, names, args.jobs, args.baseline_src)
            sides["baseline"].append(t)
            if base.get("summary") != report.get("summary"):
                print(f"  verdicts differ: baseline {base.get('summary')}, "
                      f"patchcheck {report.get('summary')}")
        print("  " + "   ".join(f"{side} {ts[-1].wall:6.2f} s ({ts[-1].cpu:6.2f} s CPU)"
                                for side, ts in sides.items()), flush=True)
    print(f"after: {_load()}")
    wall = {side: statistics.median(t.wall for t in ts) for side, ts in sides.items()}
    cpu = {side: statistics.median(t.cpu for t in ts) for side, ts in sides.items()}
    print(f"naive loop (1 child per package, serial): {wall['naive']:7.2f} s "
          f"({cpu['naive']:.2f} s CPU)")
    print(f"patchcheck scan (2 children per package + ELF scan, --jobs "
          f"{args.jobs or os.cpu_count()}): {wall['patchcheck']:7.2f} s "
          f"({cpu['patchcheck']:.2f} s CPU)   verdicts: {report.get('summary', {})}")
    for side in sides:
        if side != "naive":
            print(f"ratio {side} / naive: wall {wall[side] / wall['naive']:.2f}   "
                  f"CPU {cpu[side] / cpu['naive']:.2f}")


if __name__ == "__main__":
    main()
