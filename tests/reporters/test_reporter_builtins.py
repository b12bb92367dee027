from __future__ import annotations

import json

from patchcheck.reporters import RenderOptions, builtin_reporters
from patchcheck.spec import ReporterSpec


def test_builtin_reporters_render_through_the_spec(sample_report):
    specs = builtin_reporters()
    assert [s.name for s in specs] == ["table", "json", "junit", "sarif", "markdown", "github",
                                       "html"]
    assert all(isinstance(s, ReporterSpec) and s.description for s in specs)
    options = RenderOptions(color=True, width=72, fail_on=2)
    out = {s.name: s.render(sample_report, options) for s in specs}
    assert "\x1b[" in out["table"]
    assert json.loads(out["json"])["schema"] == "patchcheck.report/1"
    assert 'failures="4"' in out["junit"]  # fail_on=2: warns and worse
    assert json.loads(out["sarif"])["version"] == "2.1.0"
    assert out["markdown"].startswith("**patchcheck**")
    assert out["github"].startswith("::error ")
    assert out["html"].startswith("<!DOCTYPE html>")


def test_registered_on_the_plugin_manager(monkeypatch):
    from patchcheck.plugins import make_plugin_manager

    monkeypatch.setenv("PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = make_plugin_manager()
    names = [s.name for group in pm.hook.patchcheck_add_reporters() for s in group]
    assert {"table", "json", "junit", "sarif", "markdown", "github", "html"} <= set(names)
