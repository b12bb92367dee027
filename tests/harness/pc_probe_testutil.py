"""Helpers for the meter/probe tests: fixture servers and running one probe in a real child."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import pytest
from pc_testutil import IN_CI

from patchcheck.runner.probing import probe_task
from patchcheck.runner.protocol import ProbeTask, Task

WAIT = 0.3


def start_fixtures(names: tuple[str, ...] = ("slow_tcp", "slow_http", "slow_tls", "slow_dns"),
                   delay: float = WAIT) -> dict[str, Any]:
    """Start the loopback fixture servers; skip (fail in CI) when they cannot run here."""
    try:
        from patchcheck.services import fixtures
    except ImportError as exc:  # pragma: no cover - the services layer is part of the tree
        if IN_CI:
            pytest.fail(f"fixture servers unavailable: {exc}")
        pytest.skip(f"fixture servers unavailable: {exc}")
    classes = {"slow_tcp": fixtures.SlowTCPServer, "slow_http": fixtures.SlowHTTPServer,
               "slow_tls": fixtures.SlowTLSServer, "slow_dns": fixtures.SlowDNSServer}
    servers: dict[str, Any] = {}
    try:
        for name in names:
            servers[name] = classes[name](delay).start()
    except Exception as exc:
        for server in servers.values():
            server.stop()
        if IN_CI:
            pytest.fail(f"could not start fixture {name}: {exc}")
        pytest.skip(f"could not start fixture {name}: {exc}")
    return servers


def endpoints(servers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: server.endpoint.to_json() for name, server in servers.items()}


def probe_child_spec(probe: Any, services: Mapping[str, Any], *, remedy: Any = None,
                     order: str | None = None, patch_args: Mapping[str, Any] | None = None,
                     modules: tuple[str, ...] = ()) -> ProbeTask:
    """The child's task for a ``ProbeSpec``, built as ``runner.probing`` builds it."""
    return probe_task(probe, {name: services[name] for name in probe.services}, modules,
                      order or probe.import_order, remedy, patch_args=patch_args)


def run_task(task: Task, *, timeout: float = 40.0,
             env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run one harness task in a real child; return its data (the measurement)."""
    from patchcheck.runner.process import run_child

    res = run_child(sys.executable, task, timeout=timeout, env=dict(env) if env else None)
    assert res.data is not None, (
        f"child failed: {res.describe_end()}\nharness: {res.harness_error}\n"
        f"{(res.result or {}).get('traceback', '')}\nstderr: {res.stderr_tail[-3000:]}\n"
        f"stacks: {res.stack_dump[-3000:]}")
    return dict(res.data)


def explain(m: Mapping[str, Any]) -> str:
    return (f"outcome={m['outcome']} ratio={m['ratio']} gap={m['max_gap_ms']}ms "
            f"cpu={m['cpu_ms']}ms elapsed={m['elapsed_ms']}ms error={m['error']} "
            f"stack={m['stack'][-6:]}")
