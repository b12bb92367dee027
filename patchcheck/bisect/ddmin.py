"""Zeller's delta debugging (``ddmin``) over a set of changes, with a bound on the tests.

Pure: no I/O. ``test(subset)`` answers whether turning off exactly ``subset`` is enough (the
"interesting" property ddmin minimises); the answer for a subset is asked once (memoised).
Zeller & Hildebrandt, "Simplifying and Isolating Failure-Inducing Input" (TSE 2002), Fig. 4:
split the current set into n chunks; keep a chunk that is interesting on its own (n = 2), else
a complement that is (n = n - 1), else refine (n = 2n) until the chunks are single items.
The result is 1-minimal: removing any one item makes it uninteresting.

Cost: at most ``len(items)**2 + 3 * len(items)`` distinct tests in the worst case, about
``2 * log2(len(items)) + 2`` when one item is responsible; ``max_tests`` caps it, and a
capped run returns the smallest interesting set found so far with ``exhausted=True``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

__all__ = ["DDResult", "ddmin", "worst_case_tests"]


@dataclass(frozen=True)
class DDResult(Generic[T]):
    """What ddmin found: ``minimal`` is None when not even the whole set is interesting."""

    minimal: tuple[T, ...] | None
    tests: int  # distinct subsets tested (each one a child process for the caller)
    exhausted: bool  # stopped by max_tests; ``minimal`` is interesting but maybe not 1-minimal


class _Exhausted(Exception):
    pass


def worst_case_tests(n: int) -> int:
    """An upper bound on the distinct tests ddmin asks for ``n`` items (including the whole)."""
    return n * n + 3 * n + 1


def _split(items: Sequence[T], n: int) -> list[tuple[T, ...]]:
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(tuple(items[start:end]))
        start = end
    return [c for c in out if c]


MapFn = Callable[[Callable[[tuple[T, ...]], bool], list[tuple[T, ...]]], Iterable[bool]]


def ddmin(items: Sequence[T], test: Callable[[tuple[T, ...]], bool], *,
          max_tests: int, parallel: int = 1, map_fn: MapFn[T] | None = None) -> DDResult[T]:
    """A 1-minimal subset of ``items`` for which ``test`` is true (order of ``items`` kept).

    ``test(tuple(items))`` is asked first; if it is false there is nothing to minimise. The
    empty subset is never asked (by definition it is the uninteresting starting point).
    With ``parallel`` > 1, the chunks (then the complements) of one round are tested
    ``parallel`` at a time through ``map_fn`` (an executor's ``map``): the answer is the same
    as sequential ddmin's, at the price of up to ``parallel - 1`` extra tests per round.
    """
    seen: dict[frozenset[T], bool] = {}
    mapper: MapFn[T] = map_fn or (lambda fn, xs: [fn(x) for x in xs])
    step = max(1, parallel)

    def first_interesting(candidates: list[tuple[T, ...]]) -> tuple[T, ...] | None:
        for start in range(0, len(candidates), step):
            batch = candidates[start:start + step]
            todo = list({frozenset(c): c for c in batch if frozenset(c) not in seen}.values())
            todo = todo[:max(0, max_tests - len(seen))]
            for subset, answer in zip(todo, mapper(test, todo)):
                seen[frozenset(subset)] = bool(answer)
            for subset in batch:  # in order: the first interesting one wins, as sequentially
                key = frozenset(subset)
                if key not in seen:
                    raise _Exhausted
                if seen[key]:
                    return subset
        return None

    current = tuple(items)
    try:
        if not current or first_interesting([current]) is None:
            return DDResult(None, len(seen), False)
        n = 2
        while len(current) >= 2:
            chunks = _split(current, min(n, len(current)))
            found = first_interesting(chunks)
            if found is not None:
                current, n = found, 2
                continue
            if len(chunks) > 2:  # with two chunks the complements are the chunks
                found = first_interesting(
                    [tuple(x for x in current if x not in chunk) for chunk in chunks])
                if found is not None:
                    current, n = found, max(n - 1, 2)
                    continue
            if n >= len(current):
                break
            n = min(len(current), 2 * n)
    except _Exhausted:
        return DDResult(current, len(seen), True)
    return DDResult(current, len(seen), False)
