"""The version matrix as text: distributions × environments (``patchcheck matrix``, and
``patchcheck merge`` of reports from several environments).

Formats: ``table`` (terminal), ``markdown`` (a step summary), ``json`` (the
``patchcheck.matrix/1`` document, ``matrix.schema.json``). A cell whose verdict differs from
the environment to its left is marked ``*``. Pure functions; the caller writes the text.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from patchcheck.matrix import MatrixCell, MatrixReport, changed_rows, matrix_rows
from patchcheck.reporters._views import json_safe
from patchcheck.textcols import pad_columns

SCHEMA_PATH = Path(__file__).with_name("matrix.schema.json")
#: The formats a matrix can be rendered in.
MATRIX_FORMATS = ("table", "markdown", "json")
CHANGED = "*"


def _cell(cell: MatrixCell) -> str:
    if cell.verdict is None:
        return "-"
    text = cell.verdict.value + (f" {cell.version}" if cell.version else "")
    return f"{CHANGED}{text}" if cell.changed else text


def render_matrix_table(matrix: MatrixReport) -> str:
    labels = matrix.labels
    rows = matrix_rows(matrix)
    out = [f"environments: {len(labels)}"]
    out += [f"  [{i}] {label}  ({r.environment.python})"
            for i, (label, r) in enumerate(zip(labels, matrix.reports), 1)]
    out.append("")
    table = [("distribution", *(f"[{i}]" for i in range(1, len(labels) + 1)))]
    table += [(row.name, *(_cell(c) for c in row.cells)) for row in rows]
    out += pad_columns(table)
    changed = changed_rows(matrix)
    out.append("")
    if changed:
        out.append(f"{CHANGED} the verdict differs from the environment to its left: "
                   f"{len(changed)} distribution{'s' if len(changed) != 1 else ''} "
                   f"({', '.join(r.name for r in changed)})")
    else:
        out.append("no verdict differs between the environments")
    for problem in matrix.problems:
        out.append(f"problem: {problem}")
    return "\n".join(out) + "\n"


def render_matrix_markdown(matrix: MatrixReport) -> str:
    labels = matrix.labels
    out = ["## patchcheck version matrix", ""]
    out.append("| distribution | " + " | ".join(labels) + " |")
    out.append("|---" * (len(labels) + 1) + "|")
    for row in matrix_rows(matrix):
        cells = [f"**{_cell(c)}**" if c.changed else _cell(c) for c in row.cells]
        out.append(f"| {row.name} | " + " | ".join(cells) + " |")
    changed = changed_rows(matrix)
    out.append("")
    out.append(f"{CHANGED} (bold): the verdict differs from the environment to its left"
               + (f" — {', '.join(r.name for r in changed)}" if changed
                  else " — none differ"))
    return "\n".join(out) + "\n"


def render_matrix_json(matrix: MatrixReport) -> str:
    return json.dumps(json_safe(matrix.to_json()), indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def render_matrix(matrix: MatrixReport, fmt: str) -> str:
    """``fmt``: one of :data:`MATRIX_FORMATS`."""
    return {"table": render_matrix_table, "markdown": render_matrix_markdown,
            "json": render_matrix_json}[fmt](matrix)


def load_schema() -> dict[str, Any]:
    """The JSON Schema of the matrix document (its reports: ``report.schema.json``)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
