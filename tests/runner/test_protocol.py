"""The tool/child protocol: one typed builder per task, one shared table, versions checked.

Each builder's task is run by a real child (the harness reads it with ``pc_protocol``), so a
field one side writes and the other does not read shows up as a wrong result here.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from patchcheck.runner.process import child_env, run_child
from patchcheck.runner.protocol import (
    ALL_CONTROLS,
    CHILD_SCRIPT,
    CONTROLS,
    HARNESS_DIR,
    RESULT_SCHEMA,
    SPEC_SCHEMA,
    ControlTask,
    ImportTask,
    InfoTask,
    PluginFilter,
    PluginsTask,
    read_info,
    read_plugins,
    read_result,
    read_zygote_reply,
    zygote_request,
)


def _child_side(code: str) -> object:
    """Run ``code`` with the harness folder as sys.path[0], as a child has it; its JSON out."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, cwd=HARNESS_DIR,
                          env={**child_env(), "PYTHONPATH": str(HARNESS_DIR)})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_both_sides_read_one_table_of_data() -> None:
    child = _child_side("""
        import json, pc_protocol
        print(json.dumps({"spec": pc_protocol.SPEC_SCHEMA, "result": pc_protocol.RESULT_SCHEMA,
                          "expect": pc_protocol.CONTROL_EXPECT,
                          "services": pc_protocol.CONTROL_SERVICES,
                          "tasks": pc_protocol.TASK_KINDS}))
    """)
    assert child == {
        "spec": SPEC_SCHEMA, "result": RESULT_SCHEMA,
        "expect": {c.name: c.expect for c in ALL_CONTROLS.values()},
        "services": {c.name: list(c.services) for c in ALL_CONTROLS.values()},
        "tasks": ["info", "import", "probe", "control", "plugins", "patch-signature"]}
    # The default controls are the scan's and doctor's; "spin" checks the classifier only.
    assert "spin" in ALL_CONTROLS and "spin" not in CONTROLS
    assert CONTROLS["sleep-original"] == "blocks" and CONTROLS["socket-patched"] == "cooperates"


def test_the_tool_never_imports_child_code() -> None:
    code = ("import sys, patchcheck.engine, patchcheck.doctor, patchcheck.inventory, "
            "patchcheck.runner.probing, patchcheck.targets.resolve; "
            "print([m for m in sys.modules if m.startswith(('pc_', 'patchcheck.harness.pc_'))])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.strip() == "[]"


def test_a_spec_of_another_version_is_refused(tmp_path: Path) -> None:
    spec, result = tmp_path / "spec.json", tmp_path / "result.json"
    spec.write_text(json.dumps({"schema": "patchcheck.child-spec/1", "task": "info"}))
    proc = subprocess.run([sys.executable, str(CHILD_SCRIPT), str(spec), str(result)],
                          capture_output=True, timeout=60, env=child_env())
    assert proc.returncode == 3
    doc, problem = read_result(result.read_text())
    assert problem is None and doc is not None and doc["ok"] is False
    assert "unsupported spec schema 'patchcheck.child-spec/1'" in doc["error"]


def test_read_result_says_why_a_document_is_unusable() -> None:
    good = json.dumps({"schema": RESULT_SCHEMA, "ok": True, "data": {}})
    assert read_result(good)[1] is None
    assert "not valid JSON" in str(read_result("{nope")[1])
    assert "unexpected schema 'x/9'" in str(read_result('{"schema": "x/9"}')[1])
    assert "unexpected schema 'list'" in str(read_result("[]")[1])


def test_import_task_round_trip() -> None:
    res = run_child(sys.executable, ImportTask(modules=("json",), order="before",
                                               patch_args={"thread": False}), timeout=60)
    assert res.data is not None, res
    assert res.data["order"] == "before"
    assert res.data["modules"][0]["module"] == "json" and res.data["modules"][0]["ok"]
    assert res.result is not None and res.result["task"] == "import"


def test_import_order_is_checked_when_built() -> None:
    import pytest

    with pytest.raises(ValueError, match="import order"):
        ImportTask(modules=("json",), order="sideways")


def test_unknown_control_is_a_harness_error() -> None:
    res = run_child(sys.executable, ControlTask(control="nope", wait=0.1), timeout=30)
    assert res.harness_error and "unknown control 'nope'" in res.harness_error


def test_info_is_read_into_the_data_model() -> None:
    import gevent

    res = run_child(sys.executable, InfoTask(distributions=("gevent", "no-such-dist-xyz")),
                    timeout=60)
    assert res.data is not None, res
    info = read_info(res.data, patch_args={"thread": False})
    assert info.environment.gevent_version == gevent.__version__
    assert info.environment.patch_args == {"thread": False}
    assert info.installed["gevent"].name == "gevent" and info.missing == ("no-such-dist-xyz",)
    assert info.markers["python_version"] == "{}.{}".format(*sys.version_info[:2])


def test_plugins_filter_reaches_the_child() -> None:
    listing = run_child(sys.executable, PluginsTask(load=False), timeout=60)
    assert listing.data is not None, listing
    plugins = read_plugins(listing.data)
    assert plugins and all(p.loaded is None for p in plugins)  # gevent registers its own
    first = plugins[0]
    one = run_child(sys.executable, PluginsTask(
        load=True, only=PluginFilter(first.group, first.name, first.distribution)), timeout=60)
    assert one.data is not None, one
    (loaded,) = read_plugins(one.data)
    assert (loaded.group, loaded.name, loaded.loaded) == (first.group, first.name, True)


def test_zygote_lines_the_child_builds_are_read_by_the_tool() -> None:
    lines = _child_side("""
        import json, pc_protocol as p
        docs = [p.zygote_ready(9, ["pc_imports"]), p.zygote_failed("ImportError: x"),
                p.zygote_started(3, 12), p.zygote_exited(3, 12, 256), p.zygote_refused(4, "no")]
        print(json.dumps([p.encode_line(d).decode() for d in docs]))
    """)
    assert isinstance(lines, list)
    replies = [read_zygote_reply(line) for line in lines]
    assert [(r.kind, r.id, r.pid, r.status, r.error) for r in replies if r] == [
        ("ready", None, 9, None, None), ("failed", None, None, None, "ImportError: x"),
        ("started", 3, 12, None, None), ("exited", 3, 12, 256, None),
        ("refused", 4, None, None, "no")]


def test_zygote_lines() -> None:
    request = json.loads(zygote_request(3, ["pc_child.py", "s", "r"], "/o", "/e"))
    assert request == {"id": 3, "argv": ["pc_child.py", "s", "r"], "stdout": "/o",
                       "stderr": "/e"}
    assert read_zygote_reply('{"ready": true, "pid": 9, "preload": []}\n').kind == "ready"
    failed = read_zygote_reply('{"error": "ImportError: x"}')
    assert failed is not None and (failed.kind, failed.error) == ("failed", "ImportError: x")
    started = read_zygote_reply('{"id": 3, "pid": 12}')
    assert started is not None and (started.kind, started.id, started.pid) == ("started", 3, 12)
    exited = read_zygote_reply(b'{"id": 3, "pid": 12, "status": 256}')
    assert exited is not None and (exited.kind, exited.status) == ("exited", 256)
    refused = read_zygote_reply('{"id": 4, "error": "OSError: no fifo"}')
    assert refused is not None and refused.kind == "refused" and refused.id == 4
    assert read_zygote_reply("not json") is None and read_zygote_reply("[1]") is None
