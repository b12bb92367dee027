"""Scan results as pytest items (``--patchcheck-scan FILE`` / ini ``patchcheck_requirements``).

One item per requirement — its distribution's verdict —, collected under a collector per
requirements file. The items are known from the requirements alone (no child process runs
while collecting), and they go through pytest's own collection (``Session.genitems``), so
``collected N items`` and ``--co`` count them. A distribution's probes are not items of their
own: one problem is one failure, with the probe's measurement, stack and remedies in it
(issue #15 item 9: a ``blocks`` from psycopg2's probe failed both the distribution's item and
the probe's). The first item
that runs runs the audit once through the same pipeline as the CLI (``patchcheck.audit``:
settings, scan in child processes — never this process —, waivers from ``[tool.patchcheck]``,
``--fail-on`` policy); every requirement item then fails exactly when the CLI would fail on
that distribution, and passes or is skipped otherwise. The ``baseline`` setting is the CLI's
alone: an item reports its distribution's verdict, not the change since a baseline. Under
pytest-xdist the workers share that one scan through a lock file in pytest's per-run
temporary folder.

Imported by the plugin only when scanning was asked for.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from patchcheck.model import Requirement, ScanReport, Verdict

if TYPE_CHECKING:
    from patchcheck.audit import AuditResult
    from patchcheck.verdicts.patches_first import PatchesFirst
    from patchcheck.watch.patching import PatchReport


#: Verdicts of risks nobody measured (issue #10.3): an item that passes with one of them says
#: so in pytest's warnings summary.
_UNMEASURED = (Verdict.ORDER_SENSITIVE, Verdict.WARNS, Verdict.SUSPECT)


class ScanFailed(Exception):
    """A distribution's verdict is at or above ``--patchcheck-fail-on``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ScanState:
    """Everything the scan items share: settings, the request and (once run) the report."""

    def __init__(self, config: pytest.Config, sources: list[tuple[str, Path]],
                 fail_on: str | None, patch_report: PatchReport | None = None) -> None:
        from patchcheck.audit import load_audit_settings
        from patchcheck.errors import PatchcheckError
        from patchcheck.verdicts.policy import threshold

        self.config = config
        self.sources = sources  # (argument as written, base directory)
        self.rootdir = config.rootpath
        try:
            self.settings = load_audit_settings({"fail_on": fail_on or None}, cwd=self.rootdir)
            self.threshold = threshold(self.settings.fail_on)
        except PatchcheckError as exc:
            raise pytest.UsageError(_error_text(exc)) from None
        self.requirements: list[Requirement] = []
        #: ``watch.patching.PatchReport`` when this run patched (``--patchcheck-patch``)
        self.patch_report = patch_report
        self._audit: AuditResult | None = None
        self._error: str | None = None
        self.notes: list[str] = []

    # -- the one audit --------------------------------------------------------------------
    def audit(self) -> AuditResult:
        """The audit of every requirement (``patchcheck.audit``, as the CLI runs it), once."""
        if self._error is not None:
            raise ScanFailed(self._error)
        if self._audit is None:
            from patchcheck import audit

            try:
                # The rootdir is the project under test: remedies its source applies count,
                # as they do for the CLI's pyproject scan.
                request = audit.AuditRequest(settings=self.settings,
                                             requirements=tuple(self.requirements),
                                             use_baseline=False, source_dir=self.rootdir,
                                             patches_first=learned_patches_first(
                                                 self.patch_report))
                scan_request = audit.scan_request(request)
                report = self._shared(lambda: audit.scan_report(scan_request))
                self._audit = audit.judge(request, report)
            except Exception as exc:
                from patchcheck.errors import PatchcheckError

                if isinstance(exc, PatchcheckError):
                    self._error = "patchcheck could not scan: " + _error_text(exc)
                else:
                    import traceback

                    self._error = ("patchcheck failed (this is a bug, not a library verdict):\n"
                                   + traceback.format_exc())
                raise ScanFailed(self._error) from None
            self.notes.extend(self._audit.order_notes)
            self.notes.extend(self._audit.waiver_notes)
        return self._audit

    def report(self) -> ScanReport:
        """The report with waivers applied."""
        return self.audit().report

    def _shared(self, compute: Any) -> ScanReport:
        """One scan per test run, even across pytest-xdist workers."""
        uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")
        factory = getattr(self.config, "_tmp_path_factory", None)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: each worker scans
            fcntl = None  # type: ignore[assignment]
        if not uid or factory is None or fcntl is None:
            return compute()
        key = hashlib.sha256(repr((uid, [r.line or r.name for r in self.requirements],
                                   self.settings)).encode()).hexdigest()[:16]
        folder = Path(factory.getbasetemp()).parent / "patchcheck-scan"
        folder.mkdir(parents=True, exist_ok=True)
        data = folder / f"{key}.json"
        with open(folder / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if data.exists():
                return ScanReport.from_json(json.loads(data.read_text("utf-8")))
            report = compute()
            tmp = data.with_suffix(".tmp")
            tmp.write_text(json.dumps(report.to_json()), "utf-8")
            tmp.replace(data)
            return report


def learned_patches_first(patch_report: PatchReport | None) -> PatchesFirst | None:
    """``patches-first`` as this run observed it (``verdicts.patches_first.PatchesFirst``), or
    None: the plugin's own ``patch_all()`` ran (``--patchcheck-patch``, or gevent was already
    patched when pytest started) before the suite imported the libraries, so the suite
    imports them patched first. What the plugin saw imported before patching (third-party
    packages using patched modules) keeps its order-only findings."""
    if patch_report is None or not patch_report.patched or patch_report.error:
        return None
    from patchcheck.verdicts.patches_first import PatchesFirst

    # early_libraries holds every top-level package that used a patched module or held a
    # stale reference when patch_all() ran (``watch.patching.analyse_early_imports``).
    return PatchesFirst(why=f"gevent {patch_report.how}, before the libraries were imported",
                        who="this test run patched first",
                        imported_early=frozenset(patch_report.early_libraries))


def _error_text(exc: Any) -> str:
    text = getattr(exc, "message", None) or str(exc)
    hint = getattr(exc, "hint", None)
    return f"{text}\nhint: {hint}" if hint else text


def load_requirements(state: ScanState) -> list[tuple[str, Path | None, list[Requirement]]]:
    """Parse every source: (display, path or None, requirements)."""
    from patchcheck.errors import PatchcheckError
    from patchcheck.sources import load_sources

    out = []
    for arg, base in state.sources:
        try:
            parsed = load_sources([arg], base_dir=base)
        except PatchcheckError as exc:
            raise pytest.UsageError(f"--patchcheck-scan {arg}: {_error_text(exc)}") from None
        state.notes.extend(parsed.notes)
        path = Path(base, arg)
        out.append((arg, path if path.is_file() else None, list(parsed.requirements)))
        state.requirements.extend(parsed.requirements)
    return out


def make_collectors(session: pytest.Session, state: ScanState) -> list[pytest.Collector]:
    collectors: list[pytest.Collector] = []
    col: Any
    strings: list[Requirement] = []
    for _arg, path, requirements in load_requirements(state):
        if path is None:
            strings.extend(requirements)
            continue
        col = RequirementsFile.from_parent(session, path=path.resolve())
        col.requirements = requirements
        col.state = state
        collectors.append(col)
    if strings:
        col = RequirementStrings.from_parent(session, name="patchcheck", nodeid="patchcheck")
        col.requirements = strings
        col.state = state
        collectors.append(col)
    return collectors


class _RequirementsCollector:
    requirements: list[Requirement]
    state: ScanState

    def collect(self) -> Iterator[pytest.Item]:
        seen: set[str] = set()
        for req in self.requirements:
            name = req.name if req.key not in seen else f"{req.name}[{req.origin}]"
            seen.add(req.key)
            parent: Any = self  # a pytest.Collector once mixed in
            yield RequirementItem.from_parent(parent, name=name, requirement=req,
                                              state=self.state)


class RequirementsFile(_RequirementsCollector, pytest.File):
    """A requirements file (or pyproject/lock file) named by ``--patchcheck-scan``."""


class RequirementStrings(_RequirementsCollector, pytest.Collector):
    """Requirement strings given to ``--patchcheck-scan`` (``redis``, ``'psycopg2>=2.9'``)."""


def _skip(reason: str) -> NoReturn:
    """Skip, reported at the requirement's line rather than at this module."""
    try:
        raise pytest.skip.Exception(reason, _use_item_location=True)
    except TypeError:  # pragma: no cover - a pytest without the private flag
        pytest.skip(reason)


class RequirementItem(pytest.Item):
    """One requirement: its verdict under ``patch_all()``, judged by ``--patchcheck-fail-on``."""

    def __init__(self, *, requirement: Requirement, state: ScanState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requirement = requirement
        self.state = state
        self.add_marker("patchcheck_scan")

    def runtest(self) -> None:
        from patchcheck.reporters import _views as v

        audit = self.state.audit()
        report = audit.report
        if report.problems:
            raise ScanFailed("patchcheck failed (not a library verdict); no verdict can be "
                             "trusted:\n" + "\n".join(f"- {p}" for p in report.problems))
        result = next((r for r in report.results if r.key == self.requirement.key), None)
        if result is None:
            req = self.requirement
            if req.key in self.state.settings.skip:
                _skip(f"{req.name}: skipped by the 'skip' setting")
            _skip(f"{req.name}: does not apply to the target interpreter"
                  + (f" (marker: {req.marker})" if req.marker else ""))
        self.user_properties.append(("patchcheck_verdict", result.verdict.value))
        for outcome in result.probes:  # each probe's measurement, for junit readers
            self.user_properties.append(("patchcheck_probe",
                                         f"{outcome.label}: {outcome.plain.outcome.value}"))
        evidence = v.key_evidence(result)
        details = v.plain_details(result)
        if audit.fails(result):
            raise ScanFailed(f"{result.verdict.value}: {evidence}\n\n{details}\n\n"
                             + v.environment_line(report.environment)
                             + f"\n(fails because --patchcheck-fail-on is "
                               f"{self.state.settings.fail_on})")
        if result.verdict in (Verdict.SKIPPED, Verdict.NOT_INSTALLED):
            _skip(f"{v.display_name(result)}: {result.verdict.value}: {evidence}")
        if result.verdict in _UNMEASURED:
            import warnings

            from patchcheck._pytest_warnings import UnmeasuredRiskWarning

            warnings.warn(UnmeasuredRiskWarning(
                f"{v.display_name(result)}: {result.verdict.value}: {evidence} (passes: below "
                f"--patchcheck-fail-on {self.state.settings.fail_on})"), stacklevel=1)
        self.add_report_section("call", "patchcheck", details if v.needs_details(result)
                                else f"{v.display_name(result)}: {result.verdict.value} "
                                     f"({evidence})")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        if isinstance(excinfo.value, ScanFailed):
            return excinfo.value.text
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        origin = self.requirement.origin or ""
        line: int | None = None
        if ":" in origin:
            tail = origin.rsplit(":", 1)[1]
            if tail.isdigit():
                line = int(tail) - 1
        return self.path, line, f"patchcheck: {self.requirement.line or self.requirement.name}"
