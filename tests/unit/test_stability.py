"""The stability rule, the merge of windows, and the sweep over a fake engine."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from perfanalyzer import _core, outcome
from perfanalyzer.errors import GENERIC_ERROR, STABILITY_ERROR, SUCCESS
from perfanalyzer.profiler import Engine, LevelResult, Measurement, Profiler, is_stable, merge
from perfanalyzer.report.figures import figures
from perfanalyzer.server_stats import ServerStats
from perfanalyzer.settings import Range, Settings

MS = 1_000_000
SECOND = 1_000_000_000

# ---------------------------------------------------------------- is_stable


def test_fewer_than_three_windows_is_never_stable():
    assert not is_stable([], [], 0.1)
    assert not is_stable([100.0], [1.0], 0.1)
    assert not is_stable([100.0, 100.0], [1.0, 1.0], 0.1)
    assert is_stable([100.0] * 3, [1.0] * 3, 0.1)


@pytest.mark.parametrize("where", [0, 1, 2])
def test_a_zero_throughput_window_is_not_stable(where):
    tput = [100.0, 100.0, 100.0]
    tput[where] = 0.0
    assert not is_stable(tput, [5.0] * 3, 0.1)
    assert not is_stable([0.0, 0.0, 0.0], [5.0] * 3, 0.1)


def test_boundary_is_inclusive():
    # max/min == 1 + s exactly is stable; just over is not
    assert is_stable([100.0, 125.0, 110.0], [1.0, 1.0, 1.0], 0.25)
    assert not is_stable([100.0, 125.001, 110.0], [1.0, 1.0, 1.0], 0.25)
    assert is_stable([100.0, 100.0, 100.0], [4.0, 5.0, 4.5], 0.25)
    assert not is_stable([100.0, 100.0, 100.0], [4.0, 5.0001, 4.5], 0.25)
    # the CLI passes -s 10 as 10 / 100
    assert is_stable([100.0, 110.0, 105.0], [1.0, 1.0, 1.0], 10 / 100.0)
    assert not is_stable([100.0, 110.02, 105.0], [1.0, 1.0, 1.0], 10 / 100.0)


def test_latency_and_throughput_are_judged_separately():
    flat = [100.0, 100.0, 100.0]
    spread = [100.0, 120.0, 100.0]
    assert not is_stable(flat, spread, 0.1)      # latency spread only
    assert not is_stable(spread, flat, 0.1)      # throughput spread only
    assert is_stable(flat, flat, 0.1)
    assert is_stable(spread, spread, 0.2)
    # the spread is max/min, not relative to the mean or the first window
    assert not is_stable([90.0, 100.0, 109.0], flat, 0.1)


def test_only_the_last_three_windows_count():
    assert is_stable([1.0, 1000.0, 100.0, 100.0, 100.0], [9.0, 1.0, 5.0, 5.0, 5.0], 0.1)
    assert not is_stable([100.0, 100.0, 100.0, 1000.0], [5.0] * 4, 0.1)
    assert not is_stable([100.0] * 4, [5.0, 5.0, 5.0, 50.0], 0.1)
    assert is_stable([0.0, 100.0, 100.0, 100.0], [5.0] * 4, 0.1)


# ---------------------------------------------------------------- Measurement and merge


def stats(latencies_ns, send_ns: int = 0, recv_ns: int = 0) -> _core.WindowStats:
    w = _core.WindowStats()
    for x in latencies_ns:
        x = int(x)
        w.record_ok(0, send_ns, x - recv_ns, x)
    return w


def test_measurement_figures():
    m = Measurement(2 * SECOND, stats([1 * MS, 3 * MS] * 50, send_ns=100_000, recv_ns=200_000), None, 4)
    assert m.request_count == 100
    assert m.throughput == pytest.approx(100 * 4 / 2.0)
    assert m.avg_latency_ns == 2 * MS
    assert m.avg_send_ns == 100_000
    assert m.avg_recv_ns == 200_000
    assert m.stabilizing_latency_ns(-1) == 2 * MS
    # nearest rank over 100 sorted values: p50 -> index floor(49.5 + 0.5) = 50 -> 3 ms
    assert m.stabilizing_latency_ns(50) == pytest.approx(3 * MS, rel=1e-3)
    assert m.percentile_ns(10) == pytest.approx(1 * MS, rel=1e-3)


def test_measurement_of_an_empty_or_zero_length_window():
    empty = Measurement(SECOND, stats([]), None, 1)
    assert empty.throughput == 0.0
    assert empty.avg_latency_ns == 0.0 and empty.std_latency_ns == 0.0
    assert empty.avg_send_ns == 0.0 and empty.avg_recv_ns == 0.0
    assert Measurement(0, stats([MS]), None, 1).throughput == 0.0


def test_std_dev_is_the_sample_standard_deviation():
    assert Measurement(SECOND, stats([1000, 3000]), None, 1).std_latency_ns == pytest.approx(math.sqrt(2e6))
    assert Measurement(SECOND, stats([5000]), None, 1).std_latency_ns == 0.0
    assert Measurement(SECOND, stats([7000] * 10), None, 1).std_latency_ns == pytest.approx(0.0, abs=1e-3)
    rng = np.random.default_rng(3)
    for lat in (rng.lognormal(math.log(2e6), 0.3, size=5000), rng.normal(5e5, 2e4, size=777)):
        lat = lat.astype(np.int64)
        m = Measurement(SECOND, stats(lat), None, 1)
        assert m.std_latency_ns == pytest.approx(float(np.std(lat, ddof=1)), rel=1e-6)
        assert m.std_latency_ns != pytest.approx(float(np.std(lat, ddof=0)), rel=1e-6)
        assert m.avg_latency_ns == pytest.approx(float(lat.mean()), rel=1e-12)


def server(n: int, scale: int = 1) -> ServerStats:
    return ServerStats(inference_count=n, execution_count=n, success_count=n, success_ns=n * 900 * scale,
                       queue_count=n, queue_ns=n * 100, compute_input_count=n, compute_input_ns=n * 50,
                       compute_infer_count=n, compute_infer_ns=n * 500, compute_output_count=n,
                       compute_output_ns=n * 50)


def test_merge_sums_counts_and_durations():
    windows = [
        Measurement(1 * SECOND, stats([1 * MS] * 100), server(100), 2),
        Measurement(2 * SECOND, stats([2 * MS] * 150), server(150), 2),
        Measurement(1 * SECOND, stats([4 * MS] * 200), server(200), 2),
    ]
    m = merge(windows)
    assert m.duration_ns == 4 * SECOND
    assert m.request_count == 450
    assert m.batch_size == 2
    assert m.throughput == pytest.approx(450 * 2 / 4.0)
    assert m.avg_latency_ns == pytest.approx((100 * 1 + 150 * 2 + 200 * 4) * MS / 450)
    assert m.client.histogram().total == 450
    assert m.client.latency_max_ns == 4 * MS and m.client.latency_min_ns == 1 * MS
    assert m.server == server(450)
    # the inputs are untouched
    assert [w.request_count for w in windows] == [100, 150, 200]
    # throughput of the merge is total work over total time, not the mean of the windows'
    assert [w.throughput for w in windows] == pytest.approx([200.0, 150.0, 400.0])
    assert m.throughput == pytest.approx(225.0)


def test_merge_without_server_stats():
    m = merge([Measurement(SECOND, stats([MS]), None, 1), Measurement(SECOND, stats([MS]), None, 1)])
    assert m.server is None and m.request_count == 2


# ---------------------------------------------------------------- the sweep over a fake engine


class ErrorStats(_core.WindowStats):
    """A window with failed requests (WindowStats cannot record errors from Python)."""

    def __init__(self, ok_latencies, errors: dict[str, int]) -> None:
        for x in ok_latencies:
            self.record_ok(0, 0, x, x)
        self._errors = errors

    @property
    def errors(self) -> dict[str, int]:
        return dict(self._errors)

    @property
    def error_count(self) -> int:
        return sum(self._errors.values())


@dataclass
class Window:
    ok: int
    latency_ns: int
    duration_ns: int = SECOND
    errors: dict[str, int] | None = None
    latencies: list[int] | None = None   # overrides ok x latency_ns


class FakeEngine:
    """Implements the Engine protocol: each window is scripted by (concurrency, index)."""

    def __init__(self, script: Callable[[int, int], Window], messages: list[str] | None = None) -> None:
        self.script = script
        self.messages = messages or []
        self.now = 10 * SECOND   # the fake clock: advanced by each window's duration
        self.concurrency = 0
        self.index = -1
        self._completed = 0
        self.failed = 0
        self.levels: list[int] = []
        self.windows: dict[int, int] = {}

    @property
    def completed(self) -> int:
        # every read says plenty more completed, so a count window closes at once
        self._completed += 1_000_000
        return self._completed

    def set_concurrency(self, n: int) -> None:
        self.concurrency = n
        self.index = -1
        self.levels.append(n)

    def swap(self) -> tuple[int, _core.WindowStats]:
        if self.index < 0:  # the boundary that starts a level; what it returns is discarded
            self.index = 0
            self.now += 12_345
            return self.now, stats([999 * MS] * 3)
        w = self.script(self.concurrency, self.index)
        self.index += 1
        self.windows[self.concurrency] = self.index
        self.now += w.duration_ns
        latencies = w.latencies if w.latencies is not None else [w.latency_ns] * w.ok
        if w.errors:
            self.failed += sum(w.errors.values())
            return self.now, ErrorStats(latencies, w.errors)
        return self.now, stats(latencies)

    def error_messages(self) -> list[str]:
        return list(self.messages)


def make_settings(**kw) -> Settings:
    base = dict(model_name="m", measurement_mode="count_windows", measurement_request_count=50)
    base.update(kw)
    return Settings(**base).validate()


def sweep(settings: Settings, engine: FakeEngine, server_stats=lambda: None):
    logged: list[str] = []
    reported: list[LevelResult] = []
    prof = Profiler(settings, engine, server_stats, log=logged.append, clock_ns=lambda: engine.now)
    result = prof.sweep(reported.append)
    return result, reported, logged


def finish(settings: Settings, result, reported: list[LevelResult], capsys) -> tuple[int, str, str]:
    printed = [figures(level, settings.percentile) for level in reported]
    out: list[str] = []
    code = outcome.finish(settings, result, printed, out.append)
    return code, "".join(out), capsys.readouterr().err


def test_fake_engine_implements_the_protocol():
    e: Engine = FakeEngine(lambda c, k: Window(1, MS))
    assert callable(e.set_concurrency) and callable(e.swap) and callable(e.error_messages)
    assert isinstance(e.failed, int) and isinstance(e.completed, int)


def test_stable_after_exactly_three_equal_windows(capsys):
    engine = FakeEngine(lambda c, k: Window(ok=100, latency_ns=2 * MS))
    s = make_settings(batch_size=4)
    result, reported, logged = sweep(s, engine)
    assert result.status == "ok" and result.message == ""
    assert [lv.value for lv in result.levels] == [1]
    level = result.levels[0]
    assert level.stable and level.windows == 3
    assert engine.windows == {1: 3}
    m = level.merged
    assert m.request_count == 300
    assert m.duration_ns == 3 * SECOND
    assert m.throughput == pytest.approx(300 * 4 / 3.0)
    assert m.avg_latency_ns == 2 * MS
    assert reported == result.levels
    assert logged == []  # not verbose
    code, out, err = finish(s, result, reported, capsys)
    assert code == SUCCESS
    assert err == ""
    assert "Concurrency: 1, throughput: 400 infer/sec, latency 2000 usec" in out


def test_only_the_stable_tail_is_merged():
    # the first two windows are slow (warm-up); windows 3..5 agree
    def script(c, k):
        return Window(ok=40, latency_ns=9 * MS) if k < 2 else Window(ok=100, latency_ns=2 * MS)

    result, _, _ = sweep(make_settings(), FakeEngine(script))
    level = result.levels[0]
    assert level.stable and level.windows == 5
    assert level.merged.request_count == 300
    assert level.merged.avg_latency_ns == 2 * MS
    assert level.merged.duration_ns == 3 * SECOND


def test_window_durations_come_from_the_engine_boundaries():
    result, _, _ = sweep(make_settings(), FakeEngine(lambda c, k: Window(100, MS, duration_ns=SECOND // 2)))
    m = result.levels[0].merged
    assert m.duration_ns == 3 * SECOND // 2
    assert m.throughput == pytest.approx(200.0)


def test_time_windows_mode_with_a_fake_clock():
    engine = FakeEngine(lambda c, k: Window(ok=500, latency_ns=MS, duration_ns=5 * SECOND))
    s = make_settings(measurement_mode="time_windows", measurement_interval_ms=5000)
    # the clock reads at or past each window's deadline: no real waiting
    prof = Profiler(s, engine, lambda: None, log=lambda _: None, clock_ns=lambda: engine.now + 5 * SECOND)
    result = prof.sweep()
    assert result.status == "ok"
    assert result.levels[0].windows == 3
    assert result.levels[0].merged.throughput == pytest.approx(100.0)


def test_never_stable_reports_perf_analyzers_message(capsys):
    # throughput alternates by 50 %: never within 10 %
    engine = FakeEngine(lambda c, k: Window(ok=100 if k % 2 else 150, latency_ns=2 * MS))
    s = make_settings(max_trials=7)
    result, reported, _ = sweep(s, engine)
    assert result.status == "unstable"
    assert result.message == (
        "Failed to obtain stable measurement within 7 measurement windows for concurrency 1. "
        "Please try to increase the --measurement-interval."
    )
    assert result.levels == []
    assert result.unstable is not None and not result.unstable.stable
    assert result.unstable.windows == 7 and engine.windows == {1: 7}
    # windows 5, 6, 7 (k = 4, 5, 6): 150 + 100 + 150
    assert result.unstable.merged.request_count == 400
    assert reported == [result.unstable]  # still printed, marked unstable
    code, out, err = finish(s, result, reported, capsys)
    assert code == STABILITY_ERROR
    assert err.strip() == result.message
    assert "(UNSTABLE)" in out


def test_unstable_later_level_keeps_earlier_results(capsys):
    def script(c, k):
        if c == 2:
            return Window(ok=100 if k % 2 else 150, latency_ns=2 * MS)
        return Window(ok=100 * c, latency_ns=MS)

    s = make_settings(concurrency_range=Range(1, 3, 1))
    result, reported, _ = sweep(s, FakeEngine(script))
    assert result.status == "unstable"
    assert "for concurrency 2." in result.message
    assert [lv.value for lv in result.levels] == [1]
    assert [lv.value for lv in reported] == [1, 2]
    code, out, err = finish(s, result, reported, capsys)
    assert code == SUCCESS
    assert "Failed to obtain stable measurement within 10 measurement windows for concurrency 2." in err


def test_unstable_level_is_not_written_to_the_csv(tmp_path, capsys):
    def script(c, k):
        if c == 2:
            return Window(ok=100 if k % 2 else 150, latency_ns=2 * MS)
        return Window(ok=100, latency_ns=MS)

    path = tmp_path / "out.csv"
    s = make_settings(concurrency_range=Range(1, 2, 1), filename=str(path))
    result, reported, _ = sweep(s, FakeEngine(script))
    code, _, _ = finish(s, result, reported, capsys)
    assert code == SUCCESS
    rows = path.read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("1,100,")


def test_latency_threshold_stops_the_sweep(capsys):
    engine = FakeEngine(lambda c, k: Window(ok=100, latency_ns=2 * c * MS))
    s = make_settings(concurrency_range=Range(1, 0, 1), latency_threshold_ms=5)
    result, reported, _ = sweep(s, engine)
    assert result.status == "over_limit"
    assert result.message.strip() == "Measured latency went over the set limit of 5 msec."
    assert [lv.value for lv in result.levels] == [1, 2]
    assert [lv.value for lv in reported] == [1, 2]  # level 3 (6 ms) is not reported
    assert engine.levels == [1, 2, 3]
    code, out, err = finish(s, result, reported, capsys)
    assert code == SUCCESS
    assert "Measured latency went over the set limit of 5 msec." in err
    assert "Concurrency: 3" not in out


def test_latency_exactly_at_the_limit_is_over():
    engine = FakeEngine(lambda c, k: Window(ok=100, latency_ns=c * 2_500_000))
    s = make_settings(concurrency_range=Range(1, 10, 1), latency_threshold_ms=5)
    result, _, _ = sweep(s, engine)
    assert result.status == "over_limit"
    assert [lv.value for lv in result.levels] == [1]
    assert engine.levels == [1, 2]


def test_latency_limit_on_the_first_level_is_a_stability_error(capsys):
    s = make_settings(concurrency_range=Range(1, 4, 1), latency_threshold_ms=1)
    result, reported, _ = sweep(s, FakeEngine(lambda c, k: Window(ok=100, latency_ns=3 * MS)))
    assert result.status == "over_limit" and result.levels == [] and reported == []
    code, out, _ = finish(s, result, reported, capsys)
    assert code == STABILITY_ERROR
    assert out == ""


def test_latency_limit_uses_the_percentile_when_given():
    # average 1.9 ms, p95 10 ms: under a 5 ms limit on average, over it on p95
    lat = [MS] * 90 + [10 * MS] * 10
    s_avg = make_settings(concurrency_range=Range(1, 2, 1), latency_threshold_ms=5)
    s_p95 = make_settings(concurrency_range=Range(1, 2, 1), latency_threshold_ms=5, percentile=95)
    r_avg, _, _ = sweep(s_avg, FakeEngine(lambda c, k: Window(0, 0, latencies=lat)))
    r_p95, _, _ = sweep(s_p95, FakeEngine(lambda c, k: Window(0, 0, latencies=lat)))
    assert r_avg.status == "ok" and [lv.value for lv in r_avg.levels] == [1, 2]
    assert r_p95.status == "over_limit" and r_p95.levels == []


def test_percentile_mode_stabilizes_on_the_percentile():
    # same average (2 ms) every window, but p50 alternates between 3 ms and 2 ms
    def script(c, k):
        return Window(0, 0, latencies=[1 * MS, 3 * MS] * 50 if k % 2 else [2 * MS] * 100)

    avg, _, _ = sweep(make_settings(), FakeEngine(script))
    p50, _, _ = sweep(make_settings(percentile=50), FakeEngine(script))
    assert avg.status == "ok" and avg.levels[0].windows == 3
    assert p50.status == "unstable"


def test_errors_in_a_window_stop_the_sweep(capsys):
    def script(c, k):
        if c == 2 and k == 1:
            return Window(ok=100, latency_ns=MS, errors={"http_5xx": 2})
        return Window(ok=100, latency_ns=MS)

    engine = FakeEngine(script, messages=["HTTP 500 from /v2/models/m/infer: boom", "second", "third", "4th"])
    s = make_settings(concurrency_range=Range(1, 3, 1))
    result, reported, _ = sweep(s, engine)
    assert result.status == "errors"
    assert result.message == (
        "2 of 102 requests failed (2 http_5xx): HTTP 500 from /v2/models/m/infer: boom; second; third"
    )
    assert [lv.value for lv in result.levels] == [1]
    assert engine.levels == [1, 2]
    code, _, err = finish(s, result, reported, capsys)
    assert code == GENERIC_ERROR
    assert "HTTP 500 from /v2/models/m/infer: boom" in err


def test_bounded_sweep_visits_every_level():
    engine = FakeEngine(lambda c, k: Window(ok=10 * c, latency_ns=MS))
    result, reported, _ = sweep(make_settings(concurrency_range=Range(2, 8, 3)), engine)
    assert result.status == "ok"
    assert [lv.value for lv in result.levels] == [2, 5, 8]
    assert engine.levels == [2, 5, 8]
    assert [lv.merged.throughput for lv in result.levels] == pytest.approx([20.0, 50.0, 80.0])


def test_interrupt_keeps_the_levels_measured(capsys):
    def script(c, k):
        if c == 2:
            raise KeyboardInterrupt
        return Window(ok=100, latency_ns=MS)

    s = make_settings(concurrency_range=Range(1, 3, 1))
    result, reported, _ = sweep(s, FakeEngine(script))
    assert result.status == "interrupted"
    assert [lv.value for lv in result.levels] == [1]
    code, _, _ = finish(s, result, reported, capsys)
    assert code == GENERIC_ERROR


def test_server_stats_deltas_are_merged():
    calls = {"n": 0}

    def cumulative() -> ServerStats:
        calls["n"] += 1
        return server(100 * calls["n"])   # 100 more requests between two reads

    engine = FakeEngine(lambda c, k: Window(ok=100, latency_ns=MS))
    result, _, _ = sweep(make_settings(), engine, server_stats=cumulative)
    merged = result.levels[0].merged.server
    assert merged == server(300)
    assert merged.avg_request_us == pytest.approx(0.9)


def test_verbose_logs_every_window():
    engine = FakeEngine(lambda c, k: Window(ok=100, latency_ns=2 * MS))
    _, _, logged = sweep(make_settings(verbose=True), engine)
    assert len(logged) == 3
    assert logged[0].strip().startswith("Pass [1] throughput: 100 infer/sec. Avg latency: 2000 usec")


# ---------------------------------------------------------------- the server failing mid-sweep


def test_a_failed_statistics_read_keeps_the_levels_measured(capsys):
    """Levels 1-2 measured, then the statistics read fails: an "errors"
    result with both levels, not an exception that loses them."""
    from perfanalyzer.errors import ServerError

    calls = {"n": 0}

    def reads() -> ServerStats:
        calls["n"] += 1
        if calls["n"] > 8:  # 4 boundaries per level: levels 1 and 2 are complete
            raise ServerError("reading statistics failed on the server at http://h:1: Empty reply from server")
        return server(100 * calls["n"])

    s = make_settings(concurrency_range=Range(1, 5, 1), stability_percentage=100.0)
    result, reported, _ = sweep(s, FakeEngine(lambda c, k: Window(ok=100, latency_ns=MS)), server_stats=reads)
    assert result.status == "errors"
    assert result.message.startswith("reading statistics failed")
    assert [lv.value for lv in result.levels] == [1, 2]
    code, _, err = finish(s, result, reported, capsys)
    assert code == GENERIC_ERROR and err.count("\n") == 1


def test_statistics_going_backwards_means_a_restart():
    calls = {"n": 0}

    def reads() -> ServerStats:
        calls["n"] += 1
        return server(100 * calls["n"] if calls["n"] <= 4 else 10)  # counters reset after level 1

    s = make_settings(concurrency_range=Range(1, 5, 1), stability_percentage=100.0)
    result, _, _ = sweep(s, FakeEngine(lambda c, k: Window(ok=100, latency_ns=MS)), server_stats=reads)
    assert result.status == "errors" and "restarted" in result.message
    assert [lv.value for lv in result.levels] == [1]


def test_failed_requests_end_the_window_before_the_server_is_asked():
    """A dead server: the requests' failure is the message, not the statistics read it would also fail."""
    def reads() -> ServerStats:
        if engine.failed:
            raise AssertionError("statistics read after the requests failed")
        return server(0)

    engine = FakeEngine(lambda c, k: Window(ok=1, latency_ns=MS, errors={"transport": 3}), messages=["refused"])
    result, _, _ = sweep(make_settings(), engine, server_stats=reads)
    assert result.status == "errors" and "requests failed" in result.message
