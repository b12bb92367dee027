"""A --probe-path folder: a pure-Python client cooperates, a C-level (ctypes) client blocks;
remedies (a named one and the threadpool) and import order are honoured."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from pc_probe_testutil import endpoints, explain, probe_child_spec, run_task

from patchcheck.plugins import make_plugin_manager
from patchcheck.spec import THREADPOOL_REMEDY

HERE = Path(__file__).resolve().parent
LOCAL = HERE / "local"
ENV = {"PYTHONPATH": str(HERE / "local_libs")}


@pytest.fixture(scope="module")
def local_probes():
    os.environ.setdefault("PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = make_plugin_manager([LOCAL])
    probes = {p.name: p for group in pm.hook.patchcheck_add_probes() for p in group
              if p.origin == str(LOCAL)}
    assert set(probes) == {"localpure.request", "localctypes.request", "localstale.request"}
    return probes


def _run(probe, servers, **kw):
    modules = kw.pop("modules", ())
    return run_task(probe_child_spec(probe, endpoints(servers), modules=modules, **kw), env=ENV)


def test_pure_python_client_cooperates(local_probes, fixture_servers):
    m = _run(local_probes["localpure.request"], fixture_servers)
    assert m["outcome"] == "cooperates", explain(m)


def test_c_level_client_blocks_with_its_stack(local_probes, fixture_servers):
    m = _run(local_probes["localctypes.request"], fixture_servers)
    assert m["outcome"] == "blocks", explain(m)
    assert m["ratio"] >= 2.0
    assert any("localctypes.py" in line for line in m["stack"]), m["stack"]
    assert any("_libc.recv" in line for line in m["stack"]), m["stack"]


def test_threadpool_remedy_makes_the_c_client_cooperate(local_probes, fixture_servers):
    m = _run(local_probes["localctypes.request"], fixture_servers, remedy=THREADPOOL_REMEDY)
    assert m["outcome"] == "cooperates", explain(m)
    assert m["remedy"] == THREADPOOL_REMEDY.label


def test_named_remedy_runs_after_patching(local_probes, fixture_servers):
    probe = local_probes["localctypes.request"]
    (remedy,) = probe.remedies
    assert remedy.function == "_remedy_python_io"
    m = _run(probe, fixture_servers, remedy=remedy)
    assert m["outcome"] == "cooperates", explain(m)
    assert m["remedy"] == "localctypes.use_python_io()"


def test_import_order_before_catches_a_stale_reference(local_probes, fixture_servers):
    probe = local_probes["localstale.request"]
    after = _run(probe, fixture_servers, order="after")
    before = _run(probe, fixture_servers, order="before", modules=("localstale",))
    assert after["outcome"] == "cooperates", explain(after)
    assert before["outcome"] == "blocks", explain(before)
