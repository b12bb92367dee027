"""The JSON report: ``ScanReport.to_json()`` pretty-printed.

The document is described by ``report.schema.json`` next to this module (JSON Schema draft
2020-12, ``$id`` ends with the ``schema`` value ``patchcheck.report/1``). Adding a field means
updating that schema; the reporter tests validate every rendered report against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from patchcheck.model import ScanReport
from patchcheck.reporters._views import json_safe

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def render_json(report: ScanReport) -> str:
    """The report document, indented, UTF-8 text, ending with a newline."""
    document = json_safe(report.to_json())
    # allow_nan=False: "NaN"/"Infinity" are not JSON and break strict consumers (jq, JS).
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def load_schema() -> dict[str, Any]:
    """The JSON Schema of the report document (for consumers and tests)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
