"""Native findings a person can read (issue 10.4) and warnings someone can act on (15.3):
real wheels scanned by the real CLI, and the import child's thread attribution on real numpy."""
from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from patchcheck.model import Severity
from patchcheck.reporters import _sentences
from patchcheck.targets import native

WORKTREE = Path(__file__).resolve().parents[2]


def _installed(name: str) -> list[str]:
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{name} is not installed here (pip install {name})")
    return [str(f.locate()) for f in dist.files or ()]


def _scan(name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    _installed(name)
    return subprocess.run(
        [sys.executable, "-m", "patchcheck", "scan", name, "--no-probes", "--no-cache", *extra],
        capture_output=True, text=True, timeout=300, cwd=WORKTREE,
        env={**os.environ, "COLUMNS": "100"})


def test_mysql_connector_details_fit_one_screen_and_name_use_pure() -> None:
    proc = _scan("mysql-connector-python")
    assert proc.returncode in (0, 1), proc.stderr
    text = proc.stdout
    details = text[text.index("\nDetails\n"):].strip().splitlines()
    assert len(details) <= 25, "\n".join(details)
    assert "use_pure=True" in text
    row = next(line for line in text.splitlines() if line.startswith("mysql-connector-python"))
    # The evidence column leads with the module that does the MySQL I/O.
    assert "native: _mysql_connector (embeds libmysqlclient)" in row
    # One finding for the extension; the bundled Kerberos/SASL/FIDO libraries once, as a line.
    assert text.count("PC14") == 1
    # The bundled Kerberos/SASL/FIDO libraries are secondary: named once, under -v.
    verbose = _scan("mysql-connector-python", "-v").stdout
    assert verbose.count("PC14") == 1
    assert "also bundles" in verbose and "Kerberos" in verbose and "SASL" in verbose
    assert "also bundles" not in text


def test_mysql_connector_json_names_the_embedded_client_and_helpers_once() -> None:
    proc = _scan("mysql-connector-python", "--format", "json")
    (result,) = json.loads(proc.stdout)["results"]
    native_findings = [f for f in result["findings"] if f["code"] in ("PC140", "PC141")]
    (finding,) = native_findings
    evidence = finding["evidence"]
    assert evidence["io"] == "client-library"
    assert {"soname": Path(evidence["file"]).name, "name": "MySQL client (libmysqlclient)",
            "embedded": True} in evidence["libraries"]
    helpers = [b["file"] for b in evidence["bundles"]]
    assert len(helpers) == len({os.path.realpath(h) for h in helpers})
    names = [Path(h).name for h in helpers]
    # libkrb5.so.3 and libkrb5.so.3.3 are byte-equal copies: one entry, with its copy counted.
    assert sum(n.startswith("libkrb5.so") for n in names) == 1


def test_cryptography_gets_no_warning() -> None:
    findings = native.findings_for(native.scan_distribution(_installed("cryptography")))
    assert findings, "cryptography's _rust.abi3.so imports recv/connect: expected an info"
    assert all(f.severity is Severity.INFO for f in findings), [f.summary for f in findings]
    assert {str(f.evidence.io) for f in findings} == {"rust-std"}


@pytest.mark.parametrize("name", ["psycopg2-binary", "pylibmc"])
def test_real_client_libraries_are_suspect(name: str) -> None:
    findings = native.findings_for(native.scan_distribution(_installed(name)))
    (finding,) = [f for f in findings if f.severity is Severity.SUSPECT]
    assert finding.code == "PC141"
    assert len(finding.evidence.chain) == 2  # the extension, then the bundled client library


def test_reporter_and_scanner_agree_on_primary_categories() -> None:
    assert _sentences.PRIMARY_SYMBOL_CATEGORIES == native.PRIMARY_CATEGORIES
    assert (_sentences.PRIMARY_SYMBOL_CATEGORIES | _sentences.SECONDARY_SYMBOL_CATEGORIES
            == set(native.BLOCKING_SYMBOLS))


# --- native threads: attributed to the distribution that started them -----------------------
_IMPORT_CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import pc_imports

    class Task:
        order = "after"
        modules = [sys.argv[2]]
        patch_args = {}

    result = pc_imports.run(Task())
    print(json.dumps({"own": result["native_threads_started"],
                      "others": result["native_threads_by_others"],
                      "ok": [m["ok"] for m in result["modules"]]}))
""")


def _import_child(tmp_path: Path, module: str, source: str, **env: str) -> dict:
    pytest.importorskip("numpy")
    pytest.importorskip("gevent")
    (tmp_path / f"{module}.py").write_text(source)
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHILD, str(WORKTREE / "patchcheck" / "harness"), module],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path), **env})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_numpy_threads_are_numpys_not_the_importers(tmp_path: Path) -> None:
    # OpenBLAS starts min(cores, OPENBLAS_NUM_THREADS) - 1 threads: ask for 2 (the machine
    # has at least 2 cores), so that there is a thread to attribute.
    data = _import_child(tmp_path, "pc_uses_numpy", "import numpy\n",
                         OPENBLAS_NUM_THREADS="2")
    assert data["ok"] == [True]
    assert data["own"] == 0
    assert data["others"] == {"numpy": 1}


def test_a_librarys_own_threads_stay_its_own(tmp_path: Path) -> None:
    # After patch_all(), _thread.start_new_thread makes a greenlet: use the original.
    source = ("import numpy, time\nfrom gevent.monkey import get_original\n"
              "get_original('_thread', 'start_new_thread')(get_original('time', 'sleep'), (30,))\n")
    data = _import_child(tmp_path, "pc_own_thread", source, OPENBLAS_NUM_THREADS="1")
    assert data["own"] == 1
    assert data["others"] == {}  # one OpenBLAS thread: none started
