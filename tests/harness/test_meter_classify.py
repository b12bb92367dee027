"""The meter's pure parts: classification thresholds, gap arithmetic, the probe decorator."""
from __future__ import annotations

import pytest

from patchcheck.harness import patchcheck_probe as api
from patchcheck.harness import pc_meter
from patchcheck.model import Measurement


def test_blocks_threshold_is_halfway_between_1_and_k():
    assert pc_meter.blocks_threshold(3) == 2.0
    assert pc_meter.blocks_threshold(4) == 2.5


@pytest.mark.parametrize(
    "k, per_call, elapsed, gap, cpu, expected",
    [
        (3, 0.30, 0.31, 0.004, 0.01, "cooperates"),  # overlapping calls
        (3, 0.30, 0.90, 0.90, 0.02, "blocks"),  # one after the other, hub stalled
        (3, 0.30, 0.90, 0.90, 0.85, "cpu-bound"),  # stalled while burning CPU
        (3, 0.30, 0.90, 0.006, 0.02, "cooperates"),  # serialised by a cooperative lock
        (3, 0.30, 0.45, 0.40, 0.02, "cooperates"),  # a descheduled process, calls overlapped
        (1, 0.30, 0.30, 0.30, 0.01, "blocks"),  # K=1: the gap decides
        (1, 0.30, 0.30, 0.005, 0.01, "cooperates"),
        (3, 0.01, 0.03, 0.02, 0.0, "cooperates"),  # tiny calls: gaps under 25 ms never block
    ],
)
def test_classify(k, per_call, elapsed, gap, cpu, expected):
    assert pc_meter.classify(concurrency=k, per_call_s=per_call, elapsed_s=elapsed,
                             max_gap_s=gap, cpu_s=cpu) == expected


def test_result_dict_is_measurement_shape():
    d = pc_meter.result_dict("blocks", wait_s=0.3, concurrency=3, elapsed_s=0.9, ratio=3.0,
                             max_gap_s=0.9, cpu_s=0.01, stack=["x"], remedy="r")
    assert Measurement.from_json(d).to_json() == d


def test_heartbeat_gap_is_clipped_to_the_window():
    hb = pc_meter._Heartbeat()
    hb.beats = [0.0, 0.002, 0.004, 0.5, 0.502]
    assert hb.max_gap(0.003, 0.503) == pytest.approx(0.496)
    assert hb.max_gap(0.1, 0.2) == pytest.approx(0.1)  # no beat inside: the whole window


def test_trim_frames_starts_at_the_probe_call():
    frames = ['  File "/x/pc_meter.py", line 1, in worker\n    call()\n',
              '  File "/lib/mylib.py", line 9, in get\n    sock.recv(1)\n']
    assert pc_meter._trim_frames(frames) == frames[1:]


def test_probe_decorator_records_metadata_only():
    def _fix():
        pass

    @api.probe(distributions=["my-lib"], services=["slow_tcp"], wait=0.2,
               remedies={"my fix": _fix})
    def my_lib_get(ctx):
        """Gets a key."""
        raise AssertionError("never called by the decorator")

    info = getattr(my_lib_get, api.PROBE_ATTR)
    assert info.name == "my-lib.get"
    assert info.distributions == ("my-lib",)
    assert info.services == ("slow_tcp",)
    assert info.wait == 0.2 and info.concurrency == 3
    assert info.remedies == (("my fix", _fix),)
    assert info.description == "Gets a key."


@pytest.mark.parametrize("kwargs", [
    {"distributions": []},
    {"distributions": ["x"], "wait": 0},
    {"distributions": ["x"], "concurrency": 0},
    {"distributions": ["x"], "import_order": "sideways"},
    {"distributions": ["x"], "remedies": {"r": "not callable"}},
])
def test_probe_decorator_rejects_bad_metadata(kwargs):
    with pytest.raises(ValueError):
        api.probe(**kwargs)


def test_context_service_and_unique(tmp_path):
    ctx = api.Context({"slow_tcp": {"host": "127.0.0.1", "port": 5, "url": None,
                                    "framing": "chunk"}}, 0.3, str(tmp_path), index=1)
    svc = ctx.service("slow_tcp")
    assert (svc.host, svc.port, svc.framing, svc.name) == ("127.0.0.1", 5, "chunk", "slow_tcp")
    with pytest.raises(AttributeError, match="has no field 'user'"):
        svc.user  # noqa: B018
    with pytest.raises(LookupError, match="not started"):
        ctx.service("redis")
    assert ctx.unique("k") != ctx.unique("k")


@pytest.mark.parametrize("k, s, idle, call", [
    (3, 0.3, 3.6, 3.6),  # the example scan's probes: 4×K×S (2×K×S misjudged a slow ssh exec)
    (2, 0.1, 2.0, 2.0),  # at least 2 s
    (1, 0.3, 2.0, 2.0),
])
def test_a_hang_with_the_hub_running_has_the_call_bound(k, s, idle, call):
    assert pc_meter.idle_hang_bound(k, s) == pytest.approx(idle)
    assert pc_meter.hang_bounds(k, s)[1] == pytest.approx(call)


def test_the_sooner_bound_is_never_later_than_the_call_bound():
    for k in (1, 2, 3, 5, 8):
        for s in (0.01, 0.1, 0.3, 1.0, 5.0):
            assert pc_meter.idle_hang_bound(k, s) <= pc_meter.hang_bounds(k, s)[1]
            assert pc_meter.idle_hang_bound(k, s) >= k * s  # K calls of S each, in turn


def test_the_hub_ran_since_means_no_beat_gap_that_long():
    import time

    beat = pc_meter._Heartbeat()
    now = time.perf_counter()
    beat.beats = [now - 1.0 + i * 0.01 for i in range(101)]  # every 10 ms up to now
    assert beat.ran_since(now - 0.5, stall=0.1)
    beat.beats = [b for b in beat.beats if not now - 0.6 < b < now - 0.3]  # a 300 ms stall
    assert not beat.ran_since(now - 0.8, stall=0.1)
    assert beat.ran_since(now - 0.25, stall=0.1)  # the window after the stall


def _beats(beats, queued):
    heartbeat = pc_meter._Heartbeat()
    heartbeat.beats[:] = beats
    heartbeat.queued[:] = queued
    return heartbeat


def test_a_gap_spent_waiting_for_a_cpu_is_not_a_stall():
    # 300 ms without a beat, 290 ms of it in the run queue: the hub had a CPU for 10 ms
    starved = _beats([0.0, 0.002, 0.302, 0.304], [0.0, 0.0, 0.29, 0.29])
    assert starved.max_gap(0.0, 0.304) == pytest.approx(0.300)
    assert starved.max_gap_unstarved(0.0, 0.304) == pytest.approx(0.010)
    # the same gap with the hub thread never queued: a stall of its own
    blocked = _beats([0.0, 0.002, 0.302, 0.304], [0.0, 0.0, 0.001, 0.001])
    assert blocked.max_gap_unstarved(0.0, 0.304) == pytest.approx(0.299)


def test_the_unstarved_gap_clips_to_the_window_and_counts_an_open_tail_whole():
    heartbeat = _beats([0.0, 0.1, 0.2], [0.0, 0.0, 0.09])
    # [0.15, 0.2] of the 0.1..0.2 gap: 50 ms, less at most what it measures (its 90 ms wait)
    assert heartbeat.max_gap_unstarved(0.15, 0.2) == pytest.approx(0.0)
    # no beat after 0.2 yet: the tail to 0.5 is not known to be waiting, so it counts
    assert heartbeat.max_gap_unstarved(0.15, 0.5) == pytest.approx(0.3)


def test_without_schedstat_the_unstarved_gap_is_the_gap():
    heartbeat = _beats([0.0, 0.3], [])
    assert heartbeat.max_gap_unstarved(0.0, 0.3) == heartbeat.max_gap(0.0, 0.3)
