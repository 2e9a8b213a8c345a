"""Console and CSV reports, server statistics, model checks and request encoding."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from perfanalyzer import _core
from perfanalyzer.errors import OptionError
from perfanalyzer.inputs import make_inputs, make_tensor, tensor_bytes
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.profiler import LevelResult, Measurement
from perfanalyzer.report import console, csv_writer
from perfanalyzer.report.figures import LevelFigures, figures, fmt_rate, us
from perfanalyzer.server_stats import ServerStats
from perfanalyzer.services.triton_http import TritonHttpService, split_url
from perfanalyzer.settings import Range, Settings

SERVER = {
    "inference_count": 1200, "execution_count": 300, "success_count": 1200,
    "avg_request": 2000, "overhead": 400, "queue": 300, "compute_input": 100, "compute_infer": 1000,
    "compute_output": 200, "uses_cache": 0, "cache_hit": 0, "cache_miss": 0,
}


def level(value=4, throughput=299.8, avg=13300, std=420, pct=None, stabilizing=None, send=30, recv=45,
          server=SERVER, stable=True, mode="concurrency") -> LevelFigures:
    pct = pct or {50: 13200, 90: 13800, 95: 14000, 99: 15100}
    return LevelFigures(mode=mode, value=value, stable=stable, request_count=1500, throughput=throughput,
                        avg_us=avg, std_us=std, percentiles_us=pct,
                        stabilizing_us=avg if stabilizing is None else stabilizing,
                        send_us=send, recv_us=recv,
                        server=None if server is None else dict(server))


# ---------------------------------------------------------------- console


def test_level_block_average_mode():
    assert console.level_block(level(), -1) == (
        "Request concurrency: 4\n"
        "  Client: \n"
        "    Request count: 1500\n"
        "    Throughput: 299.8 infer/sec\n"
        "    Avg latency: 13300 usec (standard deviation 420 usec)\n"
        "    p50 latency: 13200 usec\n"
        "    p90 latency: 13800 usec\n"
        "    p95 latency: 14000 usec\n"
        "    p99 latency: 15100 usec\n"
        "    Avg HTTP time: 13300 usec (send/recv 75 usec + response wait 13225 usec)\n"
        "  Server: \n"
        "    Inference count: 1200\n"
        "    Execution count: 300\n"
        "    Successful request count: 1200\n"
        "    Avg request latency: 2000 usec (overhead 400 usec + queue 300 usec + compute input 100 usec + "
        "compute infer 1000 usec + compute output 200 usec)\n"
    )


def test_level_block_percentile_mode_omits_the_average():
    text = console.level_block(level(stabilizing=14000), 95)
    assert "Avg latency" not in text
    assert "standard deviation" not in text
    assert "    p95 latency: 14000 usec\n" in text
    assert "    Avg HTTP time: 13300 usec" in text
    lines = text.splitlines()
    assert lines[3] == "    Throughput: 299.8 infer/sec"
    assert lines[4] == "    p50 latency: 13200 usec"


def test_level_block_without_server_stats_and_unstable():
    text = console.level_block(level(server=None, stable=False), -1)
    assert "Server:" not in text
    assert text.splitlines()[0].startswith("Request concurrency: 4")
    assert "UNSTABLE" in text


def test_level_block_with_cache_is_perf_analyzers_layout():
    """2.40's server block with the response cache: hit and miss counts, and
    compute split into cache hits and misses."""
    from perfanalyzer.report.figures import server_figures
    from perfanalyzer.server_stats import ServerStats

    stats = ServerStats(inference_count=4, execution_count=4, success_count=10, success_ns=10_000_000,
                        queue_count=10, queue_ns=1_000_000, compute_input_count=4, compute_input_ns=40_000,
                        compute_infer_ns=2_000_000, compute_output_ns=120_000, cache_hit_count=6,
                        cache_hit_ns=300_000, cache_miss_count=4, cache_miss_ns=80_000)
    text = console.level_block(level(server=server_figures(stats)), -1)
    assert (
        "  Server: \n"
        "    Inference count: 4\n"
        "    Execution count: 4\n"
        "    Cache hit count: 6\n"
        "    Cache miss count: 4\n"
        "    Successful request count: 10\n"
        "    Avg request latency: 1000 usec (overhead 646 usec + queue 100 usec + cache hit/miss 254 usec)\n"
        "      Average Cache Hit Latency: 50 usec\n"
        "      Average Cache Miss Latency: 560 usec (cache lookup/insertion 20 usec + compute input 10 usec + "
        "compute infer 500 usec + compute output 30 usec)\n"
    ) in text


def test_summary_average_and_percentile():
    levels = [level(value=1, throughput=100.5, avg=9000), level(value=2, throughput=190, avg=10000)]
    assert console.summary(levels, -1) == (
        "Inferences/Second vs. Client Average Batch Latency\n"
        "Concurrency: 1, throughput: 100.5 infer/sec, latency 9000 usec\n"
        "Concurrency: 2, throughput: 190 infer/sec, latency 10000 usec\n"
    )
    p95 = [level(value=1, throughput=100.5, stabilizing=9500)]
    assert console.summary(p95, 95) == (
        "Inferences/Second vs. Client p95 Batch Latency\n"
        "Concurrency: 1, throughput: 100.5 infer/sec, latency 9500 usec\n"
    )
    unstable = console.summary([level(stable=False)], -1)
    assert unstable.splitlines()[1].endswith("(UNSTABLE)")


def test_settings_block():
    s = Settings(model_name="m", batch_size=2, concurrency_range=Range(1, 4, 1), latency_threshold_ms=20)
    text = console.settings_block(s)
    assert text.startswith("*** Measurement Settings ***\n  Batch size: 2\n")
    assert "  Measurement window: 5000 msec\n" in text
    assert "  Latency limit: 20 msec\n" in text
    assert "  Concurrency limit: 4 concurrent requests\n" in text
    assert "  Stabilizing using average latency\n" in text
    c = console.settings_block(Settings(model_name="m", measurement_mode="count_windows", percentile=99))
    assert "  Minimum number of samples in each window: 50\n" in c
    assert "Measurement window" not in c
    assert "  Stabilizing using p99 latency\n" in c


def test_fmt_rate_is_cpp_default_formatting():
    assert fmt_rate(299.8) == "299.8"
    assert fmt_rate(190.0) == "190"
    assert fmt_rate(1234567.0) == "1.23457e+06"
    assert fmt_rate(33.33333333) == "33.3333"


# ---------------------------------------------------------------- figures from a measured level


def test_figures_truncate_to_whole_microseconds():
    assert us(1999.999) == 1 and us(999) == 0 and us(2_000_999) == 2000
    w = _core.WindowStats()
    for x in [1_000_900, 2_000_900, 3_400_900]:
        w.record_ok(0, 10_999, x - 20_999, x)
    srv = ServerStats(inference_count=3, execution_count=3, success_count=3, success_ns=3 * 1_500_700,
                      queue_count=3, queue_ns=3 * 200_900, compute_input_count=3, compute_input_ns=3 * 50_500,
                      compute_infer_count=3, compute_infer_ns=3 * 900_999, compute_output_count=3,
                      compute_output_ns=3 * 40_100)
    m = Measurement(2_000_000_000, w, srv, 2)
    f = figures(LevelResult("concurrency", 3, m, True, 3), 95)
    assert f.value == 3 and f.mode == "concurrency" and f.stable
    assert f.request_count == 3
    assert f.throughput == pytest.approx(3.0)
    assert f.avg_us == 2134                  # 2134233.3 ns
    assert f.std_us == 1205                  # sample std 1205542.75 ns
    assert f.send_us == 10 and f.recv_us == 20
    assert sorted(f.percentiles_us) == [50, 90, 95, 99]
    assert abs(f.percentiles_us[50] - 2000) <= 2   # histogram bucket midpoint, < 0.1 %
    assert f.stabilizing_us == f.percentiles_us[95] == 3400   # the top rank is the exact max
    assert f.server["avg_request"] == 1500
    assert f.server["queue"] == 200
    assert f.server["compute_input"] == 50
    assert f.server["compute_infer"] == 900
    assert f.server["compute_output"] == 40
    assert f.server["overhead"] == 308   # 1500.7 - 200.9 - 50.5 - 900.999 - 40.1 = 308.201
    assert f.http_us == 2134 and f.response_wait_us == 2134 - 10 - 20


def test_figures_with_extra_percentile_and_average():
    w = _core.WindowStats()
    for x in range(1, 101):   # 1.5 .. 100.5 usec: bucket midpoints stay inside the same usec
        w.record_ok(0, 0, x * 1000 + 500, x * 1000 + 500)
    m = Measurement(1_000_000_000, w, None, 1)
    f = figures(LevelResult("concurrency", 1, m, True, 3), 75)
    assert sorted(f.percentiles_us) == [50, 75, 90, 95, 99]
    # nearest rank over 100 sorted values: index floor(p/100 * 99 + 0.5)
    assert f.percentiles_us == {50: 51, 75: 75, 90: 90, 95: 95, 99: 99}
    assert f.server is None
    avg = figures(LevelResult("concurrency", 1, m, True, 3), -1)
    assert avg.stabilizing_us == avg.avg_us == 51   # mean of 1.5 .. 100.5 usec
    assert sorted(avg.percentiles_us) == [50, 90, 95, 99]


# ---------------------------------------------------------------- CSV


CSV_HEADER = ("Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,"
              "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,"
              "p50 latency,p90 latency,p95 latency,p99 latency")


def test_csv_header_is_perf_analyzers():
    text = csv_writer.render([level()], -1)
    assert text.splitlines()[0] == CSV_HEADER
    assert ",".join(csv_writer.header(-1, False)) == CSV_HEADER
    assert csv_writer.header(-1, False, mode="request_rate")[0] == "Request Rate"


@pytest.mark.parametrize("p, cols", [
    (75, ["p50", "p75", "p90", "p95", "p99"]),
    (10, ["p10", "p50", "p90", "p95", "p99"]),
    (95, ["p50", "p90", "p95", "p99"]),
    (99, ["p50", "p90", "p95", "p99"]),
    (97, ["p50", "p90", "p95", "p97", "p99"]),
])
def test_csv_percentile_column_in_sorted_place(p, cols):
    head = csv_writer.header(p, False)
    assert head[-len(cols):] == [f"{c} latency" for c in cols]
    assert len(head) == 9 + len(cols)


def test_csv_rows_sorted_by_ascending_throughput_and_network_column():
    pct = {50: 10, 75: 11, 90: 12, 95: 13, 99: 14}
    rows = [level(value=8, throughput=900.0, pct=pct), level(value=1, throughput=100.25, pct=pct),
            level(value=4, throughput=450.0, pct=pct)]
    lines = csv_writer.render(rows, 75).splitlines()
    assert lines[0].endswith("Client Recv,p50 latency,p75 latency,p90 latency,p95 latency,p99 latency")
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "4", "8"]
    cells = lines[1].split(",")
    # 13300 - 30 - 45 - 300 - 100 - 1000 - 200 = 11625
    assert cells == ["1", "100.25", "30", "11625", "300", "100", "1000", "200", "45",
                     "10", "11", "12", "13", "14"]
    assert len(cells) == len(lines[0].split(","))


def test_csv_network_is_clamped_at_zero_and_zero_without_server():
    f = level(avg=1000, send=30, recv=45)       # server parts alone exceed the client average
    assert f.network_us == 0
    assert csv_writer.render([f], -1).splitlines()[1].split(",")[3] == "0"
    bare = level(avg=1000, send=30, recv=45, server=None)
    assert bare.network_us == 925
    cells = csv_writer.render([bare], -1).splitlines()[1].split(",")
    assert cells[3:8] == ["925", "0", "0", "0", "0"]


def test_csv_cache_columns():
    s = dict(SERVER, uses_cache=1, cache_hit=7, cache_miss=8)
    lines = csv_writer.render([level(server=s), level(value=2, throughput=400)], -1).splitlines()
    head = lines[0].split(",")
    assert head[8:11] == ["Server Cache Hit", "Server Cache Miss", "Client Recv"]
    assert lines[1].split(",")[8:11] == ["7", "8", "45"]
    assert lines[2].split(",")[8:11] == ["0", "0", "45"]


def test_write_atomic_leaves_no_temp_file(tmp_path):
    path = tmp_path / "out.csv"
    csv_writer.write_atomic(str(path), "a,b\n1,2\n")
    assert path.read_text() == "a,b\n1,2\n"
    csv_writer.write_atomic(str(path), "c\n")
    assert path.read_text() == "c\n"
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]


def test_write_atomic_failure_cleans_up(tmp_path):
    target = tmp_path / "a_directory"
    target.mkdir()
    (target / "x").write_text("keep")   # os.replace cannot put a file over a non-empty directory
    with pytest.raises(OSError):
        csv_writer.write_atomic(str(target), "data\n")
    assert sorted(os.listdir(tmp_path)) == ["a_directory"]
    assert (target / "x").read_text() == "keep"


def test_write_atomic_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    csv_writer.write_atomic("rel.csv", "x\n")
    assert os.listdir(tmp_path) == ["rel.csv"]


# ---------------------------------------------------------------- server statistics


def triton_stats(n: int, versions=("1",), model="resnet50") -> dict:
    """What GET /v2/models/resnet50/stats returns, n requests into a run (cumulative)."""
    entries = []
    for v in versions:
        entries.append({
            "name": model, "version": v, "last_inference": 1700000000000 + n,
            "inference_count": 4 * n, "execution_count": n,
            "inference_stats": {
                "success": {"count": n, "ns": n * 2_000_000},
                "fail": {"count": 0, "ns": 0},
                "queue": {"count": n, "ns": n * 300_000},
                "compute_input": {"count": n // 2, "ns": (n // 2) * 100_000},
                "compute_infer": {"count": (n // 2) * 4 // 5, "ns": (n // 2) * 1_000_000},
                "compute_output": {"count": n // 2, "ns": (n // 2) * 200_000},
                "cache_hit": {"count": 0, "ns": 0},
                "cache_miss": {"count": 0, "ns": 0},
            },
            "batch_stats": [{"batch_size": 4, "compute_input": {"count": n, "ns": n * 100_000},
                             "compute_infer": {"count": n, "ns": n * 1_000_000},
                             "compute_output": {"count": n, "ns": n * 200_000}}],
            "memory_usage": [],
        })
    entries.append({"name": "other_model", "version": "1", "inference_count": 99, "execution_count": 99,
                    "inference_stats": {"success": {"count": 99, "ns": 99}}})
    return {"model_stats": entries}


def test_server_stats_from_response():
    s = ServerStats.from_response(triton_stats(100), "resnet50")
    assert s.inference_count == 400 and s.execution_count == 100
    assert s.success_count == 100 and s.success_ns == 200_000_000
    assert s.compute_input_count == 50 and s.compute_infer_count == 40
    assert not s.uses_cache


def test_server_stats_versions():
    both = triton_stats(100, versions=("1", "2"))
    assert ServerStats.from_response(both, "resnet50").success_count == 200
    assert ServerStats.from_response(both, "resnet50", "2").success_count == 100
    assert ServerStats.from_response(both, "resnet50", "3") == ServerStats()
    assert ServerStats.from_response({}, "resnet50") == ServerStats()


def test_server_stats_deltas_and_breakdown():
    before = ServerStats.from_response(triton_stats(1000), "resnet50")
    after = ServerStats.from_response(triton_stats(1200), "resnet50")
    d = after - before
    assert d.success_count == 200 and d.inference_count == 800 and d.execution_count == 200
    assert d.compute_input_count == 100 and d.compute_infer_count == 80
    assert d + before == after
    assert d.avg_request_us == pytest.approx(2000.0)
    assert d.queue_us == pytest.approx(300.0)
    assert d.compute_input_us == pytest.approx(100.0)
    # every compute part is divided by compute_input's count (100), not its own (80)
    assert d.compute_infer_us == pytest.approx(1000.0)
    assert d.compute_output_us == pytest.approx(200.0)
    assert d.compute_us == pytest.approx(1300.0)
    assert d.overhead_us == pytest.approx(400.0)


def test_server_overhead_is_clamped_at_zero():
    s = ServerStats(success_count=10, success_ns=10 * 1_000_000, queue_count=10, queue_ns=10 * 900_000,
                    compute_input_count=10, compute_input_ns=10 * 50_000, compute_infer_count=10,
                    compute_infer_ns=10 * 300_000)
    assert s.avg_request_us - s.queue_us - s.compute_us < 0
    assert s.overhead_us == 0.0


def test_empty_server_window():
    s = ServerStats()
    assert (s.avg_request_us, s.queue_us, s.compute_us, s.overhead_us) == (0.0, 0.0, 0.0, 0.0)
    assert s.cache_hit_us == 0.0 and s.cache_miss_us == 0.0


def test_cache_breakdown():
    s = ServerStats(cache_hit_count=4, cache_hit_ns=4 * 7_000, cache_miss_count=2, cache_miss_ns=2 * 9_000)
    assert s.uses_cache
    assert s.cache_hit_us == pytest.approx(7.0) and s.cache_miss_us == pytest.approx(9.0)


# ---------------------------------------------------------------- model checks


def spec(max_batch=8, inputs=None) -> ModelSpec:
    inputs = inputs or (TensorSpec("A", "FP32", (3, 4)), TensorSpec("B", "INT32", (-1, 3)))
    outputs = (TensorSpec("OUT", "FP32", (3,)),)
    return ModelSpec("m", "1", "onnxruntime_onnx", max_batch, tuple(inputs), outputs)


def test_check_batch_size():
    spec(max_batch=8).check_batch_size(8)
    spec(max_batch=8).check_batch_size(1)
    spec(max_batch=0).check_batch_size(1)
    with pytest.raises(OptionError) as e:
        spec(max_batch=0).check_batch_size(2)
    assert "can not specify batch size > 1 as the model" in str(e.value)
    assert str(e.value).endswith("does not support batching")
    assert e.value.exit_code == 3
    with pytest.raises(OptionError, match=r"expecting batch size <= 8 for model 'm'"):
        spec(max_batch=8).check_batch_size(9)


def test_resolve_shapes():
    assert spec().resolve_shapes({"B": (5, 3)}) == {"A": (3, 4), "B": (5, 3)}
    assert spec().resolve_shapes({"A": (3, 4), "B": (1, 3)}) == {"A": (3, 4), "B": (1, 3)}


@pytest.mark.parametrize("overrides, message", [
    ({}, "input 'B' has a variable dimension [-1, 3]: give its shape with --shape B:d1,d2,..."),
    ({"B": (5, 3), "C": (1,)}, "--shape C: model 'm' has no input named 'C' (inputs: A, B)"),
    ({"B": (5, 4)}, "--shape B: [5, 4] is incompatible with the model's input shape [-1, 3] (the server would "
     "answer: unexpected shape for input 'B' for model 'm')"),
    ({"B": (5, 3, 1)}, "--shape B: [5, 3, 1] is incompatible with the model's input shape [-1, 3] (the server "
     "would answer: unexpected shape for input 'B' for model 'm')"),
    ({"A": (4, 3), "B": (1, 3)}, "--shape A: [4, 3] is incompatible with the model's input shape [3, 4] (the "
     "server would answer: unexpected shape for input 'A' for model 'm')"),
])
def test_resolve_shapes_errors(overrides, message):
    with pytest.raises(OptionError) as e:
        spec().resolve_shapes(overrides)
    assert str(e.value) == message


# ---------------------------------------------------------------- inputs and request encoding


def test_make_inputs_shapes_and_types():
    s = spec()
    t = make_inputs(s, {"A": (3, 4), "B": (5, 3)}, 2, "random")
    assert t["A"].shape == (2, 3, 4) and t["A"].dtype == np.float32
    assert t["B"].shape == (2, 5, 3) and t["B"].dtype == np.int32
    again = make_inputs(s, {"A": (3, 4), "B": (5, 3)}, 2, "random")
    assert np.array_equal(t["A"], again["A"]) and np.array_equal(t["B"], again["B"])   # seeded
    z = make_inputs(s, {"A": (3, 4), "B": (5, 3)}, 2, "zero")
    assert not z["A"].any() and not z["B"].any()
    nobatch = make_inputs(spec(max_batch=0), {"A": (3, 4), "B": (5, 3)}, 1, "random")
    assert nobatch["A"].shape == (3, 4)


def test_make_tensor_bytes_and_unsupported():
    rng = np.random.default_rng(0)
    b = make_tensor("BYTES", (2, 3), "random", rng)
    assert b.shape == (2, 3) and all(len(x) == 128 for x in b.reshape(-1))
    assert list(make_tensor("BYTES", (2,), "zero", rng)) == [b"0", b"0"]
    with pytest.raises(OptionError, match="datatype FP8 is not supported"):
        make_tensor("FP8", (1,), "random", rng, "X")


def test_tensor_bytes_is_little_endian_and_length_prefixed():
    big = np.array([1, 2, 3], dtype=">i4")
    assert tensor_bytes("INT32", big) == np.array([1, 2, 3], dtype="<i4").tobytes()
    strings = np.array([b"ab", b"", b"xyz"], dtype=object)
    assert tensor_bytes("BYTES", strings) == (b"\x02\x00\x00\x00ab" + b"\x00\x00\x00\x00"
                                              + b"\x03\x00\x00\x00xyz")


@pytest.fixture
def service():
    svc = TritonHttpService("127.0.0.1:1", ("X-Api-Key: secret",))
    yield svc
    svc.close()


def test_encode_request(service):
    s = ModelSpec("m", "", "python", 8,
                  (TensorSpec("INPUT0", "FP32", (16,)), TensorSpec("IDS", "INT64", (4,)),
                   TensorSpec("TEXT", "BYTES", (2,)), TensorSpec("FLAG", "BOOL", (1,))),
                  (TensorSpec("OUTPUT0", "FP32", (16,)), TensorSpec("OUTPUT1", "INT64", (1,))))
    tensors = make_inputs(s, {"INPUT0": (16,), "IDS": (4,), "TEXT": (2,), "FLAG": (1,)}, 3, "random")
    body, lines = service.encode_request(s, tensors, request_id="r1")
    headers = dict(line.split(": ", 1) for line in lines)
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Api-Key"] == "secret"
    n = int(headers["Inference-Header-Content-Length"])
    header = json.loads(body[:n])
    assert header["id"] == "r1"
    assert [i["name"] for i in header["inputs"]] == ["INPUT0", "IDS", "TEXT", "FLAG"]
    assert [i["shape"] for i in header["inputs"]] == [[3, 16], [3, 4], [3, 2], [3, 1]]
    assert [i["datatype"] for i in header["inputs"]] == ["FP32", "INT64", "BYTES", "BOOL"]
    assert header["outputs"] == [{"name": "OUTPUT0", "parameters": {"binary_data": True}},
                                 {"name": "OUTPUT1", "parameters": {"binary_data": True}}]
    expected = [
        tensors["INPUT0"].astype("<f4").tobytes(),
        tensors["IDS"].astype("<i8").tobytes(),
        b"".join(len(x).to_bytes(4, "little") + x for x in tensors["TEXT"].reshape(-1)),
        tensors["FLAG"].astype(np.bool_).tobytes(),
    ]
    assert [i["parameters"]["binary_data_size"] for i in header["inputs"]] == [len(e) for e in expected]
    assert body[n:] == b"".join(expected)
    assert len(body) == n + 3 * 16 * 4 + 3 * 4 * 8 + 3 * 2 * (4 + 128) + 3
    # the binary part decodes back to the tensors
    off = 0
    for inp, e in zip(header["inputs"], expected, strict=True):
        assert body[n + off:n + off + inp["parameters"]["binary_data_size"]] == e
        off += inp["parameters"]["binary_data_size"]
    assert np.array_equal(np.frombuffer(body[n:n + 192], dtype="<f4").reshape(3, 16), tensors["INPUT0"])


def test_encode_request_without_id_or_extra_headers():
    svc = TritonHttpService("localhost:8000")
    try:
        s = ModelSpec("m", "", "", 0, (TensorSpec("X", "UINT8", (5,)),), ())
        x = np.arange(5, dtype=np.uint8)
        body, lines = svc.encode_request(s, {"X": x})
    finally:
        svc.close()
    assert len(lines) == 2
    n = int(dict(line.split(": ", 1) for line in lines)["Inference-Header-Content-Length"])
    header = json.loads(body[:n])
    assert "id" not in header and header["outputs"] == []
    assert header["inputs"][0]["shape"] == [5]
    assert body[n:] == bytes(range(5))


@pytest.mark.parametrize("url, expected", [
    ("localhost:8000", ("http", "localhost:8000")),
    ("localhost:8000/", ("http", "localhost:8000")),
    ("http://10.1.2.3:9000/", ("http", "10.1.2.3:9000")),
    ("HTTPS://example.com:443", ("https", "example.com:443")),
])
def test_split_url(url, expected):
    assert split_url(url) == expected


def test_infer_url(service):
    assert service.base_url == "http://127.0.0.1:1"
    assert service.infer_url("m") == "http://127.0.0.1:1/v2/models/m/infer"
    assert service.infer_url("m", "3") == "http://127.0.0.1:1/v2/models/m/versions/3/infer"
