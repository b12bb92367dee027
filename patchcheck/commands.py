"""The sub-commands behind ``patchcheck``: argv in, stdout/stderr/exit code out.

``scan`` hands the audit itself (settings, scan, waivers, baseline, exit policy) to
``patchcheck.audit``; this module only translates argv into it and its result into output.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from patchcheck.errors import UsageError
from patchcheck.exitcode import ExitCode


def run(args: argparse.Namespace) -> ExitCode:
    handler = {"scan": cmd_scan, "probes": cmd_probes, "doctor": cmd_doctor,
               "explain": cmd_explain, "plugins": cmd_plugins, "merge": cmd_merge,
               "matrix": cmd_matrix, "cache": cmd_cache}[args.command]
    return handler(args)


def _note(text: str) -> None:
    print(f"patchcheck: {text}", file=sys.stderr)


def _settings(args: argparse.Namespace, *, python: str | None = None) -> Any:
    """argv → the audit's settings (the flags that override the environment and the file);
    ``python``: the target interpreter instead of ``--python`` (one column of a matrix)."""
    from patchcheck.audit import load_audit_settings

    overrides = {
        "python": python or getattr(args, "python", None),
        "timeout": getattr(args, "timeout", None),
        "format": getattr(args, "format", None),
        "output": getattr(args, "output", None),
        "jobs": getattr(args, "jobs", None),
        "fail_on": getattr(args, "fail_on", None),
        "patch": getattr(args, "patch", None),
        "probe_paths": getattr(args, "probe_path", None),
        "skip": getattr(args, "skip", None),
        "baseline": getattr(args, "baseline", None),
        "stalls": getattr(args, "stalls", None),
        "no_cache": True if getattr(args, "no_cache", False) else None,
        "include_test_packages": True if getattr(args, "include_test_packages", False) else None,
        "patches_first": getattr(args, "patches_first", None),
    }
    config = Path(args.config) if getattr(args, "config", None) else None
    return load_audit_settings(overrides, cwd=Path.cwd(), config_path=config)


def cmd_scan(args: argparse.Namespace) -> ExitCode:
    """argv → :func:`patchcheck.audit.run_audit` → stdout, ``--report`` files, exit code."""
    from patchcheck.audit import AuditRequest, run_audit
    from patchcheck.plugins import make_plugin_manager
    from patchcheck.reporters.table import ProgressDisplay
    from patchcheck.shard import parse_shard
    from patchcheck.sources import load_sources

    settings = _settings(args)
    if not args.targets and not args.all_installed:
        raise UsageError("nothing to scan: name requirements files, requirement strings, "
                         "or --all", hint="patchcheck scan requirements.txt")
    if args.update_baseline and not settings.baseline:
        raise UsageError("--update-baseline needs --baseline FILE (or 'baseline' in the config)")
    fmt = settings.format or "table"
    pm = make_plugin_manager([str(p) for p in settings.probe_paths])
    reporters = _reporters(pm)
    if fmt not in reporters:
        raise UsageError(f"--format {fmt}: unknown format",
                         hint="choose one of " + ", ".join(sorted(reporters)))
    extra_reports = _parse_reports(getattr(args, "report", None) or (), reporters)
    source = (load_sources(list(args.targets), base_dir=os.getcwd(),
                           selection=_selection(args, settings)) if args.targets else None)
    for note in (source.notes if source else ()):
        _note(note)
    audit = AuditRequest(
        settings=settings,
        requirements=tuple(source.requirements) if source else (),
        all_installed=bool(args.all_installed),
        include_deps=bool(getattr(args, "include_deps", False)),
        run_probes=not args.no_probes,
        all_remedies=bool(getattr(args, "all_remedies", False)),
        install=bool(args.install),
        update_baseline=bool(args.update_baseline),
        source_dir=_source_dir(args),
        bisect=args.bisect,
        shard=parse_shard(args.shard) if getattr(args, "shard", None) else None,
        verbose=int(getattr(args, "verbose", 0) or 0),
    )
    progress = ProgressDisplay()  # draws only on a terminal, never in CI

    def note_mid_scan(text: str) -> None:  # a note erases the progress line first
        progress.interrupt()
        _note(text)

    try:
        result = run_audit(audit, plugin_manager=pm, note=note_mid_scan, progress=progress)
    finally:
        progress.close()
    verbose = bool(getattr(args, "verbose", 0))
    write_output(_render(reporters, fmt, result.report, settings, verbose=verbose),
                 str(settings.output) if settings.output else None)
    for extra_fmt, path in extra_reports:
        write_output(_render(reporters, extra_fmt, result.report, settings, to_file=True,
                             verbose=verbose), path)
    for note in result.notes_for(verbose=verbose):
        _note(note)
    return result.exit_code


def _source_dir(args: argparse.Namespace) -> Path | None:
    """``--source DIR``, else the folder of the first pyproject.toml scanned (the project)."""
    given = getattr(args, "source", None)
    if given:
        path = Path(given).expanduser()
        if not path.is_dir():
            raise UsageError(f"--source {given}: not a directory",
                             hint="name the folder that holds the project's Python code")
        return path.resolve()
    for target in args.targets or ():
        path = Path(target).expanduser()
        if path.name == "pyproject.toml" and path.is_file():
            return path.resolve().parent
    return None


def _selection(args: argparse.Namespace, settings: Any) -> Any:
    """The dependency groups and extras to scan: ``[tool.patchcheck] groups``/``extras``
    (when the config knows them) as the base, the command-line options on top."""
    from patchcheck.sources import DependencySelection

    def names(values: Any) -> tuple[str, ...]:  # Poetry writes "--with docs,test"
        return tuple(n.strip() for v in values or () for n in str(v).split(",") if n.strip())

    base = getattr(settings, "groups", None)
    return DependencySelection(
        base=tuple(base) if base is not None else None,
        groups=names(args.groups), only_groups=names(args.only_groups),
        all_groups=args.all_groups, no_groups=names(args.no_groups),
        extras=names(args.extras) + tuple(getattr(settings, "extras", None) or ()),
        all_extras=args.all_extras)


def write_output(text: str, output: str | None) -> None:
    """Write the report to ``--output`` (atomically) or stdout."""
    if not output:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from patchcheck.files import write_atomic

    try:
        write_atomic(output, text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise UsageError(f"--output {output}: cannot write: {exc.strerror or exc}") from None


def _reporters(pm: Any) -> dict[str, Any]:
    from patchcheck.plugins import collect_reporters

    return dict(collect_reporters(pm))


def _parse_reports(values: Any, reporters: dict[str, Any]) -> list[tuple[str, str]]:
    """``--report FORMAT=FILE`` (repeatable): the same report in more formats, one file each."""
    out: list[tuple[str, str]] = []
    for value in values:
        fmt, sep, path = str(value).partition("=")
        fmt, path = fmt.strip(), path.strip()
        if not sep or not fmt or not path:
            raise UsageError(f"--report {value!r}: expected FORMAT=FILE",
                             hint="e.g. --report sarif=patchcheck.sarif --report junit=junit.xml")
        if fmt not in reporters:
            raise UsageError(f"--report {value!r}: unknown format {fmt!r}",
                             hint="choose one of " + ", ".join(sorted(reporters)))
        out.append((fmt, path))
    return out


def _render(reporters: dict[str, Any], fmt: str, report: Any, settings: Any, *,
            to_file: bool = False, verbose: bool = False) -> str:
    from patchcheck.reporters import RenderOptions

    color = (not to_file and sys.stdout.isatty() and not settings.output
             and not os.environ.get("NO_COLOR"))
    try:
        width = os.get_terminal_size().columns
    except OSError:
        width = 100
    from patchcheck.verdicts.policy import threshold

    # RenderOptions.fail_on is the lowest failing verdict rank, not the level name.
    options = RenderOptions(color=color, width=width, fail_on=threshold(settings.fail_on),
                            verbose=verbose)
    return reporters[fmt].render(report, options)


def _emit(report: Any, settings: Any, reporters: dict[str, Any],
          extra_reports: list[tuple[str, str]], *, verbose: bool = False) -> None:
    """Write a scan report, or a matrix of them, to stdout/``--output`` and ``--report`` files."""
    from patchcheck.matrix import MatrixReport
    from patchcheck.reporters.matrix import MATRIX_FORMATS, render_matrix

    fmt = settings.format or "table"
    outputs = [(fmt, str(settings.output) if settings.output else None, False)]
    outputs += [(extra_fmt, path, True) for extra_fmt, path in extra_reports]
    for out_fmt, path, to_file in outputs:
        if isinstance(report, MatrixReport):
            if out_fmt not in MATRIX_FORMATS:
                raise UsageError(f"format {out_fmt}: cannot show a matrix of "
                                 f"{len(report.reports)} environments",
                                 hint="choose one of " + ", ".join(MATRIX_FORMATS))
            text = render_matrix(report, out_fmt)
        else:
            text = _render(reporters, out_fmt, report, settings, to_file=to_file,
                           verbose=verbose)
        write_output(text, path)


def _output_formats(args: argparse.Namespace, settings: Any, pm: Any
                    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    reporters = _reporters(pm)
    fmt = settings.format or "table"
    if fmt not in reporters:
        raise UsageError(f"--format {fmt}: unknown format",
                         hint="choose one of " + ", ".join(sorted(reporters)))
    return reporters, _parse_reports(getattr(args, "report", None) or (), reporters)


def _judge_each(settings: Any, report: Any) -> tuple[Any, ExitCode, list[str]]:
    """The audit's judge step on a report, or on each report of a matrix (the worst exit code
    wins: 3 over 1 over 0); returns the judged report, the exit code and the notes."""
    from patchcheck.audit import AuditRequest, judge
    from patchcheck.matrix import MatrixReport, environment_label

    audit = AuditRequest(settings=settings)
    if not isinstance(report, MatrixReport):
        result = judge(audit, report)
        return result.report, result.exit_code, list(result.notes)
    judged, notes, code = [], [], ExitCode.OK
    for one in report.reports:
        result = judge(audit, one)
        judged.append(result.report)
        label = environment_label(one.environment)
        notes += [f"[{label}] {n}" for n in result.notes]
        code = max(code, result.exit_code)
    return MatrixReport(reports=tuple(judged)), ExitCode(code), notes


def cmd_merge(args: argparse.Namespace) -> ExitCode:
    """Shard reports → one report (one environment) or a matrix (several), judged like a scan."""
    from patchcheck.merge import merge_reports, read_reports
    from patchcheck.plugins import make_plugin_manager

    settings = _settings(args)
    reporters, extra_reports = _output_formats(args, settings, make_plugin_manager(()))
    sourced = [r for path in args.reports for r in read_reports(path)]
    merged = merge_reports(sourced)
    report, code, notes = _judge_each(settings, merged)
    _emit(report, settings, reporters, extra_reports, verbose=bool(args.verbose))
    for note in notes:
        _note(note)
    return code


def _split(values: Any) -> list[str]:
    return [v.strip() for value in values or () for v in str(value).split(",") if v.strip()]


def _prefixed_note(where: str) -> Any:
    return lambda text: _note(f"[{where}] {text}")


def cmd_matrix(args: argparse.Namespace) -> ExitCode:
    """The same requirements scanned on every ``--python`` × ``--gevent`` environment (each an
    ordinary audit), shown as one table of distributions × environments."""
    from patchcheck.audit import AuditRequest, run_audit
    from patchcheck.matrix import MatrixReport
    from patchcheck.model import Requirement
    from patchcheck.plugins import make_plugin_manager
    from patchcheck.sources import load_sources

    if not args.targets:
        raise UsageError("nothing to scan: name requirements files or requirement strings",
                         hint="patchcheck matrix requirements.txt --gevent 24.11.1,26.9.0")
    pythons: list[str | None] = list(_split(args.python)) or [None]
    gevents: list[str | None] = list(_split(args.gevent)) or [None]
    if len(pythons) * len(gevents) < 2:
        raise UsageError("a matrix needs at least two environments",
                         hint="--python python3.11,python3.13 and/or --gevent 24.11.1,26.9.0")
    base_settings = _settings(args, python=pythons[0])
    pm = make_plugin_manager([str(p) for p in base_settings.probe_paths])
    reporters, extra_reports = _output_formats(args, base_settings, pm)
    source = load_sources(list(args.targets), base_dir=os.getcwd(),
                          selection=_selection(args, base_settings))
    for note in source.notes:
        _note(note)
    settings_by_python = {py: _settings(args, python=py) for py in pythons}
    reports = []
    for python in pythons:
        for gevent in gevents:
            requirements = tuple(source.requirements)
            if gevent is not None:  # each gevent version: its own --install venv
                requirements = tuple(r for r in requirements if r.key != "gevent") + (
                    Requirement(name="gevent", specifier=f"=={gevent}",
                                origin="--gevent", line=f"gevent=={gevent}"),)
            where = f"{python or 'this python'}, gevent {gevent or 'unpinned'}"
            _note(f"matrix: scanning on {where}")
            audit = AuditRequest(
                settings=settings_by_python[python], requirements=requirements,
                run_probes=not args.no_probes, install=bool(args.install or gevent),
                bisect=args.bisect)
            result = run_audit(audit, plugin_manager=pm, note=_prefixed_note(where))
            reports.append(result.report)
    matrix = MatrixReport(reports=tuple(reports))
    if args.save_reports:
        from patchcheck.reporters.json_report import render_json

        folder = Path(args.save_reports)
        for i, report in enumerate(matrix.reports, 1):
            write_output(render_json(report), str(folder / f"environment-{i}.json"))
    judged, code, notes = _judge_each(base_settings, matrix)
    _emit(judged, base_settings, reporters, extra_reports)
    for note in notes:
        _note(note)
    return code


def cmd_cache(args: argparse.Namespace) -> ExitCode:
    """``cache export FILE`` / ``cache import FILE`` / ``cache clear``: the result cache as
    one file, for a CI cache step."""
    from patchcheck.cache import ResultCache

    cache = ResultCache(None)
    if args.cache_command == "export":
        try:
            count = cache.export(args.file)
        except OSError as exc:
            raise UsageError(f"{args.file}: cannot write: {exc.strerror or exc}") from None
        _note(f"exported {count} cached result{'s' if count != 1 else ''} from {cache.root} "
              f"to {args.file}")
        return ExitCode.OK
    if args.cache_command == "import":
        try:
            done = cache.import_file(args.file)
        except OSError as exc:
            raise UsageError(f"{args.file}: cannot read: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise UsageError(f"{args.file}:{exc}",
                             hint="import a file written by 'patchcheck cache export'") from None
        if done.warning:
            _note(f"warning: {args.file}: {done.warning}")
        else:
            _note(f"imported {done.imported} cached result{'s' if done.imported != 1 else ''} "
                  f"into {cache.root}" + (f" ({done.skipped} unreadable entries skipped)"
                                          if done.skipped else ""))
        return ExitCode.OK
    count = cache.clear()
    _note(f"removed {count} cached result{'s' if count != 1 else ''} from {cache.root}")
    return ExitCode.OK


def cmd_probes(args: argparse.Namespace) -> ExitCode:
    from patchcheck.plugins import collect_probes, make_plugin_manager
    from patchcheck.textcols import pad_columns

    pm = make_plugin_manager(args.probe_path or ())
    probes = collect_probes(pm)
    probes.sort(key=lambda p: p.name)
    if getattr(args, "check", False):
        return _check_probes(pm, probes)
    if args.format == "json":
        print(json.dumps([{
            "name": p.name, "distributions": list(p.distributions),
            "services": list(p.services), "wait_s": p.wait, "concurrency": p.concurrency,
            "remedies": [r.label for r in p.remedies], "import_order": p.import_order,
            "origin": p.origin, "path": p.path, "description": p.description,
        } for p in probes], indent=2))
        return ExitCode.OK
    rows = [("probe", "distributions", "services", "origin")]
    rows += [(p.name, ", ".join(p.distributions), ", ".join(p.services) or "-", p.origin)
             for p in probes]
    for line in pad_columns(rows):
        print(line)
    print(f"\n{len(probes)} probes", file=sys.stderr)
    return ExitCode.OK


def _check_probes(pm: Any, probes: list[Any]) -> ExitCode:
    """``probes --check``: every probe's services and arguments (loading already checked the
    ``@probe`` keywords); one ``patchcheck: error:`` line per problem, exit 2 if any."""
    from patchcheck.plugins import collect_services
    from patchcheck.probeloader import probe_problems

    names = {s.name for s in collect_services(pm)}
    names |= set(_settings(argparse.Namespace()).services)  # any configured name is a service
    bad = 0
    for p in probes:
        for problem in probe_problems(p, names):
            bad += 1
            print(f"patchcheck: error: probe {p.name!r} ({p.path}): {problem}", file=sys.stderr)
    if bad:
        print(f"hint: {bad} problem(s) in {len(probes)} probes; services known: "
              f"{', '.join(sorted(names))}, proxy:<service>, proxy:<host>:<port>",
              file=sys.stderr)
        return ExitCode.USAGE_ERROR
    print(f"{len(probes)} probes: services and arguments are valid", file=sys.stderr)
    return ExitCode.OK


def cmd_doctor(args: argparse.Namespace) -> ExitCode:
    from patchcheck.doctor import render_doctor, run_doctor
    from patchcheck.targets.resolve import resolve_python

    python = resolve_python(args.python)
    report = run_doctor(python, timeout=args.timeout)
    print(render_doctor(report, fmt=args.format))
    return ExitCode.OK if getattr(report, "ok", True) else ExitCode.INTERNAL_ERROR


def cmd_explain(args: argparse.Namespace) -> ExitCode:
    from patchcheck.explain import explain

    # The scan's settings (CLI > PATCHCHECK_* > config file): the same probe folders and target.
    settings = _settings(argparse.Namespace(probe_path=args.probe_path, python=args.python,
                                            config=args.config))
    repeat: list[str] = []  # what the suggested scan must be told again (config it reads itself)
    if args.python:
        repeat += ["--python", args.python]
    if args.config:
        repeat += ["--config", args.config]
    for folder in args.probe_path or ():
        repeat += ["--probe-path", folder]
    text, found = explain(args.name, fmt=args.format, python=settings.python,
                          probe_paths=[str(p) for p in settings.probe_paths],
                          scan_options=repeat)
    # An unknown name is a usage error: in text form its message and hint belong on stderr.
    print(text, file=sys.stdout if found or args.format == "json" else sys.stderr)
    return ExitCode.OK if found else ExitCode.USAGE_ERROR


def cmd_plugins(args: argparse.Namespace) -> ExitCode:
    """List every gevent plugin entry point of the target; exit 1 if one fails to load."""
    from patchcheck.inventory import gevent_plugins, render_plugins
    from patchcheck.targets.resolve import resolve_python

    plugins = gevent_plugins(resolve_python(args.python), timeout=args.timeout)
    print(render_plugins(plugins, fmt=args.format))
    failed = [p for p in plugins if p.loaded is False]
    if args.format != "json":
        print(f"\n{len(plugins)} gevent plugins, {len(failed)} failing to load", file=sys.stderr)
    return ExitCode.FINDINGS if failed else ExitCode.OK
