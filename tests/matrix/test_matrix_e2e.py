"""``patchcheck matrix`` over two gevent versions from the index (``--install`` venvs), and
``merge`` of the per-environment reports building the same matrix.

No small distribution is known whose import result differs between these two gevent releases,
so this asserts the table's structure, both environments named, and the instrument row showing
each environment's own gevent; the marking of changed cells is tested on in-memory reports
(``test_matrix_table.py``).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pc_testutil import IN_CI, json_report, run_patchcheck, shared_tmp

GEVENTS = ("24.11.1", "26.9.0")


@pytest.fixture(scope="module")
def matrix_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    tmp = tmp_path_factory.mktemp("matrix")
    (tmp / "requirements.txt").write_text("six\nidna\nattrs\ncertifi\n")
    # The --install venvs are cached for the whole test run (results are not: --no-cache).
    cache = shared_tmp(tmp_path_factory) / "matrix-venvs"
    proc = run_patchcheck("matrix", "requirements.txt", "--gevent", ",".join(GEVENTS),
                          "--no-probes", "--no-cache", "--save-reports", "envs",
                          cwd=tmp, env={"PATCHCHECK_CACHE_DIR": str(cache)}, timeout=900)
    if proc.returncode == 3 and "could not install gevent" in proc.stderr and not IN_CI:
        pytest.skip("no package index reachable")
    return tmp, proc


def test_the_table_has_a_column_per_environment(matrix_run: tuple[Path, object]) -> None:
    _, proc = matrix_run
    assert proc.returncode == 0, proc.stderr  # type: ignore[attr-defined]
    lines = proc.stdout.splitlines()  # type: ignore[attr-defined]
    assert lines[0] == "environments: 2"
    assert lines[1].startswith("  [1] CPython ") and ", gevent 24.11.1  (" in lines[1]
    assert lines[2].startswith("  [2] CPython ") and ", gevent 26.9.0  (" in lines[2]
    header = next(line for line in lines if line.startswith("distribution"))
    assert header.split() == ["distribution", "[1]", "[2]"]
    rows = {line.split()[0]: line.split()[1:] for line in lines
            if line.split() and line.split()[0] in ("six", "idna", "attrs", "certifi", "gevent")}
    assert set(rows) == {"six", "idna", "attrs", "certifi", "gevent"}
    # gevent is the instrument: untested, or warns where a known gevent bug applies (PC005)
    assert rows["gevent"][1::2] == ["24.11.1", "26.9.0"]
    verdicts = [v.lstrip("*") for v in rows["gevent"][0::2]]
    assert set(verdicts) <= {"untested", "warns"}
    for name in ("six", "idna", "attrs", "certifi"):
        assert rows[name][0] == "untested" and rows[name][2] == "untested", rows[name]
    if verdicts[0] != verdicts[1]:  # gevent 24.11.1 has a known bug (PC005), 26.9.0 not
        assert rows["gevent"][2].startswith("*"), rows["gevent"]  # the changed cell is marked
    else:
        assert "no verdict differs between the environments" in proc.stdout  # type: ignore


def test_each_environment_is_an_ordinary_scan_and_merge_rebuilds_the_matrix(
        matrix_run: tuple[Path, object]) -> None:
    tmp, _ = matrix_run
    saved = sorted((tmp / "envs").glob("environment-*.json"))
    assert [p.name for p in saved] == ["environment-1.json", "environment-2.json"]
    pythons = set()
    for path, gevent in zip(saved, GEVENTS):
        report = json.loads(path.read_text())
        assert report["schema"] == "patchcheck.report/1"
        assert report["environment"]["gevent_version"] == gevent
        pythons.add(report["environment"]["python"])
    assert len(pythons) == 2  # an --install venv of its own for each gevent
    proc = run_patchcheck("merge", *(str(p) for p in saved), "--format", "json", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    matrix = json_report(proc)
    assert matrix["schema"] == "patchcheck.matrix/1"
    assert [e["gevent_version"] for e in matrix["environments"]] == list(GEVENTS)
    # A matrix has no junit form: a usage error, not a traceback.
    bad = run_patchcheck("merge", *(str(p) for p in saved), "--format", "junit", cwd=tmp)
    assert bad.returncode == 2 and "cannot show a matrix" in bad.stderr


def test_a_matrix_of_one_environment_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_patchcheck("matrix", "six", "--gevent", "26.9.0", cwd=tmp_path)
    assert proc.returncode == 2
    assert "a matrix needs at least two environments" in proc.stderr
