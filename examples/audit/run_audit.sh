#!/usr/bin/env bash
# The pre-deployment audit of a real virtualenv, in one command: policy from pyproject.toml
# ([tool.patchcheck]: fail-on, timeout, a waiver with a reason and an expiry, the baseline),
# every distribution installed in the venv (--all; the direct dependencies are read from
# pyproject.toml so that findings point at their line), and every report format at once.
#
#   examples/audit/run_audit.sh                    # build .venv if needed, audit it
#   examples/audit/run_audit.sh --update-baseline  # accept today's state (commit the file)
#   examples/audit/run_audit.sh --no-probes        # import checks only (fast)
#
# Environment: AUDIT_VENV (default: .venv next to this script; built from requirements.txt
# when missing, with uv if available, else venv + pip), AUDIT_REPORTS (default: reports/),
# PYTHON (interpreter for a new venv, default python3), PATCHCHECK (the command, default
# "patchcheck"). Extra arguments go to 'patchcheck scan'. The exit code is patchcheck's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${AUDIT_VENV:-$here/.venv}"
reports="${AUDIT_REPORTS:-$here/reports}"
read -r -a patchcheck <<< "${PATCHCHECK:-patchcheck}"

if [ ! -x "$venv/bin/python" ]; then
    echo "building $venv from requirements.txt" >&2
    if command -v uv > /dev/null; then
        uv venv -q --python "${PYTHON:-python3}" "$venv"
        uv pip install -q --python "$venv/bin/python" -r "$here/requirements.txt"
    else
        "${PYTHON:-python3}" -m venv "$venv"
        "$venv/bin/python" -m pip install -q -r "$here/requirements.txt"
    fi
fi
mkdir -p "$reports" "$here/.patchcheck"

cd "$here"  # patchcheck finds pyproject.toml here; the baseline path is relative to it
exec "${patchcheck[@]}" scan pyproject.toml --all --python "$venv/bin/python" \
    --report json="$reports/patchcheck.json" \
    --report junit="$reports/patchcheck.junit.xml" \
    --report sarif="$reports/patchcheck.sarif" \
    --report markdown="$reports/patchcheck.md" \
    --report github="$reports/patchcheck.github.txt" \
    "$@"
