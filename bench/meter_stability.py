"""How stable is the hub meter on a busy machine?

Runs every control and every built-in standard-library probe N times (default 20), each in a
fresh child, while a spinning subprocess keeps another core busy, and prints per item: the
expected outcome (a control's from its table; a probe's, the one it measured most
often), how many runs measured it, flaps (runs that measured anything else), and the
median / p95 of the concurrency ratio and the largest heartbeat gap. ``--jobs J`` runs J
children at once (a probe scan runs ``probe_slots(jobs)`` at once), so the stability of the
meter can be compared at the concurrency the scan uses (up to ``probe_slots_max(jobs)`` while a
CPU is free). The ``starved`` column counts runs the meter flagged as starved of CPU: a scan
measures those again with nothing else running, so a flap among them is not a verdict.
``--fork`` forks each child from the scan's probe zygote (``patchcheck.runner.forkserver``)
instead of starting a fresh one, as a scan does.

    python bench/meter_stability.py [--n 20] [--jobs 1] [--fork] [--no-spin] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from patchcheck.probeloader import builtin_probe_dir, load_probe_dir  # noqa: E402
from patchcheck.runner.forkserver import make_runner  # noqa: E402
from patchcheck.runner.probing import probe_task  # noqa: E402
from patchcheck.runner.process import run_child  # noqa: E402
from patchcheck.runner.protocol import ALL_CONTROLS, ControlTask, Task  # noqa: E402
from patchcheck.services.fixtures import (  # noqa: E402
    SlowDNSServer,
    SlowHTTPServer,
    SlowTCPServer,
    SlowTLSServer,
)

WAIT = 0.3
MODE = "mode"
SPIN = "import time\nend = time.monotonic() + %f\nwhile time.monotonic() < end: pass\n"


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    idx = min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))
    return values[idx]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=1, help="children to run at once")
    ap.add_argument("--no-spin", action="store_true", help="do not load another core")
    ap.add_argument("--fork", action="store_true",
                    help="fork the children from the scan's zygotes, as a scan does")
    ap.add_argument("--only", default="", help="substring filter on item names")
    ap.add_argument("--json", metavar="PATH", help="also write the raw measurements")
    args = ap.parse_args(argv)

    servers = {"slow_tcp": SlowTCPServer(WAIT).start(), "slow_http": SlowHTTPServer(WAIT).start(),
               "slow_tls": SlowTLSServer(WAIT).start(), "slow_dns": SlowDNSServer(WAIT).start()}
    eps = {name: s.endpoint.to_json() for name, s in servers.items()}
    items: list[tuple[str, str, Task]] = []
    for control in ALL_CONTROLS.values():
        services = {s: eps[s] for s in control.services}
        items.append((f"control:{control.name}", control.expect,
                      ControlTask(control=control.name, wait=WAIT, services=services)))
    for p in load_probe_dir(builtin_probe_dir(), origin="builtin"):
        if not p.name.startswith("stdlib."):
            continue
        # A probe declares no expected outcome (some measure what does not cooperate, e.g.
        # stdlib.os.read): its expectation is the outcome it measured most often (MODE).
        items.append((p.name, MODE,
                      probe_task(p, {s: eps[s] for s in p.services}, (), "after")))
    items = [i for i in items if args.only in i[0]]

    spinner = None
    if not args.no_spin:
        spinner = subprocess.Popen([sys.executable, "-c", SPIN % (3600.0,)])
    raw: dict[str, list[dict]] = {}
    started = time.monotonic()

    runner = make_runner(sys.executable, use_fork=True) if args.fork else None

    def one(spec: Task) -> dict:
        res = (runner.run(spec, timeout=40) if runner is not None
               else run_child(sys.executable, spec, timeout=40))
        return dict(res.data) if res.data is not None else {
            "outcome": "harness-failure", "ratio": 0, "max_gap_ms": 0, "cpu_ms": 0,
            "error": res.harness_error or res.problem}

    pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        for rnd in range(args.n):
            # interleaved: load drifts hit every item; with --jobs, J of them at once
            got = list(pool.map(one, [spec for _, _, spec in items]))
            for (name, _expected, _spec), m in zip(items, got):
                raw.setdefault(name, []).append(m)
            print(f"round {rnd + 1}/{args.n} done ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr)
    finally:
        pool.shutdown()
        if runner is not None:
            runner.close()
        if spinner is not None:
            spinner.kill()
            spinner.wait()
        for s in servers.values():
            s.stop()

    header = ("item", "expected", "ok", "flaps", "starved", "ratio med", "ratio p95", "gap med ms",
              "gap p95 ms", "cpu med ms", "other outcomes")
    rows = [header]
    total_flaps = starved_flaps = 0
    for name, expected, _ in items:
        ms = raw[name]
        outcomes = Counter(m["outcome"] for m in ms)
        if expected == MODE:
            expected = outcomes.most_common(1)[0][0]
        ok = outcomes.get(expected, 0)
        flaps = len(ms) - ok
        total_flaps += flaps
        # a scan measures a starved run again alone (runner/probing.py), so such a flap is
        # not a verdict: counted apart
        starved = sum(1 for m in ms if m.get("starved"))
        starved_flaps += sum(1 for m in ms if m.get("starved") and m["outcome"] != expected)
        ratios = [m["ratio"] for m in ms]
        gaps = [m["max_gap_ms"] for m in ms]
        cpus = [m["cpu_ms"] for m in ms]
        other = ", ".join(f"{k}×{v}" for k, v in outcomes.items() if k != expected)
        rows.append((name, expected, f"{ok}/{len(ms)}", str(flaps), str(starved),
                     f"{statistics.median(ratios):.2f}", f"{_pct(ratios, 0.95):.2f}",
                     f"{statistics.median(gaps):.1f}", f"{_pct(gaps, 0.95):.1f}",
                     f"{statistics.median(cpus):.0f}", other))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    print(f"meter stability: N={args.n}, wait={WAIT}s, K=3, {args.jobs} at once, "
          f"{'one core spinning' if spinner else 'no extra load'}, "
          f"{time.monotonic() - started:.0f} s")
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"total flaps: {total_flaps} of {sum(len(v) for v in raw.values())} runs; "
          f"of them starved (a scan measures those again alone): {starved_flaps}")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1))
    return 1 if total_flaps else 0


if __name__ == "__main__":
    sys.exit(main())
