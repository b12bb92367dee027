"""The matrix on in-memory reports: rows, changed cells, the JSON document and its schema."""
from __future__ import annotations

import json

import jsonschema
import pytest
from referencing import Registry, Resource

from patchcheck.errors import UsageError
from patchcheck.matrix import MatrixReport, environment_key, matrix_rows
from patchcheck.merge import SourcedReport, merge_reports
from patchcheck.model import DistributionResult, Environment, ScanReport, Verdict
from patchcheck.reporters.json_report import load_schema as report_schema
from patchcheck.reporters.matrix import load_schema, render_matrix


def env(gevent: str, python: str = "/venv/bin/python", version: str = "3.11.7") -> Environment:
    return Environment(python=python, python_version=version, implementation="CPython",
                       platform="linux-x86_64", gevent_version=gevent, greenlet_version="3.5.6")


def report(gevent: str, *results: tuple[str, Verdict], python: str = "/venv/bin/python"
           ) -> ScanReport:
    return ScanReport(environment=env(gevent, python),
                      results=tuple(DistributionResult(name=n, version="1.0", verdict=v)
                                    for n, v in results))


OLD = report("24.11.1", ("six", Verdict.UNTESTED), ("psycopg", Verdict.BLOCKS),
             ("gevent", Verdict.UNTESTED))
NEW = report("26.9.0", ("six", Verdict.UNTESTED), ("psycopg", Verdict.COOPERATES),
             ("gevent", Verdict.UNTESTED), ("only-new", Verdict.COOPERATES))


def test_changed_cells_are_marked_against_the_environment_to_the_left() -> None:
    rows = {r.name: r for r in matrix_rows(MatrixReport((OLD, NEW, OLD)))}
    assert [c.changed for c in rows["psycopg"].cells] == [False, True, True]
    assert not rows["six"].changed
    # A distribution missing from an environment is an empty cell, not a change.
    assert [c.verdict for c in rows["only-new"].cells] == [None, Verdict.COOPERATES, None]
    assert not rows["only-new"].changed


def test_the_table_names_the_environments_and_marks_changes() -> None:
    text = render_matrix(MatrixReport((OLD, NEW)), "table")
    assert "[1] CPython 3.11.7, gevent 24.11.1" in text
    assert "[2] CPython 3.11.7, gevent 26.9.0" in text
    psycopg = next(line for line in text.splitlines() if line.startswith("psycopg"))
    assert psycopg.split() == ["psycopg", "blocks", "1.0", "*cooperates", "1.0"]
    assert "1 distribution (psycopg)" in text
    md = render_matrix(MatrixReport((OLD, NEW)), "markdown")
    assert "| psycopg | blocks 1.0 | ***cooperates 1.0** |" in md


def test_the_json_document_round_trips_and_matches_its_schema() -> None:
    matrix = MatrixReport((OLD, NEW))
    document = json.loads(render_matrix(matrix, "json"))
    registry = Registry().with_resource(report_schema()["$id"],
                                        Resource.from_contents(report_schema()))
    jsonschema.Draft202012Validator(load_schema(), registry=registry).validate(document)
    assert [e["label"] for e in document["environments"]] == list(matrix.labels)
    assert MatrixReport.from_json(document) == matrix


def test_the_interpreter_path_is_not_part_of_the_environment() -> None:
    assert environment_key(env("26.9.0", "/a/bin/python")) == environment_key(
        env("26.9.0", "/b/bin/python"))
    assert environment_key(env("26.9.0")) != environment_key(env("24.11.1"))


def test_merge_of_several_environments_is_a_matrix() -> None:
    first = report("26.9.0", ("six", Verdict.UNTESTED), python="/runner-1/python")
    second = report("26.9.0", ("psycopg", Verdict.COOPERATES), python="/runner-2/python")
    merged = merge_reports([SourcedReport("a.json", OLD), SourcedReport("b.json", first),
                            SourcedReport("c.json", second)])
    assert isinstance(merged, MatrixReport)
    assert [r.environment.gevent_version for r in merged.reports] == ["24.11.1", "26.9.0"]
    assert [r.name for r in merged.reports[1].results] == ["six", "psycopg"]
    # The same distribution measured differently in two environments is no conflict.
    assert isinstance(merge_reports([SourcedReport("a", OLD), SourcedReport("b", NEW)]),
                      MatrixReport)


def test_merge_conflict_within_one_environment() -> None:
    other = report("24.11.1", ("psycopg", Verdict.COOPERATES))
    with pytest.raises(UsageError) as info:
        merge_reports([SourcedReport("a.json", OLD), SourcedReport("b.json", other)])
    assert "a.json says blocks" in info.value.message
    assert "b.json says cooperates" in info.value.message
