"""``patchcheck explain NAME``: what is known about a library, its probes, the remedy, the evidence.

Four sources, all read in the tool process (nothing is imported or run):

- knowledge entries (``patchcheck_add_knowledge``: ``known.toml`` and plugins);
- probes (``patchcheck_add_probes``) that exercise the distribution, with their remedies;
- the evidence links of the knowledge entries;
- the newest result measured for it, from the result cache (``patchcheck.cache``).

``explain(name, fmt=...) -> (text, found)``; ``found`` is False when none of the four knows the
name (the CLI then exits 2 with a hint).
"""
from __future__ import annotations

import datetime as _dt
import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchcheck.knowledge import all_entries
from patchcheck.model import DistributionResult, Outcome, normalize_name
from patchcheck.plugins import collect_probes

EXPLAIN_SCHEMA = "patchcheck.explain/1"


@dataclass(frozen=True)
class CachedResult:
    """The newest cached result for a distribution, and when it was measured (file mtime)."""

    result: DistributionResult
    measured_at: _dt.datetime
    path: Path


def explain(name: str, *, fmt: str = "text", plugin_manager: Any = None,
            cache_root: Path | None = None,
            probe_paths: Sequence[str] = ()) -> tuple[str, bool]:
    """Everything patchcheck knows about ``name``, as text or JSON; and whether it knew anything.

    :param plugin_manager: defaults to :func:`patchcheck.plugins.make_plugin_manager`.
    :param cache_root: the result cache's folder (default: the platform's, or
        ``$PATCHCHECK_CACHE_DIR``).
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
    cached = newest_cached(key, cache_root)
    found = bool(known or mine or cached)
    doc = _document(name, known, mine, cached)
    if not found:
        names = {e.distribution for e in entries} | {d for p in probes for d in p.distributions}
        doc["hint"] = _hint(name, names)
    if fmt == "json":
        return json.dumps(doc, indent=2), found
    return (_text(doc) if found else _unknown_text(doc)), found


def newest_cached(key: str, cache_root: Path | None = None) -> CachedResult | None:
    """The newest cache entry whose result is distribution ``key`` (normalised), if any.

    Cache files are keyed by a hash, so this reads them all: fine for a command run by hand.
    Unreadable or foreign files are skipped (the cache never makes anything fail).
    """
    from patchcheck.cache import CACHE_SCHEMA, ResultCache

    root = ResultCache(cache_root).root / "results"
    best: CachedResult | None = None
    try:
        files = list(root.glob("*/*/*.json"))
    except OSError:
        return None
    for path in files:
        try:
            mtime = path.stat().st_mtime
            if best is not None and mtime <= best.measured_at.timestamp():
                continue
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("schema") != CACHE_SCHEMA:
                continue
            raw = data["result"]
            if normalize_name(str(raw.get("name", ""))) != key:
                continue
            result = DistributionResult.from_json(raw)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        best = CachedResult(result, _dt.datetime.fromtimestamp(mtime, tz=_dt.timezone.utc), path)
    return best


def _document(name: str, known: Sequence[Any], probes: Sequence[Any],
              cached: CachedResult | None) -> dict[str, Any]:
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


def _hint(name: str, names: Iterable[str]) -> str:
    by_key = {normalize_name(n): n for n in names}
    close = difflib.get_close_matches(normalize_name(name), list(by_key), n=3, cutoff=0.6)
    measure = f"measure it: patchcheck scan '{name}'"
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
                when = "after and before" if p["import_order"] == "both" else p["import_order"]
                line += f"; imported {when} patch_all()"
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
        out.append(f"last measured: never on this machine (scan it: patchcheck scan '{name}')")
        return "\n".join(out)
    version = f" {last['version']}" if last["version"] else ""
    out.append(f"last measured: {last['name']}{version} — {last['verdict']} "
               f"({last['measured_at']}, from the result cache)")
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
