"""``--patchcheck-patch``: ``patch_all()`` as early as pytest allows, and what was too late.

pytest has imported itself and its plugins by the time any plugin hook runs, so some modules
are always imported before patching. What matters is which of them hold on to the *original*
blocking objects (``from socket import socket`` before patching — gevent only warns about
``ssl``, GEVENT-NOTES "Patching too late") and which third-party modules use the modules that
get patched. Both are found by identity: every original in ``gevent.monkey.saved`` against the
globals of every module that was already imported.
"""
from __future__ import annotations

import sys
import types
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from patchcheck.watch.stacks import is_infrastructure_file

#: top-level packages of the test runner itself: imported before any hook, never the app's
_RUNNER_PACKAGES = frozenset({
    "pytest", "_pytest", "pluggy", "iniconfig", "packaging", "py", "xdist", "execnet",
    "patchcheck", "gevent", "greenlet", "zope", "_pytest_plugins", "exceptiongroup", "tomli",
    "colorama", "pygments", "typing_extensions", "_distutils_hack", "setuptools", "pkg_resources",
})
#: modules whose being imported before patching is worth a line even if nothing holds them
_SENSITIVE = ("ssl", "socket", "select", "selectors", "threading", "queue", "subprocess")


@dataclass(frozen=True)
class PatchReport:
    """What ``--patchcheck-patch`` did and what was imported before it."""

    patched: bool
    how: str  # "patch_all() in pytest_load_initial_conftests", "already patched", …
    patch_args: Mapping[str, Any] = field(default_factory=dict)
    #: stale references: "module.name → socket.socket"
    stale: tuple[str, ...] = ()
    #: third-party top-level packages imported before patching that use patched modules
    early_libraries: tuple[str, ...] = ()
    #: sensitive standard-library modules imported before patching
    early_stdlib: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"patched": self.patched, "how": self.how, "patch_args": dict(self.patch_args),
                "stale": list(self.stale), "early_libraries": list(self.early_libraries),
                "early_stdlib": list(self.early_stdlib), "warnings": list(self.warnings),
                "error": self.error}

    def header_lines(self) -> list[str]:
        if self.error:
            return [f"patchcheck: patch_all() failed: {self.error}"]
        head = f"patchcheck: gevent {self.how}"
        if self.patch_args:
            head += " (" + ", ".join(f"{k}={v}" for k, v in self.patch_args.items()) + ")"
        lines = [head]
        if self.early_stdlib:
            lines.append("patchcheck: imported before patching: " + ", ".join(self.early_stdlib))
        if self.early_libraries:
            names = list(self.early_libraries)
            more = f" (+{len(names) - 8} more)" if len(names) > 8 else ""
            lines.append("patchcheck: third-party packages using patched modules, imported "
                         "before patching (pytest plugins?): " + ", ".join(names[:8]) + more)
        for ref in self.stale[:5]:
            lines.append(f"patchcheck: stale reference (stays blocking): {ref}")
        if len(self.stale) > 5:
            lines.append(f"patchcheck: (+{len(self.stale) - 5} more stale references; "
                         "--patchcheck-watch-report lists them all)")
        for w in self.warnings:
            lines.append(f"patchcheck: gevent warned: {w[:300]}")
        return lines


def _patchable_originals() -> dict[int, str]:
    from gevent import monkey

    saved = getattr(monkey, "saved", {})
    out: dict[int, str] = {}
    for mod_name, items in saved.items():
        if mod_name.startswith("_gevent") or not isinstance(items, dict):
            continue
        for name, obj in items.items():
            if obj is None or isinstance(obj, (bool, int, float, str)):
                continue
            out[id(obj)] = f"{mod_name}.{name}"
    return out


def _third_party(mod_name: str, module: Any) -> bool:
    top = mod_name.split(".", 1)[0]
    if top in _RUNNER_PACKAGES or top.startswith("_pytest"):
        return False
    path = getattr(module, "__file__", None)
    return bool(path) and not is_infrastructure_file(path)


def analyse_early_imports(before: set[str]) -> tuple[tuple[str, ...], tuple[str, ...],
                                                     tuple[str, ...]]:
    """(stale references, early third-party packages, early sensitive stdlib modules)."""
    originals = _patchable_originals()
    patched_modules = {v.split(".", 1)[0] for v in originals.values()} | set(_SENSITIVE)
    stale: list[str] = []
    libraries: dict[str, None] = {}
    for mod_name in sorted(before):
        module = sys.modules.get(mod_name)
        if not isinstance(module, types.ModuleType) or not _third_party(mod_name, module):
            continue
        try:
            items = list(vars(module).items())
        except TypeError:
            continue
        uses = False
        for name, value in items:
            if isinstance(value, types.ModuleType):
                if value.__name__.split(".", 1)[0] in patched_modules:
                    uses = True
                continue
            original = originals.get(id(value))
            if original is not None:
                stale.append(f"{mod_name}.{name} → {original}")
                uses = True
        if uses:
            libraries[mod_name.split(".", 1)[0]] = None
    early_stdlib = tuple(m for m in _SENSITIVE if m in before)
    return tuple(stale), tuple(libraries), early_stdlib


def patch_now(patch_args: Mapping[str, Any], *, how: str) -> PatchReport:
    """``gevent.monkey.patch_all(**patch_args)`` now, with the too-early report."""
    before = set(sys.modules)
    try:
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            return PatchReport(True, "already patched before pytest started",
                               patch_args=dict(patch_args))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            monkey.patch_all(**dict(patch_args))
    except Exception as exc:  # reported in the header; the run goes on unpatched
        return PatchReport(False, how, patch_args=dict(patch_args),
                           error=f"{type(exc).__name__}: {exc}")
    stale, libraries, early = analyse_early_imports(before)
    return PatchReport(True, how, patch_args=dict(patch_args), stale=stale,
                       early_libraries=libraries, early_stdlib=early,
                       warnings=tuple(" ".join(str(w.message).split()) for w in caught))
