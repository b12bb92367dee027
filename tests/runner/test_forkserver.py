"""The fork server's own behaviour: a zygote that dies, cannot start, or is closed mid-run.

How each child ends is tested for both runners in ``test_process.py``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pc_runner_testutil import gone, state
from pc_runner_testutil import import_task as _import

from patchcheck.runner.forkserver import (
    NO_FORKSERVER_ENV,
    ForkRunner,
    ForkServer,
    SpawnRunner,
    fork_supported,
    make_runner,
    preload_for,
)
from patchcheck.runner.protocol import ControlTask, ImportTask, InfoTask

# -- fork server only --------------------------------------------------------------------
needs_fork = pytest.mark.skipif(not fork_supported(), reason="no fork server on this platform")


@needs_fork
def test_zygote_killed_mid_run_then_restarted_then_fallback(child_env: dict[str, str]) -> None:
    with ForkServer(sys.executable, child_env) as server:
        assert server.run(_import("rt_ok"), timeout=60).data is not None
        first = server._zygote_proc
        assert first is not None
        box: dict = {}
        t = threading.Thread(target=lambda: box.update(res=server.run(_import("rt_hang"),
                                                                      timeout=6)))
        t.start()
        time.sleep(1.0)
        os.kill(first.proc.pid, signal.SIGKILL)
        t.join(120)
        # The check ran again in a fresh process, so its result is the real one.
        assert box["res"].timed_out and "rt_hang" in box["res"].stack_dump
        res = server.run(_import("rt_ok"), timeout=60)
        assert res.data is not None and server.fallback_reason is None
        second = server._zygote_proc
        assert second is not None and second.proc.pid != first.proc.pid
        os.kill(second.proc.pid, signal.SIGKILL)
        second.proc.wait(10)
        res = server.run(_import("rt_ok"), timeout=60)
        assert res.data is not None
        assert server.fallback_reason and "died again" in server.fallback_reason


@needs_fork
def test_zygote_that_cannot_start_falls_back(child_env: dict[str, str]) -> None:
    with ForkServer(sys.executable, child_env, preload=("no_such_module_xyz",)) as server:
        res = server.run(_import("rt_ok"), timeout=60)
        assert res.data is not None
        assert server.fallback_reason and "no_such_module_xyz" in server.fallback_reason


@needs_fork
def test_closing_kills_live_children(child_env: dict[str, str]) -> None:
    server = ForkServer(sys.executable, child_env)
    box: dict = {}
    t = threading.Thread(target=lambda: box.update(res=server.run(_import("rt_hang"),
                                                                  timeout=60)))
    t.start()
    time.sleep(1.5)
    started = time.monotonic()
    server.close()  # EOF: the zygote kills its live children and exits
    t.join(60)
    assert time.monotonic() - started < 30
    assert box["res"].signal == signal.SIGKILL or box["res"].problem


@needs_fork
def test_a_request_the_tool_sent_just_before_kill_9_still_ends_in_a_sweep(
        child_env: dict[str, str], tmp_path: Path) -> None:
    # The tool asks for a second check and dies before the zygote reads the request (held
    # stopped till then): the zygote's first word to the dead tool, the refusal, meets EPIPE.
    # It must still kill the live check and the daemon that check left, not die of it.
    tool = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import os, signal, sys, threading, time
        sys.path[:0] = sys.argv[1:3]
        from pc_runner_testutil import import_task
        from patchcheck.runner.forkserver import ForkServer
        server = ForkServer(sys.executable)
        threading.Thread(target=server.run, args=(import_task("rt_daemon_then_hang"),),
                         kwargs={"timeout": 300}, daemon=True).start()
        while not os.path.exists(os.environ["RT_PIDFILE"]):
            time.sleep(0.02)
        os.kill(server._zygote_proc.proc.pid, signal.SIGSTOP)
        threading.Thread(target=server.run, args=(import_task("rt_ok"),),
                         kwargs={"timeout": 300}, daemon=True).start()
        time.sleep(1.0)  # the request is in the zygote's stdin
        os.kill(os.getpid(), signal.SIGKILL)
    """), str(Path(__file__).parent), str(Path(__file__).parents[2])],
        env={**os.environ, **child_env})
    pidfile = Path(child_env["RT_PIDFILE"])
    zygote = 0
    try:
        assert tool.wait(120) == -signal.SIGKILL
        daemon, zygote = map(int, pidfile.read_text().split())
        assert state(zygote) == "T" and not gone(daemon)
    finally:
        if tool.poll() is None:
            tool.kill()
        if zygote:
            os.kill(zygote, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while not (gone(daemon) and gone(zygote)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not gone(daemon):
        os.kill(daemon, signal.SIGKILL)
        pytest.fail("the daemon outlived the tool and its zygote")
    assert gone(zygote)


def test_environment_variable_turns_the_fork_server_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_FORKSERVER_ENV, "1")
    assert isinstance(make_runner(sys.executable), SpawnRunner)
    monkeypatch.delenv(NO_FORKSERVER_ENV)
    assert isinstance(make_runner(sys.executable), ForkRunner if fork_supported() else SpawnRunner)


def test_preload_follows_what_a_fresh_child_imports_first() -> None:
    after = preload_for(ImportTask(("x",), order="after", patch_args={"thread": False}))
    assert after == ("pc_imports", "gevent.monkey", 'pc_imports:patch_in_zygote={"thread":false}')
    # gevent's plugins read by a helper it forks: the zygote itself imports nothing more
    assert preload_for(ImportTask(("x",), order="before")) == (
        "pc_imports", "pc_imports:prepare_plugin_data")
    assert preload_for(InfoTask()) == ()


# -- the zygote that patches for the import-after-patching checks ----------------------------

def _plugin_site(root: Path, body: str) -> Path:
    """A folder with one installed distribution whose gevent plugin runs ``body``."""
    site = root / "plugin_site"
    (site / "rt_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "rt_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: rt-plugin\nVersion: 1.0\n")
    (site / "rt_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[gevent.plugins.monkey.will_patch_all]\nrt_plugin = rt_plugin:will_patch_all\n")
    (site / "rt_plugin.py").write_text(
        "import _thread, os, time, warnings\n\ndef will_patch_all(event):\n"
        + "".join(f"    {line}\n" for line in body.splitlines()))
    return site


def _marking_plugin_site(root: Path, line: str) -> tuple[Path, Path]:
    """``_plugin_site`` whose plugin appends ``line`` (an expression) to a marker file."""
    marker = root / "plugin_ran"
    site = _plugin_site(root, f"with open({str(marker)!r}, 'a') as f:\n"
                              f"    f.write({line} + '\\n')")
    return site, marker


def _with_site(child_env: dict[str, str], site: Path) -> dict[str, str]:
    return dict(child_env, PYTHONPATH=os.pathsep.join([str(site), child_env["PYTHONPATH"]]))


def _run_where_the_patched_zygote_refuses(child_env: dict[str, str], site: Path,
                                          task: Any) -> tuple[Any, str | None, list[str]]:
    """Run ``task`` with the plugin at ``site``: its result, why the zygote that patches
    gave way, and the last preload step of each zygote that serves runs."""
    with ForkRunner(sys.executable, env=_with_site(child_env, site)) as runner:
        res = runner.run(task, timeout=60)
        why = runner._servers[preload_for(task)].fallback_reason
        serving = [s.preload[-1] for s in runner._servers.values() if s.available()]
    return res, why, serving


@needs_fork
def test_children_of_the_patched_zygote_report_its_patch_all_as_their_own(
        child_env: dict[str, str], tmp_path: Path) -> None:
    # A plugin that warns and says where it ran: the warning is part of the patch outcome,
    # and the plugin runs once per zygote rather than once per child.
    marker = tmp_path / "plugin_ran_in"
    site = _plugin_site(tmp_path, f"warnings.warn('rt plugin was here')\n"
                                  f"with open({str(marker)!r}, 'a') as f:\n"
                                  f"    f.write('%d\\n' % os.getpid())")
    env = _with_site(child_env, site)
    task = ImportTask(modules=("rt_ok",), order="after", patch_args={"thread": True})
    with SpawnRunner(sys.executable, env=env) as fresh:
        spawned = fresh.run(task, timeout=60)
    with ForkRunner(sys.executable, env=env) as forked:
        first, second = (forked.run(task, timeout=60) for _ in range(2))
        patched = forked._servers[preload_for(task)]
        assert patched.available() and patched.fallback_reason is None
    assert spawned.data and first.data and second.data
    assert first.data["patch"] == second.data["patch"] == spawned.data["patch"]
    (warned,) = spawned.data["patch"]["warnings"]
    assert warned["message"] == "rt plugin was here" and spawned.data["patch"]["ok"]
    pids = marker.read_text().split()
    assert len(pids) == 2 and len(set(pids)) == 2  # the fresh child, then the zygote only
    assert first.data["modules"] == spawned.data["modules"]
    assert first.data["stale_references"] == spawned.data["stale_references"]


@needs_fork
def test_a_plugin_that_starts_a_thread_makes_the_children_patch_themselves(
        child_env: dict[str, str], tmp_path: Path) -> None:
    # A native thread does not survive fork(): the zygote refuses to patch, and the check runs
    # in a child of the zygote that only read the plugins, patching (and starting it) itself.
    site = _plugin_site(tmp_path, "_thread.start_new_thread(time.sleep, (120,))")
    task = ImportTask(modules=("rt_ok",), order="after")
    res, why, serving = _run_where_the_patched_zygote_refuses(child_env, site, task)
    assert why and "native thread" in why and serving == ["pc_imports:prepare_plugin_lookup"]
    assert res.data is not None and res.data["patch"]["ok"], res
    assert res.data["modules"] == [{"module": "rt_ok", "ok": True, "warnings": []}]


@needs_fork
def test_other_patch_arguments_fork_from_the_zygote_that_did_not_patch(
        child_env: dict[str, str]) -> None:
    # Bisection asks for many argument sets: one patched zygote per runner, the first asked.
    with ForkRunner(sys.executable, env=child_env) as runner:
        for args in ({}, {"thread": False}, {"socket": False}):
            res = runner.run(ImportTask(modules=("rt_ok",), order="after", patch_args=args),
                             timeout=60)
            assert res.data is not None and res.data["patch"]["ok"], res
        steps = sorted(s.preload[-1] for s in runner._servers.values())
    assert steps == ["pc_imports:patch_in_zygote={}", "pc_imports:prepare_plugin_lookup"]


@needs_fork
def test_import_before_children_use_the_plugins_their_zygote_read(
        child_env: dict[str, str], tmp_path: Path) -> None:
    # The import-before zygote may not import importlib.metadata (the library would find it
    # loaded); a forked helper reads the entry points for it. Its children patch with that
    # reading, and take a fresh one once a distribution is installed (the folder's mtime).
    site, marker = _marking_plugin_site(tmp_path, "'first'")
    with open(site / "rt_plugin.py", "a") as f:
        f.write(f"\ndef edited(event):\n    with open({str(marker)!r}, 'a') as f:\n"
                f"        f.write('edited\\n')\n")
    env = _with_site(child_env, site)
    task = ImportTask(modules=("rt_ok",), order="before")
    with SpawnRunner(sys.executable, env=env) as fresh:
        spawned = fresh.run(task, timeout=60)
    with ForkRunner(sys.executable, env=env) as forked:
        first = forked.run(task, timeout=60)
        assert forked._servers[preload_for(task)].available()
        assert preload_for(task)[-1] == "pc_imports:prepare_plugin_data"
        # Edited in place (the folder's mtime stays): a child that read the entry points
        # itself would call ``edited``; one answered from the zygote's reading calls the first.
        points = site / "rt_plugin-1.0.dist-info" / "entry_points.txt"
        points.write_text(points.read_text().replace(":will_patch_all", ":edited"))
        second = forked.run(task, timeout=60)
        (site / "rt_other-1.0.dist-info").mkdir()  # an installation: a fresh reading
        third = forked.run(task, timeout=60)
    for res in (spawned, first, second, third):
        assert res.data is not None and res.data["patch"]["ok"], res
        assert res.data["patch"] == spawned.data["patch"]
    assert marker.read_text().split() == ["first", "first", "first", "edited"]


# -- the zygote that patches for the probes and controls ---------------------------------------
@needs_fork
def test_probe_children_of_the_patched_zygote_measure_what_fresh_ones_do(
        child_env: dict[str, str], tmp_path: Path) -> None:
    # patch_all() runs once in the probe zygote; each child still builds its own hub and
    # meter, and an original sleep still blocks it while a patched one cooperates.
    site, marker = _marking_plugin_site(tmp_path, "str(os.getpid())")
    env = _with_site(child_env, site)
    tasks = [ControlTask(control=name, wait=0.1) for name in ("sleep-original", "sleep-patched")]
    with ForkRunner(sys.executable, env=env) as forked:
        results = [forked.run(task, timeout=60) for task in tasks * 2]
        patched = forked._servers[preload_for(tasks[0])]
        assert patched.available() and patched.fallback_reason is None
    assert preload_for(tasks[0])[-1] == "pc_probe:patch_in_zygote={}"
    assert [r.data and r.data["outcome"] for r in results] == ["blocks", "cooperates"] * 2
    assert len(marker.read_text().split()) == 1  # patched once, in the zygote


@needs_fork
def test_a_plugin_that_warns_makes_probe_children_patch_themselves(
        child_env: dict[str, str], tmp_path: Path) -> None:
    # A fresh child's patch_all() warning lands on its own stderr: kept so, each child
    # patching itself in the zygote that only read the plugins.
    site = _plugin_site(tmp_path, "warnings.warn('rt plugin was here')")
    task = ControlTask(control="sleep-patched", wait=0.1)
    res, why, serving = _run_where_the_patched_zygote_refuses(child_env, site, task)
    assert why and "warned" in why and serving == ["pc_imports:prepare_plugin_lookup"]
    assert res.data is not None and res.data["outcome"] == "cooperates", res
    assert "rt plugin was here" in res.stderr_tail


@needs_fork
def test_import_checks_and_probes_each_get_their_patched_zygote(
        child_env: dict[str, str]) -> None:
    with ForkRunner(sys.executable, env=child_env) as runner:
        imported = runner.run(ImportTask(modules=("rt_ok",), order="after"), timeout=60)
        measured = runner.run(ControlTask(control="sleep-patched", wait=0.1), timeout=60)
        steps = sorted(s.preload[-1] for s in runner._servers.values() if s.available())
    assert imported.data is not None and measured.data is not None
    assert steps == ["pc_imports:patch_in_zygote={}", "pc_probe:patch_in_zygote={}"]


@needs_fork
def test_prepare_starts_the_zygote_a_task_forks_from(child_env: dict[str, str]) -> None:
    task = ControlTask(control="sleep-patched", wait=0.1)
    with ForkRunner(sys.executable, env=child_env) as runner:
        runner.prepare(task, timeout=60)
        (server,) = runner._servers.values()
        zygote = server._zygote_proc
        assert zygote is not None and server.preload == preload_for(task)
        res = runner.run(task, timeout=60)
        assert server._zygote_proc is zygote  # the run forked from it
    assert res.data is not None and res.data["outcome"] == "cooperates", res
    with SpawnRunner(sys.executable, env=child_env) as fresh:
        fresh.prepare(task, timeout=60)  # nothing to start
