"""The words every reporter shares, re-exported from the modules that own them.

- ``_text``: small text helpers (durations, ratios, truncation, names, paths);
- ``_sentences``: report lines, measurement and remedy sentences, the row's key evidence;
- ``_details``: the per-distribution detail views, read from typed evidence.
"""
from __future__ import annotations

from patchcheck.reporters._details import (
    Block,
    DetailView,
    FindingView,
    detail_view,
    finding_view,
    needs_details,
    plain_details,
)
from patchcheck.reporters._sentences import (
    VERDICTS_WORST_FIRST,
    control_line,
    environment_line,
    key_evidence,
    known_sentence,
    measurement_phrase,
    measurement_sentence,
    probe_for,
    remedy_sentence,
    suite_evidence,
    suite_phrase,
    suite_sentence,
    summary_line,
    verdict_counts,
)
from patchcheck.reporters._text import (
    STACK_LINES,
    as_lines,
    compact,
    display_name,
    error_headline,
    exception_type,
    frame_line,
    json_safe,
    last_lines,
    list_phrase,
    ms,
    parse_origin,
    pin_name,
    ratio,
    short_path,
    shorten,
    shorten_code,
)

__all__ = [
    "STACK_LINES", "VERDICTS_WORST_FIRST", "Block", "DetailView", "FindingView", "as_lines",
    "compact", "control_line", "detail_view", "display_name", "environment_line",
    "error_headline", "exception_type", "frame_line", "finding_view", "json_safe", "key_evidence",
    "known_sentence", "last_lines", "list_phrase", "measurement_phrase", "measurement_sentence",
    "ms", "needs_details", "parse_origin", "pin_name", "plain_details", "probe_for", "ratio",
    "remedy_sentence", "short_path", "shorten", "shorten_code", "summary_line", "verdict_counts",
    "suite_evidence", "suite_phrase", "suite_sentence",
]
