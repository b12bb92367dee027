"""The version matrix: the same requirements measured on several environments.

Pure data (no I/O): a :class:`MatrixReport` is one ordinary :class:`ScanReport` per
environment, in the order given, and the table view of it: distributions × environments, each
cell the verdict measured there, marked where it differs from the environment before it.

An *environment* is what a verdict was measured on (the model's ``Environment``): the
implementation, Python version, platform, gevent and greenlet versions and the patch_all()
arguments. The interpreter's *path* is not part of it: two CI runners, or two ``--install``
virtualenvs built from the same pins, are the same environment.

The JSON document is ``patchcheck.matrix/1`` (``reporters/matrix.schema.json``)::

    {"schema": "patchcheck.matrix/1",
     "environments": [{"label": "CPython 3.13.0, gevent 26.9.0", ...Environment...}, ...],
     "reports": [<patchcheck.report/1 document>, ...]}   # same order as "environments"

A scan report stays ``patchcheck.report/1`` unchanged: a matrix is a list of them, so every
reporter and consumer of one report keeps working on each column.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from patchcheck.model import Environment, ScanReport, Verdict

MATRIX_SCHEMA = "patchcheck.matrix/1"


def environment_key(env: Environment) -> tuple[Any, ...]:
    """What makes two reports measurements of the same environment (not the python path)."""
    return (env.implementation, env.python_version, env.platform, env.gevent_version,
            env.greenlet_version, tuple(sorted((str(k), repr(v))
                                               for k, v in env.patch_args.items())))


def environment_label(env: Environment) -> str:
    """A short name for a column: ``CPython 3.13.0, gevent 26.9.0``."""
    label = f"{env.implementation or 'Python'} {env.python_version}"
    label += f", gevent {env.gevent_version}" if env.gevent_version else ", no gevent"
    if env.patch_args:
        label += ", patch " + ",".join(f"{k}={'true' if v else 'false'}"
                                       for k, v in sorted(env.patch_args.items()))
    return label


@dataclass(frozen=True)
class MatrixReport:
    """One scan report per environment (distinct environments, in the order measured)."""

    reports: tuple[ScanReport, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        labels = [environment_label(r.environment) for r in self.reports]
        # Environments that differ only in what the label leaves out (platform, greenlet).
        for i, label in enumerate(labels):
            if labels.count(label) > 1:
                env = self.reports[i].environment
                labels[i] = f"{label}, greenlet {env.greenlet_version}, {env.platform}"
        return tuple(labels)

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(f"{label}: {p}" for label, r in zip(self.labels, self.reports)
                     for p in r.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": MATRIX_SCHEMA,
            "environments": [{"label": label, **r.environment.to_json()}
                             for label, r in zip(self.labels, self.reports)],
            "reports": [r.to_json() for r in self.reports],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MatrixReport:
        if data.get("schema") != MATRIX_SCHEMA:
            raise ValueError(f"unsupported matrix schema {data.get('schema')!r}")
        return cls(reports=tuple(ScanReport.from_json(r) for r in data["reports"]))


@dataclass(frozen=True)
class MatrixCell:
    """One distribution in one environment; ``verdict`` None: not in that environment's scan."""

    verdict: Verdict | None
    version: str | None = None
    #: the verdict differs from the nearest environment to the left that has this distribution
    changed: bool = False


@dataclass(frozen=True)
class MatrixRow:
    name: str
    cells: tuple[MatrixCell, ...]

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.cells)


def matrix_rows(matrix: MatrixReport) -> tuple[MatrixRow, ...]:
    """Distributions × environments, distributions in the order they were first seen."""
    names: dict[str, str] = {}  # key → name as first reported
    by_env = []
    for report in matrix.reports:
        by_key = {r.key: r for r in report.results}
        by_env.append(by_key)
        for r in report.results:
            names.setdefault(r.key, r.name)
    rows = []
    for key, name in names.items():
        cells = []
        before: Verdict | None = None
        for by_key in by_env:
            result = by_key.get(key)
            if result is None:
                cells.append(MatrixCell(verdict=None))
                continue
            changed = before is not None and result.verdict is not before
            cells.append(MatrixCell(verdict=result.verdict, version=result.version,
                                    changed=changed))
            before = result.verdict
        rows.append(MatrixRow(name=name, cells=tuple(cells)))
    return tuple(rows)


def changed_rows(matrix: MatrixReport) -> tuple[MatrixRow, ...]:
    return tuple(row for row in matrix_rows(matrix) if row.changed)


def matrix_of(reports: Sequence[ScanReport]) -> MatrixReport:
    return MatrixReport(reports=tuple(reports))
