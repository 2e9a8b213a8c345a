"""Open-loop send times: spacing, Poisson arrivals, seeds, interval lists."""

from __future__ import annotations

import math

import numpy as np
import pytest
from perfanalyzer import _core


def test_constant_rate_is_evenly_spaced_without_drift() -> None:
    t = _core.schedule_times(300_001, "constant", 3.0)
    assert t[0] == 0
    assert t[3] == 1_000_000_000  # exactly, not 3 x 333,333,333
    assert t[300_000] == 100_000 * 1_000_000_000
    gaps = np.diff(t.astype(np.int64))
    assert gaps.min() >= 333_333_333 and gaps.max() <= 333_333_334


def ks_statistic_exponential(samples: np.ndarray, rate: float) -> float:
    x = np.sort(samples)
    n = len(x)
    cdf = 1.0 - np.exp(-rate * x)
    upper = np.arange(1, n + 1) / n - cdf
    lower = cdf - np.arange(0, n) / n
    return float(max(upper.max(), lower.max()))


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_poisson_gaps_are_exponential(seed: int) -> None:
    rate = 1000.0
    gaps_s = np.diff(_core.schedule_times(100_001, "poisson", rate, seed=seed).astype(np.float64)) / 1e9
    n = len(gaps_s)
    d = ks_statistic_exponential(gaps_s, rate)
    # Kolmogorov-Smirnov at alpha = 0.001: critical value 1.95 / sqrt(n)
    assert d < 1.95 / math.sqrt(n), f"KS D = {d}"
    assert gaps_s.mean() == pytest.approx(1 / rate, rel=0.02)


def test_ks_check_rejects_a_wrong_distribution() -> None:
    # The test above can fail: evenly spaced gaps are far from exponential.
    gaps_s = np.diff(_core.schedule_times(10_001, "constant", 1000.0).astype(np.float64)) / 1e9
    assert ks_statistic_exponential(gaps_s, 1000.0) > 0.3


def test_same_seed_same_schedule_other_seed_other_schedule() -> None:
    a = _core.schedule_times(1000, "poisson", 500.0, seed=42)
    b = _core.schedule_times(1000, "poisson", 500.0, seed=42)
    c = _core.schedule_times(1000, "poisson", 500.0, seed=43)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_interval_list_is_looped() -> None:
    t = _core.schedule_times(7, intervals_ns=[1000, 3000])
    assert t.tolist() == [0, 1000, 4000, 5000, 8000, 9000, 12000]


@pytest.mark.parametrize("kwargs, message", [
    ({"distribution": "constant", "rate": 0.0}, "positive"),
    ({"distribution": "poisson", "rate": -5.0}, "positive"),
    ({"distribution": "constant", "rate": float("inf")}, "positive"),
    ({"distribution": "uniformish", "rate": 1.0}, "unknown request distribution"),
    ({"intervals_ns": []}, "empty"),
    ({"intervals_ns": [0, 0]}, "sums to zero"),
])
def test_bad_schedules(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _core.schedule_times(3, **kwargs)
