"""SARIF 2.1.0: findings as static-analysis results (GitHub code scanning, Azure DevOps, IDEs).

One rule per finding code, one result per finding. A result points at the requirements file
and line the distribution came from when that is known (``origin`` = ``"path:line"``), and
always carries a logical location naming the distribution. Waived findings are kept, with an
external suppression holding the waiver's reason, so a code-scanning UI shows them as
dismissed rather than silently dropping them. patchcheck's own problems become tool
execution notifications, never results.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import patchcheck
from patchcheck.model import DistributionResult, Finding, ScanReport, Severity
from patchcheck.reporters import _views as v

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"

# SARIF has three levels: measured blocking and breaking are errors; "probably blocks" and
# the other unmeasured risks are warnings; order-only findings (they matter only when the
# library is imported before patch_all()) are notes, as info is. The result's "severity"
# property keeps patchcheck's own label.
_LEVEL = {
    Severity.BREAKS: "error",
    Severity.BLOCKS: "error",
    Severity.SUSPECT: "warning",
    Severity.WARNING: "warning",
    Severity.ORDER_ONLY: "note",
    Severity.INFO: "note",
}

#: Rule names and descriptions by check kind; a code's rule takes them from its first finding.
_CHECK_RULES = {
    "import-after": (
        "ImportAfterPatch",
        "The library fails or misbehaves when imported after gevent.monkey.patch_all().",
    ),
    "import-before": (
        "ImportBeforePatch",
        "The library behaves differently when imported "
        "before gevent.monkey.patch_all() (import order matters).",
    ),
    "stale-refs": (
        "StaleReference",
        "The library holds an original, unpatched blocking object captured before patching.",
    ),
    "threads": ("NativeThreadAtImport", "The library starts native threads at import time."),
    "native": (
        "NativeIo",
        "An extension module does its own blocking I/O that monkey-patching cannot reach.",
    ),
}
_PROBE_RULES = {
    Severity.BREAKS: (
        "BreaksUnderPatch",
        "A call into the library fails (exception, crash, "
        "hang or LoopExit) under gevent.monkey.patch_all().",
    ),
    Severity.BLOCKS: ("BlocksHub", "The gevent hub stalled while the library waited on I/O."),
    Severity.SUSPECT: ("ProbeSuspect", "A behaviour probe suggests the library blocks the hub."),
    Severity.WARNING: ("ProbeWarning", "A behaviour probe of the library raised a warning."),
    Severity.ORDER_ONLY: (
        "ProbeImportOrder",
        "A behaviour probe of the library fails only when it is imported before patch_all().",
    ),
    Severity.INFO: ("ProbeNote", "A behaviour probe of the library could not give a verdict."),
}


def _rule_name(finding: Finding) -> tuple[str, str]:
    """(name, short description) of the finding's rule: from the code table when it knows
    the code, else from the kind of check."""
    try:
        from patchcheck.verdicts.codes import CODES
    except ImportError:  # pragma: no cover - the verdicts layer is part of patchcheck
        CODES = {}
    known = CODES.get(finding.code)
    if known is not None:
        name = "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", known.name) if p)
        return name or finding.code, known.title[:1].upper() + known.title[1:] + "."
    if finding.check.startswith("probe:"):
        return _PROBE_RULES[finding.severity]
    if finding.check in _CHECK_RULES:
        return _CHECK_RULES[finding.check]
    name = "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", finding.check) if p)
    return name or finding.code, finding.summary


def _rule_help(finding: Finding) -> str | None:
    """The code's general hint (a rule is shared by every distribution); the finding's own
    hint, which may name one library, goes in the result message."""
    try:
        from patchcheck.verdicts.codes import CODES
    except ImportError:  # pragma: no cover
        CODES = {}
    known = CODES.get(finding.code)
    return (known.hint if known is not None and known.hint else None) or finding.hint


def _artifact_uri(path: str, root: str | None) -> tuple[str, str | None]:
    """A relative POSIX URI under %SRCROOT% when possible, else an absolute file: URI."""
    windows = PureWindowsPath(path)
    if windows.drive or path.startswith("/"):
        absolute = Path(path)
        if root is not None:
            try:
                rel = absolute.resolve().relative_to(Path(root).resolve())
                return PurePosixPath(*rel.parts).as_posix(), SRCROOT
            except ValueError:
                pass
        return absolute.as_uri(), None
    parts = [p for p in re.split(r"[\\/]+", path) if p and p != "."]
    return "/".join(parts), SRCROOT


def _fingerprint(result: DistributionResult, finding: Finding) -> str:
    # Stable across runs and versions of the same distribution, so an upgrade that keeps the
    # problem keeps the alert (the version is not part of it).
    key = f"{finding.code}|{result.key}|{finding.check}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _message(result: DistributionResult, finding: Finding) -> str:
    text = f"{v.display_name(result)} {result.verdict.value}: {finding.summary}"
    view = v.finding_view(result, finding)
    if view.every_fact:
        text += "\n" + "\n".join(view.every_fact)
    if finding.hint:
        text += f"\nhint: {finding.hint}"
    return text


def render_sarif(report: ScanReport, *, root: str | None = None) -> str:
    """The SARIF log. ``root``: the directory relative artifact URIs are resolved against
    (absolute requirement paths under it become relative; default: left absolute)."""
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for result in report.results:
        for finding in result.findings:
            if finding.code not in rule_index:
                name, description = _rule_name(finding)
                rule: dict[str, Any] = {
                    "id": finding.code,
                    "name": name,
                    "shortDescription": {"text": description},
                    "defaultConfiguration": {"level": _LEVEL[finding.severity]},
                    "properties": {"check": finding.check.split(":", 1)[0]},
                }
                help_text = _rule_help(finding)
                if help_text:
                    rule["help"] = {"text": help_text}
                rule_index[finding.code] = len(rules)
                rules.append(rule)
            results.append(_result(result, finding, rule_index[finding.code], root))

    invocation: dict[str, Any] = {"executionSuccessful": not report.problems}
    if report.problems:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": problem or "unknown problem"}}
            for problem in report.problems
        ]
    log = {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "patchcheck",
                        "version": patchcheck.__version__,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {
                    SRCROOT: {
                        "description": {
                            "text": "The directory the requirements sources are relative to."
                        }
                    }
                },
                "invocations": [invocation],
                "results": results,
                "properties": {
                    "environment": v.json_safe(report.environment.to_json()),
                    "summary": v.summary_line(report),
                },
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _result(
    result: DistributionResult, finding: Finding, index: int, root: str | None
) -> dict[str, Any]:
    location: dict[str, Any] = {
        "logicalLocations": [
            {"name": result.name, "fullyQualifiedName": v.pin_name(result), "kind": "module"}
        ]
    }
    origin = v.parse_origin(result.origin)
    if origin is not None:
        uri, base = _artifact_uri(origin[0], root)
        artifact: dict[str, Any] = {"uri": uri}
        if base:
            artifact["uriBaseId"] = base
        location["physicalLocation"] = {
            "artifactLocation": artifact,
            "region": {"startLine": origin[1]},
        }
    sarif_result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": _LEVEL[finding.severity],
        "message": {"text": _message(result, finding)},
        "locations": [location],
        "partialFingerprints": {"patchcheckFinding/v1": _fingerprint(result, finding)},
        "properties": {
            "distribution": result.name,
            "version": result.version,
            "verdict": result.verdict.value,
            "severity": finding.severity.label,
            "check": finding.check,
            "evidence": v.json_safe(finding.evidence.to_json()),
        },
    }
    if finding.waived:
        sarif_result["suppressions"] = [{"kind": "external", "justification": finding.waived}]
    return sarif_result
