"""Loading probe files on the tool side: metadata, errors that name file:line, duplicates."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from patchcheck import builtin
from patchcheck.errors import UsageError
from patchcheck.harness import patchcheck_probe
from patchcheck.probeloader import LocalProbes, builtin_probe_dir, load_probe_dir, load_probe_file

HEADER = "from patchcheck_probe import probe\n\n"


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_metadata_becomes_a_probespec(tmp_path):
    path = _write(tmp_path, "mine.py", (
        "def _green():\n    pass\n\n"
        "@probe(distributions=['mylib'], services=['slow_tcp'], wait=0.2, concurrency=4,\n"
        "       remedies={'mylib.green': _green}, import_order='before')\n"
        "def mylib_get(ctx):\n    '''Get one key.'''\n    import mylib\n"))
    (spec,) = load_probe_file(path, origin="local")
    assert spec.name == "mylib.get"
    assert spec.function == "mylib_get" and spec.path == str(path.resolve())
    assert spec.distributions == ("mylib",) and spec.services == ("slow_tcp",)
    assert (spec.wait, spec.concurrency, spec.import_order) == (0.2, 4, "before")
    assert [(r.label, r.function) for r in spec.remedies] == [("mylib.green", "_green")]
    assert spec.origin == "local" and spec.description == "Get one key."
    assert sys.modules["patchcheck_probe"] is patchcheck_probe


def test_before_imports_become_part_of_the_probespec(tmp_path):
    path = _write(tmp_path, "boto.py", (
        "@probe(distributions=['mylib'], import_order='both',\n"
        "       before_imports=['mylib.session'])\n"
        "def mylib_call(ctx):\n    import mylib.session\n"))
    (spec,) = load_probe_file(path, origin="local")
    assert (spec.import_order, spec.before_imports) == ("both", ("mylib.session",))
    with pytest.raises(patchcheck_probe.ProbeDefinitionError, match="before_imports"):
        patchcheck_probe.probe(distributions=["mylib"], before_imports=[""])


def test_a_broken_file_names_file_and_line(tmp_path):
    path = _write(tmp_path, "broken.py", "x = 1\nimport no_such_library_here\n")
    with pytest.raises(UsageError) as info:
        load_probe_file(path)
    assert f"{path.resolve()}:4" in info.value.message
    assert "ModuleNotFoundError" in info.value.message
    assert info.value.hint


def test_a_syntax_error_names_file_and_line(tmp_path):
    path = _write(tmp_path, "syntax.py", "def f(:\n")
    with pytest.raises(UsageError, match=r"syntax\.py:3"):
        load_probe_file(path)


def test_a_remedy_must_be_a_top_level_function(tmp_path):
    path = _write(tmp_path, "remedy.py", (
        "@probe(distributions=['x'], remedies={'inline': lambda: None})\n"
        "def x_get(ctx):\n    pass\n"))
    with pytest.raises(UsageError, match="top level"):
        load_probe_file(path)


def test_duplicate_names_in_a_folder(tmp_path):
    body = "@probe('same.name', distributions=['x'])\ndef f(ctx):\n    pass\n"
    _write(tmp_path, "a.py", body)
    _write(tmp_path, "b.py", body)
    with pytest.raises(UsageError, match="defined twice"):
        load_probe_dir(tmp_path)


def test_missing_paths_are_usage_errors(tmp_path):
    with pytest.raises(UsageError):
        load_probe_dir(tmp_path / "nope")
    with pytest.raises(UsageError):
        LocalProbes([tmp_path / "nope.py"]).patchcheck_add_probes()


def test_underscore_files_are_helpers_not_probes(tmp_path):
    _write(tmp_path, "_helpers.py", "raise RuntimeError('never imported')\n")
    _write(tmp_path, "ok.py", "@probe(distributions=['x'])\ndef x_ok(ctx):\n    pass\n")
    assert [p.name for p in load_probe_dir(tmp_path)] == ["x.ok"]


def test_builtin_plugin_returns_the_probes_folder():
    assert (builtin_probe_dir() / "stdlib_socket.py").is_file()
    names = [p.name for p in builtin.patchcheck_add_probes()]
    assert "stdlib.socket" in names and len(names) == len(set(names))
