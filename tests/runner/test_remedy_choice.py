"""Which remedies are measured after the plain run, and on which libraries greenify is tried
(``runner.probing.remedies_to_try`` / ``client_libraries``: pure, on in-memory data)."""
from __future__ import annotations

import pytest

from patchcheck.model import DistributionResult, Finding, Measurement, Outcome, Severity, Verdict
from patchcheck.runner.probing import client_libraries, remedies_to_try
from patchcheck.spec import (
    GREENIFY_FUNCTION,
    THREADPOOL_REMEDY,
    ProbeSpec,
    RemedySpec,
    greenify_remedy,
)
from patchcheck.verdicts.evidence import LinkedLibrary, NativeCode

OWN = RemedySpec(label="mylib.green", function="_remedy_green")
SPEC = ProbeSpec(name="mylib.get", distributions=("mylib",), path="p.py", function="f",
                 remedies=(OWN,))
LIBS = ("libmemcached-f7e872de.so.11.0.0",)


def _m(outcome: Outcome) -> Measurement:
    return Measurement(outcome=outcome, wait_ms=300, concurrency=3)


def _functions(tried: list[RemedySpec]) -> list[str]:
    return [r.function for r in tried]


def test_blocks_gets_own_threadpool_and_greenify() -> None:
    tried = remedies_to_try(SPEC, _m(Outcome.BLOCKS), LIBS)
    assert _functions(tried) == ["_remedy_green", "<threadpool>", GREENIFY_FUNCTION]
    assert tried[-1].libraries == LIBS and tried[-1].requires == ("greenify",)


def test_breaks_gets_the_threadpool_but_not_greenify() -> None:
    assert remedies_to_try(SPEC, _m(Outcome.BREAKS), LIBS) == [OWN, THREADPOOL_REMEDY]


def test_cpu_bound_gets_only_its_own() -> None:
    assert remedies_to_try(SPEC, _m(Outcome.CPU_BOUND), LIBS) == [OWN]


@pytest.mark.parametrize("outcome", [Outcome.COOPERATES, Outcome.SKIPPED])
def test_nothing_when_it_cooperates_or_was_skipped(outcome: Outcome) -> None:
    assert remedies_to_try(SPEC, _m(outcome), LIBS) == []


def test_always_measures_a_cooperating_call() -> None:
    tried = remedies_to_try(SPEC, _m(Outcome.COOPERATES), LIBS, always=True)
    assert _functions(tried) == ["_remedy_green", "<threadpool>", GREENIFY_FUNCTION]
    assert remedies_to_try(SPEC, _m(Outcome.SKIPPED), LIBS, always=True) == []


def test_no_greenify_without_client_libraries() -> None:
    assert GREENIFY_FUNCTION not in _functions(remedies_to_try(SPEC, _m(Outcome.BLOCKS), ()))


def test_greenify_label_has_no_build_hash() -> None:
    label = greenify_remedy(["libpq-a17e3caa.so.5.17", "libldap-2.5.so.0"]).label
    assert label == "greenify.patch_lib(libpq, libldap-2.5)"


def test_client_libraries_from_native_evidence() -> None:
    ext = NativeCode(file="/x/_pylibmc.so", extension=True,
                     libraries=(LinkedLibrary("libmemcached-f7e872de.so.11.0.0", "libmemcached"),
                                LinkedLibrary("libkrb5-68.so.3.3", "libkrb5")))
    bundled = NativeCode(file="/x/pylibmc.libs/libsasl2.so", extension=False,
                         libraries=(LinkedLibrary("libother.so.1", "other"),))
    result = DistributionResult(
        name="pylibmc", verdict=Verdict.WARNS,
        findings=(Finding("PC141", Severity.WARNING, "native", "links", evidence=ext),
                  Finding("PC141", Severity.WARNING, "native", "links", evidence=bundled)))
    assert client_libraries(result) == ("libmemcached-f7e872de.so.11.0.0", "libkrb5-68.so.3.3")
    assert client_libraries(DistributionResult(name="x", verdict=Verdict.UNTESTED)) == ()
