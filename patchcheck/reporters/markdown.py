"""GitHub-flavoured Markdown for a CI step summary (``$GITHUB_STEP_SUMMARY``) or a PR comment.

A summary line, one table row per distribution, then a collapsed ``<details>`` block with the
evidence for every distribution that is not clean. Text that comes from libraries (summaries,
exception messages, stacks) is escaped or fenced so it cannot break the layout or inject HTML.
"""

from __future__ import annotations

import html
import re

from patchcheck.model import DistributionResult, ScanReport, Verdict
from patchcheck.reporters import _views as v

#: One mark per verdict, used in the table and the summary line only.
VERDICT_MARK = {
    Verdict.BREAKS: "❌",
    Verdict.BLOCKS: "🛑",
    Verdict.SUSPECT: "🟠",
    Verdict.WARNS: "⚠️",
    Verdict.ORDER_SENSITIVE: "🔀",
    Verdict.UNTESTED: "❔",
    Verdict.SKIPPED: "⏭️",
    Verdict.NOT_INSTALLED: "➖",
    Verdict.COOPERATES: "✅",
}

# "_" inside a word (patch_all) never starts emphasis in GFM, so it stays unescaped and
# readable; at a word boundary (_psycopg) it is escaped like the other punctuation.
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md_escape(text: str) -> str:
    """Inline text: Markdown punctuation backslash-escaped, HTML made inert."""
    text = html.escape(str(text), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _fence(lines: tuple[str, ...] | list[str]) -> list[str]:
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + "text", *lines, fence]


def render_markdown(report: ScanReport) -> str:
    out: list[str] = []
    counts = ", ".join(
        f"{VERDICT_MARK[verdict]} {n} {verdict.value}" for verdict, n in v.verdict_counts(report)
    )
    total = len(report.results)
    head = f"**patchcheck**: {total} {'distribution' if total == 1 else 'distributions'}"
    if report.duration_s:
        head += f" in {report.duration_s:.1f} s"
    out.append(head + (f" — {counts}" if counts else ""))
    out.append("")

    if report.problems:
        out.append("> **patchcheck problems** (not library verdicts; exit code 3):")
        for problem in report.problems:
            out.append(f"> - {md_escape(v.shorten(problem, 500))}")
        out.append("")

    if report.results:
        out.append("| Distribution | Version | Verdict | Evidence |")
        out.append("|---|---|---|---|")
        for r in report.results:
            out.append(
                f"| {md_escape(r.name)} | {md_escape(r.version or '–')} "
                f"| {VERDICT_MARK[r.verdict]} {r.verdict.value} "
                f"| {md_escape(v.shorten(v.key_evidence(r), 120))} |"
            )
        out.append("")

    for r in report.results:
        if v.needs_details(r):
            out.extend(_details(r))
            out.append("")

    footer = v.environment_line(report.environment)
    control = v.control_line(report)
    if control:
        footer += f" · {control}"
    out.append(f"<sub>{md_escape(footer)}</sub>")
    return "\n".join(out) + "\n"


def _details(result: DistributionResult) -> list[str]:
    view = v.detail_view(result)
    summary = f"<b>{html.escape(v.display_name(result), quote=False)}</b> — {result.verdict.value}"
    if result.origin:
        summary += f" (<code>{html.escape(result.origin, quote=False)}</code>)"
    # The blank line after <summary> makes GitHub render the body as Markdown.
    out = ["<details>", f"<summary>{summary}</summary>", ""]
    for f in view.findings:
        title = f"**{md_escape(f.code)}** · {f.severity} — {md_escape(f.summary)}"
        if f.waived:
            title += f" *(waived: {md_escape(f.waived)})*"
        out.append(title)
        out.append("")
        items = [md_escape(fact) for fact in f.every_fact]
        if f.hint:
            items.append(f"**hint:** {md_escape(f.hint)}")
        if items:
            out.extend(f"- {item}" for item in items)
            out.append("")
        for block in f.blocks:
            label = block.title
            if block.omitted:
                label += f" (last {len(block.lines)} of {len(block.lines) + block.omitted} lines)"
            out.append(f"{md_escape(label)}:")
            out.append("")
            out.extend(_fence(block.lines))
            out.append("")
    for heading, lines in (
        ("Probes", view.probes),
        ("Remedies measured", view.remedies),
        (view.known_title.capitalize(), view.known),
    ):
        if lines:
            out.append(f"**{heading}**")
            out.append("")
            out.extend(f"- {md_escape(line)}" for line in lines)
            out.append("")
    for label, lines in view.remedy_code:
        out.append(f"To apply {md_escape(label)}, add after `patch_all()`:")
        out.append("")
        out.extend(_fence(lines))
        out.append("")
    out.append("</details>")
    return out
