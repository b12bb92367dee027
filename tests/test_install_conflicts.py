"""Requirements that cannot be installed together (issue #15.2): Odoo's gevent 23.9.1 and
greenlet 2.0.2 pins. On Python >= 3.11 gevent 23.9.1 requires greenlet>=3.0rc3, so a real pip
refuses them together; ``--install`` then installs each alone, reads who needs what from the
installed metadata, and reports the conflict (table, JSON ``conflicts``, exit 4).
"""
from __future__ import annotations

import sys

import jsonschema
import pytest
from pc_testutil import IN_CI, json_report, run_patchcheck

from patchcheck.exitcode import ExitCode
from patchcheck.install import find_conflicts
from patchcheck.model import Requirement
from patchcheck.reporters.json_report import load_schema

ODOO_PINS = "gevent==23.9.1\ngreenlet==2.0.2\n"


def _skip_without_index(proc) -> None:
    if proc.returncode == ExitCode.INTERNAL_ERROR and "could not install gevent" in proc.stderr \
            and not IN_CI:
        pytest.skip("no package index reachable")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the pins conflict on Python >= 3.11")
def test_conflicting_gevent_and_greenlet_pins_are_a_first_class_problem(tmp_path) -> None:
    (tmp_path / "requirements.txt").write_text(ODOO_PINS)
    env = {"PATCHCHECK_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_patchcheck("scan", "--install", "--no-probes", "requirements.txt",
                          "--format", "json", cwd=tmp_path, env=env, timeout=600)
    _skip_without_index(proc)
    assert proc.returncode == ExitCode.CONFLICT, proc.stderr
    report = json_report(proc)
    jsonschema.validate(report, load_schema())
    [conflict] = report["conflicts"]
    assert conflict["distribution"] == "gevent" and conflict["version"] == "23.9.1"
    assert conflict["requires"] == "greenlet>=3.0rc3"
    assert (conflict["required"], conflict["installed"]) == ("greenlet", "2.0.2")
    assert conflict["pins"] == [
        {"requirement": "gevent==23.9.1", "origin": "requirements.txt:1"},
        {"requirement": "greenlet==2.0.2", "origin": "requirements.txt:2"}]
    # The instrument row says the same from gevent's own metadata (PC004), as data.
    gevent = next(r for r in report["results"] if r["name"] == "gevent")
    incompatible = [f["evidence"] for f in gevent["findings"] if f["code"] == "PC004"]
    assert {"requirement": "greenlet", "requires": "greenlet>=3.0rc3",
            "have": "2.0.2"}.items() <= incompatible[0].items()
    assert incompatible[0]["source"] in ("installed", "pin")  # the pin is judged first
    assert gevent["verdict"] == "warns"

    # The table names the conflicting pins; a second run reuses the venv and still says so.
    table = run_patchcheck("scan", "--install", "--no-probes", "requirements.txt",
                           cwd=tmp_path, env=env, timeout=600)
    assert table.returncode == ExitCode.CONFLICT, table.stderr
    assert "reusing the virtualenv" in table.stderr
    assert "the requirements cannot be installed together" in table.stdout
    assert ("gevent 23.9.1 requires greenlet>=3.0rc3, but greenlet 2.0.2 is installed — "
            "pinned: gevent==23.9.1 (requirements.txt:1); greenlet==2.0.2 "
            "(requirements.txt:2)") in " ".join(table.stdout.split())


def _metadata(*dists: tuple[str, str, list[str]], python: str = "3.12") -> dict:
    return {"markers": {"python_version": python, "platform_python_implementation": "CPython",
                        "sys_platform": "linux"},
            "distributions": [{"name": n, "version": v, "requires": r} for n, v, r in dists]}


GEVENT_2391 = ["zope.event", 'greenlet>=2.0.0; platform_python_implementation == "CPython" and '
               'python_version < "3.11"', 'greenlet>=3.0rc3; platform_python_implementation == '
               '"CPython" and python_version >= "3.11"', 'psutil>=5.7.0; extra == "monitor"']


def test_find_conflicts_evaluates_markers_for_the_target() -> None:
    reqs = [Requirement(name="gevent", specifier="==23.9.1", origin="r.txt:1",
                        line="gevent==23.9.1"),
            Requirement(name="greenlet", specifier="==2.0.2", origin="r.txt:2",
                        line="greenlet==2.0.2")]
    dists = (("gevent", "23.9.1", GEVENT_2391), ("greenlet", "2.0.2", []),
             ("zope.event", "5.0", []))
    [conflict] = find_conflicts(_metadata(*dists, python="3.12"), reqs)
    assert (conflict.requires, conflict.installed) == ("greenlet>=3.0rc3", "2.0.2")
    assert [p.origin for p in conflict.pins] == ["r.txt:1", "r.txt:2"]
    # On 3.10 the other marker applies: greenlet 2.0.2 is enough. Extras are not installed.
    assert find_conflicts(_metadata(*dists, python="3.10"), reqs) == ()


def test_find_conflicts_ignores_what_the_scan_did_not_ask_for() -> None:
    dists = (("a", "1", ["b>=2"]), ("b", "1", []))
    assert find_conflicts(_metadata(*dists), [Requirement(name="six")]) == ()
    [missing] = find_conflicts(_metadata(("a", "1", ["c"])), [Requirement(name="a")])
    assert missing.installed is None and "c is not installed" in missing.text


def test_the_pins_named_are_the_lines_whose_marker_holds() -> None:
    """Odoo pins gevent and greenlet once per Python version: on 3.11 the conflict names the
    3.11 lines, not the file's last (3.13) lines."""
    py311, py313 = "python_version == '3.11'", "python_version >= '3.13'"
    reqs = [Requirement(name="gevent", specifier="==23.9.1", origin="r.txt:1",
                        line="gevent==23.9.1", marker=py311),
            Requirement(name="gevent", specifier="==24.11.1", origin="r.txt:2",
                        line="gevent==24.11.1", marker=py313),
            Requirement(name="greenlet", specifier="==2.0.2", origin="r.txt:3",
                        line="greenlet==2.0.2", marker=py311),
            Requirement(name="greenlet", specifier="==3.1.1", origin="r.txt:4",
                        line="greenlet==3.1.1", marker=py313)]
    dists = (("gevent", "23.9.1", GEVENT_2391), ("greenlet", "2.0.2", []),
             ("zope.event", "5.0", []))
    [conflict] = find_conflicts(_metadata(*dists, python="3.11"), reqs)
    assert [p.origin for p in conflict.pins] == ["r.txt:1", "r.txt:3"]
