"""The ``import`` task: import a library's modules after (or before) ``patch_all()``.

Task (``pc_protocol.ImportTask``): ``order`` ("after" | "before"), ``modules`` (top-level
import names), ``patch_args`` (``patch_all`` keyword arguments).

Reports, as data (never raised): each module's import outcome with the exception and
traceback; warnings raised while importing and while patching (``MonkeyPatchWarning`` among
them); native threads started by the imports; and *stale references*: names in the library's
modules, classes and default arguments that still hold an original object from
``gevent.monkey.saved`` after patching (gevent only checks ``ssl.SSLContext``, see
``monkey.patch_ssl`` and ``_find_module_refs``; a library that ran ``from socket import socket``
before patching keeps blocking silently).
"""
import os
import sys
import threading
import traceback
import warnings


def _native_thread_ids():
    # /proc lists every OS thread, including ones a C extension started without Python.
    try:
        return set(os.listdir("/proc/self/task"))
    except OSError:
        return None


class _ForeignImports:
    """Counts the OS threads started while a module of *another* distribution is imported for
    the first time (numpy's OpenBLAS pool starts when openpyxl imports numpy), so that they
    are not blamed on the library under test.

    Wraps ``builtins.__import__`` (what ``import x`` statements in the library call); only
    the outermost first import of a foreign top-level module is measured, and the threads are
    credited to that module's distribution. ``importlib.import_module`` calls inside a
    library bypass it: those threads stay with the library (the honest default).
    """

    def __init__(self, own_tops):
        self.own = set(own_tops)
        self.depth = 0
        self.started = {}  # top-level module -> thread ids
        self._original = None

    def __enter__(self):
        import builtins

        self._original = original = builtins.__import__

        def tracking_import(name, globals=None, locals=None, fromlist=(), level=0):
            top = name.partition(".")[0]
            if (level or self.depth or not top or top in self.own or top in sys.modules):
                return original(name, globals, locals, fromlist, level)
            before = _native_thread_ids()
            self.depth += 1
            try:
                return original(name, globals, locals, fromlist, level)
            finally:
                self.depth -= 1
                after = _native_thread_ids()
                if before is not None and after is not None and after - before:
                    self.started.setdefault(top, set()).update(after - before)

        builtins.__import__ = tracking_import
        return self

    def __exit__(self, *exc):
        import builtins

        builtins.__import__ = self._original
        return False

    def by_distribution(self):
        """{distribution name (or top-level module): thread count}."""
        if not self.started:
            # packages_distributions() reads every installed distribution's metadata (0.3 s
            # with 160 of them, per child): only worth it when there is a thread to credit.
            return {}
        try:
            from importlib.metadata import packages_distributions
            owners = packages_distributions()
        except (ImportError, Exception):  # Python 3.9, or broken metadata: module names
            owners = {}
        out = {}
        for top, ids in sorted(self.started.items()):
            names = owners.get(top) or [top]
            out[names[0]] = out.get(names[0], 0) + len(ids)
        return out


def _python_threads():
    # Idents change for the main thread once threading is patched: compare thread objects.
    return {id(t): t.name for t in threading.enumerate() if t is not threading.main_thread()}


def _warning_record(w):
    return {
        "category": "%s.%s" % (w.category.__module__, w.category.__name__),
        "message": str(w.message),
        "filename": w.filename,
        "lineno": w.lineno,
    }


def _exception_record(exc):
    return {
        "type": "%s.%s" % (type(exc).__module__, type(exc).__name__),
        "message": str(exc)[:2000],
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-6000:],
    }


def _import_one(name):
    import importlib

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            importlib.import_module(name)
            outcome = {"module": name, "ok": True}
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from a library are data
            outcome = {"module": name, "ok": False, "exception": _exception_record(exc)}
    outcome["warnings"] = [_warning_record(w) for w in caught]
    return outcome


class _PluginLookup:
    """Answers gevent's plugin look-ups during one ``patch_all()`` from one reading of the
    installed distributions' entry points.

    ``patch_all()`` calls ``gevent.events.notify_and_call_entry_points`` about 25 times (one
    "will patch"/"did patch" event per module), and each call runs
    ``importlib.metadata.entry_points(group=...)``, which reads the metadata of *every*
    installed distribution: half a second per child with 160 of them, more than most libraries
    take to import. The set of entry points cannot change during one call, so the first
    reading (or the zygote's, ``prepare()``/``prepare_data()``, if the environment is unchanged
    since) answers every group, each group selected once. The plugins themselves are still
    loaded and called by gevent inside this ``patch_all()``, as without patchcheck; outside it
    ``entry_points`` is the original.
    """

    #: (freshness key, entry points) read by ``prepare()`` in the zygote before it forks.
    prepared = None
    #: (freshness key, ((name, value, group), ...)) read for a zygote that must not import
    #: ``importlib.metadata`` itself (``prepare_data()``).
    prepared_data = None

    @staticmethod
    def _freshness():
        # What importlib.metadata's own lookup cache keys on (FastPath: the path entry and its
        # mtime): installing or removing a distribution changes its folder's mtime.
        key = []
        for entry in sys.path:
            try:
                key.append((entry, os.stat(entry or ".").st_mtime_ns))
            except (OSError, TypeError, ValueError):
                key.append((entry, None))
        return tuple(key)

    @classmethod
    def prepare(cls):
        """Read the entry points once, for every child forked from here (the zygote)."""
        from importlib import metadata

        cls.prepared = (cls._freshness(), metadata.entry_points())

    @classmethod
    def prepare_data(cls):
        """``prepare()`` for the import-before zygote, which must not load
        ``importlib.metadata`` (nor what it imports) before the library: a forked helper reads
        the entry points and sends them back as plain strings (``marshal``, loaded in every
        interpreter). Nothing is read if the helper fails: the children then read them."""
        import marshal

        key = cls._freshness()
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the helper: never returns into the zygote's code
            status = 1
            try:
                os.close(rfd)
                from importlib import metadata

                rows = tuple((ep.name, ep.value, ep.group) for ep in _all_entry_points(metadata))
                data = marshal.dumps(rows)
                while data:
                    data = data[os.write(wfd, data):]
                status = 0
            finally:
                os._exit(status)
        os.close(wfd)
        chunks = []
        try:
            while True:
                chunk = os.read(rfd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(rfd)
            _, status = os.waitpid(pid, 0)
        if status == 0:
            cls.prepared_data = (key, marshal.loads(b"".join(chunks)))

    def __init__(self):
        self._metadata = None
        self._original = None
        self._memo = {}
        self._selected = {}

    def _prepared_for(self, metadata):
        """The zygote's reading, if the environment is the one it was taken of."""
        prepared, data = _PluginLookup.prepared, _PluginLookup.prepared_data
        if prepared is None and data is None:
            return None
        key = self._freshness()
        if prepared is not None and prepared[0] == key:
            return prepared[1]
        if data is not None and data[0] == key:
            return _entry_points_of(metadata, data[1])
        return None

    def __enter__(self):
        from importlib import metadata

        prepared = self._prepared_for(metadata)
        if prepared is not None:
            self._memo[tuple(sys.path)] = prepared
        self._metadata = metadata
        self._original = original = metadata.entry_points

        def entry_points(**params):
            # Keyed by sys.path: a plugin that adds a path entry gets a fresh reading.
            key = tuple(sys.path)
            found = self._memo.get(key)
            if found is None:
                found = self._memo[key] = original()
            if not params:
                return found  # Python 3.9: gevent selects from the plain dict itself
            if not hasattr(found, "select"):  # pragma: no cover - 3.9 takes no params
                return original(**params)
            chosen = (key, tuple(sorted(params.items())))
            selected = self._selected.get(chosen)
            if selected is None:
                selected = self._selected[chosen] = found.select(**params)
            return selected

        metadata.entry_points = entry_points
        return self

    def __exit__(self, *exc):
        self._metadata.entry_points = self._original
        return False


def _all_entry_points(metadata):
    """Every entry point, as ``entry_points()`` lists them (before 3.12: a dict of groups)."""
    found = metadata.entry_points()
    if isinstance(found, dict):
        return [ep for group in found.values() for ep in group]
    return list(found)


def _entry_points_of(metadata, rows):
    """``entry_points()``'s answer rebuilt from ``(name, value, group)`` rows (gevent only
    ``load()``s what it selects, which needs no more than these)."""
    eps = [metadata.EntryPoint(name=name, value=value, group=group)
           for name, value, group in rows]
    if hasattr(metadata, "EntryPoints"):
        return metadata.EntryPoints(eps)
    groups = {}  # pragma: no cover - Python 3.9: a plain dict of tuples
    for ep in eps:  # pragma: no cover
        groups.setdefault(ep.group, []).append(ep)
    return {group: tuple(items) for group, items in groups.items()}  # pragma: no cover


def plugin_lookup():
    """The context to call ``patch_all()`` in (here and in the probe children, ``pc_probe``)."""
    return _PluginLookup()


def prepare_plugin_lookup():
    """Zygote preload (``runner/forkserver.py: preload_for``): read gevent's plugins once for
    every child it forks. Only where the children patch before anything else: in the
    import-before zygote it would import ``importlib.metadata`` before the library
    (``prepare_plugin_data`` is that zygote's)."""
    _PluginLookup.prepare()


def prepare_plugin_data():
    """Zygote preload of the import-before checks: gevent's plugins read by a forked helper,
    so that the zygote's modules stay those of a fresh process."""
    _PluginLookup.prepare_data()


#: ``(patch_args, outcome)`` of the zygote's own ``patch_all()`` (``patch_in_zygote``).
_patched_in_zygote = None


class ZygoteCannotPatch(RuntimeError):
    """Patching here would not carry over to forked children; they must patch themselves."""


def patch_in_zygote(patch_args_json):
    """Zygote preload of the import-after-patching checks: ``patch_all()`` once, before the
    zygote forks, instead of once per child (docs/architecture.md, "Containment").

    What a child inherits is what a fresh child has after its own ``patch_all()``: the same
    patched modules, ``gevent.monkey.saved`` and the patch outcome (return value, warnings,
    exception), which the child reports as its own. gevent supports forking a patched process
    (its ``threading`` fork hooks give the child a new main thread). Two things would not
    survive ``fork()``: a native thread or a running hub started by patching (a gevent plugin
    could start either). Then this refuses (the zygote fails to start) and the children patch
    themselves, from a zygote that did not (``runner/forkserver.py``).
    """
    import json

    global _patched_in_zygote
    patch_args = json.loads(patch_args_json)
    tasks = _native_thread_ids()
    outcome = _patch(patch_args)
    after = _native_thread_ids()
    if tasks is None or after is None or after - tasks:
        raise ZygoteCannotPatch("patch_all() started a native thread (or /proc is missing)")
    try:
        from gevent._hub_local import get_hub_if_exists
    except ImportError:  # pragma: no cover - gevent < 1.3
        raise ZygoteCannotPatch("cannot tell whether patch_all() started the hub") from None
    if get_hub_if_exists() is not None:
        raise ZygoteCannotPatch("patch_all() created the gevent hub")
    _patched_in_zygote = (patch_args, outcome)


def zygote_patch_outcome(patch_args=None):
    """The outcome of the zygote's own ``patch_all()`` (``patch_in_zygote``), or None if it
    did not patch. With ``patch_args``, which must be the ones it patched with."""
    if _patched_in_zygote is None:
        return None
    done_args, outcome = _patched_in_zygote
    if patch_args is not None and done_args != dict(patch_args):
        # The runner keys zygotes by the patch arguments; patching again would be a second
        # patch_all() with other arguments, not the check that was asked for.
        raise RuntimeError("the zygote patched with %r, the task asks for %r"
                           % (done_args, dict(patch_args)))
    return outcome


def _patch_once(patch_args):
    """The child's ``patch_all()``, or the zygote's (``patch_in_zygote``) when it did."""
    outcome = zygote_patch_outcome(patch_args)
    return outcome if outcome is not None else _patch(patch_args)


def _patch(patch_args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            from gevent import monkey

            with plugin_lookup():
                ret = monkey.patch_all(**patch_args)
            outcome = {"ok": True, "returned": repr(ret)}
        except BaseException as exc:
            outcome = {"ok": False, "exception": _exception_record(exc)}
    outcome["warnings"] = [_warning_record(w) for w in caught]
    return outcome


def _originals():
    """{id(original): "module.name"} for every item patching replaced or removed."""
    try:
        from gevent.monkey import saved
    except ImportError:
        return {}
    originals = {}
    for modname, items in list(saved.items()):
        if modname.startswith("_gevent") or not isinstance(items, dict):
            continue
        mod = sys.modules.get(modname)
        for attr, original in items.items():
            # Skip values that patching left in place (nothing stale about holding them), and
            # immutable values such as ints/strings whose identity is meaningless.
            if original is None or isinstance(original, (int, float, str, bytes, bool)):
                continue
            if mod is not None and getattr(mod, attr, None) is original:
                continue
            originals[id(original)] = (modname, attr, original)
    return originals


def _library_modules(top_names):
    prefixes = tuple(n + "." for n in top_names)
    mods = []
    seen = set()
    for name, mod in list(sys.modules.items()):
        if mod is None or id(mod) in seen:
            continue
        if name in top_names or name.startswith(prefixes):
            # Aliases (requests.packages.urllib3 is urllib3) are reported under the real name.
            seen.add(id(mod))
            mods.append((getattr(mod, "__name__", None) or name, mod))
    return sorted(mods, key=lambda item: item[0])


def _describe_original(entry):
    modname, attr, _ = entry
    return "%s.%s" % (modname, attr)


def find_stale_references(top_names, limit=200):
    originals = _originals()
    if not originals:
        return []
    stale = []
    seen = set()

    def note(kind, holder, name, entry):
        key = (kind, holder, name)
        if key in seen or len(stale) >= limit:
            return
        seen.add(key)
        stale.append({"kind": kind, "holder": holder, "name": name,
                      "original": _describe_original(entry)})

    for modname, mod in _library_modules(top_names):
        try:
            namespace = dict(vars(mod))
        except TypeError:
            continue
        for name, value in namespace.items():
            entry = originals.get(id(value))
            if entry is not None:
                note("module-attribute", modname, name, entry)
                continue
            if isinstance(value, type) and getattr(value, "__module__", None) == modname:
                _check_class(value, modname, originals, note)
            elif callable(value) and getattr(value, "__module__", None) == modname:
                _check_defaults(value, "%s.%s" % (modname, name), originals, note)
    return stale


def _check_class(cls, modname, originals, note):
    qual = "%s.%s" % (modname, cls.__qualname__)
    for base in cls.__mro__[1:]:
        entry = originals.get(id(base))
        if entry is not None:
            note("subclass", qual, base.__name__, entry)
    try:
        items = list(vars(cls).items())
    except TypeError:
        return
    for name, value in items:
        raw = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        entry = originals.get(id(raw))
        if entry is not None:
            note("class-attribute", qual, name, entry)
        elif callable(raw):
            _check_defaults(raw, "%s.%s" % (qual, name), originals, note)


def _check_defaults(func, qual, originals, note):
    defaults = getattr(func, "__defaults__", None) or ()
    kwdefaults = getattr(func, "__kwdefaults__", None) or {}
    for value in list(defaults) + list(kwdefaults.values()):
        entry = originals.get(id(value))
        if entry is not None:
            note("default-argument", qual, _describe_original(entry).rsplit(".", 1)[-1], entry)


def run(task):
    """Run an ``ImportTask`` (``pc_protocol``)."""
    order, modules, patch_args = task.order, task.modules, task.patch_args
    if order == "before" and _patched_in_zygote is not None:
        raise RuntimeError("an import-before-patching check in a patched zygote's child")
    tasks_before = _native_thread_ids()
    threads_before = _python_threads()
    result = {"order": order, "modules": []}
    foreign = _ForeignImports(modules)
    if order == "before":
        with foreign:
            for name in modules:
                result["modules"].append(_import_one(name))
        tasks_mid = _native_thread_ids()
        result["patch"] = _patch(patch_args)
    else:
        result["patch"] = _patch_once(patch_args)
        tasks_mid = _native_thread_ids()
        with foreign:
            for name in modules:
                result["modules"].append(_import_one(name))
    tasks_after = _native_thread_ids()
    # Threads the imports started: with patching first, threading.Thread makes greenlets, so a
    # new OS thread means native code (or an original start_new_thread) started it.
    first, last = (tasks_before, tasks_mid) if order == "before" else (tasks_mid, tasks_after)
    new_tasks = (last - first) if first is not None and last is not None else None
    if new_tasks is not None:
        for ids in foreign.started.values():
            new_tasks -= ids
    threads = _python_threads()
    result["native_threads_started"] = None if new_tasks is None else len(new_tasks)
    result["native_threads_by_others"] = foreign.by_distribution()
    result["python_threads_started"] = sorted(
        name for key, name in threads.items() if key not in threads_before)
    result["stale_references"] = find_stale_references(modules)
    result["loaded_modules"] = len(sys.modules)
    return result
