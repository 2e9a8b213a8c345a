"""perf_analyzer's own QA suite (Triton's qa/L0_perf_analyzer/test.sh), one test
per command, against Python stand-ins of its models (tests/integration/qa_models,
same names and signatures) and our own copies of its input files
(tests/integration/qa_data).

Each test makes the assertion the QA script makes: the exit status, and the
line it greps for (or must not find). Windows are shorter (-p) and rates lower
than in the script, for a 2-core machine; -s 100 is the script's own setting.
docs/qa_compatibility.md lists which QA classes are covered here."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from triton_launcher import TritonServer, TritonServerError

from .helpers import CliRun, cli, serving

HERE = Path(__file__).parent
MODELS = HERE / "qa_models"
DATA = HERE / "qa_data"
# The script's "nothing was measured" pattern (grep sees its '|' literally).
ERROR_STRING = "error | Request count: 0 | : 0 infer/sec"
# The script's -s 100; more trials than its 10, for a noisy shared machine.
STABLE = ("-s", "100", "-r", "30")
WINDOW = ("-p", "400")
SEQ = "simple_savedmodel_sequence_object"
PROTOCOLS = ("grpc", "http")


@pytest.fixture(scope="module")
def qa() -> Iterator[TritonServer]:
    srv = TritonServer(MODELS)
    yield from serving(srv)


def pa(server: TritonServer, protocol: str, *args: str) -> CliRun:
    url = server.grpc_url if protocol == "grpc" else server.http_url
    return cli("-v", "-i", protocol, "-u", url, *args, timeout=180)


def data(name: str) -> str:
    return f"--input-data={DATA / name}"


def passes(run: CliRun) -> None:
    """The script's usual check: exit 0 and not its error pattern."""
    assert run.code == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert ERROR_STRING not in run.stdout + run.stderr
    assert "Throughput:" in run.stdout  # and something was measured


def fails_with(run: CliRun, line: str) -> None:
    assert run.code != 0, run.stdout[-2000:]
    assert line in run.stdout + run.stderr, run.stderr[-2000:]


# ---------------------------------------------------------------- ensembles of a sequence model


def test_string_model_with_random_strings_fails_without_a_dynamic_shape_message(qa):
    run = pa(qa, "grpc", "-m", "graphdef_object_object_object", *WINDOW, *STABLE)
    assert run.code != 0
    assert "input INPUT0 contains dynamic shape, provide shapes to send along with the request" not in run.stdout


def test_ensemble_sequence_streaming_t5_twice_the_data(qa):
    passes(pa(qa, "grpc", "-m", SEQ, *WINDOW, "-t5", "--streaming", data("seq_data.json"), data("seq_data.json"),
              *STABLE))


def test_ensemble_sequence_streaming_request_rate(qa):
    passes(pa(qa, "grpc", "-m", SEQ, "-p", "1000", "--request-rate-range", "20:40:20", "--streaming",
              data("seq_data.json"), *STABLE))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ensemble_sequence_t5_sync(qa, protocol):
    passes(pa(qa, protocol, "-m", SEQ, *WINDOW, "-t5", "--sync", data("seq_data.json"), *STABLE))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ensemble_sequence_request_rate_sync(qa, protocol):
    passes(pa(qa, protocol, "-m", SEQ, "-p", "1000", "--request-rate-range", "20:40:20", "--sync",
              data("seq_data.json"), *STABLE))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ensemble_sequence_serial_sequences_rate(qa, protocol):
    passes(pa(qa, protocol, "-m", SEQ, "-p", "1000", "--request-rate-range", "20:40:20", "--serial-sequences",
              data("seq_data.json"), *STABLE))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ensemble_sequence_serial_sequences_intervals(qa, protocol, tmp_path):
    schedule = tmp_path / "custom.schedule"
    schedule.write_text("30000\n10000\n40000\n20000\n25000\n")
    passes(pa(qa, protocol, "-m", SEQ, "-p", "1000", "--request-intervals", str(schedule), "--serial-sequences",
              data("seq_data.json"), *STABLE))


def test_ensemble_sequence_validation_wrong_output(qa):
    fails_with(pa(qa, "grpc", "-m", SEQ, "--streaming", data("seq_wrong_output.json"), *STABLE),
               "Output doesn't match expected output")


def test_ensemble_sequence_validation_right_output(qa):
    passes(pa(qa, "grpc", "-m", SEQ, *WINDOW, "--streaming", data("seq_output.json"), *STABLE))


@pytest.mark.parametrize("shm", ["none", "system"])
def test_variable_sequence_data_shapes_against_the_shape_option(qa, shm):
    """JSON steps of shape [1] and [3] with --shape INPUT:2: perf_analyzer
    refuses the data (it was sent as given)."""
    run = pa(qa, "grpc", "-m", "graphdef_sequence_float32", "--shape", "INPUT:2", data("float_data_with_shape.json"),
             data("float_data_with_shape.json"), *WINDOW, f"--shared-memory={shm}", *STABLE)
    assert run.code != 0
    assert re.search(r"The supplied shape .+ is incompatible with the model's input shape", run.stdout + run.stderr)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_variable_shapes_from_the_shape_option(qa, protocol):
    passes(pa(qa, protocol, "-m", "graphdef_int32_int32_float32", "--shape", "INPUT0:2,8,2", "--shape",
              "INPUT1:2,8,2", *WINDOW, *STABLE))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("shm", ["none", "system"])
def test_batching_tensors_of_different_shapes(qa, protocol, shm):
    run = pa(qa, protocol, "-m", "graphdef_int32_int32_float32", "--shape", "INPUT0:2,8,2", "--shape",
             "INPUT1:2,8,2", *WINDOW, "-b", "4", f"--shared-memory={shm}", data("int_data_diff_shape.json"), *STABLE)
    assert run.code != 0
    assert re.search(r"The supplied shape .+ is incompatible with the model's input shape", run.stdout + run.stderr)


# ---------------------------------------------------------------- fixed-shape models, legacy -t


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("shm", ["none", "system"])
@pytest.mark.parametrize("mode", [(), ("-a",)], ids=["sync", "async"])
def test_int32_t1_shared_memory(qa, protocol, shm, mode):
    passes(pa(qa, protocol, "-m", "graphdef_int32_int32_int32", "-t", "1", *WINDOW, "-b", "1", *mode,
              f"--shared-memory={shm}", *STABLE))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("model", ["graphdef_nobatch_int32_int32_int32", "graphdef_int32_int32_int32"])
def test_batch_sizes(qa, protocol, model):
    passes(pa(qa, protocol, "-m", model, "-t", "1", *WINDOW, "-b", "1", *STABLE))
    for static_batch in ("0", "10"):
        run = pa(qa, protocol, "-m", model, "-t", "1", *WINDOW, "-b", static_batch, *STABLE)
        assert run.code != 0, (static_batch, run.stdout[-1000:])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_new_arguments(qa, protocol):
    passes(pa(qa, protocol, "-m", "graphdef_int32_int32_int32", *WINDOW, *STABLE))
    for extra in ((), (data("int_data.json"),)):
        run = pa(qa, protocol, "-m", "graphdef_int32_int32_int32", *WINDOW, "--concurrency-range", "1:5:2", *extra,
                 *STABLE)
        passes(run)
        assert "Request concurrency: 2" not in run.stdout  # 1, 3, 5 only


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("extra", [(), (data("int_data.json"),)], ids=["random", "json"])
def test_request_rate_async(qa, protocol, extra):
    passes(pa(qa, protocol, "-m", "graphdef_int32_int32_int32", "--request-rate-range", "100:200:100", *extra,
              "-p", "500", "-b", "1", "-a", *STABLE))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_binary_search_request_rate(qa, protocol):
    passes(pa(qa, protocol, "-m", "graphdef_int32_int32_int32", "--request-rate-range", "100:200:10", "-p", "500",
              "-b", "1", "-a", "--binary-search", "--request-distribution", "poisson", "-l", "10", *STABLE))


def test_binary_search_concurrency_does_not_hang(qa):
    """The script waits 200 s for it; -l 500 rather than 5 on a shared 2-core machine."""
    run = pa(qa, "http", "-a", "--request-distribution", "poisson", "--shared-memory", "none", "--percentile", "99",
             "--binary-search", "--concurrency-range", "1:8:2", "-l", "500", "-m", "graphdef_int32_int32_int32",
             "-b", "1", *WINDOW, *STABLE)
    passes(run)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("shm", ["none", "system"])
def test_string_data(qa, protocol, shm):
    passes(pa(qa, protocol, "-m", "graphdef_object_object_object", "--string-data=1", *WINDOW,
              f"--shared-memory={shm}", *STABLE))
    passes(pa(qa, protocol, "-m", "graphdef_object_object_object", data("string_data.json"),
              data("string_data.json"), *WINDOW, f"--shared-memory={shm}", *STABLE))


def test_custom_intervals_report_the_rate(qa, tmp_path):
    schedule = tmp_path / "custom.schedule"
    schedule.write_text("30000\n10000\n40000\n20000\n25000\n")
    run = pa(qa, "grpc", "-m", "graphdef_int32_int32_int32", "--request-intervals", str(schedule), "-p", "1000",
             *STABLE)
    passes(run)
    assert "Request Rate: 40" in run.stdout


# ---------------------------------------------------------------- output validation (HTTP, the script's default)


def test_validation_data_not_aligned(qa):
    fails_with(pa(qa, "http", "-m", "graphdef_int32_int32_int32", data("non_aligned_output.json"), *STABLE),
               "The 'validation_data' field doesn't align with 'data' field in the json file")


def test_validation_data_wrong_size(qa):
    fails_with(pa(qa, "http", "-m", "graphdef_int32_int32_int32", data("wrong_output.json"), *STABLE),
               "mismatch in the data provided")


def test_validation_data_wrong_values(qa):
    fails_with(pa(qa, "http", "-m", "graphdef_int32_int32_int32", data("wrong_output_2.json"), *STABLE),
               "Output doesn't match expected output")


def test_validation_data_right_values(qa):
    passes(pa(qa, "http", "-m", "graphdef_int32_int32_int32", *WINDOW, data("output.json"), *STABLE))


# ---------------------------------------------------------------- response cache (qa/L0_perf_analyzer_report)


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    """The report suite's layout: a model with the response cache on, one with
    it off, and an ensemble over each, on a server with a cache."""
    root = tmp_path_factory.mktemp("cache") / "models"
    src = MODELS / "graphdef_int32_int32_int32"
    for state in ("enabled", "disabled"):
        name = f"int32_cache_{state}"
        shutil.copytree(src, root / name)
        config = (src / "config.pbtxt").read_text().replace('name: "graphdef_int32_int32_int32"', f'name: "{name}"')
        if state == "enabled":
            config += "response_cache { enable: true }\n"
        (root / name / "config.pbtxt").write_text(config)
        ensemble = root / f"ensemble_cache_{state}"
        (ensemble / "1").mkdir(parents=True)
        (ensemble / "config.pbtxt").write_text(ENSEMBLE.format(name=ensemble.name, step=name))
    srv = TritonServer(root, extra_args=["--cache-config", "local,size=1048576"])
    yield from serving(srv)


ENSEMBLE = """name: "{name}"
platform: "ensemble"
max_batch_size: 8
input [ {{ name: "INPUT0", data_type: TYPE_INT32, dims: [ 16 ] }},
        {{ name: "INPUT1", data_type: TYPE_INT32, dims: [ 16 ] }} ]
output [ {{ name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 16 ] }},
         {{ name: "OUTPUT1", data_type: TYPE_INT32, dims: [ 16 ] }} ]
ensemble_scheduling {{ step [ {{ model_name: "{step}", model_version: -1,
  input_map {{ key: "INPUT0", value: "INPUT0" }}, input_map {{ key: "INPUT1", value: "INPUT1" }},
  output_map {{ key: "OUTPUT0", value: "OUTPUT0" }}, output_map {{ key: "OUTPUT1", value: "OUTPUT1" }} }} ] }}
"""


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("model", ["int32_cache_enabled", "ensemble_cache_enabled"])
def test_cache_hit_and_miss_counts(cached, protocol, model):
    run = pa(cached, protocol, "-m", model, *WINDOW, *STABLE)
    passes(run)
    counts = [line for line in run.stdout.splitlines() if "Cache hit count" in line]
    assert counts, run.stdout  # the report suite's check_cache_output
    assert any(not line.endswith("Cache hit count: 0") for line in counts), counts
    assert "Cache miss count: " in run.stdout and "Average Cache Hit Latency: " in run.stdout


@pytest.mark.parametrize("model", ["int32_cache_disabled", "ensemble_cache_disabled"])
def test_no_cache_lines_without_the_cache(cached, model):
    run = pa(cached, "http", "-m", model, *WINDOW, *STABLE)
    passes(run)
    assert "Cache hit count" not in run.stdout


# ---------------------------------------------------------------- optional inputs, count windows


def test_optional_inputs_missing_but_valid(qa):
    run = pa(qa, "http", "-m", "optional", "--measurement-mode", "count_windows", "--measurement-request-count",
             "30", data("int_data_optional.json"), *STABLE)
    assert run.code == 0, run.stderr[-2000:]


OPTIONAL_INPUT_ERROR_LINES = (
    "For batch sizes larger than 1, the same set of",
    "inputs must be specified for each batch. You cannot use different set of",
    "optional inputs for each individual batch.",
)


def test_optional_inputs_missing_and_invalid(qa):
    run = pa(qa, "http", "-m", "optional", "-b", "2", "--measurement-mode", "count_windows",
             data("int_data_optional.json"), *STABLE)
    assert run.code != 0
    # The script's pattern spans three lines: grep reads them as three alternatives.
    assert any(line in run.stdout + run.stderr for line in OPTIONAL_INPUT_ERROR_LINES)


# ---------------------------------------------------------------- trace logging


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TritonServer, Path]]:
    """Triton >= 2.42 only traces into the file it was started with: the run
    names that same file, as the script's --trace-file does."""
    trace_file = tmp_path_factory.mktemp("trace") / "trace.json"
    srv = TritonServer(MODELS, extra_args=[f"--trace-config=triton,file={trace_file}"])
    try:
        srv.start()
    except TritonServerError as exc:
        pytest.fail(f"could not start the Triton server: {exc}", pytrace=False)
    try:
        yield srv, trace_file
    finally:
        srv.stop()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_trace_logging_works(traced, protocol):
    """The script's trace case (one trace in 100 requests rather than 1000:
    our windows are shorter): trace files appear and hold REQUEST_START."""
    server, trace_file = traced
    run = pa(server, protocol, "-m", SEQ, *WINDOW, "-t5", "--sync", "--trace-file", str(trace_file),
             "--trace-level", "TIMESTAMPS", "--trace-rate", "100", "--trace-count", "100", "--log-frequency", "10",
             data("seq_data.json"), *STABLE)
    assert run.code == 0, run.stderr[-2000:]
    files = sorted(trace_file.parent.glob(trace_file.name + "*"))
    assert files, "no trace file"
    assert any("REQUEST_START" in f.read_text() for f in files)


# ---------------------------------------------------------------- variable-shape strings, count windows


@pytest.fixture(scope="module")
def test_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The script's TESTDATADIR: files INPUT0 and INPUT1 of sixteen '1' lines."""
    d = tmp_path_factory.mktemp("test_data")
    for name in ("INPUT0", "INPUT1"):
        (d / name).write_text("1\n" * 16)
    return d


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("shm", ["none", "system"])
def test_variable_strings_from_files_and_json(qa, protocol, shm, test_data):
    shapes = ("--shape", "INPUT0:2,8", "--shape", "INPUT1:2,8")
    passes(pa(qa, protocol, "-m", "graphdef_object_int32_int32", f"--input-data={test_data}", *shapes, *WINDOW,
              f"--shared-memory={shm}", *STABLE))
    passes(pa(qa, protocol, "-m", "graphdef_object_int32_int32", data("string_data_with_shape.json"), *shapes,
              *WINDOW, f"--shared-memory={shm}", *STABLE))


def test_count_windows_incorrect_shape_does_not_hang(qa):
    run = pa(qa, "http", "-m", "graphdef_object_int32_int32", "--measurement-mode", "count_windows", "--shape",
             "INPUT0:1,8,100", "--shape", "INPUT1:2,8", "--string-data=1", *STABLE)
    assert run.code != 0
    assert "unexpected shape for input 'INPUT0' for model" in run.stdout + run.stderr


def test_count_windows_correct_shape(qa):
    passes(pa(qa, "http", "-m", "graphdef_object_int32_int32", "--measurement-mode", "count_windows",
              "--measurement-request-count", "30", "--shape", "INPUT0:2,8", "--shape", "INPUT1:2,8",
              "--string-data=1", *STABLE))


# ---------------------------------------------------------------- decoupled model, profile export


def test_decoupled_model_export(qa, tmp_path):
    """The script's decoupled case: some request got more than one response,
    and the export passes perf_analyzer's schema (its check-jsonschema step)."""
    export = tmp_path / "profile_export.json"
    run = pa(qa, "grpc", "-m", "repeat_int32", data("repeat_int32_data.json"), "--profile-export-file", str(export),
             "--async", "--streaming", *WINDOW, *STABLE)
    assert run.code == 0, run.stderr[-2000:]
    doc = json.loads(export.read_text())
    requests = doc["experiments"][0]["requests"]
    assert any(len(r["response_timestamps"]) > 1 for r in requests)
    jsonschema.validate(doc, json.loads((HERE / "data" / "profile_export.schema.json").read_text()))
