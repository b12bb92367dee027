"""The scan's probe slots (``runner/probing._Slots``): fixed slots, extra slots only while a CPU
is free, priorities, and ``alone`` — on real threads, ordered by events, never by timing."""
from __future__ import annotations

import threading

from patchcheck.runner.probing import _Slots


def _hold(slots: _Slots, priority: int, started: list[str], name: str,
          release: threading.Event, alone: bool = False) -> threading.Thread:
    def run() -> None:
        with slots.held(priority, alone=alone):
            started.append(name)
            release.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _until(predicate, timeout: float = 10.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return True
        done.wait(0.01)
    return predicate()


def test_extra_slots_only_while_a_cpu_is_free() -> None:
    free = [False]
    slots = _Slots(1, 3, cpu_free=lambda: free[0])
    release, started = threading.Event(), []
    threads = [_hold(slots, 1, started, f"t{i}", release) for i in range(4)]
    assert _until(lambda: len(started) == 1)
    assert not _until(lambda: len(started) > 1, timeout=0.3)  # the machine is full
    free[0] = True
    assert _until(lambda: len(started) == 3)  # up to the limit
    assert not _until(lambda: len(started) > 3, timeout=0.3)
    release.set()
    for t in threads:
        t.join(10)
    assert len(started) == 4 and slots.peak == 3


def test_alone_waits_for_the_running_and_holds_back_the_rest() -> None:
    slots = _Slots(2, 2, cpu_free=lambda: False)
    first, second, started = threading.Event(), threading.Event(), []
    a = _hold(slots, 1, started, "a", first)
    assert _until(lambda: started == ["a"])
    lone = _hold(slots, -1, started, "alone", second, alone=True)
    # a free slot is there, but the head of the queue wants to run alone: nobody else starts
    b = _hold(slots, 1, started, "b", second)
    assert not _until(lambda: len(started) > 1, timeout=0.3)
    first.set()
    assert _until(lambda: started[:2] == ["a", "alone"])
    assert not _until(lambda: "b" in started, timeout=0.3)  # not while alone holds
    second.set()
    for t in (a, lone, b):
        t.join(10)
    assert started == ["a", "alone", "b"]


def test_priority_then_arrival() -> None:
    slots = _Slots(1, 1, cpu_free=lambda: False)
    gate, go, started = threading.Event(), threading.Event(), []
    holder = _hold(slots, 0, started, "holder", gate)
    assert _until(lambda: started == ["holder"])
    late = [_hold(slots, 2, started, "plain-1", go)]
    assert _until(lambda: len(slots._queue) == 1)
    late.append(_hold(slots, 2, started, "plain-2", go))
    assert _until(lambda: len(slots._queue) == 2)
    late.append(_hold(slots, 0, started, "remedy", go))
    assert _until(lambda: len(slots._queue) == 3)
    go.set()
    gate.set()
    for t in (holder, *late):
        t.join(10)
    assert started == ["holder", "remedy", "plain-1", "plain-2"]


def test_the_longest_estimate_goes_first_within_a_priority() -> None:
    slots = _Slots(1, 1, cpu_free=lambda: False)
    gate, go, started = threading.Event(), threading.Event(), []
    holder = _hold(slots, 0, started, "holder", gate)
    assert _until(lambda: started == ["holder"])
    waiting = []
    for name, estimate in (("short", 0.4), ("long", 3.9), ("middle", 1.0)):
        thread = threading.Thread(target=lambda n=name, e=estimate: _estimated(slots, n, e,
                                                                                started, go),
                                  daemon=True)
        thread.start()
        waiting.append(thread)
        assert _until(lambda: len(slots._queue) == len(waiting))
    go.set()
    gate.set()
    for t in (holder, *waiting):
        t.join(10)
    assert started == ["holder", "long", "middle", "short"]


def _estimated(slots: _Slots, name: str, estimate: float, started: list[str],
               release: threading.Event) -> None:
    with slots.held(1, estimate=estimate):
        started.append(name)
        release.wait(10)
