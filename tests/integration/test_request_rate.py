"""Open-loop load against the real server: achieved rates, interval files and
coordinated omission. Rates are asserted loosely (the machine is shared);
bench/ records the exact figures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from perfanalyzer.runner import profile
from perfanalyzer.settings import RateRange, Settings

from .helpers import cli


def rate_settings(triton, **kw) -> Settings:
    base = dict(url=triton.http_url, model_name="identity", measurement_interval_ms=1000, max_trials=20,
                stability_percentage=100.0, load_modes=("request_rate",))
    base.update(kw)
    return Settings(**base).validate()


@pytest.mark.parametrize("rate", [200.0, 1000.0])
def test_achieved_rate_matches_target(triton, rate: float) -> None:
    # 2 s windows: a server stall of a tenth of a second (a busy shared
    # machine) moves a window's completions by 5 %, not 10 %.
    result = profile(rate_settings(triton, request_rate_range=RateRange(rate, rate, 1.0),
                                   measurement_interval_ms=2000))
    assert result.exit_code == 0, result.sweep.message
    m = result.sweep.levels[0].merged
    assert m.throughput == pytest.approx(rate, rel=0.05)
    assert m.client.scheduled_count == m.request_count


def test_poisson_rate_with_seed(triton) -> None:
    result = profile(rate_settings(triton, request_rate_range=RateRange(500.0, 500.0, 1.0),
                                   request_distribution="poisson", seed=11, measurement_interval_ms=2000))
    assert result.exit_code == 0, result.sweep.message
    # Poisson arrivals over ~6 s at 500/s: a count within 10 % of the mean.
    assert result.sweep.levels[0].merged.throughput == pytest.approx(500.0, rel=0.1)


def test_intervals_file_sets_the_rate(triton, tmp_path: Path) -> None:
    intervals = tmp_path / "intervals.txt"
    intervals.write_text("1000\n3000\n")  # 2 requests per 4 ms = 500/s
    out = tmp_path / "rate.csv"
    run = cli("-m", "identity", "-u", triton.http_url, "--request-intervals", str(intervals), "-p", "1000",
              "-s", "100", "-r", "20", "-f", str(out))
    assert run.code == 0, run.stderr
    assert "Request Rate: 500 inference requests per seconds" in run.stdout
    assert "Response latency from schedule:" in run.stdout and "Schedule lag:" in run.stdout
    rows = list(csv.reader(out.open()))
    assert rows[0][0] == "Request Rate" and rows[1][0] == "500"
    assert float(rows[1][1]) == pytest.approx(500, rel=0.05)


def test_coordinated_omission_is_corrected(triton) -> None:
    # sleep_2ms serves ~400/s with one instance. Offered 600/s with one request
    # in flight at most: the client must send late. Service latency stays near
    # the service time; latency from the scheduled time grows with the backlog.
    result = profile(rate_settings(triton, model_name="sleep_2ms", request_rate_range=RateRange(600.0, 600.0, 1.0),
                                   max_inflight=1))
    level = result.sweep.levels[0] if result.sweep.levels else result.sweep.unstable
    c = level.merged.client
    assert c.postponed > 0 and c.delayed > 0
    service_p50 = c.percentile_ns(50)
    corrected_p50 = c.response_percentile_ns(50)
    assert service_p50 < 20_000_000
    assert corrected_p50 > 10 * service_p50
    assert c.lag_percentile_ns(50) > 0
