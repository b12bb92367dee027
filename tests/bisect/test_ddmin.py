"""ddmin on in-memory predicates: 1-minimal answers, the test count, the budget."""
from __future__ import annotations

import itertools

import pytest

from patchcheck.bisect.ddmin import ddmin, worst_case_tests
from patchcheck.bisect.result import BisectResult, CostProbe

PATCHES = ("socket", "dns", "time", "select", "thread", "os", "ssl", "subprocess",
           "aggressive", "Event", "builtins", "signal", "queue", "contextvars")


def needs(*names: str):
    """Interesting when every one of ``names`` is turned off; records what was asked."""
    asked: list[tuple[str, ...]] = []

    def test(subset: tuple[str, ...]) -> bool:
        asked.append(subset)
        return set(names) <= set(subset)

    return test, asked


def test_one_culprit_is_found_in_few_tests() -> None:
    test, asked = needs("select")
    got = ddmin(PATCHES, test, max_tests=40)
    assert got.minimal == ("select",)
    assert not got.exhausted
    assert got.tests == len(asked) <= 10  # ~2·log2(14) + 2, far below 2**14 subsets


def test_two_culprits_in_different_halves_are_both_kept() -> None:
    test, asked = needs("thread", "queue")
    got = ddmin(PATCHES, test, max_tests=40)
    assert got.minimal == ("thread", "queue")
    assert got.tests == len(asked)
    assert len(set(asked)) == len(asked)  # memoised: no subset is asked twice


def test_result_is_one_minimal_for_every_pair() -> None:
    for pair in itertools.combinations(PATCHES[:6], 2):
        test, _ = needs(*pair)
        got = ddmin(PATCHES[:6], test, max_tests=worst_case_tests(6))
        assert got.minimal == pair and not got.exhausted


def test_either_of_two_alternatives_gives_one_of_them() -> None:
    # select=False or aggressive=False each fix an epoll user: a 1-minimal answer is either.
    got = ddmin(PATCHES, lambda s: "select" in s or "aggressive" in s, max_tests=40)
    assert got.minimal in (("select",), ("aggressive",))


def test_nothing_to_blame_when_the_whole_set_is_not_enough() -> None:
    test, asked = needs("not-a-patch")
    got = ddmin(PATCHES, test, max_tests=40)
    assert got.minimal is None and got.tests == 1 and asked == [PATCHES]


def test_empty_set_asks_nothing() -> None:
    got = ddmin((), lambda s: True, max_tests=5)
    assert got.minimal is None and got.tests == 0


def test_budget_stops_the_search_with_a_sufficient_set() -> None:
    test, asked = needs("thread", "queue")
    got = ddmin(PATCHES, test, max_tests=9)
    assert got.exhausted
    assert got.tests == len(asked) == 9
    assert got.minimal is not None and {"thread", "queue"} <= set(got.minimal)
    assert len(got.minimal) < len(PATCHES)  # progress made before the budget ran out


def test_budget_of_one_returns_the_whole_set_unminimised() -> None:
    got = ddmin(PATCHES, lambda s: "os" in s, max_tests=1)
    assert got.exhausted and got.minimal == PATCHES and got.tests == 1


@pytest.mark.parametrize("n", [1, 2, 5, 14])
def test_worst_case_bound_holds(n: int) -> None:
    items = tuple(range(n))
    for culprits in itertools.combinations(items, min(n, 3)):
        asked: list = []

        def test(s, culprits=culprits, asked=asked):
            asked.append(s)
            return set(culprits) <= set(s)

        got = ddmin(items, test, max_tests=10_000)
        assert len(asked) <= worst_case_tests(n)
        assert got.minimal == culprits


def test_bisect_result_json_round_trip_and_summary() -> None:
    result = BisectResult(
        check="import-after", before="breaks", candidates=PATCHES,
        culprits=("thread", "queue"), verified="imports", runs=25, max_runs=32,
        budget_exhausted=False, duration_s=12.5,
        cost=(CostProbe("thread", "stdlib.threading.lock", "blocks", 920.0, 3.0),),
        unmeasured=("queue",))
    assert BisectResult.from_json(result.to_json()) == result
    assert result.remedied and result.remedy_args == {"thread": False, "queue": False}
    assert result.summary().startswith(
        "breaks under patch_all() → imports with patch_all(thread=False, queue=False)")
    assert "stdlib.threading.lock blocks the hub" in result.summary()
    assert "no stdlib probe measures queue" in result.summary()


@pytest.mark.parametrize("culprits", [("select",), ("thread", "queue"), ("dns", "os", "queue")])
def test_parallel_rounds_give_the_sequential_answer(culprits: tuple[str, ...]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sequential = ddmin(PATCHES, needs(*culprits)[0], max_tests=60)
    test, asked = needs(*culprits)
    with ThreadPoolExecutor(2) as pool:
        parallel = ddmin(PATCHES, test, max_tests=60, parallel=2, map_fn=pool.map)
    assert parallel.minimal == sequential.minimal == culprits
    assert parallel.tests == len(asked) == len(set(asked))  # each subset once, all counted


def test_parallel_budget_is_never_exceeded() -> None:
    test, asked = needs("thread", "queue")
    got = ddmin(PATCHES, test, max_tests=6, parallel=3, map_fn=lambda f, xs: [f(x) for x in xs])
    assert got.exhausted and len(asked) == got.tests <= 6


def test_bisect_json_matches_the_report_schema() -> None:
    import jsonschema

    from patchcheck.model import DistributionResult, Verdict
    from patchcheck.reporters.json_report import load_schema

    schema = load_schema()
    result = DistributionResult(name="pc-epoll", verdict=Verdict.BREAKS, bisect=BisectResult(
        check="import-after", before="breaks", candidates=PATCHES, culprits=("select",),
        verified="imports", runs=9, max_runs=32, budget_exhausted=False,
        cost=(CostProbe("select", "stdlib.select", "blocks", 913.0, 3.0),),
        alternatives=("aggressive",)))
    validator = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], "$ref": "#/$defs/distributionResult"})
    validator.validate(result.to_json())
    assert DistributionResult.from_json(result.to_json()) == result
