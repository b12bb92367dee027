"""The probe-writing API: ``from patchcheck_probe import probe``.

This module is imported in two places, so it uses the standard library only:

* in the **child**, by name: the harness folder is ``sys.path[0]``;
* in the **tool process**, where ``sys.modules["patchcheck_probe"]`` is an alias of
  ``patchcheck.harness.patchcheck_probe`` while probe files are loaded (``probeloader``).

A probe is a *factory*: it receives a :class:`Context` and returns the zero-argument call to
measure, which must wait about ``ctx.wait`` seconds on a slow loopback peer::

    from patchcheck_probe import probe

    def _remedy_green():            # runs in the child after patch_all(), before the probe
        import mylib.green  # noqa

    @probe(distributions=["mylib"], services=["slow_tcp"], wait=0.3,
           remedies={"mylib.green": _remedy_green})
    def mylib_get(ctx):
        import mylib                            # imported in the child only
        peer = ctx.service("slow_tcp")
        client = mylib.Client(peer.host, peer.port)
        return lambda: client.get("key")        # the measured call

The factory runs once per concurrent copy (``concurrency`` times), each in its own greenlet,
before the copies are released together; only the returned calls are timed. Never import the
library at module top level: the tool process loads this file too, and the child decides when
the library is imported relative to ``patch_all()``.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any, Callable

__all__ = ["probe", "Context", "Remedy", "Service", "Skip", "ProbeInfo", "ProbeDefinitionError",
           "PROBE_ATTR", "PROBE_KEYWORDS"]

#: The attribute the decorator sets on a probe function.
PROBE_ATTR = "__patchcheck_probe__"

# "both": the tool side runs the probe in each order and compares.
_IMPORT_ORDERS = ("after", "before", "both")
# "failed": remedies are measured when the plain call blocks or breaks; "always": also when
# it cooperates (to verify documented advice).
_MEASURE_REMEDIES = ("failed", "always")


class Remedy:
    """A remedy that does more than run a function after patching.

    ``apply()`` runs once in the child after ``patch_all()``, before the factories;
    ``options`` are given to each factory as ``ctx.options`` (the probe passes them on, e.g.
    ``connect(use_pure=True)``); ``wrap(ctx, call)`` receives each copy's context and measured
    call and returns the call to measure instead (wrap it, or replace it).
    ``requires`` names the modules the remedy itself imports (``"psycogreen"``): when one is
    not installed in the target the remedy is reported as *not tried* with ``install``
    (``"pip install psycogreen"``), never as the library's failure.
    """

    __slots__ = ("apply", "options", "wrap", "requires", "install")

    def __init__(self, apply: Callable[[], Any] | None = None, *,
                 options: Mapping[str, Any] | None = None,
                 wrap: Callable[[Context, Callable[[], Any]], Callable[[], Any]] | None = None,
                 requires: Sequence[str] = (), install: str | None = None) -> None:
        if apply is not None and not callable(apply):
            raise ValueError("Remedy apply must be a function, not %r" % (apply,))
        if wrap is not None and not callable(wrap):
            raise ValueError("Remedy wrap must be a function (ctx, call) -> call, not %r"
                             % (wrap,))
        if isinstance(requires, str):
            requires = [requires]
        if apply is None and wrap is None and not options:
            raise ValueError("Remedy needs apply=, options= or wrap=")
        self.apply = apply
        self.options = dict(options or {})
        self.wrap = wrap
        self.requires = tuple(requires)
        self.install = install or (("pip install " + " ".join(
            r.split(".")[0] for r in self.requires)) if self.requires else None)

    def __repr__(self) -> str:
        return "Remedy(requires=%r, options=%r)" % (self.requires, self.options)


class Skip(Exception):
    """Raise from a probe factory when the probe cannot run here (e.g. a resolver backend is
    missing); the measurement becomes ``skipped`` with this message, not ``breaks``."""


class ProbeInfo:
    """The metadata ``@probe`` records; the tool side turns it into a ``ProbeSpec``."""

    __slots__ = ("name", "distributions", "services", "wait", "concurrency", "remedies",
                 "import_order", "description", "version", "measure_remedies",
                 "before_imports")

    def __init__(self, name: str, distributions: tuple[str, ...], services: tuple[str, ...],
                 wait: float, concurrency: int, remedies: tuple[tuple[str, Any], ...],
                 import_order: str, description: str, version: str,
                 measure_remedies: str = "failed",
                 before_imports: tuple[str, ...] = ()) -> None:
        self.name = name
        self.distributions = distributions
        self.services = services
        self.wait = wait
        self.concurrency = concurrency
        # (label, zero-argument function of the probe file, or a Remedy)
        self.remedies = remedies
        self.measure_remedies = measure_remedies
        self.import_order = import_order
        self.before_imports = before_imports
        self.description = description
        self.version = version

    def __repr__(self) -> str:
        return "ProbeInfo(%r, distributions=%r)" % (self.name, self.distributions)


def _default_name(fn_name: str, distributions: Sequence[str]) -> str:
    # "mylib_get" for distribution "mylib" -> "mylib.get"; anything else keeps its name.
    if distributions:
        prefix = distributions[0].replace("-", "_").replace(".", "_").lower() + "_"
        if fn_name.lower().startswith(prefix) and len(fn_name) > len(prefix):
            return distributions[0] + "." + fn_name[len(prefix):]
    return fn_name


#: the keywords ``@probe`` accepts (a mistyped one gets a hint naming the nearest)
PROBE_KEYWORDS = ("distributions", "services", "wait", "concurrency", "remedies",
                  "import_order", "description", "version", "measure_remedies",
                  "before_imports")


class ProbeDefinitionError(ValueError):
    """``@probe`` was given an argument it cannot use (a mistyped keyword, a bad value)."""


def _unknown_keywords(unknown: Mapping[str, Any]) -> ProbeDefinitionError:
    import difflib

    parts = []
    for key in sorted(unknown):
        near = difflib.get_close_matches(key, PROBE_KEYWORDS, n=1, cutoff=0.6)
        parts.append("%r (did you mean %r?)" % (key, near[0]) if near else repr(key))
    return ProbeDefinitionError("@probe got unknown keyword %s; it accepts: %s"
                                % (", ".join(parts), ", ".join(PROBE_KEYWORDS)))


def probe(name: str | None = None, *, distributions: Sequence[str] = (),
          services: Sequence[str] = (), wait: float = 0.3, concurrency: int = 3,
          remedies: Mapping[str, Callable[[], Any] | Remedy] | None = None,
          import_order: str = "after", description: str = "", version: str = "1",
          measure_remedies: str = "failed", before_imports: Sequence[str] = (),
          **unknown: Any,
          ) -> Callable[[Callable[[Context], Callable[[], Any]]],
                        Callable[[Context], Callable[[], Any]]]:
    """Mark a factory function as a probe. Records metadata only; never runs anything.

    :param name: the probe's name (default: ``<distribution>.<rest of the function name>``).
    :param distributions: the distributions the probe applies to (``"python"`` = stdlib).
    :param services: loopback services the probe needs (``ctx.service(name)``).
    :param wait: how long (seconds) the peer delays its answer; the call should wait that long.
    :param concurrency: how many copies run at once (K, at least 2 for the ratio).
    :param remedies: label -> zero-argument function of this file, run after patching, or a
        :class:`Remedy` (options for the factory, a wrapper of the call, what it requires).
    :param measure_remedies: ``"failed"`` (default: when the plain call blocks or breaks) or
        ``"always"`` (also when it cooperates: to verify documented advice).
    :param import_order: ``"after"`` (patch, then import) or ``"before"`` (import the
        distribution's modules, then patch: for libraries that choose at import time) or
        ``"both"`` (measured in each order; patchcheck also adds the imported-first run when
        the import check finds that the library loads ssl or keeps originals).
    :param before_imports: modules a run imported before patching also imports then, for a
        library whose first use, not its top-level import, loads the risky module (botocore:
        ``["botocore.session"]`` loads ssl and urllib3).
    :raises ProbeDefinitionError: a mistyped keyword (the message names the nearest one) or
        a bad value.
    """
    if unknown:
        raise _unknown_keywords(unknown)
    if isinstance(distributions, str):
        distributions = [distributions]
    if not distributions:
        raise ProbeDefinitionError("@probe needs distributions=[...]")
    if import_order not in _IMPORT_ORDERS:
        raise ProbeDefinitionError("@probe import_order must be one of %r, not %r"
                         % (_IMPORT_ORDERS, import_order))
    if isinstance(before_imports, str):
        before_imports = [before_imports]
    if not all(isinstance(m, str) and m for m in before_imports):
        raise ProbeDefinitionError("@probe before_imports must be module names, not %r"
                                   % (before_imports,))
    if not (isinstance(wait, (int, float)) and wait > 0):
        raise ProbeDefinitionError("@probe wait must be a positive number of seconds, not %r"
                                   % (wait,))
    if not (isinstance(concurrency, int) and concurrency >= 1):
        raise ProbeDefinitionError("@probe concurrency must be an integer >= 1, not %r"
                                   % (concurrency,))
    if measure_remedies not in _MEASURE_REMEDIES:
        raise ProbeDefinitionError("@probe measure_remedies must be one of %r, not %r"
                                   % (_MEASURE_REMEDIES, measure_remedies))
    remedy_items = tuple((remedies or {}).items())
    for label, fn in remedy_items:
        if not (callable(fn) or isinstance(fn, Remedy)):
            raise ProbeDefinitionError("@probe remedy %r must be a function or a Remedy, not %r"
                             % (label, fn))

    def decorate(fn: Callable[[Context], Callable[[], Any]]
                 ) -> Callable[[Context], Callable[[], Any]]:
        info = ProbeInfo(
            name=name or _default_name(fn.__name__, distributions),
            distributions=tuple(distributions),
            services=tuple(services),
            wait=float(wait),
            concurrency=int(concurrency),
            remedies=remedy_items,
            import_order=import_order,
            description=description or (fn.__doc__ or "").strip().split("\n")[0],
            version=str(version),
            measure_remedies=measure_remedies,
            before_imports=tuple(before_imports),
        )
        setattr(fn, PROBE_ATTR, info)
        return fn

    return decorate


class Service:
    """How to reach one service: ``host``, ``port``, ``url`` and any extra field as attributes
    (``user``, ``password``, ``database``, ``cafile`` …, whatever the service provides)."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = dict(fields)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError("service %r has no field %r (it has: %s)"
                                 % (self._fields.get("name"), name,
                                    ", ".join(sorted(self._fields)))) from None

    def get(self, name: str, default: Any = None) -> Any:
        return self._fields.get(name, default)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._fields)

    def __repr__(self) -> str:
        return "Service(%r)" % (self._fields,)


_unique_counter = itertools.count(1)


class Context:
    """What a probe factory receives (one per concurrent copy)."""

    def __init__(self, services: Mapping[str, Mapping[str, Any]], wait: float, tmpdir: str,
                 index: int = 0, concurrency: int = 1, remedy: str | None = None,
                 options: Mapping[str, Any] | None = None) -> None:
        self._services = {k: Service(dict(v, name=v.get("name", k)))
                          for k, v in services.items()}
        #: seconds the peer delays its answer; the measured call should wait about this long
        self.wait = wait
        #: a scratch directory for this probe run (shared by its copies), removed afterwards
        self.tmpdir = tmpdir
        self._cleanups: list[Callable[[], Any]] = []
        #: which copy this is (0 … concurrency-1)
        self.index = index
        self.concurrency = concurrency
        #: the label of the remedy this run measures, or None for the plain call
        self.remedy = remedy
        #: the options of that remedy (``Remedy(options=...)``); empty for the plain call
        self.options = dict(options or {})

    def service(self, name: str) -> Service:
        try:
            return self._services[name]
        except KeyError:
            raise LookupError("service %r was not started for this probe; declare it in "
                              "@probe(services=[...]) (started: %s)"
                              % (name, ", ".join(sorted(self._services)) or "none")) from None

    def cleanup(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``fn()`` after the measurement (newest first), even when the call failed:
        close clients, drop tables, delete keys. Usable as a decorator; returns ``fn``.
        Not run when the run hung (the child is ended; its processes and files go with it).
        An exception from ``fn`` is ignored: it must not replace the measurement."""
        if not callable(fn):
            raise TypeError("ctx.cleanup() needs a function, not %r" % (fn,))
        self._cleanups.append(fn)
        return fn

    add_cleanup = cleanup

    def _run_cleanups(self) -> None:
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except Exception:
                pass

    def unique(self, prefix: str = "pc") -> str:
        """A name unique to this child and copy, for keys, queues, tables, files."""
        return "%s_%d_%d_%d" % (prefix, os.getpid(), self.index, next(_unique_counter))
