"""The README documents what the code defines (datasette's test_docs idea)."""
from __future__ import annotations

import re

from pc_testutil import ROOT

from patchcheck import hookspecs
from patchcheck.exitcode import ExitCode
from patchcheck.verdicts.codes import CODES

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_finding_code_is_in_the_codes_table() -> None:
    for code in CODES.values():
        assert f"| `{code.code}` | {code.name} | {code.severity.label} |" in README, code.code


def test_every_hook_is_documented_and_versioned() -> None:
    hooks = [n for n in dir(hookspecs) if n.startswith("patchcheck_")]
    assert hooks
    for name in hooks:
        assert f"`{name}`" in README, name
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "versionadded" in doc and "Runs in" in doc, name


def test_exit_codes_table_matches_the_enum() -> None:
    table = README[README.index("## Exit codes"):README.index("## What it checks")]
    rows = re.findall(r"^\| (\d) \|", table, flags=re.M)
    assert sorted(int(r) for r in rows) == sorted(int(c) for c in ExitCode)


def test_readme_has_the_two_commands() -> None:
    block = README[README.index("<!-- test-command -->"):README.index("<!-- /test-command -->")]
    assert "pytest" in block
    assert "patchcheck scan examples/requirements.txt" in README


def test_changelog_keeps_an_unreleased_section() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog and "Keep a Changelog" in changelog


def test_the_test_command_runs_in_the_checkouts_virtualenv() -> None:
    """The README's test command (what .ci/run evaluates) and .ci/setup agree on one .venv:
    nothing is installed into, or run with, whatever ``python`` is first on PATH."""
    block = README[README.index("<!-- test-command -->"):README.index("<!-- /test-command -->")]
    command = next(line for line in block.splitlines() if "pytest" in line)
    assert command.strip() == "./.ci/setup && .venv/bin/python -m pytest -n 2 -p no:cacheprovider"
    setup = (ROOT / ".ci" / "setup").read_text(encoding="utf-8")
    pip_lines = [line for line in setup.splitlines() if "pip install" in line]
    assert pip_lines and all(line.lstrip().startswith("$PY -m pip") for line in pip_lines)
    assert "PY=.venv/bin/python" in setup and "python3 -m venv .venv" in setup
    quickstart = (ROOT / "examples" / "quickstart.sh").read_text(encoding="utf-8")
    assert "python3 -m venv .venv" in quickstart and ".venv/bin/python -m pip" in quickstart
