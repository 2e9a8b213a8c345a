"""--service-kind triton_c_api against the real Triton library of the server
venv, with the example models. Each run is a CLI subprocess: the server lives
in the process that profiles, and servers must not pile up in pytest's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

MODELS = REPO_ROOT / "examples" / "model_repository"
SHORT = ("-p", "300", "-s", "50", "-r", "20")


def server_venv() -> Path:
    return Path(os.environ.get("PA_SERVER_VENV") or REPO_ROOT / ".venv-server").resolve()


@pytest.fixture(scope="module")
def server_dir() -> str:
    found = sorted(server_venv().glob("lib/python3.*/site-packages/pytriton/tritonserver"))
    if not found:
        pytest.fail(f"no nvidia-pytriton tritonserver in {server_venv()} (make server-venv)", pytrace=False)
    return str(found[0])


def capi(*args: str, server_dir: str | None = None, env: dict[str, str] | None = None,
         timeout: float = 180) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "perfanalyzer", "--service-kind", "triton_c_api", *args]
    if server_dir:
        argv += ["--triton-server-directory", server_dir]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def counts(stdout: str) -> list[tuple[int, int]]:
    """(client request count, server successful request count) per level."""
    client = [int(n) for n in re.findall(r"^    Request count: (\d+)$", stdout, re.M)]
    server = [int(n) for n in re.findall(r"^    Successful request count: (\d+)$", stdout, re.M)]
    assert len(client) == len(server), stdout
    return list(zip(client, server, strict=True))


def test_concurrency_counts_agree_with_the_server(server_dir: str) -> None:
    run = capi("-m", "identity", "--model-repository", str(MODELS), "--concurrency-range", "1:4:3",
               "--request-count", "300", server_dir=server_dir)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("server is alive!\n")
    assert "Service Kind: Triton C-API" in run.stdout
    assert counts(run.stdout) == [(300, 300), (300, 300)]
    assert "Avg C-API time:" in run.stdout
    assert "compute infer" in run.stdout


def test_time_windows_and_rate_mode_on_two_inputs(server_dir: str) -> None:
    run = capi("-m", "add_sub", "--model-repository", str(MODELS), "--request-rate-range", "200", *SHORT,
               server_dir=server_dir)
    assert run.returncode == 0, run.stderr
    [(client, server)] = counts(run.stdout)
    # Time windows: a request finishing between the client's boundary and the
    # statistics read counts one window apart; a handful at most in-process.
    assert client > 0 and abs(client - server) <= 5, run.stdout
    assert "Avg send request rate:" in run.stdout


def test_default_server_directory_from_the_server_venv() -> None:
    run = capi("-m", "add_sub", "--model-repository", str(MODELS), "--request-count", "50",
               env={"PA_SERVER_VENV": str(server_venv())})
    assert run.returncode == 0, run.stderr
    assert counts(run.stdout) == [(50, 50)]


def test_documented_command_finds_the_wheels_server() -> None:
    """docs/service_kinds.md's command, with the nvidia-pytriton wheel found by
    default (here in the server venv), bounded by --request-count."""
    run = capi("-m", "identity", "--model-repository", str(MODELS), "--concurrency-range", "1:4",
               "--request-count", "100", env={"PA_SERVER_VENV": str(server_venv())})
    assert run.returncode == 0, run.stderr
    assert counts(run.stdout) == [(100, 100)] * 4


def one_line(stderr: str, *needles: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    for n in needles:
        assert n in lines[0], stderr


def test_unknown_model_gives_the_servers_message(server_dir: str) -> None:
    run = capi("-m", "no_such_model", "--model-repository", str(MODELS), server_dir=server_dir)
    assert run.returncode == 99
    one_line(run.stderr, "model 'no_such_model' failed to load", "no_such_model")


def test_model_that_fails_to_load(server_dir: str, tmp_path: Path) -> None:
    model = tmp_path / "broken"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text(
        'name: "broken"\nbackend: "no_such_backend"\nmax_batch_size: 0\n'
        'input [{name: "I" data_type: TYPE_FP32 dims: [1]}]\noutput [{name: "O" data_type: TYPE_FP32 dims: [1]}]\n')
    run = capi("-m", "broken", "--model-repository", str(tmp_path), server_dir=server_dir, timeout=90)
    assert run.returncode == 99
    one_line(run.stderr, "model 'broken' failed to load", "no_such_backend")


def test_model_whose_code_fails(server_dir: str, tmp_path: Path) -> None:
    model = tmp_path / "broken"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text(
        'name: "broken"\nbackend: "python"\nmax_batch_size: 0\n'
        'input [{name: "I" data_type: TYPE_FP32 dims: [1]}]\noutput [{name: "O" data_type: TYPE_FP32 dims: [1]}]\n')
    (model / "1" / "model.py").write_text("raise RuntimeError('model.py fails on import')\n")
    run = capi("-m", "broken", "--model-repository", str(tmp_path), server_dir=server_dir, timeout=90)
    assert run.returncode == 99
    # The backend's stub process logs its own lines on the stderr it inherits; ours is one line.
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in run.stderr, run.stderr
    assert "model 'broken' failed to load" in errors[0] and "model.py fails on import" in errors[0]


def test_missing_library_names_the_path(tmp_path: Path) -> None:
    run = capi("-m", "identity", "--model-repository", str(MODELS), server_dir=str(tmp_path))
    assert run.returncode == 99
    one_line(run.stderr, str(tmp_path / "lib" / "libtritonserver.so"))


def build_library(tmp_path: Path, source: str) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "v.c").write_text("#include <stdint.h>\n" + source)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(tmp_path / "lib" / "libtritonserver.so"),
                    str(tmp_path / "v.c")], check=True)
    return tmp_path


def test_wrong_api_version(tmp_path: Path) -> None:
    d = build_library(tmp_path, "void *TRITONSERVER_ApiVersion(uint32_t *a, uint32_t *b) "
                                "{ *a = 2; *b = 0; return 0; }\n")
    run = capi("-m", "identity", "--model-repository", str(MODELS), server_dir=str(d))
    assert run.returncode == 99
    one_line(run.stderr, "implements Triton server API 2.0", "needs 1.x")


def test_library_without_the_api(tmp_path: Path) -> None:
    d = build_library(tmp_path, "int unrelated(void) { return 0; }\n")
    run = capi("-m", "identity", "--model-repository", str(MODELS), server_dir=str(d))
    assert run.returncode == 99
    one_line(run.stderr, "is not a Triton server library", "TRITONSERVER_ApiVersion")


@pytest.mark.parametrize("kind", ["system", "cuda"])
def test_shared_memory_runs_as_in_perf_analyzer(server_dir: str, kind: str) -> None:
    """The QA suite's C API loop over --shared-memory system and cuda: exit 0
    (the in-process server reads the inputs in place either way)."""
    run = capi("-m", "identity", "--model-repository", str(MODELS), "-t", "1", "--request-count", "40",
               "--shared-memory", kind, server_dir=server_dir)
    assert run.returncode == 0, run.stderr
    assert counts(run.stdout) == [(40, 40)]


QA_MODELS = REPO_ROOT / "tests" / "integration" / "qa_models"
QA_SEQ_DATA = REPO_ROOT / "tests" / "integration" / "qa_data" / "seq_data.json"


def test_sequence_model_gets_correlation_ids(server_dir: str) -> None:
    """The QA suite's C API case `-t5 --sync`, on the sequence model itself:
    every request carries its sequence's correlation ID and start/end flags
    (none were sent: every request failed)."""
    run = capi("-m", "savedmodel_sequence_object", "--model-repository", str(QA_MODELS), "-t5", "--sync",
               f"--input-data={QA_SEQ_DATA}", "--request-count", "60", server_dir=server_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "correlation ID" not in run.stderr
    assert counts(run.stdout)[0][0] == 60


def test_sequence_model_request_rate(server_dir: str) -> None:
    run = capi("-m", "savedmodel_sequence_object", "--model-repository", str(QA_MODELS),
               "--request-rate-range", "50", f"--input-data={QA_SEQ_DATA}", "--request-count", "40",
               server_dir=server_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert counts(run.stdout)[0][0] == 40


def test_ensemble_over_a_sequence_model_is_refused_in_one_line(server_dir: str) -> None:
    run = capi("-m", "simple_savedmodel_sequence_object", "--model-repository", str(QA_MODELS),
               "--concurrency-range", "5", f"--input-data={QA_SEQ_DATA}",
               "--request-count", "20", server_dir=server_dir, timeout=120)
    assert run.returncode == 99
    one_line(run.stderr, "is an ensemble over a sequence model", "-i grpc")


def test_profile_export_names_the_service_kind(server_dir: str, tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    run = capi("-m", "add_sub", "--model-repository", str(MODELS), "--request-count", "20",
               "--profile-export-file", str(export), server_dir=server_dir)
    assert run.returncode == 0, run.stderr
    doc = json.loads(export.read_text())
    assert (doc["service_kind"], doc["endpoint"]) == ("triton_c_api", "")
    assert len(doc["experiments"][0]["requests"]) == 20


# perf_analyzer's C API QA script (qa/L0_perf_analyzer_capi), on the QA stand-ins.
@pytest.mark.parametrize("args", [
    (),
    ("-t", "1", "-b", "1"),
    ("--request-rate-range", "100:200:100", "-b", "1"),
], ids=["defaults", "t1", "rate"])
def test_qa_capi_int32(server_dir: str, args: tuple[str, ...]) -> None:
    # One window of a fixed request count: a noisy shared machine cannot fail the stability check.
    run = capi("-m", "graphdef_int32_int32_int32", "--model-repository", str(QA_MODELS), *args, "--request-count",
               "100", server_dir=server_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "error | Request count: 0 | : 0 infer/sec" not in run.stdout + run.stderr


def test_qa_capi_string_data(server_dir: str) -> None:
    run = capi("-m", "graphdef_object_object_object", "--model-repository", str(QA_MODELS), "--string-data=1",
               "--request-count", "100", server_dir=server_dir)
    assert run.returncode == 0, run.stderr[-2000:]


def test_qa_capi_async_is_named_not_supported_once(server_dir: str) -> None:
    """The script greps 'not supported by triton_c_api service' exactly once."""
    run = capi("-m", "graphdef_int32_int32_int32", "--model-repository", str(QA_MODELS), "-t", "1", "-b", "1", "-a",
               "--request-count", "20", server_dir=server_dir)
    assert (run.stdout + run.stderr).count("not supported by triton_c_api service") == 1
