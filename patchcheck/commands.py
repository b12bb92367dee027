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
               "explain": cmd_explain, "plugins": cmd_plugins}[args.command]
    return handler(args)


def _note(text: str) -> None:
    print(f"patchcheck: {text}", file=sys.stderr)


def _settings(args: argparse.Namespace) -> Any:
    """argv → the audit's settings (the flags that override the environment and the file)."""
    from patchcheck.audit import load_audit_settings

    overrides = {
        "python": getattr(args, "python", None),
        "timeout": getattr(args, "timeout", None),
        "format": getattr(args, "format", None),
        "output": getattr(args, "output", None),
        "jobs": getattr(args, "jobs", None),
        "fail_on": getattr(args, "fail_on", None),
        "patch": getattr(args, "patch", None),
        "probe_paths": getattr(args, "probe_path", None),
        "skip": getattr(args, "skip", None),
        "baseline": getattr(args, "baseline", None),
        "no_cache": True if getattr(args, "no_cache", False) else None,
    }
    config = Path(args.config) if getattr(args, "config", None) else None
    return load_audit_settings(overrides, cwd=Path.cwd(), config_path=config)


def cmd_scan(args: argparse.Namespace) -> ExitCode:
    """argv → :func:`patchcheck.audit.run_audit` → stdout, ``--report`` files, exit code."""
    from patchcheck.audit import AuditRequest, run_audit
    from patchcheck.plugins import make_plugin_manager
    from patchcheck.reporters.table import ProgressDisplay
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
        bisect=args.bisect,
    )
    progress = ProgressDisplay()  # draws only on a terminal, never in CI
    try:
        result = run_audit(audit, plugin_manager=pm, note=_note, progress=progress.advance,
                           progress_total=progress.set_total)
    finally:
        progress.close()
    write_output(_render(reporters, fmt, result.report, settings),
                 str(settings.output) if settings.output else None)
    for extra_fmt, path in extra_reports:
        write_output(_render(reporters, extra_fmt, result.report, settings, to_file=True), path)
    for note in result.notes:
        _note(note)
    return result.exit_code


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
            to_file: bool = False) -> str:
    from patchcheck.reporters import RenderOptions

    color = (not to_file and sys.stdout.isatty() and not settings.output
             and not os.environ.get("NO_COLOR"))
    try:
        width = os.get_terminal_size().columns
    except OSError:
        width = 100
    from patchcheck.verdicts.policy import threshold

    # RenderOptions.fail_on is the lowest failing verdict rank, not the level name.
    options = RenderOptions(color=color, width=width, fail_on=threshold(settings.fail_on))
    return reporters[fmt].render(report, options)


def cmd_probes(args: argparse.Namespace) -> ExitCode:
    from patchcheck.plugins import collect_probes, make_plugin_manager
    from patchcheck.textcols import pad_columns

    pm = make_plugin_manager(args.probe_path or ())
    probes = collect_probes(pm)
    probes.sort(key=lambda p: p.name)
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


def cmd_doctor(args: argparse.Namespace) -> ExitCode:
    from patchcheck.doctor import render_doctor, run_doctor
    from patchcheck.targets.resolve import resolve_python

    python = resolve_python(args.python)
    report = run_doctor(python, timeout=args.timeout)
    print(render_doctor(report, fmt=args.format))
    return ExitCode.OK if getattr(report, "ok", True) else ExitCode.INTERNAL_ERROR


def cmd_explain(args: argparse.Namespace) -> ExitCode:
    from patchcheck.explain import explain

    text, found = explain(args.name, fmt=args.format)
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
