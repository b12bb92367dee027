"""How long the native-code check takes on a real environment (printed, never asserted).

    python bench/native_scan.py                 # every distribution on sys.path
    python bench/native_scan.py /path/to/site-packages [...]

Prints, per distribution with shared objects: how many, their size, the scan time and the
findings; then the totals and, for the largest file, the time pyelftools needs to build its
Symbol objects (what native.py avoids by unpacking .dynsym itself).
"""
from __future__ import annotations

import importlib.metadata
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from patchcheck.targets import native  # noqa: E402


def _shared_objects(files: list[str]) -> list[str]:
    return [f for f in files if f.endswith(".so") or ".so." in os.path.basename(f)]


def main(argv: list[str]) -> int:
    path = argv or None
    rows = []
    largest = ("", 0)
    started = time.perf_counter()
    for dist in importlib.metadata.distributions(path=path) if path else \
            importlib.metadata.distributions():
        files = [str(f.locate()) for f in dist.files or ()]
        shared = _shared_objects(files)
        if not shared:
            continue
        size = 0
        for f in shared:
            try:
                s = os.path.getsize(f)
            except OSError:
                continue
            size += s
            if s > largest[1]:
                largest = (f, s)
        t0 = time.perf_counter()
        reports = native.scan_distribution(files)
        elapsed = time.perf_counter() - t0
        codes = [f.code for f in native.findings_for(reports)]
        rows.append((dist.metadata["Name"], len(shared), size, elapsed, codes))
    total = time.perf_counter() - started

    print(f"{'distribution':28} {'files':>5} {'MB':>7} {'ms':>8}  findings")
    for name, count, size, elapsed, codes in sorted(rows, key=lambda r: -r[3]):
        print(f"{name:28} {count:5} {size / 1e6:7.1f} {elapsed * 1e3:8.1f}  "
              f"{', '.join(codes) or '-'}")
    n_files = sum(r[1] for r in rows)
    scan_s = sum(r[3] for r in rows)
    worst = max(rows, key=lambda r: r[3]) if rows else None
    print(f"\n{len(rows)} distributions with shared objects, {n_files} files, "
          f"{sum(r[2] for r in rows) / 1e6:.0f} MB: scan {scan_s * 1e3:.0f} ms "
          f"(with metadata: {total * 1e3:.0f} ms)")
    if worst:
        print(f"slowest distribution: {worst[0]} {worst[3] * 1e3:.0f} ms for {worst[1]} files")

    if largest[0]:
        from elftools.elf.elffile import ELFFile

        t0 = time.perf_counter()
        native.scan_file(largest[0])
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        with open(largest[0], "rb") as stream:
            dynsym = ELFFile(stream).get_section_by_name(".dynsym")
            count = sum(1 for _ in dynsym.iter_symbols()) if dynsym is not None else 0
        theirs = time.perf_counter() - t0
        print(f"largest file {largest[0]} ({largest[1] / 1e6:.1f} MB, {count} dynamic symbols):"
              f" scan_file {ours * 1e3:.1f} ms; pyelftools iter_symbols {theirs * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
