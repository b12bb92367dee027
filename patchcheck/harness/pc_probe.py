"""The ``probe`` and ``control`` tasks (run in the child by ``pc_child``).

``run_probe(task)`` (a ``pc_protocol.ProbeTask``: the probe's name, path, function, wait,
concurrency, import order, remedy label and function — a function of the probe file or
``<threadpool>`` —, the services' endpoints, ``patch_args`` and the distribution's ``modules``)
patches (``patch_all(**patch_args)``), imports the probe file, applies the remedy, runs the
meter and returns its dict (``Measurement.to_json()`` shape). With ``import_order ==
"before"`` the probe file and the distribution's ``modules`` are imported *before* patching
(psycopg 3 picks its wait function at import time).

``run_control(task)`` (a ``pc_protocol.ControlTask``: its name, services, wait) measures a
call whose answer is known, to check the meter itself: the *original* (unpatched)
``time.sleep`` / socket / ``select.select`` from ``gevent.monkey.get_original`` must measure
``blocks``, the patched ones ``cooperates``. A control that measures otherwise means no
verdict on this machine can be trusted. Which controls exist and what each must measure is
data shared with the tool (``pc_protocol.json``).
"""
from __future__ import annotations

import importlib
import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Mapping
from typing import Any, Callable

import pc_meter
import pc_protocol

THREADPOOL_FUNCTION = "<threadpool>"

DEFAULT_WAIT = 0.3
DEFAULT_CONCURRENCY = 3


def _patch(patch_args: Mapping[str, Any] | None) -> None:
    from gevent import monkey

    monkey.patch_all(**dict(patch_args or {}))


def _load_probe_module(path: str, name: str) -> Any:
    # A unique module name: two probe files called stdlib_x.py in different folders must not
    # collide, and no probe file may shadow a library module.
    modname = "patchcheck_probefile_%s" % (
        "".join(c if c.isalnum() else "_" for c in name),)
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load probe file %s" % (path,))
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module


def _threadpool_wrap(call: Callable[[], Any]) -> Callable[[], Any]:
    import gevent

    def in_threadpool() -> Any:
        return gevent.get_hub().threadpool.apply(call)

    return in_threadpool


def run_probe(task: pc_protocol.ProbeTask) -> dict[str, Any]:
    wait = float(task.wait or DEFAULT_WAIT)
    k = int(task.concurrency or DEFAULT_CONCURRENCY)
    remedy_label = task.remedy_label
    common = dict(wait_s=wait, concurrency=k, remedy=remedy_label)
    services = task.services

    if task.import_order == "before":
        module, problem = _load_or_problem(task, common)
        if problem is not None:
            return problem
        for modname in task.modules:
            try:
                importlib.import_module(modname)
            except Exception as exc:
                return pc_meter.result_dict(
                    "breaks", error="import %s before patching: %s"
                    % (modname, pc_meter.describe_exception(exc)), phase="load", **common)
        _patch(task.patch_args)
    else:
        _patch(task.patch_args)
        module, problem = _load_or_problem(task, common)
        if problem is not None:
            return problem

    factory_fn = getattr(module, task.function, None)
    if not callable(factory_fn):
        return pc_meter.result_dict(
            "inconclusive", phase="load", error="the probe file %s has no function %r"
            % (task.path, task.function), **common)
    skip_exc = _skip_exception()

    wrap = None
    if task.remedy_function:
        if task.remedy_function == THREADPOOL_FUNCTION:
            wrap = _threadpool_wrap
        else:
            try:
                getattr(module, task.remedy_function)()
            except Exception as exc:
                return pc_meter.result_dict(
                    "breaks", error="remedy %s failed: %s"
                    % (remedy_label, pc_meter.describe_exception(exc)), phase="remedy",
                    **common)

    tmpdir = tempfile.mkdtemp(prefix="patchcheck-probe-", dir=task.tmpdir or None)
    contexts: list[Any] = []
    try:
        import patchcheck_probe

        def factory(i: int) -> Callable[[], Any]:
            ctx = patchcheck_probe.Context(services, wait, tmpdir, index=i, concurrency=k)
            contexts.append(ctx)
            return factory_fn(ctx)  # the meter checks that it is callable

        return pc_meter.measure(factory, wait=wait, concurrency=k, remedy=remedy_label,
                                wrap=wrap, skip_exceptions=skip_exc,
                                on_hang=getattr(task, "finish_hung", None))
    finally:
        # The probe's cleanups (ctx.cleanup), newest first, then its tmpdir; a failing
        # cleanup is the probe's problem and must not replace the measurement.
        for ctx in reversed(contexts):
            ctx._run_cleanups()
        shutil.rmtree(tmpdir, ignore_errors=True)


def _load_or_problem(task: pc_protocol.ProbeTask, common: Mapping[str, Any]
                     ) -> tuple[Any, dict[str, Any] | None]:
    """The probe module, or an ``inconclusive`` result when the probe file itself fails."""
    try:
        return _load_probe_module(task.path, task.name), None
    except BaseException as exc:  # the probe's own code: a probe problem, not the library's
        import traceback

        return None, pc_meter.result_dict(
            "inconclusive", phase="load", error="the probe file %s failed to load: %s"
            % (task.path, pc_meter.describe_exception(exc)),
            stack=traceback.format_exc().rstrip("\n").split("\n")[-20:], **common)


def _skip_exception() -> tuple:
    try:
        from patchcheck_probe import Skip

        return (Skip,)
    except ImportError:  # pragma: no cover - the harness folder is always on sys.path
        return ()


# --- controls ------------------------------------------------------------------------------


def _tcp_request(socket_class: Any, endpoint: Mapping[str, Any], timeout: float,
                 wait_readable: Callable[[Any], None] | None = None) -> Callable[[], Any]:
    """Connect (setup), then the measured call: send a line and read the late answer."""
    import socket as socket_module

    sock = socket_class(socket_module.AF_INET, socket_module.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect((endpoint["host"], int(endpoint["port"])))

    def call() -> bytes:
        try:
            sock.sendall(b"ping\n")
            if wait_readable is not None:
                wait_readable(sock)
            data = sock.recv(4096)
            if not data:
                raise ConnectionError("the slow_tcp peer closed without answering")
            return data
        finally:
            sock.close()

    return call


def _control_factory(name: str, wait: float, services: Mapping[str, Any],
                     timeout: float) -> Callable[[int], Callable[[], Any]]:
    from gevent.monkey import get_original

    kind, _, flavour = name.partition("-")
    original = flavour == "original"
    if kind == "sleep":
        sleep = get_original("time", "sleep") if original else __import__("time").sleep
        return lambda i: (lambda: sleep(wait))
    if kind == "spin":
        def spin() -> None:
            import time

            end = time.perf_counter() + wait
            while time.perf_counter() < end:
                pass
        return lambda i: spin
    endpoint = services.get("slow_tcp")
    if not endpoint:
        raise ValueError("control %s needs a slow_tcp service endpoint" % (name,))
    import socket

    sock_class = get_original("socket", "socket") if original else socket.socket
    if kind == "socket":
        return lambda i: _tcp_request(sock_class, endpoint, timeout)
    if kind == "select":
        import select

        select_fn = get_original("select", "select") if original else select.select

        def wait_readable(sock: Any) -> None:
            readable, _, _ = select_fn([sock], [], [], timeout)
            if not readable:
                raise TimeoutError("select() timed out after %.1f s" % (timeout,))

        return lambda i: _tcp_request(sock_class, endpoint, timeout, wait_readable)
    raise ValueError("no measurement for control %r (known: %s)"
                     % (name, ", ".join(pc_protocol.CONTROL_EXPECT)))


def run_control(task: pc_protocol.ControlTask) -> dict[str, Any]:
    wait = float(task.wait or DEFAULT_WAIT)
    k = int(task.concurrency or DEFAULT_CONCURRENCY)
    _patch(task.patch_args)
    io_timeout = k * wait * 4 + 5
    factory = _control_factory(task.control, wait, task.services, io_timeout)
    return pc_meter.measure(factory, wait=wait, concurrency=k)
