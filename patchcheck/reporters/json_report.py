"""The JSON report: ``ScanReport.to_json()`` pretty-printed.

The document is described by ``report.schema.json`` next to this module (JSON Schema draft
2020-12, ``$id`` ends with the ``schema`` value ``patchcheck.report/1``). Adding a field means
updating that schema; the reporter tests validate every rendered report against it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from patchcheck.model import ScanReport
from patchcheck.reporters._views import json_safe

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def render_json(report: ScanReport) -> str:
    """The report document, indented, UTF-8 text, ending with a newline."""
    document = json_safe(report.to_json())
    # allow_nan=False: "NaN"/"Infinity" are not JSON and break strict consumers (jq, JS).
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    return _one_line_heartbeats(text) + "\n"


# A heartbeat series is up to ~200 [t_ms, gap_ms] pairs: one line each would make a measurement
# 800 lines long. Raw newlines never occur inside JSON strings, so these patterns match only
# the document's own layout.
_PAIR = re.compile(r"\[\n\s*(-?[0-9.eE+-]+),\n\s*(-?[0-9.eE+-]+)\n\s*\]")
_SERIES = re.compile(r'("heartbeat": )\[\n\s*((?:\[[^\[\]\n]*\],?\n\s*)+)\]')


def _one_line_heartbeats(text: str) -> str:
    text = _PAIR.sub(r"[\1, \2]", text)
    return _SERIES.sub(lambda m: m.group(1) + "[" + " ".join(m.group(2).split()) + "]", text)


def load_schema() -> dict[str, Any]:
    """The JSON Schema of the report document (for consumers and tests)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
