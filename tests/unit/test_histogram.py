"""The compiled log-linear histogram against exact numpy nearest-rank figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from perfanalyzer import _core

Histogram = _core.Histogram
SUB = 1024                       # sub-buckets per octave
EXACT_BELOW = 2 * SUB            # one bucket per value below 2048 ns
MAX_NS = 1 << 40                 # values >= 2^40 ns are clamped into the last bucket
N = 1_000_000
PERCENTS = (0, 0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100)
REL = 1e-3                       # < 0.1 % relative error


def nearest_rank(sorted_values: np.ndarray, p: float) -> int:
    """perf_analyzer's pXX: index = floor(p/100 * (n - 1) + 0.5) over sorted values."""
    return int(sorted_values[math.floor(p / 100.0 * (len(sorted_values) - 1) + 0.5)])


def filled(values: np.ndarray) -> Histogram:
    h = Histogram()
    h.record_array(values)
    return h


def check_against_numpy(values: np.ndarray, percents=PERCENTS) -> Histogram:
    values = np.asarray(values, dtype=np.uint64)
    h = filled(values)
    exact = np.sort(values)
    assert h.total == len(values)
    assert h.min == int(exact[0])
    assert h.max == int(exact[-1])
    assert int(h.counts().sum()) == len(values)
    for p in percents:
        want = nearest_rank(exact, p)
        got = h.percentile(p)
        if want < EXACT_BELOW:
            assert got == want, f"p{p}: {got} != exact {want}"
        else:
            assert abs(got - want) <= want * REL, f"p{p}: {got} vs exact {want}"
    return h


def rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_uniform():
    check_against_numpy(rng(1).integers(10_000, 50_000_000, size=N))


def test_lognormal():
    # around 1 ms with a long tail
    check_against_numpy(rng(2).lognormal(mean=math.log(1e6), sigma=1.0, size=N).astype(np.uint64))


def test_exponential():
    check_against_numpy((rng(3).exponential(scale=2e5, size=N) + 3_000).astype(np.uint64))


def test_bimodal():
    r = rng(4)
    fast = r.normal(200_000, 5_000, size=N // 2)
    slow = r.normal(40_000_000, 2_000_000, size=N - N // 2)
    values = np.clip(np.concatenate([fast, slow]), 1, None).astype(np.uint64)
    r.shuffle(values)
    h = check_against_numpy(values)
    # the median sits on the edge between the modes; both sides must come out right
    exact = np.sort(values)
    assert abs(h.value_at_rank(N // 2 - 1) - int(exact[N // 2 - 1])) <= int(exact[N // 2 - 1]) * REL
    assert abs(h.value_at_rank(N // 2) - int(exact[N // 2])) <= int(exact[N // 2]) * REL


@pytest.mark.parametrize("value", [0, 1, 2047, 2048, 123_456_789, MAX_NS - 1])
def test_constant(value):
    h = check_against_numpy(np.full(N, value, dtype=np.uint64))
    for p in PERCENTS:
        assert h.percentile(p) == value  # clamped to the exact [min, max]


def test_values_below_2048_are_exact():
    values = rng(5).integers(0, EXACT_BELOW, size=N)
    h = check_against_numpy(values)
    exact = np.sort(values)
    for rank in list(range(0, N, 9973)) + [N - 1]:
        assert h.value_at_rank(rank) == int(exact[rank])
    # one bucket per value: the counts below 2048 are numpy's bincount
    bincount = np.bincount(values, minlength=EXACT_BELOW).astype(np.uint64)
    assert np.array_equal(h.counts()[:EXACT_BELOW], bincount)


def test_value_at_rank_matches_sorted_order():
    values = rng(6).lognormal(mean=math.log(5e5), sigma=0.7, size=N).astype(np.uint64)
    h = filled(values)
    exact = np.sort(values)
    for rank in list(range(0, N, 4999)) + [1, N - 2, N - 1]:
        want = int(exact[rank])
        assert abs(h.value_at_rank(rank) - want) <= want * REL
    assert h.value_at_rank(0) == int(exact[0])
    assert h.value_at_rank(N - 1) == int(exact[-1])
    assert h.value_at_rank(10 * N) == int(exact[-1])  # past the end: the maximum


def test_values_near_the_clamp():
    # just below 2^40: still within 0.1 %
    values = rng(7).integers(MAX_NS - (1 << 36), MAX_NS, size=N)
    check_against_numpy(values)


def test_values_over_the_clamp_keep_the_exact_max():
    r = rng(8)
    below = r.integers(MAX_NS // 2, MAX_NS, size=N // 2, dtype=np.uint64)
    over = r.integers(MAX_NS, MAX_NS * 8, size=N // 2, dtype=np.uint64)
    values = np.concatenate([below, over, np.array([2**64 - 1], dtype=np.uint64)])
    assert values.dtype == np.uint64
    h = filled(values)
    exact = np.sort(values)
    assert h.total == len(values)
    assert h.max == 2**64 - 1
    assert h.percentile(100) == 2**64 - 1
    assert h.min == int(exact[0])
    counts = h.counts()
    last = _core.HIST_BUCKETS - 1
    lo_last, _ = Histogram.bucket_range(last)
    # every clamped value is in the last bucket, with those of its own range
    assert int(counts[last]) == len(over) + 1 + int(np.count_nonzero(below >= lo_last))
    for p in PERCENTS[:-1]:
        want = nearest_rank(exact, p)
        got = h.percentile(p)
        if want < lo_last:
            assert abs(got - want) <= want * REL
        else:  # clamped: reported inside the last bucket, never above the max
            assert lo_last <= got <= h.max


def test_record_with_count_equals_repeated_records():
    a, b = Histogram(), Histogram()
    for v, n in [(5, 3), (4_000, 7), (9_999_999, 2), (MAX_NS + 5, 4)]:
        a.record(v, n)
        for _ in range(n):
            b.record(v)
    assert np.array_equal(a.counts(), b.counts())
    assert (a.total, a.min, a.max) == (b.total, b.min, b.max) == (16, 5, MAX_NS + 5)


def test_bucket_range_and_index_round_trip_over_the_whole_range():
    n = _core.HIST_BUCKETS
    assert n == 2 * SUB + (40 - 10 - 1) * SUB
    los = np.empty(n, dtype=np.uint64)
    his = np.empty(n, dtype=np.uint64)
    for i in range(n):
        lo, hi = Histogram.bucket_range(i)
        assert lo < hi
        assert Histogram.bucket_index(lo) == i
        assert Histogram.bucket_index(hi - 1) == i
        if i + 1 < n:
            assert Histogram.bucket_index(hi) == i + 1
        los[i], his[i] = lo, hi
    # contiguous from 0 to 2^40, no gap and no overlap
    assert los[0] == 0 and his[-1] == MAX_NS
    assert np.array_equal(his[:-1], los[1:])
    # exact below 2048, then width <= lo / 1024 everywhere
    width = his - los
    assert np.all(width[:EXACT_BELOW] == 1)
    assert np.all(width[EXACT_BELOW:] * SUB <= los[EXACT_BELOW:])
    assert np.all(width[SUB:] * SUB <= los[SUB:])


@pytest.mark.parametrize("value", [MAX_NS, MAX_NS + 1, 3 * MAX_NS, 2**63, 2**64 - 1])
def test_values_over_the_range_go_to_the_last_bucket(value):
    assert Histogram.bucket_index(value) == _core.HIST_BUCKETS - 1


def test_bucket_index_is_monotonic_on_random_values():
    values = np.sort(rng(9).integers(0, MAX_NS, size=20_000))
    idx = [Histogram.bucket_index(int(v)) for v in values]
    assert idx == sorted(idx)
    for v, i in zip(values, idx, strict=True):
        lo, hi = Histogram.bucket_range(i)
        assert lo <= int(v) < hi


def test_merge_equals_recording_everything_into_one():
    r = rng(10)
    x = r.lognormal(math.log(2e5), 0.5, size=N // 2).astype(np.uint64)
    y = np.concatenate([r.integers(0, 3_000, size=N // 4), r.integers(10**9, 10**10, size=N // 4)])
    y = y.astype(np.uint64)
    a, b, both = filled(x), filled(y), filled(np.concatenate([x, y]))
    a.merge(b)
    assert np.array_equal(a.counts(), both.counts())
    assert (a.total, a.min, a.max) == (both.total, both.min, both.max)
    assert (a.min, a.max) == (int(min(x.min(), y.min())), int(max(x.max(), y.max())))
    for p in PERCENTS:
        assert a.percentile(p) == both.percentile(p)
    # the source is left as it was
    assert b.total == len(y)
    assert np.array_equal(b.counts(), filled(y).counts())


def test_merge_with_empty_histograms():
    x = rng(11).integers(5_000, 6_000, size=1000)
    a = filled(x)
    before = a.counts()
    a.merge(Histogram())
    assert np.array_equal(a.counts(), before)
    assert (a.total, a.min, a.max) == (1000, int(x.min()), int(x.max()))
    e = Histogram()
    e.merge(a)
    assert np.array_equal(e.counts(), before)
    assert (e.total, e.min, e.max) == (1000, int(x.min()), int(x.max()))


def test_empty_histogram():
    h = Histogram()
    assert h.total == 0
    assert h.min == 0
    assert h.max == 0
    assert h.percentile(50) == 0
    assert h.percentile(100) == 0
    assert h.value_at_rank(0) == 0
    counts = h.counts()
    assert counts.dtype == np.uint64 and len(counts) == _core.HIST_BUCKETS
    assert not counts.any()


def test_single_value():
    h = Histogram()
    h.record(777_777)
    for p in PERCENTS:
        assert h.percentile(p) == 777_777
    assert (h.total, h.min, h.max) == (1, 777_777, 777_777)


def test_counts_is_a_copy():
    h = filled(np.array([10, 20, 30], dtype=np.uint64))
    c = h.counts()
    c[:] = 0
    assert int(h.counts().sum()) == 3
