"""Composed models on the real server: an ensemble (add_sub -> pass_through)
and a BLS model calling the same two. The client's count and each composing
model's server count agree; the report shows them as perf_analyzer does."""

from __future__ import annotations

import csv
import io

from perfanalyzer.runner import profile
from perfanalyzer.settings import Range, Settings

from .helpers import cli

# One window of exactly 100 requests: reported whatever the machine's noise.
FAST = ("--request-count", "100")


def measured(triton, model: str, **kw):
    # One window of exactly 300 requests: the counts are what is checked, and
    # such a window needs no stability on a busy machine.
    s = Settings(model_name=model, url=triton.http_url, concurrency_range=Range(2, 2, 1), request_count=300,
                 **kw).validate()
    result = profile(s)
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    return level.merged


def assert_counts_agree(m, served: int) -> None:
    # As for a single model: in flight at each end (c = 2) plus what finished
    # while the server's counters were being read.
    skew_s = sum(m.server_skew_ns) / 1e9 + 0.002
    assert abs(m.request_count - served) <= 2 * 2 + m.throughput * skew_s + 1, (m.request_count, served)


def test_ensemble_composing_counts(triton) -> None:
    m = measured(triton, "ensemble_add_sub")
    assert m.request_count == 300
    assert_counts_agree(m, m.server.success_count)
    assert [(n, v) for n, v, _ in m.server.composing] == [("add_sub", "1"), ("pass_through", "1")]
    for _, _, step in m.server.composing:
        # Nothing else runs: every ensemble request ran each step once. A step
        # finishes before its ensemble request does, so at each window end up
        # to c = 2 requests may have counted on a step and not yet on the
        # ensemble (+1 for the counters being read one model after another).
        assert abs(step.success_count - m.server.success_count) <= 2 * 2 + 1
        assert step.queue_count == step.compute_input_count == step.success_count
    s = m.server
    assert s.composed_overhead_us == max(0, int(s.success_ns // (s.success_count * 1000))
                                         - s.composed_queue_us - s.composed_compute_us)
    assert s.composed_compute_us > 0


def test_bls_composing_counts(triton) -> None:
    m = measured(triton, "bls_add_sub", bls_composing_models=(("add_sub", ""), ("pass_through", "1")))
    assert_counts_agree(m, m.server.success_count)
    assert [(n, v) for n, v, _ in m.server.composing] == [("add_sub", "1"), ("pass_through", "1")]
    for _, _, step in m.server.composing:
        assert abs(step.success_count - m.server.success_count) <= 2 * 2 + 1  # as for the ensemble


def test_bls_without_the_flag_has_no_composing_models(triton) -> None:
    assert measured(triton, "bls_add_sub").server.composing == ()


def test_cli_ensemble_report_and_csv(triton, tmp_path) -> None:
    out = tmp_path / "ens.csv"
    r = cli("-m", "ensemble_add_sub", "-u", triton.http_url, *FAST, "-f", str(out))
    assert r.code == 0, r.stderr
    server = r.stdout.split("  Server: \n", 1)[1]
    lines = server.splitlines()
    assert lines[3].startswith("    Avg request latency: ") and " usec + compute " in lines[3]
    assert lines[4:7] == ["", "  Composing models: ", "  add_sub, version: 1"]
    assert lines[7].startswith("      Inference count: ")
    assert "  pass_through, version: 1" in lines
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0][:5] == ["Concurrency", "Inferences/Second", "Client Send", "Network+Server Send/Recv",
                           "Server Queue"]
    assert len(rows) == 2


def test_cli_bls_flag_and_unknown_composing_model(triton) -> None:
    r = cli("-m", "bls_add_sub", "-u", triton.http_url, *FAST, "--bls-composing-models", "add_sub,pass_through:1")
    assert r.code == 0, r.stderr
    assert "  Composing models: \n  add_sub, version: 1\n" in r.stdout
    assert "  pass_through, version: 1\n" in r.stdout
    r = cli("-m", "bls_add_sub", "-u", triton.http_url, *FAST, "--bls-composing-models", "nope:2")
    assert r.code == 99
    assert r.stderr.startswith("error: --bls-composing-models nope:2: model 'nope' version 2 is not available")
    assert r.stderr.count("\n") == 1 and r.stdout == ""
