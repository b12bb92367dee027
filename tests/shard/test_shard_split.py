"""The shard split on in-memory plans: stable, complete, balanced by expected cost."""
from __future__ import annotations

import subprocess
import sys

import pytest

from patchcheck.errors import UsageError
from patchcheck.model import InstalledDistribution, Requirement
from patchcheck.plan import Plan, PlannedDistribution
from patchcheck.shard import Shard, assign, expected_cost, parse_shard, shard_loads, shard_plan
from patchcheck.spec import ProbeSpec, RemedySpec


def item(name: str, *, probes: int = 0, native: bool = False, remedies: int = 0,
         installed: bool = True, instrument: bool = False) -> PlannedDistribution:
    dist = InstalledDistribution(requested=name, name=name, version="1", import_names=(name,),
                                 native_files=("x.so",) if native else ()) if installed else None
    specs = tuple(ProbeSpec(name=f"{name}.p{i}", distributions=(name,), path="/p.py",
                            function="f", wait=0.3, concurrency=3,
                            remedies=tuple(RemedySpec(label=f"r{j}", function="r")
                                           for j in range(remedies)))
                  for i in range(probes))
    return PlannedDistribution(requirement=Requirement(name=name), dist=dist,
                               modules=(name,) if installed else (), probes=specs,
                               instrument=instrument)


ITEMS = (
    [item(f"pure{i}") for i in range(9)]
    + [item("redis", probes=1), item("psycopg2", probes=1, remedies=1, native=True),
       item("grpcio", probes=2, remedies=1, native=True), item("pycurl", probes=1, native=True),
       item("gevent", instrument=True), item("missing", installed=False)]
)


def test_the_split_is_complete_and_disjoint() -> None:
    plan = Plan(items=tuple(ITEMS))
    parts = [shard_plan(plan, Shard(k, 3)).items for k in (1, 2, 3)]
    keys = [i.key for part in parts for i in part]
    assert sorted(keys) == sorted(i.key for i in ITEMS)  # every item once
    # Each part keeps the plan's order.
    order = [i.key for i in ITEMS]
    for part in parts:
        assert [i.key for i in part] == [k for k in order if k in {i.key for i in part}]


def test_the_split_does_not_depend_on_the_order_of_the_plan() -> None:
    shuffled = list(reversed(ITEMS[::2])) + list(ITEMS[1::2])
    assert assign(ITEMS, 3) == assign(shuffled, 3)


def test_the_split_does_not_depend_on_hash_randomisation() -> None:
    """The same assignment in interpreters with different PYTHONHASHSEEDs."""
    code = ("import json, sys; sys.path.insert(0, 'tests/shard');"
            "from test_shard_split import ITEMS; from patchcheck.shard import assign;"
            "print(json.dumps(assign(ITEMS, 3), sort_keys=True))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": seed, "PATH": ""},
                           cwd=str(__import__("pathlib").Path(__file__).parents[2])).stdout
            for seed in ("0", "1", "12345")}
    assert len(outs) == 1


def test_balanced_by_expected_cost_not_by_count() -> None:
    loads = shard_loads(ITEMS, 3)
    costs = sorted((expected_cost(i) for i in ITEMS), reverse=True)
    # Greedy longest-first: no shard exceeds the ideal share by more than the largest item.
    assert max(loads) - min(loads) <= costs[0]
    assert max(loads) <= sum(costs) / 3 + costs[0]
    # The probed libraries are spread out: the two most expensive are not on one shard.
    shard_of = assign(ITEMS, 3)
    assert shard_of["grpcio"] != shard_of["psycopg2"]
    # ...and the cheap pure-Python ones fill the rest, so counts differ while costs match.
    costed = [shard_of[i.key] for i in ITEMS if expected_cost(i) > 0]
    counts = [costed.count(k) for k in (1, 2, 3)]
    assert len(set(counts)) > 1


def test_probes_remedies_and_native_code_weigh_more() -> None:
    assert expected_cost(item("a")) < expected_cost(item("a", native=True))
    assert expected_cost(item("a")) < expected_cost(item("a", probes=1))
    assert expected_cost(item("a", probes=1)) < expected_cost(item("a", probes=1, remedies=1))


def test_shared_rows_go_to_shard_one() -> None:
    shard_of = assign(ITEMS, 4)
    assert shard_of["gevent"] == 1 and shard_of["missing"] == 1
    assert expected_cost(item("gevent", instrument=True)) == 0.0


def test_one_shard_is_the_whole_plan() -> None:
    plan = Plan(items=tuple(ITEMS))
    assert shard_plan(plan, Shard(1, 1)).items == plan.items
    assert "shard 1/1" in shard_plan(plan, Shard(1, 1)).notes[-1]


def test_more_shards_than_items_leaves_some_empty() -> None:
    shard_of = assign(ITEMS[:2], 5)
    assert sorted(shard_of.values()) == [1, 2]


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", ""])
def test_bad_shard_values_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_shard(text)
    assert "--shard" in info.value.message


def test_parse_shard() -> None:
    assert parse_shard(" 2/3 ") == Shard(2, 3)
    assert str(parse_shard("3/3")) == "3/3"


def test_the_shard_module_is_pure() -> None:
    code = ("import sys, patchcheck.shard; print('subprocess' in sys.modules, "
            "any(m.startswith('patchcheck.runner') for m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.split() == ["False", "False"]
