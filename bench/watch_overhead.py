"""Overhead of ``--patchcheck-watch``: a generated suite of short tests, with and without it.

Both runs are gevent-patched (``--patchcheck-patch``), so the only difference is the watchdog:
three windows per test (setup, call, teardown), the heartbeat greenlet and the monitor
thread. After a warm-up run, runs alternate (A B A B …) so that load on the machine hits
both alike; the ratio compares the best session time of each (pytest's own "in N.NNs",
without interpreter start-up).

    python bench/watch_overhead.py [--tests 300] [--rounds 5]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import textwrap
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
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
