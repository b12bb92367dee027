"""The gevent plugins inventory: which installed distributions run code inside ``patch_all()``.

gevent loads every entry point of the ``gevent.plugins.*`` groups inside ``patch_all()`` (and
the hub's monitor thread) and lets any exception propagate (``gevent/events.py``,
``notify_and_call_entry_points``). So any installed distribution can inject code into every
patched process, and one that fails to load breaks every ``patch_all()`` in the environment.

The listing and the ``load()`` run in a child of the target interpreter (harness task
``plugins``, ``harness/pc_plugins.py``); the tool process never imports a plugin.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from patchcheck.errors import EnvironmentProblem
from patchcheck.model import Finding, Severity, normalize_name
from patchcheck.runner.process import ChildResult, run_child
from patchcheck.textcols import pad_columns

GROUP_PREFIX = "gevent.plugins."
#: Entry points gevent registers for itself: part of patching, not a third party's code.
_GEVENT = "gevent"


@dataclass(frozen=True)
class GeventPlugin:
    """One ``gevent.plugins.*`` entry point and whether it loads in the target interpreter."""

    group: str  # "gevent.plugins.monkey.did_patch_all"
    name: str  # the entry point's name
    value: str  # "module:attr"
    distribution: str  # the distribution that provides it, as installed
    version: str | None = None
    loaded: bool | None = None  # None: not checked
    error: str | None = None  # "ImportError: ..." when it did not load
    traceback: str | None = None  # tail of the traceback, when there is one

    @property
    def key(self) -> str:
        """The providing distribution's normalised name."""
        return normalize_name(self.distribution)

    @property
    def event(self) -> str:
        """The short event name: ``did_patch_all``, ``periodic_monitor_thread_started``…"""
        return self.group.rsplit(".", 1)[-1]

    @property
    def is_gevents_own(self) -> bool:
        return self.key == _GEVENT

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group, "name": self.name, "value": self.value,
            "distribution": self.distribution, "version": self.version,
            "loaded": self.loaded, "error": self.error, "traceback": self.traceback,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GeventPlugin:
        return cls(
            group=str(data["group"]), name=str(data["name"]), value=str(data["value"]),
            distribution=str(data.get("distribution") or ""), version=data.get("version"),
            loaded=data.get("loaded"), error=data.get("error"), traceback=data.get("traceback"),
        )


def gevent_plugins(python: str, timeout: float = 60.0) -> list[GeventPlugin]:
    """Every gevent plugin entry point installed for ``python``, each ``load()``-ed (unpatched).

    A plugin whose import crashes or hangs the child does not hide the others: the inventory is
    then listed without loading, and each entry point is loaded in a child of its own, so the
    culprit gets the crash or the timeout as its error.

    :raises EnvironmentProblem: the target interpreter cannot even list its entry points.
    """
    res = run_child(python, {"task": "plugins", "load": True}, timeout=timeout)
    # Stopping a child starts with SIGINT, so a hung load may still report (as a
    # KeyboardInterrupt): the timeout is the fact, and the culprit is found below.
    if res.data is not None and not res.timed_out:
        return [GeventPlugin.from_json(p) for p in res.data.get("plugins") or ()]
    listing = run_child(python, {"task": "plugins", "load": False}, timeout=timeout)
    if listing.data is None:
        raise EnvironmentProblem(
            f"could not list the gevent plugins of {python}: {_why(listing)}",
            hint=f"check that it runs: {python} -c 'import importlib.metadata'")
    out = []
    for raw in listing.data.get("plugins") or ():
        plugin = GeventPlugin.from_json(raw)
        only = {"group": plugin.group, "name": plugin.name, "distribution": plugin.distribution}
        one = run_child(python, {"task": "plugins", "load": True, "only": only}, timeout=timeout)
        rows = (one.data or {}).get("plugins") or ()
        if rows and not one.timed_out:
            out.append(GeventPlugin.from_json(rows[0]))
        else:
            out.append(GeventPlugin(**{**plugin.to_json(), "loaded": False,
                                       "error": f"loading it {_why(one)}",
                                       "traceback": _tail(one.stack_dump) or None}))
    return out


def _why(res: ChildResult) -> str:
    return res.harness_error or res.describe_end()


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def plugin_findings(plugins: Iterable[GeventPlugin]) -> dict[str, list[Finding]]:
    """Findings per providing distribution (normalised name): PC150 for each plugin it
    registers, PC151 for each that fails to load.

    gevent's own entry points (it registers one for itself) get no PC150: they are part of
    patching, not code a third party injects. They still get PC151 if they fail.
    """
    out: dict[str, list[Finding]] = {}
    for p in plugins:
        where = {"group": p.group, "event": p.event, "name": p.name, "value": p.value}
        if p.loaded is False:
            out.setdefault(p.key, []).append(Finding(
                code="PC151", severity=Severity.BREAKS, check="gevent-plugins",
                summary=f"gevent plugin {p.name} = {p.value} ({p.event}) fails to load: "
                        f"{p.error}; every patch_all() in this environment raises",
                evidence={**where, "error": p.error, "traceback": p.traceback},
                hint=_hint("PC151")))
        elif not p.is_gevents_own:
            out.setdefault(p.key, []).append(Finding(
                code="PC150", severity=Severity.INFO, check="gevent-plugins",
                summary=f"registers gevent plugin {p.name} = {p.value} ({p.event}): it runs "
                        "inside every patch_all()",
                evidence=where, hint=_hint("PC150")))
    return out


def _hint(code_id: str) -> str:
    from patchcheck.verdicts.codes import code

    return code(code_id).hint


def render_plugins(plugins: Sequence[GeventPlugin], fmt: str = "table") -> str:
    """``patchcheck plugins`` output: a table, or a JSON document ``patchcheck.plugins/1``."""
    if fmt == "json":
        import json

        return json.dumps({"schema": "patchcheck.plugins/1",
                           "plugins": [p.to_json() for p in plugins]}, indent=2)
    if not plugins:
        return "no gevent plugins installed"
    rows = [("event", "name", "value", "distribution", "loads")]
    for p in plugins:
        status = "yes" if p.loaded else ("not checked" if p.loaded is None else "NO")
        dist = f"{p.distribution} {p.version}" if p.version else p.distribution
        rows.append((p.event, p.name, p.value, dist, status))
    lines = pad_columns(rows)
    for p in plugins:
        if p.loaded is False:
            lines.append("")
            lines.append(f"{p.distribution}: {p.name} = {p.value} ({p.group}) fails to load:")
            lines.append(f"  {p.error}")
            lines.extend("  " + line for line in (p.traceback or "").splitlines())
    return "\n".join(lines)
