"""``patchcheck explain NAME``: what is known about a library, its probes, the remedy, the evidence.

Four sources, all read in the tool process (no library is imported, nothing is measured):

- knowledge entries (``patchcheck_add_knowledge``: ``known.toml`` and plugins);
- probes (``patchcheck_add_probes``, the team's ``--probe-path`` folders among them) that
  exercise the distribution, with their remedies;
- the evidence links of the knowledge entries;
- the newest result measured for it, from the result cache (``patchcheck.cache``): across every
  environment and layout the cache holds, by the entry's ``measured_at``, with the Python and
  gevent it was measured on. Distributions of one ``[[same_code]]`` group (``known.toml``:
  psycopg2 and psycopg2-binary) are one library here: the newest of their measurements is
  shown, "measured as psycopg2-binary (the same extension)".

When nothing was measured, explain suggests the scan that measures it, and that command must
work: the target interpreter is asked (an ``info`` child: metadata only) whether the
distribution is installed; if not, the command has ``--install`` (or names the installed
distribution of its ``[[same_code]]`` group).

``explain(name, fmt=...) -> (text, found)``; ``found`` is False when none of the four knows the
name (the CLI then exits 2 with a hint).
"""
from __future__ import annotations

import datetime as _dt
import difflib
import json
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchcheck.knowledge import SameCode, all_entries, same_code_as
from patchcheck.model import STDLIB, DistributionResult, Environment, Outcome, normalize_name
from patchcheck.plugins import collect_probes

EXPLAIN_SCHEMA = "patchcheck.explain/1"


@dataclass(frozen=True)
class CachedResult:
    """The newest cached result for a distribution: when and on what it was measured."""

    result: DistributionResult
    #: the entry's ``measured_at``; for entries written before it existed, the file's mtime
    measured_at: _dt.datetime
    path: Path
    environment: Environment | None = None  # None: an entry written before it was recorded


def explain(name: str, *, fmt: str = "text", plugin_manager: Any = None,
            cache_root: Path | None = None,
            probe_paths: Sequence[str] = (), python: str | None = None,
            scan_options: Sequence[str] = ()) -> tuple[str, bool]:
    """Everything patchcheck knows about ``name``, as text or JSON; and whether it knew anything.

    :param plugin_manager: defaults to :func:`patchcheck.plugins.make_plugin_manager` with
        ``probe_paths`` (the team's probe folders).
    :param cache_root: the result cache's folder (default: the platform's, or
        ``$PATCHCHECK_CACHE_DIR``).
    :param python: the target interpreter a suggested scan would measure (default: this one);
        asked whether the distribution is installed only when a scan is suggested.
    :param scan_options: options the suggested ``patchcheck scan`` command must repeat
        (``--python X``, ``--probe-path DIR`` as given to explain).
    """
    if plugin_manager is None:
        from patchcheck.plugins import make_plugin_manager

        plugin_manager = make_plugin_manager(probe_paths)
    key = normalize_name(name)
    entries = all_entries(plugin_manager)
    probes = collect_probes(plugin_manager)
    known = [e for e in entries if normalize_name(e.distribution) == key]
    mine = sorted((p for p in probes if key in {normalize_name(d) for d in p.distributions}),
                  key=lambda p: p.name)
    group = same_code_as(name)
    cached = newest_cached(key, cache_root, same_code=group)
    found = bool(known or mine or cached)
    doc = _document(name, known, mine, cached, group)
    if cached is None and key == STDLIB:
        # The standard library is part of every interpreter: nothing to ask, nothing to install.
        doc["installed"] = True
        doc["scan_command"] = scan_command(name, {key}, None, scan_options)
    elif cached is None:
        installed = installed_in_target(python, [name, *_others(key, group)])
        doc["installed"] = None if installed is None else key in installed
        doc["scan_command"] = scan_command(name, installed, group, scan_options)
    if not found:
        names = {e.distribution for e in entries} | {d for p in probes for d in p.distributions}
        doc["hint"] = _hint(name, names, doc["scan_command"])
    if fmt == "json":
        return json.dumps(doc, indent=2), found
    return (_text(doc) if found else _unknown_text(doc)), found


def _others(key: str, group: SameCode | None) -> list[str]:
    return [d for d in (group.distributions if group else ()) if normalize_name(d) != key]


def newest_cached(key: str, cache_root: Path | None = None, *,
                  same_code: SameCode | None = None) -> CachedResult | None:
    """The newest cache entry whose result is distribution ``key`` (normalised) — or, given its
    ``[[same_code]]`` group, any distribution of the group whose result checked the group's
    import package — across every environment in the cache, by when it was measured.

    Cache files are keyed by a hash, so this reads them all: fine for a command run by hand.
    Unreadable or foreign files are skipped (the cache never makes anything fail).
    """
    from patchcheck.cache import CACHE_SCHEMA, ResultCache

    wanted = {key} | {normalize_name(d) for d in _others(key, same_code)}
    root = ResultCache(cache_root).root / "results"
    best: CachedResult | None = None
    try:
        files = list(root.glob("*/*/*.json"))
    except OSError:
        return None
    for path in files:
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("schema") != CACHE_SCHEMA:
                continue
            raw = data["result"]
            dist = normalize_name(str(raw.get("name", "")))
            if dist not in wanted:
                continue
            result = DistributionResult.from_json(raw)
            if (dist != key and same_code is not None and result.modules
                    and same_code.import_name not in result.modules):
                continue  # another build that did not install the shared package
            when = _measured_at(data.get("measured_at"), path)
            env = (Environment.from_json(data["environment"])
                   if data.get("environment") else None)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if best is None or when > best.measured_at:
            best = CachedResult(result, when, path, env)
    return best


def _measured_at(value: Any, path: Path) -> _dt.datetime:
    """An entry's ``measured_at`` (ISO 8601), else its file's mtime (older entries)."""
    if isinstance(value, str):
        try:
            when = _dt.datetime.fromisoformat(value)
            return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)
        except ValueError:
            pass
    return _dt.datetime.fromtimestamp(path.stat().st_mtime, tz=_dt.timezone.utc)


def installed_in_target(python: str | None, names: Sequence[str]) -> set[str] | None:
    """Which of ``names`` (normalised) the target interpreter has installed; None when it
    cannot be asked (no such interpreter, or no gevent there: a scan needs ``--install``)."""
    from patchcheck.errors import PatchcheckError
    from patchcheck.runner.forkserver import make_runner
    from patchcheck.targets.resolve import inspect_target, resolve_python

    try:
        target = resolve_python(python)
        # One fresh child (no fork server to start for a single metadata question).
        with make_runner(target, use_fork=False) as runner:
            info = inspect_target(target, list(names), timeout=60.0, runner=runner)
    except PatchcheckError:
        return None
    return {normalize_name(d.name) for d in info.installed.values()}


def scan_command(name: str, installed: set[str] | None, group: SameCode | None,
                 options: Sequence[str] = ()) -> str:
    """The ``patchcheck scan`` that measures ``name`` in the target. Pure.

    Installed: scan it. Not installed but another distribution of its ``[[same_code]]`` group
    is: scan that one (the same code, already there). Otherwise (or when the target could not
    be asked): ``--install``, which builds a virtualenv with it.
    """
    key = normalize_name(name)
    extra = "".join(" " + shlex.quote(o) for o in options)
    if installed is not None and key in installed:
        return f"patchcheck scan {_quote(name)}{extra}"
    twin = next((d for d in _others(key, group) if installed and normalize_name(d) in installed),
                None)
    if twin is not None:
        return f"patchcheck scan {_quote(twin)}{extra}"
    return f"patchcheck scan {_quote(name)} --install{extra}"


def _quote(name: str) -> str:
    return f"'{name}'" if "'" not in name else shlex.quote(name)


def _document(name: str, known: Sequence[Any], probes: Sequence[Any],
              cached: CachedResult | None, group: SameCode | None = None) -> dict[str, Any]:
    remedies: list[str] = []
    evidence: list[str] = []
    for e in known:
        if e.remedy and e.remedy not in remedies:
            remedies.append(e.remedy)
        evidence += [link for link in e.evidence if link not in evidence]
    last = None
    if cached is not None:
        r = cached.result
        last = {
            "measured_at": cached.measured_at.isoformat(timespec="seconds"),
            "environment": cached.environment.to_json() if cached.environment else None,
            # another distribution of the same code ([[same_code]]): its name and why
            "measured_as": ({"name": r.name, "why": group.why}
                            if group is not None and r.key != normalize_name(name) else None),
            "cache_file": str(cached.path),
            "name": r.name, "version": r.version, "verdict": r.verdict.value,
            "findings": [f.to_json() for f in r.findings],
            "probes": [p.to_json() for p in r.probes],
        }
    return {
        "schema": EXPLAIN_SCHEMA,
        "name": name,
        "found": bool(known or probes or cached),
        "knowledge": [{
            "distribution": e.distribution, "versions": e.versions, "finding": e.finding,
            "summary": e.summary, "remedy": e.remedy, "evidence": list(e.evidence),
            "origin": e.origin,
        } for e in known],
        "probes": [{
            "name": p.name, "distributions": list(p.distributions), "services": list(p.services),
            "wait_s": p.wait, "concurrency": p.concurrency, "import_order": p.import_order,
            "remedies": [r.label for r in p.remedies], "origin": p.origin,
            "description": p.description, "version": p.version,
        } for p in probes],
        "remedies": remedies,
        "evidence": evidence,
        "last_measured": last,
    }


def _hint(name: str, names: Iterable[str], command: str) -> str:
    by_key = {normalize_name(n): n for n in names}
    close = difflib.get_close_matches(normalize_name(name), list(by_key), n=3, cutoff=0.6)
    measure = f"measure it: {command}"
    if close:
        return "did you mean " + " or ".join(f"'{by_key[c]}'" for c in close) + "? or " + measure
    return measure + " (then 'patchcheck explain' shows the result)"


def _unknown_text(doc: dict[str, Any]) -> str:
    return (f"patchcheck: error: nothing is known about '{doc['name']}': no knowledge entry, "
            f"no probe and no measured result in the cache\nhint: {doc['hint']}")


def _text(doc: dict[str, Any]) -> str:
    from patchcheck.model import ProbeOutcome
    from patchcheck.reporters._views import measurement_phrase

    out: list[str] = []
    name = doc["name"]
    verdicts = sorted({k["finding"] for k in doc["knowledge"]})
    out.append(f"{name} — known: {', '.join(verdicts)}" if verdicts
               else f"{name} — no knowledge entry")
    for k in doc["knowledge"]:
        versions = f" ({k['distribution']} {k['versions']})" if k["versions"] else ""
        origin = "" if k["origin"] == "builtin" else f" [{k['origin']}]"
        out.append(f"  {k['finding']}{versions}: {k['summary']}{origin}")
    if doc["remedies"]:
        out.append("")
        out.append("remedy:")
        out += [f"  - {r}" for r in doc["remedies"]]
    if doc["evidence"]:
        out.append("")
        out.append("evidence:")
        out += [f"  - {link}" for link in doc["evidence"]]
    out.append("")
    if doc["probes"]:
        out.append(f"probes ({len(doc['probes'])}):")
        for p in doc["probes"]:
            needs = ", ".join(p["services"]) or "no service"
            line = (f"  {p['name']}: needs {needs}; {p['concurrency']} calls waiting "
                    f"{p['wait_s']:g} s each")
            if p["import_order"] != "after":
                line += f"; imported {p['import_order']} patch_all()"
            if p["remedies"]:
                line += "; re-run with " + ", ".join(p["remedies"])
            if p["origin"] != "builtin":
                line += f" [{p['origin']}]"
            out.append(line)
            if p["description"]:
                out.append(f"      {p['description']}")
    else:
        out.append("probes: none (import checks only: a scan says 'untested' at best)")
    out.append("")
    last = doc["last_measured"]
    if last is None:
        why = " (not installed in the target)" if doc.get("installed") is False else ""
        out.append(f"last measured: never on this machine{why}; scan it: {doc['scan_command']}")
        return "\n".join(out)
    version = f" {last['version']}" if last["version"] else ""
    env = last["environment"]
    on = ""
    if env:
        on = f" on {env.get('implementation') or 'Python'} {env['python_version']}"
        if env.get("gevent_version"):
            on += f", gevent {env['gevent_version']}"
        if env.get("greenlet_version"):
            on += f", greenlet {env['greenlet_version']}"
    out.append(f"last measured: {last['name']}{version} — {last['verdict']} "
               f"({last['measured_at']}{on}, from the result cache)")
    alias = last["measured_as"]
    if alias:
        out.append(f"  {name}: measured as {alias['name']} ({alias['why']})")
    for f in last["findings"]:
        waived = f" [waived: {f['waived']}]" if f.get("waived") else ""
        out.append(f"  {f['code']} {f['severity']}: {f['summary']}{waived}")
    for raw in last["probes"]:
        probe = ProbeOutcome.from_json(raw)
        plain = probe.plain
        out.append(f"  probe {probe.label}: {plain.outcome} ({measurement_phrase(plain)})")
        for m in probe.remedies:
            if m.outcome is Outcome.NOT_TRIED:
                out.append(f"    {m.remedy}: not tried: {measurement_phrase(m)}")
            else:
                out.append(f"    with {m.remedy}: {m.outcome} ({measurement_phrase(m)})")
    return "\n".join(out)
