"""The ``patchcheck`` command: a thin shell over the engine (``main(argv) -> ExitCode``).

Results go to stdout (or ``--output``); progress, notes and the summary go to stderr.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from patchcheck import __version__
from patchcheck.errors import PatchcheckError, UsageError
from patchcheck.exitcode import ExitCode

PROG = "patchcheck"

FAIL_ON_HELP = ("exit 1 at or above: untested, order-sensitive, warns, suspect, blocks "
                "(default), breaks, never")
PATCHES_FIRST_HELP = ("the project calls patch_all() before importing its libraries: show "
                      "order-only findings as info (setting patches-first; default: off)")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` owns the exit code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint=f"see '{self.prog} --help'")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--python", metavar="PATH",
                   help="target interpreter (or virtualenv folder) to scan; default: this one")
    p.add_argument("--config", metavar="FILE",
                   help="read settings from FILE (pyproject.toml or patchcheck.toml)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="wall-clock limit for each child check (default 60)")
    p.add_argument("--format", metavar="NAME",
                   help="output format: table, json, junit, sarif, markdown, github, html")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")


def _add_selection(p: argparse.ArgumentParser) -> None:
    """Dependency groups and extras of pyproject/lock files (uv's names, Poetry's aliases)."""
    g = p.add_argument_group("dependency groups (pyproject.toml, uv.lock, poetry.lock, "
                             "pylock.toml; default: main only, no extras)")
    g.add_argument("--group", "--with", action="append", metavar="NAME", dest="groups",
                   default=[], help="also scan this dependency group (repeatable)")
    g.add_argument("--only-group", "--only", action="append", metavar="NAME",
                   dest="only_groups", default=[],
                   help="scan only this group (repeatable; name 'main' to keep the project's "
                        "own dependencies)")
    g.add_argument("--all-groups", action="store_true", help="scan every dependency group")
    g.add_argument("--no-group", "--without", action="append", metavar="NAME",
                   dest="no_groups", default=[], help="leave this group out (repeatable)")
    g.add_argument("--no-dev", action="append_const", const="dev", dest="no_groups",
                   help="leave the 'dev' group out (same as --no-group dev)")
    g.add_argument("--extra", action="append", metavar="NAME", dest="extras", default=[],
                   help="also scan this optional-dependencies extra (repeatable)")
    g.add_argument("--all-extras", action="store_true", help="scan every extra")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Which of your dependencies cooperate with "
                     "gevent.monkey.patch_all(), which block the hub, and which break.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    scan = sub.add_parser("scan", help="scan requirements, files or installed distributions")
    scan.add_argument("targets", nargs="*", metavar="FILE|NAME",
                      help="requirements.txt, pyproject.toml, uv.lock, pylock.toml, or "
                           "requirement strings such as 'redis>=5'")
    _add_common(scan)
    scan.add_argument("-v", "--verbose", action="count", default=0,
                      help="the whole evidence: full stacks, every finding and control, "
                           "requirements skipped by their markers, with --install the "
                           "installer's complete output (default: one screen per problem)")
    scan.add_argument("--all", action="store_true", dest="all_installed",
                      help="scan every distribution installed in the target interpreter")
    scan.add_argument("--deps", action="store_true", dest="include_deps",
                      help="also scan the installed dependencies of the requirements, "
                           "recursively")
    scan.add_argument("--patch", metavar="ARGS",
                      help="patch_all() arguments, e.g. 'thread=false,subprocess=false'")
    scan.add_argument("-j", "--jobs", type=int, metavar="N",
                      help="checks to run at once (default: the CPU count)")
    scan.add_argument("--fail-on", metavar="LEVEL", help=FAIL_ON_HELP)
    scan.add_argument("--patches-first", action=argparse.BooleanOptionalAction, default=None,
                      help=PATCHES_FIRST_HELP)
    scan.add_argument("--probe-path", action="append", metavar="DIR", default=None,
                      help="load the team's own probes from DIR (repeatable)")
    scan.add_argument("--no-probes", action="store_true", help="import checks only")
    scan.add_argument("--include-test-packages", action="store_true",
                      help="also import-check the test packages a distribution ships (tests, "
                           "*tests, *_test, test_*, conftest); by default they are not import "
                           "targets")
    scan.add_argument("--source", metavar="DIR",
                      help="the project's own source: known remedies it applies (import "
                           "zmq.green, psycogreen's patch_psycopg(), …) are found there and "
                           "judged by what the probe measured with them (default: the folder "
                           "of a scanned pyproject.toml)")
    scan.add_argument("--all-remedies", action="store_true",
                      help="measure each probe's remedies even when the plain call cooperates "
                           "(to verify documented advice)")
    scan.add_argument("--skip", action="append", metavar="NAME", default=None,
                      help="do not scan this distribution (repeatable)")
    scan.add_argument("--install", action="store_true",
                      help="build a cached, isolated virtualenv with gevent and the "
                           "requirements, and scan that")
    scan.add_argument("--baseline", metavar="FILE",
                      help="fail only on findings that are new or worse than in FILE")
    scan.add_argument("--update-baseline", action="store_true",
                      help="write the results to the --baseline file")
    scan.add_argument("--stalls", metavar="FILE",
                      help="add what your test suite measured: the watchdog's report "
                           "(pytest --patchcheck-watch-report FILE)")
    scan.add_argument("--no-cache", action="store_true", help="do not use cached results")
    scan.add_argument("--report", action="append", metavar="FORMAT=FILE", default=None,
                      help="also write the report in FORMAT to FILE (repeatable), e.g. "
                           "--report sarif=patchcheck.sarif --report junit=junit.xml")
    scan.add_argument("--bisect", action=argparse.BooleanOptionalAction, default=None,
                      help="find the patch_all() arguments that make a library break or block, "
                           "and measure turning them off (default: on for a few cheap 'breaks')")
    scan.add_argument("--shard", metavar="K/N",
                      help="scan only shard K of N (a stable split balanced by expected cost; "
                           "combine the N reports with 'patchcheck merge')")
    _add_selection(scan)

    merge = sub.add_parser("merge", help="combine JSON reports (shards of one scan, or one "
                           "scan per environment: a matrix) into one report")
    merge.add_argument("reports", nargs="+", metavar="REPORT.json",
                       help="reports written by 'patchcheck scan --format json' or "
                            "'patchcheck matrix --format json'")
    merge.add_argument("--config", metavar="FILE",
                       help="read settings (fail-on, waivers, baseline) from FILE")
    merge.add_argument("--format", metavar="NAME",
                       help="output format, as for scan (a matrix: table, markdown, json)")
    merge.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    merge.add_argument("-v", "--verbose", action="count", default=0,
                       help="the whole evidence: full stacks, every finding and control "
                            "(default: one screen per problem)")
    merge.add_argument("--fail-on", metavar="LEVEL", help=FAIL_ON_HELP)
    merge.add_argument("--patches-first", action=argparse.BooleanOptionalAction, default=None,
                       help=PATCHES_FIRST_HELP)
    merge.add_argument("--report", action="append", metavar="FORMAT=FILE", default=None,
                       help="also write the report in FORMAT to FILE (repeatable)")

    matrix = sub.add_parser("matrix", help="scan the same requirements on several Pythons "
                            "and gevent versions; a table of distributions × environments")
    matrix.add_argument("targets", nargs="*", metavar="FILE|NAME",
                        help="requirements files or requirement strings, as for scan")
    matrix.add_argument("--python", action="append", metavar="LIST", default=None,
                        help="target interpreters, comma-separated or repeated "
                             "(e.g. python3.11,python3.13); default: this one")
    matrix.add_argument("--gevent", action="append", metavar="LIST", default=None,
                        help="gevent versions from the index, comma-separated or repeated "
                             "(e.g. 24.11.1,26.9.0): each an --install venv with it pinned")
    matrix.add_argument("--install", action="store_true",
                        help="scan --install venvs of the requirements (implied by --gevent)")
    matrix.add_argument("--config", metavar="FILE")
    matrix.add_argument("--timeout", type=float, metavar="SECONDS")
    matrix.add_argument("--format", metavar="NAME", help="table, markdown or json")
    matrix.add_argument("-o", "--output", metavar="FILE", help="write the matrix to FILE")
    matrix.add_argument("--report", action="append", metavar="FORMAT=FILE", default=None)
    matrix.add_argument("--save-reports", metavar="DIR",
                        help="also write each environment's JSON report to "
                             "DIR/environment-N.json")
    matrix.add_argument("--patch", metavar="ARGS")
    matrix.add_argument("-j", "--jobs", type=int, metavar="N")
    matrix.add_argument("--fail-on", metavar="LEVEL",
                        help="exit 1 when any environment has a finding at or above LEVEL")
    matrix.add_argument("--patches-first", action=argparse.BooleanOptionalAction, default=None,
                        help=PATCHES_FIRST_HELP)
    matrix.add_argument("--probe-path", action="append", metavar="DIR", default=None)
    matrix.add_argument("--no-probes", action="store_true", help="import checks only")
    matrix.add_argument("--skip", action="append", metavar="NAME", default=None)
    matrix.add_argument("--no-cache", action="store_true", help="do not use cached results")
    matrix.add_argument("--bisect", action=argparse.BooleanOptionalAction, default=None)
    _add_selection(matrix)

    cache = sub.add_parser("cache", help="the result cache as one file, for a CI cache step")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION",
                                     parser_class=_Parser, required=True)
    export = cache_sub.add_parser("export", help="write every cached result to FILE")
    export.add_argument("file", metavar="FILE")
    imp = cache_sub.add_parser("import", help="add the results of an exported FILE")
    imp.add_argument("file", metavar="FILE")
    cache_sub.add_parser("clear", help="remove every cached result")

    probes = sub.add_parser("probes", help="list every probe and where it came from")
    probes.add_argument("--probe-path", action="append", metavar="DIR", default=None)
    probes.add_argument("--format", choices=("table", "json"), default="table")
    probes.add_argument("--check", action="store_true",
                        help="validate every probe's services and arguments (exit 2 on a "
                             "problem)")

    doctor = sub.add_parser("doctor", help="check that a target interpreter can be measured")
    doctor.add_argument("--python", metavar="PATH")
    doctor.add_argument("--format", choices=("text", "json"), default="text")
    doctor.add_argument("--timeout", type=float, default=60.0)

    plugins = sub.add_parser("plugins", help="list the gevent plugins (gevent.plugins.* "
                             "entry points) installed in the target, and whether each loads")
    plugins.add_argument("--python", metavar="PATH")
    plugins.add_argument("--format", choices=("table", "json"), default="table")
    plugins.add_argument("--timeout", type=float, default=60.0)

    explain = sub.add_parser("explain", help="what is known about a library, and the remedy")
    explain.add_argument("name")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.add_argument("--probe-path", action="append", metavar="DIR", default=None,
                         help="also know the team's own probes in DIR (repeatable; as for scan, "
                              "'probe-paths' in the config is read too)")
    explain.add_argument("--python", metavar="PATH",
                         help="the target interpreter a suggested scan measures (is the "
                              "library installed there?); default: as for scan")
    explain.add_argument("--config", metavar="FILE",
                         help="read settings (probe-path, python) from FILE")
    return parser


def _err(message: str, hint: str | None = None) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> ExitCode:
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        if not args.command:
            parser.print_help(sys.stderr)
            return ExitCode.USAGE_ERROR
        from patchcheck import commands

        return commands.run(args)
    except PatchcheckError as exc:
        _err(exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return ExitCode.INTERNAL_ERROR
    except BrokenPipeError:
        return ExitCode.OK
    except Exception:  # an unexpected failure is a bug: say so, with the traceback
        traceback.print_exc()
        _err("this is a bug in patchcheck; please report it with the traceback above")
        return ExitCode.INTERNAL_ERROR


def console_main() -> None:
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `patchcheck scan … | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(int(code))
