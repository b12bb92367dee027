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
                   help="output format: table, json, junit, sarif, markdown, github")
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
    scan.add_argument("--all", action="store_true", dest="all_installed",
                      help="scan every distribution installed in the target interpreter")
    scan.add_argument("--deps", action="store_true", dest="include_deps",
                      help="also scan the installed dependencies of the requirements, "
                           "recursively")
    scan.add_argument("--patch", metavar="ARGS",
                      help="patch_all() arguments, e.g. 'thread=false,subprocess=false'")
    scan.add_argument("-j", "--jobs", type=int, metavar="N",
                      help="checks to run at once (default: the CPU count)")
    scan.add_argument("--fail-on", metavar="LEVEL",
                      help="exit 1 at or above: untested, warns, blocks (default), breaks, never")
    scan.add_argument("--probe-path", action="append", metavar="DIR", default=None,
                      help="load the team's own probes from DIR (repeatable)")
    scan.add_argument("--no-probes", action="store_true", help="import checks only")
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
    scan.add_argument("--no-cache", action="store_true", help="do not use cached results")
    scan.add_argument("--report", action="append", metavar="FORMAT=FILE", default=None,
                      help="also write the report in FORMAT to FILE (repeatable), e.g. "
                           "--report sarif=patchcheck.sarif --report junit=junit.xml")
    scan.add_argument("--bisect", action=argparse.BooleanOptionalAction, default=None,
                      help="find the patch_all() arguments that make a library break or block, "
                           "and measure turning them off (default: on for a few cheap 'breaks')")
    _add_selection(scan)

    probes = sub.add_parser("probes", help="list every probe and where it came from")
    probes.add_argument("--probe-path", action="append", metavar="DIR", default=None)
    probes.add_argument("--format", choices=("table", "json"), default="table")

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
