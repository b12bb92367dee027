"""GitHub Actions workflow commands: one annotation per finding above info (order-only
findings as notices).

``::error file=requirements.txt,line=3,title=PC310 psycopg2-binary 2.9.9 blocks::message``
puts the finding on the requirements line in the pull request's "Files changed" view.
Escaping follows the Actions toolkit (``@actions/core`` ``command.ts``): in the message
``%``, ``\\r``, ``\\n``; in property values also ``:`` and ``,``. Waived findings are not
annotated (their waiver is the team's decision); patchcheck's own problems are.
"""

from __future__ import annotations

from patchcheck.model import DistributionResult, Finding, ScanReport, Severity
from patchcheck.reporters import _views as v

# Order-only findings are notices: worth a look on the requirement's line, not a warning
# (they matter only if the app imports the library before patch_all()).
_COMMAND = {Severity.BREAKS: "error", Severity.BLOCKS: "error", Severity.SUSPECT: "warning",
            Severity.WARNING: "warning", Severity.ORDER_ONLY: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(name: str, message: str, **properties: object) -> str:
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None and value != ""
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def _message(result: DistributionResult, finding: Finding) -> str:
    view = v.finding_view(result, finding)
    lines = [finding.summary, *view.every_fact]
    for block in view.blocks[:1]:  # the innermost stack lines; the rest is in the full report
        lines.append(f"{block.title}:")
        lines.extend(f"  {line}" for line in block.lines[-4:])
    if finding.hint:
        lines.append(f"hint: {finding.hint}")
    return "\n".join(lines)


def render_github(report: ScanReport) -> str:
    commands: list[str] = []
    for result in report.results:
        origin = v.parse_origin(result.origin)
        for finding in sorted(result.findings, key=lambda f: -int(f.severity)):
            if finding.severity < Severity.ORDER_ONLY or finding.waived:
                continue
            commands.append(
                _command(
                    _COMMAND[finding.severity],
                    _message(result, finding),
                    file=origin[0] if origin else None,
                    line=origin[1] if origin else None,
                    title=f"{finding.code} {v.display_name(result)} {result.verdict.value}",
                )
            )
    for problem in report.problems:
        commands.append(
            _command("error", problem, title="patchcheck problem (not a library verdict)")
        )
    return "".join(command + "\n" for command in commands)
