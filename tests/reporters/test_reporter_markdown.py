from __future__ import annotations

import dataclasses

from patchcheck.model import DistributionResult, Finding, Severity, Verdict
from patchcheck.reporters.markdown import md_escape, render_markdown


def test_markdown_matches_golden(sample_report, golden):
    golden("report.md", render_markdown(sample_report))


def test_structure(sample_report):
    text = render_markdown(sample_report)
    first = text.splitlines()[0]
    assert first.startswith("**patchcheck**: 8 distributions in 14.2 s — ❌ 1 breaks, 🛑 1 blocks")
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 8  # header + one row per distribution
    assert text.count("<details>") == text.count("</details>") == 6  # the non-clean ones
    assert "<b>requests 2.32.3</b>" not in text


def test_library_text_cannot_break_the_layout(sample_report):
    hostile = DistributionResult(
        name="evil",
        version="1.0",
        verdict=Verdict.BREAKS,
        origin="requirements.txt:9",
        findings=(
            Finding(
                code="PC100",
                severity=Severity.BREAKS,
                check="import-after",
                summary="a | b </details> <script>alert(1)</script> *x* [link](http://x)",
                evidence={
                    "module": "evil",
                    "exception": "ValueError",
                    "message": "``` fence ```",
                    "traceback": "Traceback (most recent call last):\n  x = ````\nValueError: ```",
                },
            ),
        ),
    )
    report = dataclasses.replace(sample_report, results=(hostile,))
    text = render_markdown(report)
    assert "<script>" not in text and "</details> <" not in text
    assert text.count("</details>") == 1
    row = next(line for line in text.splitlines() if line.startswith("| evil"))
    assert row.count(" | ") == 3  # the pipe in the summary is escaped, still four cells
    # a traceback holding backtick runs is fenced with a longer fence
    assert "`````text" in text


def test_escape():
    assert (
        md_escape("patch_all() psycopg2._psycopg a|b <x>")
        == r"patch_all() psycopg2.\_psycopg a\|b &lt;x&gt;"
    )
