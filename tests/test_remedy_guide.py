"""The README's remedy example (a remedy's options passed on by the factory, a wrapper around
the call) is this repository's file, and measures what the README says, against MariaDB."""
from __future__ import annotations

import importlib.util

import pytest
from pc_testutil import IN_CI, ROOT, by_name, json_report, require_server, run_patchcheck

EXAMPLE = ROOT / "examples" / "probes" / "mysql_connector_remedies.py"


def test_readme_shows_the_tested_remedy_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert EXAMPLE.read_text(encoding="utf-8").strip() in readme


def test_remedy_example_measures(tmp_path) -> None:
    if importlib.util.find_spec("mysql.connector") is None:
        if IN_CI:
            pytest.fail("mysql-connector-python is not installed (tests/requirements-clients.txt)")
        pytest.skip("mysql-connector-python is not installed")
    require_server("MariaDB", 3306)
    proc = run_patchcheck("scan", "mysql-connector-python", "--probe-path", str(EXAMPLE.parent),
                          "--format", "json", "--no-cache", cwd=tmp_path,
                          env={"PATCHCHECK_MYSQL_URL": "mysql://root@127.0.0.1:3306/"})
    report = json_report(proc)
    assert not report["problems"], report["problems"]
    probes = {p["probe"]: p for p in by_name(report)["mysql-connector-python"]["probes"]
              if p.get("order") != "before-patch"}
    example = probes["mysql-connector-python.cext_sleep"]
    assert example["plain"]["outcome"] == "blocks", example["plain"]
    remedies = {m["remedy"]: m["outcome"] for m in example["remedies"]}
    assert remedies["connect(use_pure=True)"] == "cooperates", example["remedies"]
    assert remedies["threadpool, by hand"] == "cooperates", example["remedies"]
