"""Sharding a plan: which distributions ``scan --shard K/N`` checks.

Pure (no I/O, no clock, no hash of Python objects): the split depends only on the plan, so the
same requirements on any machine give every shard the same distributions, whatever the
filesystem's order, ``PYTHONHASHSEED`` or the machine's speed. It balances by *expected cost*
(what a distribution's checks will wait for), not by count or by name: a probed library waits
on its probes' K×S calls for each remedy, a plain import is a small constant.

The shared rows go to shard 1: the measuring instrument (gevent, greenlet, zope.*: recorded,
not judged) and the requirements that are not installed. The controls are *not* shared: every
shard that runs probes runs them itself, because a shard can only trust its own measurements
when the hub meter was checked on the machine that measured them.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from patchcheck.errors import UsageError
from patchcheck.plan import Plan, PlannedDistribution, Shard

__all__ = ["Shard", "parse_shard", "expected_cost", "assign", "shard_loads", "shard_plan"]

#: Expected seconds of the two import children (import after and before patching).
IMPORT_COST_S = 1.0
#: Expected seconds of reading a distribution's extension modules (the native-code check).
NATIVE_COST_S = 0.5
#: Expected seconds of starting one probe child, on top of what its calls wait for.
PROBE_CHILD_COST_S = 0.5


def parse_shard(text: str, *, flag: str = "--shard") -> Shard:
    """``K/N`` with 1 <= K <= N.

    :raises UsageError: naming the flag and the value.
    """
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match:
        raise UsageError(f"{flag} {text!r}: expected K/N, e.g. 1/3",
                         hint="shards are numbered from 1: --shard 1/3, --shard 2/3, --shard 3/3")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"{flag} {text!r}: K must be between 1 and N (N >= 1)",
                         hint="shards are numbered from 1: --shard 1/3, --shard 2/3, --shard 3/3")
    return Shard(index, count)


def expected_cost(item: PlannedDistribution) -> float:
    """Seconds the checks of ``item`` are expected to take (0 for the shared rows).

    A probe is counted as if it blocked (K concurrent calls of S seconds one after another):
    the worst case is what makes a shard slow, and it is known before anything is measured.
    """
    if item.dist is None or item.instrument:
        return 0.0
    cost = IMPORT_COST_S + (NATIVE_COST_S if item.dist.native_files else 0.0)
    for probe in item.probes:
        runs = (1 + len(probe.remedies)) * (2 if probe.import_order == "both" else 1)
        cost += runs * (probe.wait * max(1, probe.concurrency) + PROBE_CHILD_COST_S)
    return cost


def assign(items: Sequence[PlannedDistribution], count: int) -> dict[str, int]:
    """Each item's shard (1-based) by key: greedy longest-first into ``count`` bins.

    The most expensive item goes first, into the bin with the least cost so far (the lowest
    numbered bin on a tie); items of equal cost go in name order. Shared rows (cost 0: the
    instrument, not installed) go to shard 1.
    """
    if count < 1:
        raise ValueError(f"shard count must be >= 1, not {count}")
    loads = [0.0] * count
    shard_of: dict[str, int] = {}
    costed = sorted(((expected_cost(item), item.key) for item in items),
                    key=lambda pair: (-pair[0], pair[1]))
    for cost, key in costed:
        if cost <= 0.0:
            shard_of[key] = 1
            continue
        target = min(range(count), key=lambda i: (loads[i], i))
        loads[target] += cost
        shard_of[key] = target + 1
    return shard_of


def shard_loads(items: Sequence[PlannedDistribution], count: int) -> list[float]:
    """The expected cost of each shard (index 0 is shard 1), for notes and tests."""
    shard_of = assign(items, count)
    loads = [0.0] * count
    for item in items:
        loads[shard_of[item.key] - 1] += expected_cost(item)
    return loads


def shard_plan(plan: Plan, shard: Shard) -> Plan:
    """The part of ``plan`` that ``shard`` checks, in the plan's order, with a note saying so."""
    shard_of = assign(plan.items, shard.count)
    items = tuple(item for item in plan.items if shard_of[item.key] == shard.index)
    loads = shard_loads(plan.items, shard.count)
    note = (f"shard {shard}: {len(items)} of {len(plan.items)} distributions "
            f"(expected {loads[shard.index - 1]:.0f} s of {sum(loads):.0f} s)")
    return replace(plan, items=items, notes=(*plan.notes, note))
