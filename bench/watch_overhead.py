"""Overhead of ``--patchcheck-watch``: a generated suite of short tests, with and without it.

Both runs are gevent-patched (``--patchcheck-patch``), so the only difference is the watchdog:
three windows per test (setup, call, teardown), the heartbeat greenlet and the monitor
thread. After a warm-up run, runs alternate (A B A B …) so that load on the machine hits
both alike; the ratio compares the best session time of each (pytest's own "in N.NNs",
without interpreter start-up).

    python bench/watch_overhead.py [--tests 300] [--rounds 5]

``--stall-cpu`` measures instead what the watchdog reports for one stall of each kind (issue
#15 item 8): a real I/O wait (a blocking ``recv`` from a loopback peer that answers after
150 ms, and psycopg2's ``pg_sleep(0.15)`` when PostgreSQL is at 127.0.0.1:5432) and 150 ms of
CPU work, at limits of 100, 10 and 5 ms; median CPU time and the kinds over the rounds.
``--before PYTHON`` runs the same suite with another interpreter (an environment with an
older patchcheck installed) in the same rounds, alternating, so the two lines compare.

    python bench/watch_overhead.py --stall-cpu [--rounds 3] [--before /tmp/old/.venv/bin/python]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

TEST_TEMPLATE = textwrap.dedent("""\
    import gevent


    def test_yield_{n}():
        gevent.sleep(0)


    def test_wait_{n}():
        gevent.sleep(0.001)


    def test_compute_{n}():
        assert sum(range(2000)) == 1999000
    """)


def write_suite(folder: Path, tests: int) -> None:
    per_file = 3  # each file holds three tests
    for n in range(max(1, tests // per_file)):
        (folder / f"test_gen_{n:03d}.py").write_text(TEST_TEMPLATE.format(n=n))
    (folder / "pytest.ini").write_text("[pytest]\n")


def session_seconds(folder: Path, *extra: str) -> float:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--patchcheck-patch",
         *extra],
        cwd=folder, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"pytest failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-2000:]}")
    match = re.search(r" in ([0-9.]+)s", proc.stdout.strip().splitlines()[-1])
    if not match:
        raise SystemExit("no session time in pytest's output:\n" + proc.stdout[-2000:])
    return float(match.group(1))


STALL_SUITE = textwrap.dedent("""\
    import os, time
    import pytest
    from gevent.monkey import get_original

    _socket = get_original("socket", "socket")


    def test_recv():
        s = _socket()
        s.connect(("127.0.0.1", int(os.environ["PC_BENCH_PORT"])))
        assert s.recv(8) == b"late"
        s.close()


    @pytest.fixture(scope="module")
    def pg():
        try:
            import psycopg2
            conn = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres",
                                    connect_timeout=2)
        except Exception:
            pytest.skip("no psycopg2 or no PostgreSQL at 127.0.0.1:5432")
        yield conn.cursor()
        conn.close()


    def test_pg_sleep(pg):
        pg.execute("SELECT pg_sleep(0.15)")


    def test_spin():
        t = time.thread_time()  # 150 ms of CPU work, however long it takes to get it
        while time.thread_time() - t < 0.15:
            pass
    """)


def slow_peer(delay: float) -> int:
    """A loopback peer (a thread of this process) that answers each connection late."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def serve() -> None:
        while True:
            conn, _ = server.accept()
            time.sleep(delay)
            conn.sendall(b"late")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def stall_of(doc: dict, test: str, at_least_ms: float) -> dict | None:
    """The test's stall of the call phase (the longest one, at least ``at_least_ms``)."""
    stalls = [s for s in doc["stalls"] if s["test"].endswith("::" + test)
              and s["phase"] == "call" and s["duration_ms"] >= at_least_ms]
    return max(stalls, key=lambda s: s["duration_ms"]) if stalls else None


def stall_cpu(args: argparse.Namespace) -> int:
    port = slow_peer(0.15)
    pythons = {"this patchcheck": sys.executable}
    if args.before:
        pythons = {"before": args.before, **pythons}
    cases = {"recv 150 ms": "test_recv", "pg_sleep(0.15)": "test_pg_sleep",
             "150 ms of CPU": "test_spin"}
    seen: dict[tuple[str, str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="pc-watch-cpu-") as tmp:
        folder = Path(tmp)
        (folder / "test_stalls.py").write_text(STALL_SUITE)
        (folder / "pytest.ini").write_text("[pytest]\n")
        env = {**os.environ, "PC_BENCH_PORT": str(port)}
        for _ in range(args.rounds):
            for limit in ("100", "10", "5"):
                for label, python in pythons.items():
                    report = folder / "stalls.json"
                    proc = subprocess.run(
                        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                         "--patchcheck-patch", "--patchcheck-watch",
                         "--patchcheck-max-block-ms", limit,
                         "--patchcheck-watch-report", str(report)],
                        cwd=folder, capture_output=True, text=True, timeout=600, env=env)
                    if proc.returncode not in (0, 1) or not report.exists():
                        raise SystemExit(f"{label}: pytest failed ({proc.returncode}):\n"
                                         f"{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
                    doc = json.loads(report.read_text())
                    for case, test in cases.items():
                        stall = stall_of(doc, test, 100.0)
                        if stall is not None:
                            seen.setdefault((case, limit, label), []).append(stall)
    print(f"rounds: {args.rounds}; median CPU time the watchdog reports for one stall, and "
          "its kinds")
    print(f"{'stall':<16}{'limit':>7}  {'patchcheck':<16}{'duration':>10}{'CPU':>9}  kinds")
    for case in cases:
        for limit in ("100", "10", "5"):
            for label in pythons:
                stalls = seen.get((case, limit, label))
                if not stalls:
                    continue
                kinds = [s.get("kind", "?") for s in stalls]
                summary = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
                duration = statistics.median(s["duration_ms"] for s in stalls)
                cpu = statistics.median(s["cpu_ms"] for s in stalls)
                print(f"{case:<16}{limit + ' ms':>7}  {label:<16}{duration:>8.0f} ms"
                      f"{cpu:>6.1f} ms  {summary}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stall-cpu", action="store_true",
                        help="the CPU time and kind of a waiting and a CPU-bound stall")
    parser.add_argument("--before", metavar="PYTHON",
                        help="with --stall-cpu: also run an interpreter with another patchcheck")
    args = parser.parse_args(argv)
    if args.stall_cpu:
        return stall_cpu(args)
    with tempfile.TemporaryDirectory(prefix="pc-watch-bench-") as tmp:
        folder = Path(tmp)
        write_suite(folder, args.tests)
        session_seconds(folder)  # warm-up: assertion rewriting writes its .pyc files once
        plain: list[float] = []
        watched: list[float] = []
        for _ in range(args.rounds):
            plain.append(session_seconds(folder))
            watched.append(session_seconds(folder, "--patchcheck-watch",
                                           "--patchcheck-max-block-ms", "1000"))
    best_plain, best_watched = min(plain), min(watched)
    print(f"tests: {args.tests // 3 * 3}, rounds: {args.rounds}")
    print("without --patchcheck-watch: " + ", ".join(f"{t:.2f}s" for t in plain))
    print("with    --patchcheck-watch: " + ", ".join(f"{t:.2f}s" for t in watched))
    print(f"overhead ratio (best of each): {best_watched / best_plain:.2f}x "
          f"({(best_watched - best_plain) / (args.tests or 1) * 1000:.2f} ms per test)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
