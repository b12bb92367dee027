"""A remedy whose own module is missing is "not tried", decided from typed data (the declared
``requires``, ``ModuleNotFoundError.name``), never from a message (real children)."""
from __future__ import annotations

from pc_probe_testutil import probe_child_spec, run_task

from patchcheck.probeloader import load_probe_file

PROBE_FILE = """
from patchcheck_probe import Remedy, probe

def _imports_missing():
    import pc_no_such_green_module  # noqa: F401

def _must_not_run():
    raise RuntimeError("apply ran although a required module is missing")

@probe(distributions=['x'], wait=0.1,
       remedies={'undeclared': _imports_missing,
                 'declared': Remedy(_must_not_run, requires=['pc_no_such_remedy.sub'],
                                    install='pip install pc-no-such-remedy')})
def x_get(ctx):
    return lambda: None
"""


def _probe(tmp_path):
    path = tmp_path / "rem.py"
    path.write_text(PROBE_FILE)
    (probe,) = load_probe_file(path)
    return probe, {r.label: r for r in probe.remedies}


def test_declared_requirement_missing_is_not_tried_before_anything_runs(tmp_path):
    probe, remedies = _probe(tmp_path)
    m = run_task(probe_child_spec(probe, {}, remedy=remedies["declared"]))
    assert m["outcome"] == "not-tried", m
    assert (m["not_installed"], m["install"]) == ("pc_no_such_remedy",
                                                  "pip install pc-no-such-remedy")
    assert m["remedy"] == "declared"


def test_an_undeclared_missing_import_is_not_tried_by_its_name(tmp_path):
    probe, remedies = _probe(tmp_path)
    m = run_task(probe_child_spec(probe, {}, remedy=remedies["undeclared"]))
    assert m["outcome"] == "not-tried", m
    assert (m["not_installed"], m["install"]) == ("pc_no_such_green_module",
                                                  "pip install pc_no_such_green_module")


def test_the_librarys_own_module_missing_is_breaks(tmp_path):
    """A remedy that fails importing the distribution's own module: the library's problem."""
    probe, remedies = _probe(tmp_path)
    m = run_task(probe_child_spec(probe, {}, remedy=remedies["undeclared"],
                                  modules=("pc_no_such_green_module",), order="after"))
    assert m["outcome"] == "breaks", m
    assert "ModuleNotFoundError" in m["error"]
