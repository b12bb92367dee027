"""A message too long for a finding's summary is cut at a word boundary with an ellipsis,
never mid-word (issue #15: gevent's warning read ``… incorrect behav``); the evidence keeps
the whole text for the JSON report and ``-v``."""
from __future__ import annotations

import pytest

from patchcheck.model import DistributionResult, ScanReport, Verdict
from patchcheck.reporters.table import render_table
from patchcheck.textcols import clip_words
from patchcheck.verdicts.fold import CheckOutcome, fold_verdict, import_findings

# gevent/monkey/__init__.py's warning for ssl imported before patch_all() (gevent 24–26).
GEVENT_SSL_WARNING = (
    "Monkey-patching ssl after ssl has already been imported may lead to errors, including "
    "RecursionError on Python 3.6. It may also silently lead to incorrect behaviour on Python "
    "3.7. Please monkey-patch earlier. See https://github.com/gevent/gevent/issues/1016. "
    "Modules that had direct imports (NOT patched): ['urllib3.util.ssl_ (/venv/lib/python3.11/"
    "site-packages/urllib3/util/ssl_.py)']. ")


@pytest.mark.parametrize("text, limit, expected", [
    ("short enough", 20, "short enough"),
    ("It may also silently lead to incorrect behaviour", 40,
     "It may also silently lead to incorrect…"),
    ("lead to errors, including RecursionError", 24, "lead to errors…"),  # no dangling comma
    ("cut exactly at a space here", 14, "cut exactly…"),
    # One long word (a path) is cut inside it rather than leaving the line nearly empty.
    ("see /very/long/path/to/some/module.py", 20, "see /very/long/path…"),
])
def test_clip_words(text: str, limit: int, expected: str) -> None:
    assert clip_words(text, limit) == expected
    assert len(clip_words(text, limit)) <= limit


def _monkeypatch_warning_findings():
    after = CheckOutcome(data={"modules": [{"module": "urllib3", "ok": True}]})
    before = CheckOutcome(data={
        "modules": [{"module": "urllib3", "ok": True}],
        "patch": {"ok": True, "warnings": [
            {"category": "gevent.monkey.MonkeyPatchWarning", "message": GEVENT_SSL_WARNING}]}})
    return [f for f in import_findings(after, before) if f.code == "PC110"]


def test_gevent_warning_summary_ends_on_a_whole_word_and_the_evidence_keeps_it_all() -> None:
    (finding,) = _monkeypatch_warning_findings()
    assert finding.summary.endswith("…")
    words = finding.summary[:-1].split()
    assert all(word in GEVENT_SSL_WARNING.split() or word in
               "gevent warns when patching after this import:".split()
               for word in words), finding.summary
    assert "behav…" not in finding.summary
    assert finding.evidence.warnings[0].message == GEVENT_SSL_WARNING  # the JSON's text

    verdict, folded = fold_verdict([finding], installed=True)
    result = DistributionResult(name="urllib3", version="2.2.1", verdict=verdict,
                                findings=folded, origin="requirements.txt:1")
    report = ScanReport(environment=_env(), results=(result,))
    assert verdict is Verdict.ORDER_SENSITIVE  # gevent's ssl warning: order-only
    default = render_table(report, width=100)
    verbose = " ".join(render_table(report, width=100, verbose=True).split())
    assert "issues/1016. Modules that had direct imports (NOT patched)" not in default
    assert "more with -v: the full warning text" in default
    # -v: the whole warning, wrapped (never cut)
    assert " ".join(f"warning: MonkeyPatchWarning: {GEVENT_SSL_WARNING}".split()) in verbose


def _env():
    from patchcheck.model import Environment

    return Environment(python="/venv/bin/python", python_version="3.11.7",
                       implementation="CPython", platform="linux-x86_64",
                       gevent_version="26.9.0", greenlet_version="3.5.6")
