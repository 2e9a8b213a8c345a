"""The distributed run's exact split and its window wire format (no Ray, no server)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from perfanalyzer import _core
from perfanalyzer.distributed import split


@pytest.mark.parametrize("distribution,seed", [("constant", 0), ("poisson", 7), ("poisson", 12345)])
def test_same_seed_same_merged_schedule_for_any_worker_count(distribution: str, seed: int) -> None:
    whole = _core.schedule_times(600, distribution, rate=5000.0, seed=seed)
    for n in (1, 2, 3, 7):
        parts = [_core.schedule_times(600 // n + 1, distribution, rate=5000.0, seed=seed, part=k, parts=n)
                 for k in range(n)]
        merged = split.merged_schedule([list(p) for p in parts])
        assert merged[:600] == list(whole)


def test_interval_schedule_split() -> None:
    intervals = [1000, 3000, 7000]
    whole = _core.schedule_times(90, intervals_ns=intervals)
    parts = [list(_core.schedule_times(30, intervals_ns=intervals, part=k, parts=3)) for k in range(3)]
    assert split.merged_schedule(parts) == list(whole)


@pytest.mark.parametrize("total", [0, 1, 2, 257, 1000])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_budgets_exact_in_total(total: int, n: int) -> None:
    assert sum(split.budget_shares(total, [True] * n, open_loop=True)) == total
    conc = split.concurrency_shares(2, n)
    shares = split.budget_shares(total, [c > 0 for c in conc], open_loop=False)
    assert sum(shares) == total
    assert all(b == 0 for b, c in zip(shares, conc, strict=True) if c == 0)  # an idle worker would never spend it


def test_concurrency_as_even_as_possible() -> None:
    assert split.concurrency_shares(7, 3) == [3, 2, 2]
    assert split.concurrency_shares(1, 3) == [1, 0, 0]


def _random_window(rng: np.random.Generator, n: int) -> tuple[_core.WindowStats, list[int]]:
    w = _core.WindowStats()
    latencies = [int(x) for x in rng.lognormal(13, 1.2, n)]
    for lat in latencies:
        w.record_ok(1_000, 1_500, 1_000 + lat // 2, 1_000 + lat, 100, 200)
    w.record_error("http_5xx")
    return w, latencies


def test_wire_round_trip_and_merged_percentiles_equal_one_histogram() -> None:
    rng = np.random.default_rng(3)
    windows = [_random_window(rng, n) for n in (500, 1, 2000)]
    merged = _core.stats_from_bytes(_core.stats_to_bytes(windows[0][0]))
    for w, _ in windows[1:]:
        merged.merge(_core.stats_from_bytes(_core.stats_to_bytes(w)))
    one = _core.WindowStats()
    for _, lats in windows:
        for lat in lats:
            one.record_ok(1_000, 1_500, 1_000 + lat // 2, 1_000 + lat, 100, 200)
    assert merged.ok == one.ok == 2501
    assert merged.error_count == 3
    assert merged.latency_sum_ns == one.latency_sum_ns
    assert merged.bytes_sent == one.bytes_sent
    for p in (1, 50, 90, 95, 99, 99.9, 100):
        assert merged.percentile_ns(p) == one.percentile_ns(p)
    assert merged.latency_min_ns == one.latency_min_ns and merged.latency_max_ns == one.latency_max_ns
    assert _core.stats_to_bytes(merged) == _core.stats_to_bytes(_core.stats_from_bytes(_core.stats_to_bytes(merged)))


def test_wire_refuses_other_formats() -> None:
    data = bytearray(_core.stats_to_bytes(_random_window(np.random.default_rng(1), 10)[0]))
    with pytest.raises(ValueError, match="format"):
        _core.stats_from_bytes(bytes(data[:4]) + b"\x09\x00" + bytes(data[6:]))
    bad = bytearray(data)
    bad[8:12] = (12345).to_bytes(4, "little")  # the struct size of another build
    with pytest.raises(ValueError, match="another build"):
        _core.stats_from_bytes(bytes(bad))
    with pytest.raises(ValueError, match="cut short"):
        _core.stats_from_bytes(bytes(data[:-5]))
    with pytest.raises(ValueError, match="too short"):
        _core.stats_from_bytes(b"PA")


def test_a_run_without_the_flags_never_imports_ray() -> None:
    code = ("import sys, perfanalyzer, perfanalyzer.cli, perfanalyzer.runner, perfanalyzer.api, "
            "perfanalyzer.profiler; assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("args,message", [
    (["--ray-workers", "2"], "--ray-workers: needs --ray-address"),
    (["--ray-address", "local", "--ray-workers", "0"], "--ray-workers: must be > 0"),
    (["--ray-address", "local", "--profile-export-file", "x.json"], "--profile-export-file: not with --ray-address"),
    (["--ray-address", "local", "--ray-workers", "4", "--request-rate-range", "100", "--max-inflight", "2"],
     "--max-inflight 2: below --ray-workers 4"),
])
def test_what_a_distributed_run_cannot_do_is_an_option_error(args: list[str], message: str) -> None:
    # Refused before any server is contacted (none listens on this port) and before Ray is started.
    r = subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", "identity", "-u", "127.0.0.1:9", *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and message in r.stderr


@pytest.mark.parametrize("start,size,workers,threads", [(1, 12, 2, 2), (100, 7, 3, 1), (5, 30, 3, 2)])
def test_sequence_ids_interleave_over_workers(start: int, size: int, workers: int, threads: int) -> None:
    """Worker p of P's thread k takes the ids of thread p + P*k of one process: together every id of the
    range once, none on two workers."""
    import numpy as np
    from perfanalyzer import sequences
    from perfanalyzer.data_loader import DataSet
    from perfanalyzer.settings import Settings

    data = DataSet(({"INPUT": np.ones(1, np.int32)},),)
    base = Settings(model_name="seq", sequence_id_start=start, sequence_id_range=size, sequence_length=1).validate()
    owned: list[set[int]] = []
    for p in range(workers):
        s = split.worker_settings(base, p, workers)
        for k in range(threads):
            n = split.share(size, p + workers * k, workers * threads)
            q = sequences.make_sequencer(s, data, k, threads)
            owned.append({q.next(0)[2] for _ in range(n)})
            assert min(owned[-1]) == start + p + workers * k
    assert set().union(*owned) == set(range(start, start + size))
    assert sum(len(o) for o in owned) == size
