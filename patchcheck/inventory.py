"""The gevent plugins inventory: which installed distributions run code inside ``patch_all()``.

gevent loads every entry point of the ``gevent.plugins.*`` groups inside ``patch_all()`` (and
the hub's monitor thread) and lets any exception propagate (``gevent/events.py``,
``notify_and_call_entry_points``). So any installed distribution can inject code into every
patched process, and one that fails to load breaks every ``patch_all()`` in the environment.

The listing and the ``load()`` run in a child of the target interpreter (harness task
``plugins``, ``harness/pc_plugins.py``); the tool process never imports a plugin.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from patchcheck.errors import EnvironmentProblem

# The data model's type, re-exported where it was first defined.
from patchcheck.model import Finding, GeventPlugin, Severity
from patchcheck.verdicts.evidence import evidence_from_json

if TYPE_CHECKING:
    from patchcheck.runner.forkserver import Runner
    from patchcheck.runner.process import ChildResult

__all__ = ["GROUP_PREFIX", "GeventPlugin", "gevent_plugins", "plugin_findings",
           "render_plugins"]
from patchcheck.textcols import pad_columns

GROUP_PREFIX = "gevent.plugins."


def gevent_plugins(python: str, timeout: float = 60.0, *,
                   runner: Runner | None = None) -> list[GeventPlugin]:
    """Every gevent plugin entry point installed for ``python``, each ``load()``-ed (unpatched).

    A plugin whose import crashes or hangs the child does not hide the others: the inventory is
    then listed without loading, and each entry point is loaded in a child of its own, so the
    culprit gets the crash or the timeout as its error.

    ``runner`` runs the children (the scan's, so they share its fork server); without one, a
    runner of its own for ``python``.

    :raises EnvironmentProblem: the target interpreter cannot even list its entry points.
    """
    from patchcheck.runner.forkserver import make_runner

    if runner is None:
        with make_runner(python) as own:
            return _inventory(python, own, timeout)
    return _inventory(python, runner, timeout)


def _inventory(python: str, runner: Runner, timeout: float) -> list[GeventPlugin]:
    from patchcheck.runner.protocol import PluginFilter, PluginsTask, read_plugins

    res = runner.run(PluginsTask(load=True), timeout=timeout)
    # Stopping a child starts with SIGINT, so a hung load may still report (as a
    # KeyboardInterrupt): the timeout is the fact, and the culprit is found below.
    if res.data is not None and not res.timed_out:
        return read_plugins(res.data)
    listing = runner.run(PluginsTask(load=False), timeout=timeout)
    if listing.data is None:
        raise EnvironmentProblem(
            f"could not list the gevent plugins of {python}: {_why(listing)}",
            hint=f"check that it runs: {python} -c 'import importlib.metadata'")
    out = []
    for plugin in read_plugins(listing.data):
        only = PluginFilter(plugin.group, plugin.name, plugin.distribution)
        one = runner.run(PluginsTask(load=True, only=only), timeout=timeout)
        rows = read_plugins(one.data) if one.data is not None else []
        if rows and not one.timed_out:
            out.append(rows[0])
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
                evidence=evidence_from_json(
                    "PC151", {**where, "error": p.error, "traceback": p.traceback}),
                hint=_hint("PC151")))
        elif not p.is_gevents_own:
            out.setdefault(p.key, []).append(Finding(
                code="PC150", severity=Severity.INFO, check="gevent-plugins",
                summary=f"registers gevent plugin {p.name} = {p.value} ({p.event}): it runs "
                        "inside every patch_all()",
                evidence=evidence_from_json("PC150", where), hint=_hint("PC150")))
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
