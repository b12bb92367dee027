"""What the command line prints around the report (issue #15 items 10 and 11): requirements
skipped by their markers in one line, and a progress line that counts distributions and says
which phase the scan is in. Real CLI subprocesses; progress on a real pseudo-terminal."""
from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

from pc_testutil import json_report, run_patchcheck

OLD = ['oldlib-pc15-a; python_version < "3"', 'oldlib-pc15-b; python_version < "3"',
       'oldlib-pc15-c ; python_version < "3"']


def _requirements(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("attrs\n" + "\n".join(OLD) + "\n")


def test_marker_skips_are_one_line_and_minus_v_lists_them(tmp_path: Path) -> None:
    _requirements(tmp_path)
    proc = run_patchcheck("scan", "requirements.txt", "--no-probes", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert ("patchcheck: 3 requirements skipped: their environment markers are false for the "
            "target interpreter (-v lists them)") in lines, proc.stderr
    assert not [ln for ln in lines if "skipped: marker" in ln], proc.stderr
    assert "\x1b[K" not in proc.stderr and "\r" not in proc.stderr  # piped: no progress line

    proc = run_patchcheck("scan", "requirements.txt", "--no-probes", "-v", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    each = [ln for ln in proc.stderr.splitlines() if "skipped: marker" in ln]
    assert each == [
        f"patchcheck: requirements.txt:{n}: oldlib-pc15-{x} skipped: marker "
        "'python_version < \"3\"' is false for the target interpreter"
        for n, x in ((2, "a"), (3, "b"), (4, "c"))], proc.stderr
    assert "requirements skipped" not in proc.stderr

    # The JSON keeps each one, typed.
    proc = run_patchcheck("scan", "requirements.txt", "--no-probes", "--format", "json",
                          cwd=tmp_path)
    doc = json_report(proc)
    assert [(m["name"], m["origin"]) for m in doc["marker_skipped"]] == [
        ("oldlib-pc15-a", "requirements.txt:2"), ("oldlib-pc15-b", "requirements.txt:3"),
        ("oldlib-pc15-c", "requirements.txt:4")]
    assert all(m["marker"] == 'python_version < "3"' for m in doc["marker_skipped"])
    assert not [n for n in doc["notes"] if "oldlib" in n]


def _run_on_a_terminal(args: list[str], cwd: Path, timeout: float = 600
                       ) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout piped): what a person sees."""
    env = dict(os.environ)
    env.pop("CI", None)  # progress is off in CI; this test is about the terminal
    env.pop("PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD", None)
    env["PATCHCHECK_CACHE_DIR"] = str(cwd / ".patchcheck-test-cache")
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "patchcheck", *args], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=slave, timeout=timeout)
    finally:
        os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
            b"".join(chunks).decode("utf-8", "replace"))


def test_progress_counts_distributions_and_names_the_phase(tmp_path: Path) -> None:
    """Three requirements (one not installed) count as three, whatever the number of probes
    and controls; services still starting are named before anything is measured."""
    (tmp_path / "requirements.txt").write_text(
        "requests\nattrs\nnot-installed-pc15-dist\n" + OLD[0] + "\n")
    code, out, err = _run_on_a_terminal(
        ["scan", "requirements.txt", "--skip", "stdlib", "--no-cache", "-j", "2"], tmp_path)
    assert code in (0, 1), err + out
    states = [re.sub(r"\x1b\[K", "", s).strip() for s in err.split("\r")]
    states = [s for s in states if s]
    counts = [tuple(map(int, m.groups())) for s in states
              for m in [re.match(r"\[(\d+)/(\d+)\]", s)] if m]
    imports = [s for s in states if "checking imports" in s]
    assert imports[0] == "[0/3] checking imports…", states
    assert "[3/3] checking imports: " in imports[-1], states
    assert "not-installed-pc15-dist (not installed)…" in "\n".join(imports), states
    assert all(total in (3, 1) and done <= total for done, total in counts), states
    # The services start while the imports are checked; the line names them only if the
    # meter still had to wait for them, and then before anything is measured.
    services = [s for s in states if s.startswith("starting services: ")]
    assert all("slow_http" in s for s in services), states
    measuring = [s for s in states if "measuring" in s]
    assert measuring[-1] == "[1/1] measuring: requests…", states
    keys = ("checking imports", *(("starting services",) if services else ()),
            "checking the meter", "measuring")
    order = [next(i for i, s in enumerate(states) if key in s) for key in keys]
    assert order == sorted(order), states
    # The report is on stdout; the progress line was erased before the notes that follow.
    assert "requests" in out and "checking imports" not in out
    assert err.index("\r\x1b[K") < err.index("1 requirement skipped"), err
