"""The phaser-swapped window buffer, and WindowStats merge/copy/breakdown."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from perfanalyzer import _core

LATENCY = 1_234_567


def check_window(w: _core.WindowStats, latency: int = LATENCY) -> None:
    """A swapped window is self-consistent: no writer was half-way through it."""
    assert w.histogram().total == w.ok
    assert w.latency_sum_ns == w.ok * latency
    assert w.latency_sumsq_ns2 == pytest.approx(w.ok * float(latency) ** 2, rel=1e-9)
    assert w.bytes_sent == w.ok and w.bytes_received == w.ok
    assert w.error_count == 0
    if w.ok:
        assert w.latency_min_ns == w.latency_max_ns == latency


def drain_while(recorder: _core.Recorder, threads: list[threading.Thread]) -> tuple[int, int, list[int]]:
    """Swaps until the writers are done, then once more; returns (sum of ok, swaps, boundaries)."""
    total, swaps, times = 0, 0, []
    while any(t.is_alive() for t in threads):
        t_ns, w = recorder.swap()
        check_window(w)
        total += w.ok
        swaps += 1
        times.append(t_ns)
    for t in threads:
        t.join()
    t_ns, w = recorder.swap()
    check_window(w)
    times.append(t_ns)
    return total + w.ok, swaps + 1, times


@pytest.mark.parametrize("writers", [1, 2])
def test_swapping_while_recording_loses_nothing(writers):
    n = 2_000_000
    r = _core.Recorder()
    threads = [threading.Thread(target=r.record_many, args=(n, LATENCY)) for _ in range(writers)]
    for t in threads:
        t.start()
    total, _, times = drain_while(r, threads)
    assert total == writers * n
    assert times == sorted(times)  # boundaries come from the monotonic clock
    # nothing is left behind: further windows are empty
    assert r.swap()[1].ok == 0
    assert r.swap()[1].ok == 0


@pytest.mark.parametrize("writers", [1, 2])
def test_many_swaps_during_recording_lose_nothing(writers):
    """Writers keep going until the reader has seen plenty of windows with data,
    so swaps certainly happen while writers are inside record_many."""
    r = _core.Recorder()
    stop = threading.Event()
    recorded = [0] * writers

    def writer(k: int) -> None:
        while not stop.is_set():
            r.record_many(20_000, LATENCY)
            recorded[k] += 20_000

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    total, busy_windows, swaps = 0, 0, 0
    try:
        while busy_windows < 20 or swaps < 200:
            _, w = r.swap()
            check_window(w)
            total += w.ok
            busy_windows += w.ok > 0
            swaps += 1
    finally:
        stop.set()
    rest, _, _ = drain_while(r, threads)
    assert total + rest == sum(recorded)


def test_swap_of_an_idle_recorder_is_empty():
    r = _core.Recorder()
    t1, w1 = r.swap()
    t2, w2 = r.swap()
    assert w1.ok == w2.ok == 0
    assert t1 <= t2 <= _core.now_ns()
    r.record_many(10, 5_000)
    _, w = r.swap()
    assert w.ok == 10 and w.latency_sum_ns == 50_000
    assert r.swap()[1].ok == 0


def test_record_ok_sums():
    w = _core.WindowStats()
    lat = [1_000, 3_000, 8_000]
    for i, x in enumerate(lat):
        w.record_ok(100, 300, 100 + x - 200, 100 + x, sent=10 + i, received=20)
    assert w.ok == 3
    assert w.latency_sum_ns == sum(lat)
    assert w.latency_sumsq_ns2 == float(sum(x * x for x in lat))
    assert w.send_sum_ns == 3 * 200
    assert w.recv_sum_ns == 3 * 200
    assert w.bytes_sent == 33 and w.bytes_received == 60
    assert w.errors == {} and w.error_count == 0
    assert (w.latency_min_ns, w.latency_max_ns) == (1_000, 8_000)
    assert w.percentile_ns(50) == 3_000
    assert w.histogram().total == 3


@pytest.mark.parametrize(
    "times, send, recv",
    [
        ((100, 300, 900, 1100), 200, 200),     # ordinary: send 200, wait, recv 200
        ((100, 0, 0, 1100), 0, 0),             # no send_end / recv_start recorded
        ((100, 600, 400, 1100), 500, 500),     # answer began before the body was sent
        ((100, 2000, 0, 1100), 1000, 0),       # send_end after the end: clamped to the end
        ((100, 0, 700, 1100), 0, 400),         # only recv_start
        ((100, 400, 0, 1100), 300, 0),         # only send_end
    ],
)
def test_send_recv_breakdown_is_clamped(times, send, recv):
    w = _core.WindowStats()
    w.record_ok(*times)
    assert w.latency_sum_ns == times[3] - times[0]
    assert w.send_sum_ns == send
    assert w.recv_sum_ns == recv
    assert w.send_sum_ns + w.recv_sum_ns <= w.latency_sum_ns


def fill(w: _core.WindowStats, latencies) -> None:
    for x in latencies:
        w.record_ok(0, x // 4, x - x // 4, x, sent=1, received=2)


def test_merge_sums_everything():
    rng = np.random.default_rng(0)
    xs = [int(v) for v in rng.integers(1_000, 10**7, size=500)]
    ys = [int(v) for v in rng.integers(1_000, 10**8, size=300)]
    a, b, both = _core.WindowStats(), _core.WindowStats(), _core.WindowStats()
    fill(a, xs)
    fill(b, ys)
    fill(both, xs + ys)
    a.merge(b)
    assert a.ok == both.ok == 800
    assert a.latency_sum_ns == both.latency_sum_ns
    assert a.latency_sumsq_ns2 == pytest.approx(both.latency_sumsq_ns2, rel=1e-12)
    assert a.send_sum_ns == both.send_sum_ns
    assert a.recv_sum_ns == both.recv_sum_ns
    assert (a.bytes_sent, a.bytes_received) == (800, 1600)
    assert np.array_equal(a.histogram().counts(), both.histogram().counts())
    assert (a.latency_min_ns, a.latency_max_ns) == (min(xs + ys), max(xs + ys))
    for p in (50, 90, 95, 99):
        assert a.percentile_ns(p) == both.percentile_ns(p)
    assert b.ok == 300  # the source is untouched


def test_copy_is_independent():
    a = _core.WindowStats()
    fill(a, [1_000, 2_000, 3_000])
    c = a.copy()
    assert (c.ok, c.latency_sum_ns, c.send_sum_ns, c.recv_sum_ns) == (
        a.ok, a.latency_sum_ns, a.send_sum_ns, a.recv_sum_ns)
    assert np.array_equal(c.histogram().counts(), a.histogram().counts())
    c.record_ok(0, 0, 0, 50_000)
    assert a.ok == 3 and c.ok == 4
    assert a.latency_max_ns == 3_000 and c.latency_max_ns == 50_000
    a.merge(c)
    assert a.ok == 7 and c.ok == 4


def test_empty_window_stats():
    w = _core.WindowStats()
    assert (w.ok, w.error_count, w.latency_sum_ns, w.send_sum_ns, w.recv_sum_ns) == (0, 0, 0, 0, 0)
    assert w.latency_sumsq_ns2 == 0.0
    assert w.percentile_ns(99) == 0
    assert w.latency_min_ns == 0 and w.latency_max_ns == 0
    assert w.errors == {}


def test_now_ns_is_monotonic():
    a = _core.now_ns()
    b = _core.now_ns()
    assert 0 < a <= b
