"""``patches-first``: the project calls ``patch_all()`` before it imports its libraries, so
findings that matter only in the other order are info. Pure.

Order-only findings (``Severity.ORDER_ONLY``: PC110 gevent's ssl warning, PC120 stale
references, PC121, PC206, and any code given that severity in ``verdicts/codes.py``) describe
what happens when the library is imported *before* ``patch_all()``. A project that always
patches first (``gunicorn -k gevent``, ``python -m gevent.monkey``, the first line of its entry
point) cannot hit them: the report keeps them, as info, and says once why
(README "Import order and patches-first"). The verdict is then what was measured or not
(cooperates, untested, …) under the one verdict rule (``policy.effective_verdict``).

Who says so: the ``patches-first`` setting (``[tool.patchcheck]``, ``PATCHCHECK_PATCHES_FIRST``,
``--patches-first``), or the pytest plugin, which saw its own ``patch_all()`` run before the
suite imported the libraries (``watch/patching.py``); then the top-level modules it saw
imported before patching keep their order-only findings (``imported_early``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from patchcheck.model import DistributionResult, ScanReport, Severity, Verdict
from patchcheck.verdicts.policy import effective_verdict

NOTE = "order-only findings shown as info: {who} ({why})"


@dataclass(frozen=True)
class PatchesFirst:
    """That the project patches first, and who said so."""

    #: where it was said, for the note: "pyproject.toml:12 [tool.patchcheck] patches-first"
    why: str
    #: "the project patches first" (a setting) or "this test run patched first" (the plugin)
    who: str = "the project patches first"
    #: top-level modules imported before patch_all() after all: their findings stay
    imported_early: frozenset[str] = field(default_factory=frozenset)

    @property
    def note(self) -> str:
        return NOTE.format(who=self.who, why=self.why)


def from_setting(origin: str, config_file_name: str | None) -> PatchesFirst:
    """From the ``patches-first`` setting's origin (``Settings.origins``): a file's
    ``path:line``, the environment variable, or the flag."""
    if origin.startswith(("PATCHCHECK_", "--")):
        return PatchesFirst(why=origin)
    table = "[tool.patchcheck] " if config_file_name == "pyproject.toml" else ""
    return PatchesFirst(why=f"{origin} {table}patches-first")


def _applies(result: DistributionResult, order: PatchesFirst) -> bool:
    if result.verdict is Verdict.NOT_INSTALLED:
        return False
    return not {m.split(".", 1)[0] for m in result.modules} & order.imported_early


def apply_patches_first(report: ScanReport, order: PatchesFirst) -> tuple[ScanReport, list[str]]:
    """``report`` with the order-only findings of every distribution as info and the verdicts
    decided again; the note (once, and in ``report.notes``) when any finding changed. A
    distribution whose modules were imported before patching keeps its findings, and the note
    names it."""
    results = []
    changed_any = False
    kept: list[str] = []
    for result in report.results:
        order_only = [f for f in result.findings if f.severity is Severity.ORDER_ONLY]
        if not order_only:
            results.append(result)
            continue
        if not _applies(result, order):
            kept.append(result.name)
            results.append(result)
            continue
        findings = tuple(replace(f, severity=Severity.INFO)
                         if f.severity is Severity.ORDER_ONLY else f for f in result.findings)
        result = replace(result, findings=findings)
        results.append(result.with_verdict(effective_verdict(result)))
        changed_any = True
    notes: list[str] = []
    if changed_any:
        notes.append(order.note)
    if kept and order.imported_early:
        notes.append("order-only findings kept for " + ", ".join(kept)
                     + ": imported before patch_all() in this run")
    new_notes = tuple(n for n in notes if n not in report.notes)
    return replace(report, results=tuple(results), notes=report.notes + new_notes), notes
