"""Build the plugin manager and collect capabilities from it, with one precedence rule.

The manager is built inside a function (never at import time), like pluggy's eggsample host.
Built-ins are registered first and entry points after, as pytest registers ``default_plugins``
before it loads ``pytest11``: pluggy calls later-registered implementations first, so a
third-party plugin's reporter, service, probe or knowledge entry with a built-in's name is
seen first and replaces the built-in. :func:`collect` also ranks built-ins last explicitly, so
the rule does not hang on registration order alone.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import pluggy

from patchcheck import hookspecs

if TYPE_CHECKING:
    from patchcheck.spec import KnowledgeEntry, ProbeSpec, ReporterSpec, ServiceSpec

ENTRY_POINT_GROUP = "patchcheck"
DISABLE_AUTOLOAD_ENV = "PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD"

#: Built-in plugins, registered like any third-party plugin (and before them).
BUILTIN_PLUGINS = (
    "patchcheck.builtin",  # built-in probes (the probes/ folder)
    "patchcheck.services",  # loopback fixture servers and real services
    "patchcheck.knowledge",  # known.toml
    "patchcheck.reporters",  # table, json, junit, sarif, markdown, github
)

T = TypeVar("T")


def make_plugin_manager(probe_paths: Iterable[str | os.PathLike[str]] = ()) -> pluggy.PluginManager:
    import importlib

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for modname in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
    if not os.environ.get(DISABLE_AUTOLOAD_ENV):
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    paths = [Path(p) for p in probe_paths]
    if paths:
        from patchcheck.probeloader import LocalProbes

        pm.register(LocalProbes(paths), name="patchcheck.local-probes")
    pm.check_pending()
    return pm


#: Conflicts already warned about in this process (``warnings``' once-per-location registry):
#: several commands collect the same capability more than once.
_WARNED: dict[Any, Any] = {}


class PluginConflictWarning(UserWarning):
    """Two plugins (neither of them built-in) provide a capability with the same name."""


@dataclass(frozen=True)
class Conflict:
    """``kept`` and ``dropped`` are plugin names as registered (entry-point names)."""

    capability: str  # "reporter", "service", "probe", "knowledge entry"
    name: str
    kept: str
    dropped: str

    def message(self) -> str:
        return (f"{self.capability} {self.name!r} is provided by plugin {self.kept!r} and by "
                f"plugin {self.dropped!r}; using the one from {self.kept!r}")


def is_builtin(plugin_name: str) -> bool:
    return plugin_name in BUILTIN_PLUGINS


def collect(pm: pluggy.PluginManager, hook: str, key: Callable[[T], Hashable], *,
            capability: str) -> list[T]:
    """Every object that the plugins return from ``hook``, one per ``key``.

    Precedence: a plugin beats a built-in (silently: that is how a plugin replaces one); between
    two plugins that are not built-in, the one pluggy calls first (registered later) wins and a
    :class:`PluginConflictWarning` names both. Order: plugins' objects first, then built-ins',
    each in the order its hookimpl returned them.
    """
    out, conflicts = collect_with_conflicts(pm, hook, key, capability=capability)
    for conflict, where in conflicts:
        # Point the warning at the losing plugin's hookimpl: that is the code to look at.
        warnings.warn_explicit(conflict.message(), PluginConflictWarning, *where,
                               registry=_WARNED)
    return out


def collect_with_conflicts(pm: pluggy.PluginManager, hook: str, key: Callable[[T], Hashable], *,
                           capability: str
                           ) -> tuple[list[T], list[tuple[Conflict, tuple[str, int]]]]:
    """:func:`collect`, returning the conflicts (each with the losing hookimpl's file, line)
    instead of warning about them."""
    caller = getattr(pm.hook, hook)
    # get_hookimpls() is in registration order and pluggy calls them last to first.
    impls = list(reversed(caller.get_hookimpls()))
    impls.sort(key=lambda impl: is_builtin(impl.plugin_name))  # stable: built-ins last
    owner: dict[Hashable, str] = {}
    out: list[T] = []
    conflicts: list[tuple[Conflict, tuple[str, int]]] = []
    for impl in impls:
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue  # wrappers wrap a call; they provide nothing themselves
        for item in _call(impl) or ():
            k = key(item)
            if k not in owner:
                owner[k] = impl.plugin_name
                out.append(item)
            elif not is_builtin(impl.plugin_name):
                code = impl.function.__code__
                conflicts.append((Conflict(capability, str(k), owner[k], impl.plugin_name),
                                  (code.co_filename, code.co_firstlineno)))
    return out, conflicts


def _call(impl: Any) -> Any:
    # Capability hooks take no arguments today; pass none, as pluggy would.
    return impl.function()


def collect_probes(pm: pluggy.PluginManager) -> list[ProbeSpec]:
    return collect(pm, "patchcheck_add_probes", lambda p: p.name, capability="probe")


def collect_services(pm: pluggy.PluginManager) -> list[ServiceSpec]:
    return collect(pm, "patchcheck_add_services", lambda s: s.name, capability="service")


def collect_reporters(pm: pluggy.PluginManager) -> dict[str, ReporterSpec]:
    specs: list[ReporterSpec] = collect(pm, "patchcheck_add_reporters", lambda r: r.name,
                                        capability="reporter")
    return {spec.name: spec for spec in specs}


def collect_knowledge(pm: pluggy.PluginManager) -> list[KnowledgeEntry]:
    from patchcheck.model import normalize_name

    return collect(pm, "patchcheck_add_knowledge",
                   lambda e: f"{normalize_name(e.distribution)} {e.versions}".strip(),
                   capability="knowledge entry")
