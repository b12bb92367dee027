"""The ``probe`` and ``control`` tasks (run in the child by ``pc_child``).

``run_probe(spec)``::

    {"probe": {"name", "path", "function", "wait", "concurrency", "import_order",
               "remedy": null | {"label": ..., "function": "<name in the probe file>" |
                                 "<threadpool>"}},
     "services": {name: endpoint dict}, "patch_args": {...}, "modules": [...]}

patches (``patch_all(**patch_args)``), imports the probe file, applies the remedy, runs the
meter and returns its dict (``Measurement.to_json()`` shape). With ``import_order ==
"before"`` the probe file and the distribution's ``modules`` are imported *before* patching
(psycopg 3 picks its wait function at import time).

``run_control(spec)``: ``{"control": NAME, "services": {"slow_tcp": ...}, "wait", ...}``
measures a call whose answer is known, to check the meter itself: the *original* (unpatched)
``time.sleep`` / socket / ``select.select`` from ``gevent.monkey.get_original`` must measure
``blocks``, the patched ones ``cooperates``. A control that measures otherwise means no
verdict on this machine can be trusted.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from typing import Any, Callable

if __package__:  # the tool process imports this as patchcheck.harness.pc_probe (CONTROLS)
    from . import pc_meter
else:  # the child: the harness folder is sys.path[0]
    import pc_meter

THREADPOOL_FUNCTION = "<threadpool>"

#: control name -> the outcome the meter must report for it
CONTROLS: dict[str, str] = {
    "sleep-original": "blocks",
    "sleep-patched": "cooperates",
    "socket-original": "blocks",
    "socket-patched": "cooperates",
    "select-original": "blocks",
    "select-patched": "cooperates",
}
#: controls not run by default (checks of the classifier itself)
EXTRA_CONTROLS: dict[str, str] = {
    "spin": "cpu-bound",
}
#: the service each control needs
CONTROL_SERVICES: dict[str, tuple] = {
    name: (("slow_tcp",) if name.split("-")[0] in ("socket", "select") else ())
    for name in list(CONTROLS) + list(EXTRA_CONTROLS)
}

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


def run_probe(spec: Mapping[str, Any]) -> dict[str, Any]:
    probe = spec["probe"]
    wait = float(probe.get("wait") or DEFAULT_WAIT)
    k = int(probe.get("concurrency") or DEFAULT_CONCURRENCY)
    remedy = probe.get("remedy") or None
    remedy_label = remedy.get("label") if remedy else None
    common = dict(wait_s=wait, concurrency=k, remedy=remedy_label)
    services = spec.get("services") or {}

    if probe.get("import_order", "after") == "before":
        module = _load_probe_module(probe["path"], probe.get("name", "probe"))
        for modname in spec.get("modules") or ():
            try:
                importlib.import_module(modname)
            except Exception as exc:
                return pc_meter.result_dict(
                    "breaks", error="import %s before patching: %s"
                    % (modname, pc_meter.describe_exception(exc)), **common)
        _patch(spec.get("patch_args"))
    else:
        _patch(spec.get("patch_args"))
        module = _load_probe_module(probe["path"], probe.get("name", "probe"))

    factory_fn = getattr(module, probe["function"])
    skip_exc = _skip_exception()

    wrap = None
    if remedy:
        if remedy.get("function") == THREADPOOL_FUNCTION:
            wrap = _threadpool_wrap
        else:
            try:
                getattr(module, remedy["function"])()
            except Exception as exc:
                return pc_meter.result_dict(
                    "breaks", error="remedy %s failed: %s"
                    % (remedy_label, pc_meter.describe_exception(exc)), **common)

    tmpdir = tempfile.mkdtemp(prefix="patchcheck-probe-", dir=spec.get("tmpdir") or None)
    try:
        import patchcheck_probe

        def factory(i: int) -> Callable[[], Any]:
            ctx = patchcheck_probe.Context(services, wait, tmpdir, index=i, concurrency=k)
            call = factory_fn(ctx)
            if not callable(call):
                raise TypeError("probe %s returned %r, not a zero-argument callable"
                                % (probe.get("name"), call))
            return call

        return pc_meter.measure(factory, wait=wait, concurrency=k, remedy=remedy_label,
                                wrap=wrap, skip_exceptions=skip_exc)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


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
    raise ValueError("unknown control %r (known: %s)"
                     % (name, ", ".join(list(CONTROLS) + list(EXTRA_CONTROLS))))


def run_control(spec: Mapping[str, Any]) -> dict[str, Any]:
    name = spec["control"]
    if name not in CONTROLS and name not in EXTRA_CONTROLS:
        raise ValueError("unknown control %r (known: %s)"
                         % (name, ", ".join(list(CONTROLS) + list(EXTRA_CONTROLS))))
    wait = float(spec.get("wait") or DEFAULT_WAIT)
    k = int(spec.get("concurrency") or DEFAULT_CONCURRENCY)
    _patch(spec.get("patch_args"))
    io_timeout = k * wait * 4 + 5
    factory = _control_factory(name, wait, spec.get("services") or {}, io_timeout)
    return pc_meter.measure(factory, wait=wait, concurrency=k)


if __name__ == "__main__":  # pragma: no cover - handy for poking at the meter by hand
    import json

    print(json.dumps(run_control({"control": sys.argv[1] if len(sys.argv) > 1
                                  else "sleep-original"})))
    os._exit(0)
