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
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping
from typing import Any, Callable

import pc_imports
import pc_meter
import pc_protocol

# The generic remedies (``patchcheck.spec``): the same words on both sides.
THREADPOOL_FUNCTION = "<threadpool>"
GREENIFY_FUNCTION = "<greenify>"

DEFAULT_WAIT = 0.3
DEFAULT_CONCURRENCY = 3


def patch_in_zygote(patch_args_json: str) -> None:
    """Zygote preload of the probes and controls that patch first (``runner/forkserver.py``):
    ``patch_all()`` once before the zygote forks, on the import checks' conditions
    (``pc_imports.patch_in_zygote``: no native thread, no hub). Only a ``patch_all()`` that
    returned without a warning is kept: a child then has nothing of its own to report about
    it (a fresh one's warning goes to its stderr, its exception ends the run); otherwise the
    zygote gives way and each child patches itself."""
    pc_imports.patch_in_zygote(patch_args_json)
    outcome = pc_imports.zygote_patch_outcome()
    if outcome is None or not outcome["ok"] or outcome["warnings"]:
        raise pc_imports.ZygoteCannotPatch("patch_all() raised or warned: each child patches")


def _patch(patch_args: Mapping[str, Any] | None) -> None:
    if pc_imports.zygote_patch_outcome(dict(patch_args or {})) is not None:
        return  # this child's zygote patched with these arguments (patch_in_zygote)
    from gevent import monkey

    # gevent's ~25 plugin look-ups inside patch_all() answered from one reading of the entry
    # points (the zygote's, when it prepared one): ~60 ms of CPU per child otherwise, as for
    # the import checks (pc_imports._PluginLookup). The plugins still load and run here.
    with pc_imports.plugin_lookup():
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
    declared = None
    lines: list = []
    if task.remedy_function:
        # A remedy whose own package is missing is not tried: decided before anything runs,
        # from the modules it declares (typed), never from an error message (issue #15).
        missing = _missing_module(task.remedy_requires)
        if missing is not None:
            return _not_tried(missing, task.remedy_install, common)
        if task.remedy_function == THREADPOOL_FUNCTION:
            wrap = _threadpool_wrap
        else:
            try:
                if task.remedy_function == GREENIFY_FUNCTION:
                    lines = _greenify(task.remedy_libraries, task.modules)
                else:
                    declared = _declared_remedy(module, factory_fn, task)
                    if declared.apply is not None:
                        declared.apply()
            except ModuleNotFoundError as exc:
                # The remedy imported a module that is not there. ``exc.name`` is typed; a
                # module of the distribution itself missing is the library's problem.
                top = (exc.name or "").split(".")[0]
                if top and top not in {m.split(".")[0] for m in task.modules}:
                    return _not_tried(exc.name or top, task.remedy_install, common)
                return pc_meter.result_dict(
                    "breaks", error="remedy %s failed: %s"
                    % (remedy_label, pc_meter.describe_exception(exc)), **common)
            except Exception as exc:
                return pc_meter.result_dict(
                    "breaks", error="remedy %s failed: %s"
                    % (remedy_label, pc_meter.describe_exception(exc)), phase="remedy",
                    **common)
            if task.remedy_function == GREENIFY_FUNCTION:
                result = _measure(task, factory_fn, None, wait, k, skip_exc)
                result["remedy_lines"] = lines
                return result
    return _measure(task, factory_fn, declared, wait, k, skip_exc, wrap)


def _measure(task: pc_protocol.ProbeTask, factory_fn: Callable[..., Any], declared: Any,
             wait: float, k: int, skip_exc: tuple, wrap: Any = None) -> dict[str, Any]:
    services = task.services
    remedy_label = task.remedy_label
    options = dict(getattr(declared, "options", None) or {})
    wrap_call = getattr(declared, "wrap", None)
    tmpdir = tempfile.mkdtemp(prefix="patchcheck-probe-", dir=task.tmpdir or None)
    contexts: list[Any] = []
    try:
        import patchcheck_probe

        def factory(i: int) -> Callable[[], Any]:
            ctx = patchcheck_probe.Context(services, wait, tmpdir, index=i, concurrency=k,
                                           remedy=remedy_label, options=options)
            contexts.append(ctx)
            call = factory_fn(ctx)  # the meter checks that it is callable
            if wrap_call is not None and callable(call):
                call = wrap_call(ctx, call)
                if not callable(call):
                    raise TypeError("remedy %s wrap() returned %r, not a callable"
                                    % (remedy_label, call))
            return call

        return pc_meter.measure(factory, wait=wait, concurrency=k, remedy=remedy_label,
                                wrap=wrap, skip_exceptions=skip_exc,
                                on_hang=getattr(task, "finish_hung", None),
                                probe_file=task.path)
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


# --- remedies --------------------------------------------------------------------------------


def _missing_module(names: Any) -> Any:
    """The first of ``names`` that cannot be imported here, or None."""
    for name in names or ():
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except ImportError:  # a parent package is missing (ModuleNotFoundError)
            return name
    return None


def _not_tried(module_name: str, install: Any, common: Mapping[str, Any]) -> dict[str, Any]:
    top = module_name.split(".")[0]
    result = pc_meter.result_dict("not-tried", error="%s is not installed" % (top,), **common)
    result["not_installed"] = top
    result["install"] = install or ("pip install %s" % (top,))
    return result


class _FunctionRemedy:
    """A remedy given as a plain zero-argument function of the probe file."""

    options: Mapping[str, Any] = {}
    wrap = None

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.apply = fn


def _declared_remedy(module: Any, factory_fn: Any, task: pc_protocol.ProbeTask) -> Any:
    """The probe's remedy with the task's label (a ``Remedy`` or a function of the file)."""
    info = getattr(factory_fn, "__patchcheck_probe__", None)
    for label, remedy in getattr(info, "remedies", ()) or ():
        if label == task.remedy_label:
            return remedy if not callable(remedy) else _FunctionRemedy(remedy)
    fn = getattr(module, task.remedy_function or "", None)
    if fn is None or not callable(fn):
        raise LookupError("probe %s has no remedy %r" % (task.name, task.remedy_label))
    return _FunctionRemedy(fn)


def _loaded_files() -> list:
    """Paths of the shared objects mapped into this process (Linux)."""
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps if "/" in line and ".so" in line})
    except OSError:
        return []


# auditwheel names a bundled copy "<stem>-<8 hex>.so.<version>": the hash changes per build.
_HASHED = re.compile(r"^(?P<stem>.+?)-[0-9a-f]{8}(?P<so>\.so)")


def _greenify(libraries: Any, modules: Any) -> list:
    """greenify the client libraries the native check found; returns the application's lines.

    greenify patches a library that is already loaded (found by its path), so the
    distribution's modules are imported first. The lines use a path pattern relative to the
    module (bundled ``<dist>.libs/`` copies) or the loaded mappings (system libraries): never
    this machine's path.
    """
    import greenify

    greenify.greenify()
    imported = []
    for name in modules:
        try:
            imported.append(importlib.import_module(name))
        except Exception:  # an optional module of the distribution; the probe reports its own
            continue
    loaded = _loaded_files()
    found = []  # (module the line needs, line)
    for soname in libraries:
        paths = [p for p in loaded
                 if os.path.basename(p) == soname or os.path.basename(p).startswith(soname + ".")]
        ok = [p for p in paths if greenify.patch_lib(p)]
        if ok:
            found.append(_greenify_line(ok[0], imported))
    if not found:
        raise RuntimeError("greenify.patch_lib() found none of %s loaded"
                           % (", ".join(libraries) or "no library"))
    mods = sorted({mod for mod, _ in found if mod})
    head = ["import glob, os, greenify" if any("glob." in line for _, line in found)
            else "import greenify"]
    head += ["import %s  # loads the library greenify patches" % m for m in mods]
    head.append("greenify.greenify()  # after gevent.monkey.patch_all()")
    return head + [line for _, line in found]


def _greenify_line(path: str, imported: list) -> tuple:
    """(the module it needs, one ``for path in ...: greenify.patch_lib(path)`` line): a
    pattern relative to the module for a bundled copy, the loaded mappings otherwise."""
    base = os.path.basename(path)
    match = _HASHED.match(base)
    stem = match.group("stem") if match else base.split(".so")[0]
    real_dir = os.path.dirname(os.path.realpath(path))
    # "pycurl.libs" is relative to pycurl best (the distribution also ships "curl").
    owner = os.path.basename(real_dir).rsplit(".libs", 1)[0]
    for mod in sorted(imported, key=lambda m: m.__name__ != owner):
        mod_file = getattr(mod, "__file__", None)
        if not mod_file or match is None:
            continue
        rel = os.path.relpath(real_dir, os.path.dirname(os.path.realpath(mod_file)))
        parts = rel.split(os.sep)
        if parts.count("..") > 2:
            continue
        args = ", ".join(['os.path.dirname(%s.__file__)' % mod.__name__]
                         + ['"%s"' % p for p in parts])
        return (mod.__name__, 'for path in glob.glob(os.path.join(%s, "%s-*.so*")): '
                'greenify.patch_lib(path)' % (args, stem))
    first = imported[0].__name__ if imported else ""
    return (first, 'for path in {line.split()[-1] for line in open("/proc/self/maps") '
            'if "/%s.so" in line}: greenify.patch_lib(path)' % (stem,))


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
