"""The one audit pipeline under both shells: settings → scan request → scan → waivers →
baseline → exit policy.

The CLI (``patchcheck.commands``) and the pytest plugin (``patchcheck._pytest_scan``) only
translate: their input (argv; pytest options and ini) into :func:`load_audit_settings`'s
overrides and an :class:`AuditRequest`, and the :class:`AuditResult` into their output (stdout,
report files and an exit code; pytest items that pass, fail or skip). Neither re-implements a
step, so a waiver, a baseline or ``fail-on`` means the same in both (pip-audit's ``_cli.py``
over ``_audit.py``; pytest's ``main.wrap_session`` as the one place an exit status is decided).

The steps are also callable one by one, for a shell that must wrap one of them: the pytest
plugin shares one :func:`scan_report` between pytest-xdist workers.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from patchcheck.config import Settings, load_settings
from patchcheck.engine import ScanRequest, scan
from patchcheck.errors import UsageError
from patchcheck.exitcode import ExitCode
from patchcheck.model import (
    Conflict,
    DistributionResult,
    Requirement,
    ScanReport,
    Verdict,
    marker_skip_summary,
)
from patchcheck.progress import ProgressSink
from patchcheck.shard import Shard
from patchcheck.spec import KnowledgeEntry
from patchcheck.verdicts import baseline as _baseline
from patchcheck.verdicts.patches_first import PatchesFirst, apply_patches_first, from_setting
from patchcheck.verdicts.policy import failing
from patchcheck.verdicts.waivers import apply_waivers

if TYPE_CHECKING:
    from patchcheck.suitestalls import SuiteStallsReport

NoteFn = Callable[[str], None]


def load_audit_settings(overrides: Mapping[str, Any] | None = None, *, cwd: Path,
                        config_path: Path | None = None,
                        env: Mapping[str, str] | None = None) -> Settings:
    """The settings of an audit: ``overrides`` (the shell's own options, setting name → value,
    ``None`` meaning "not given") > ``PATCHCHECK_*`` environment > config file > defaults.

    :raises ConfigError: naming the file, line, key and value of the first bad setting.
    """
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return load_settings(given, env=env, cwd=cwd, config_path=config_path)


@dataclass(frozen=True)
class AuditRequest:
    """What to audit: the settings, plus what the shell was asked to scan and how."""

    settings: Settings
    requirements: tuple[Requirement, ...] = ()
    all_installed: bool = False
    include_deps: bool = False
    run_probes: bool = True
    #: measure remedies even where the plain call cooperates (``--all-remedies``)
    all_remedies: bool = False
    #: build (or reuse) a cached, isolated virtualenv with the requirements and scan that
    install: bool = False
    #: write the results to ``settings.baseline`` instead of comparing with it
    update_baseline: bool = False
    #: compare with ``settings.baseline``; the pytest plugin judges each item on its own
    #: verdict and does not (see its module docstring)
    use_baseline: bool = True
    #: the project's own source (a scanned pyproject's folder, or ``--source DIR``): remedies
    #: it already applies are found there (``sources.project_source``) and judged by what the
    #: probe measured with them
    source_dir: Path | None = None
    #: patch bisection: True (``--bisect``), False (``--no-bisect``), None (the default rule
    #: of ``patchcheck.bisect.run``: on for a few non-hanging ``breaks``)
    bisect: bool | None = None
    #: check only this shard of the plan (``--shard K/N``)
    shard: Shard | None = None
    #: ``-v``: the installer's complete output goes to the notes (default: only its errors)
    verbose: int = 0
    #: the shell learned that the project patches first (the pytest plugin saw its own
    #: patch_all() run before the suite imported the libraries); an explicit ``patches-first``
    #: setting wins over it
    patches_first: PatchesFirst | None = None

    def order(self) -> PatchesFirst | None:
        """Whether order-only findings are info (``verdicts.patches_first``), and why: the
        setting when it was given (file, environment, flag), else what the shell learned."""
        s = self.settings
        origin = s.origins.get("patches_first", "default")
        if origin != "default":
            if not s.patches_first:
                return None
            return from_setting(origin, s.config_file.name if s.config_file else None)
        return self.patches_first

    @property
    def stalls_path(self) -> Path | None:
        return Path(self.settings.stalls) if self.settings.stalls else None

    @property
    def baseline_path(self) -> Path | None:
        return Path(self.settings.baseline) if self.use_baseline and self.settings.baseline \
            else None


@dataclass(frozen=True)
class AuditResult:
    """The audit decided: the report the user sees and what it means for the run."""

    #: the scan's report with waivers applied (waived findings kept, marked ``waived``)
    report: ScanReport
    exit_code: ExitCode
    fail_on: str
    #: keys of the distributions that fail the run (under the baseline when one is used)
    failing: tuple[str, ...] = ()
    #: expired waivers, and waivers that matched no finding
    waiver_notes: tuple[str, ...] = ()
    #: what changed since the baseline, or that the baseline was written
    baseline_notes: tuple[str, ...] = ()
    #: why order-only findings are info (``patches-first``); also in ``report.notes``
    order_notes: tuple[str, ...] = ()
    baseline_diff: _baseline.BaselineDiff | None = field(default=None, compare=False)

    def fails(self, result: DistributionResult) -> bool:
        """Whether this distribution is one the run fails on."""
        return result.key in self.failing

    @property
    def notes(self) -> tuple[str, ...]:
        """Every remark for the user, in the order the CLI prints them on stderr."""
        return self.notes_for(verbose=False)

    def notes_for(self, *, verbose: bool) -> tuple[str, ...]:
        """:attr:`notes`; the requirements skipped by their markers in one line, or with
        ``verbose`` (``-v``) one line each (a large requirements file can hold dozens)."""
        skipped = self.report.marker_skipped
        marker_lines = (tuple(m.text for m in skipped) if verbose
                        else (marker_skip_summary(skipped),) if skipped else ())
        return (*self.waiver_notes, *marker_lines, *self.report.notes,
                *(f"problem: {p}" for p in self.report.problems),
                *(f"conflict: {c.text}" for c in self.report.conflicts), *self.baseline_notes)


# --- the steps ---------------------------------------------------------------------------------


def scan_request(audit: AuditRequest, *, note: NoteFn | None = None) -> ScanRequest:
    """The engine's request: the target interpreter (after ``--install`` built its venv; the
    installer's progress goes to ``note``) and every setting the scan needs."""
    from patchcheck.targets.resolve import resolve_python

    s = audit.settings
    python = resolve_python(s.python)
    install_failures: dict[str, str] = {}
    conflicts: tuple[Conflict, ...] = ()
    install_notes: tuple[str, ...] = ()
    if audit.install:
        from patchcheck.install import ensure_environment

        sink = note or (lambda _text: None)
        installed = ensure_environment(
            python, audit.requirements, progress=sink,
            installer_output=(lambda line: sink(f"  | {line}")) if audit.verbose else None)
        python = installed.python
        install_failures = dict(installed.failures)  # requirement name → the installer's error
        conflicts = installed.conflicts
        install_notes = (installed.remedy_note,) if installed.remedy_note else ()
    return ScanRequest(
        python=python,
        requirements=tuple(audit.requirements),
        all_installed=audit.all_installed,
        include_deps=audit.include_deps,
        patch_args=dict(s.patch),
        timeout=s.timeout,
        jobs=s.jobs,
        probe_paths=tuple(str(p) for p in s.probe_paths),
        run_probes=audit.run_probes,
        all_remedies=audit.all_remedies,
        import_names={k: tuple(v) for k, v in s.import_names.items()},
        include_test_packages=s.include_test_packages,
        skip=tuple(s.skip),
        use_cache=s.cache,
        services=dict(s.services),
        install_failures=install_failures,
        install_conflicts=conflicts,
        shard=audit.shard,
        notes=install_notes,
    )


def scan_report(request: ScanRequest, *, plugin_manager: Any = None,
                progress: ProgressSink | None = None, follow_up: Any = None) -> ScanReport:
    """Run the scan (child processes, never this process): the report before any waiver,
    with the conflicts ``--install`` found among the requirements. ``follow_up``: see
    ``engine.FollowUp``."""
    report = scan(request, progress=progress, plugin_manager=plugin_manager,
                  follow_up=follow_up)
    if request.install_conflicts:
        report = replace(report, conflicts=report.conflicts + tuple(request.install_conflicts))
    return report


def load_audit_baseline(audit: AuditRequest) -> _baseline.Baseline | None:
    """The baseline to compare with, read before scanning so a missing or broken file fails
    at once. None without one, or when it is about to be written.

    :raises ConfigError: the file is missing or is not a patchcheck baseline.
    """
    path = audit.baseline_path
    if path is None or audit.update_baseline:
        return None
    return _baseline.load_baseline(path)


def load_audit_stalls(audit: AuditRequest) -> SuiteStallsReport | None:
    """The team's test-suite stalls (``settings.stalls``), read before scanning so a missing or
    malformed file fails at once. :raises UsageError: naming the file."""
    path = audit.stalls_path
    if path is None:
        return None
    from patchcheck.suitestalls import load_stalls

    return load_stalls(path)


def add_suite_evidence(report: ScanReport, stalls: SuiteStallsReport | None) -> ScanReport:
    """What the team's own tests measured, folded into each distribution (PC210); before the
    waivers, so a PC210 can be waived like any finding."""
    if stalls is None:
        return report
    from patchcheck.suitestalls import add_suite_stalls

    return add_suite_stalls(report, stalls)


def judge(audit: AuditRequest, report: ScanReport, *,
          baseline: _baseline.Baseline | None = None,
          today: _dt.date | None = None,
          knowledge: Sequence[KnowledgeEntry] | None = None) -> AuditResult:
    """Remedies in the project's source, ``patches-first`` (order-only findings as info),
    waivers, then the baseline, then the exit policy: the one place a run's outcome is
    decided. Writes the baseline file when ``update_baseline`` asks for it. ``knowledge``: the
    entries whose ``applied_when`` are looked for (default: the built-in ones).

    Exit codes: 3 when patchcheck itself had problems (no verdict can be trusted), else 2 when
    nothing was scanned (:func:`check_scanned_something` raises), else 4 when the requirements
    cannot be installed together (``report.conflicts``), else 1 when a distribution
    fails ``fail-on`` (only new or worse ones under a baseline), else 0; writing a baseline
    accepts everything (0, or 3 with problems).

    :raises UsageError: nothing was scanned (no distribution, or none installed).
    """
    s = audit.settings
    check_scanned_something(report)
    report = remedies_in_source(audit, report, knowledge)
    order_notes: list[str] = []
    order = audit.order()
    if order is not None:
        report, order_notes = apply_patches_first(report, order)
    waiver_notes: list[str] = []
    if s.waivers:
        report, waiver_notes = apply_waivers(report, s.waivers, today or _dt.date.today())
    baseline_notes: list[str] = []
    diff = None
    path = audit.baseline_path
    if path is not None and audit.update_baseline:
        _baseline.write_baseline(report, path)
        baseline_notes.append(f"baseline written to {path}")
        failed: list[DistributionResult] = []
    elif path is not None:
        if baseline is None:
            baseline = _baseline.load_baseline(path)
        diff = _baseline.compare(report, baseline)
        baseline_notes += describe_diff(diff, path)
        failed = _baseline.failures(report, baseline, s.fail_on)
    else:
        failed = failing(report, s.fail_on)
    if report.problems:
        code = ExitCode.INTERNAL_ERROR
    elif report.conflicts:
        # The verdicts were measured on versions the project cannot deploy together.
        code = ExitCode.CONFLICT
    elif failed:
        code = ExitCode.FINDINGS
    else:
        code = ExitCode.OK
    return AuditResult(report=report, exit_code=code, fail_on=s.fail_on,
                       failing=tuple(r.key for r in failed), waiver_notes=tuple(waiver_notes),
                       baseline_notes=tuple(baseline_notes), baseline_diff=diff,
                       order_notes=tuple(order_notes))


def remedies_in_source(audit: AuditRequest, report: ScanReport,
                       knowledge: Sequence[KnowledgeEntry] | None = None) -> ScanReport:
    """``report`` with the remedies the project's source applies (PC208, and the plain
    measurement's findings waived where the remedy measured cooperates); unchanged without a
    ``source_dir``."""
    if audit.source_dir is None:
        return report
    from patchcheck.knowledge import builtin_entries
    from patchcheck.sources.project_source import find_patterns
    from patchcheck.verdicts.applied import apply_source_remedies, patterns_of

    entries = list(builtin_entries() if knowledge is None else knowledge)
    patterns = patterns_of(entries)
    if not patterns:
        return report
    return apply_source_remedies(report, entries, find_patterns(audit.source_dir, patterns))


def check_scanned_something(report: ScanReport) -> None:
    """A scan that judged nothing is a misconfigured gate, not a pass (issue #15.5): no
    distribution at all (an empty requirements file, a pyproject without dependencies, a
    selection that left nothing), or every one not installed in the target.

    patchcheck's own problems come first (exit 3): then nothing can be trusted anyway.

    :raises UsageError: (exit 2) one line and a hint.
    """
    if report.problems:
        return
    if not report.results:
        raise UsageError("no distributions scanned: the requirements named none (or every one "
                         "was skipped or does not apply to the target interpreter)",
                         hint="check the file and its dependency groups, or scan with --all")
    if all(r.verdict is Verdict.NOT_INSTALLED for r in report.results):
        count = len(report.results)
        raise UsageError(f"nothing scanned: none of the {count} distribution"
                         f"{'s' * (count != 1)} is installed in {report.environment.python}",
                         hint="scan with --install, or point --python at the environment "
                              "that has them")


def _may_bisect(result: DistributionResult) -> bool:
    """A result ``bisect.run.wants_bisect`` could pick, whatever the flag and the count."""
    return not result.implicit and result.verdict in (Verdict.BREAKS, Verdict.BLOCKS)


def run_audit(audit: AuditRequest, *, plugin_manager: Any = None, note: NoteFn | None = None,
              progress: ProgressSink | None = None,
              today: _dt.date | None = None) -> AuditResult:
    """Every step in order: baseline and stalls read, request built, scan, the suite's
    evidence added, judged."""
    baseline = load_audit_baseline(audit)
    stalls = load_audit_stalls(audit)
    request = scan_request(audit, note=note)
    ahead = None
    if audit.bisect is not False and request.run_probes:
        from patchcheck.bisect.run import BisectAhead

        # A distribution is bisected as soon as its probes are measured, while the scan goes on.
        ahead = BisectAhead(request, plugin_manager, audit.bisect)
    report = scan_report(request, plugin_manager=plugin_manager, progress=progress,
                         follow_up=ahead)
    if audit.bisect is not False and any(_may_bisect(r) for r in report.results):
        # (only then: a clean or cached scan does not load the bisection)
        from patchcheck.bisect.run import bisect_results

        report = bisect_results(report, request, plugin_manager=plugin_manager,
                                flag=audit.bisect, progress=note, ahead=ahead)
    knowledge = None
    if plugin_manager is not None and audit.source_dir is not None:
        from patchcheck.knowledge import all_entries

        knowledge = all_entries(plugin_manager)
    return judge(audit, add_suite_evidence(report, stalls), baseline=baseline, today=today,
                 knowledge=knowledge)


def describe_diff(diff: _baseline.BaselineDiff, path: Path) -> list[str]:
    """What changed since the baseline, one line each (the report itself is unchanged)."""
    if diff.unchanged:
        return [f"baseline {path}: no change"]
    lines = []
    for name, code in diff.new_findings:
        lines.append(f"baseline: new finding {code} in {name}")
    for change in diff.worse:
        lines.append(f"baseline: {change.name} got worse: {change.before} → {change.after}")
    for name in diff.new_distributions:
        lines.append(f"baseline: new distribution {name}")
    for name, code in diff.fixed_findings:
        lines.append(f"baseline: fixed {code} in {name}")
    for change in diff.better:
        lines.append(f"baseline: {change.name} got better: {change.before} → {change.after}")
    for name in diff.removed_distributions:
        lines.append(f"baseline: {name} is no longer scanned")
    return lines
