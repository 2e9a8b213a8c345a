"""--service-kind triton_c_api against the real Triton library of the server
venv, with the example models. Each run is a CLI subprocess: the server lives
in the process that profiles, and servers must not pile up in pytest's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
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
    """The CLI's run, its output read from files, not pipes: a Python backend
    process left behind by a server that did not stop holds the pipes, and
    reading them to their end would wait for it while it waits for our run's
    process to be reaped (it polls its parent with kill(pid, 0), which a
    zombie still answers)."""
    argv = [sys.executable, "-m", "perfanalyzer", "--service-kind", "triton_c_api", *args]
    if server_dir:
        argv += ["--triton-server-directory", server_dir]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run(argv, stdout=out, stderr=err, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, proc.returncode, out.read(), err.read())


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


def stopped_cleanly(run: subprocess.CompletedProcess[str]) -> None:
    """The in-process server stopped within its exit timeout (the run warns
    with Triton's message when it did not), so its models unloaded and the
    Python backend's processes were told to exit (one whose parent died
    first says so)."""
    assert "did not stop" not in run.stderr, run.stderr[-2000:]
    assert "Non-graceful termination" not in run.stdout + run.stderr, run.stderr[-2000:]


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
    stopped_cleanly(run)


def test_sequence_model_request_rate(server_dir: str) -> None:
    run = capi("-m", "savedmodel_sequence_object", "--model-repository", str(QA_MODELS),
               "--request-rate-range", "50", f"--input-data={QA_SEQ_DATA}", "--request-count", "40",
               server_dir=server_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert counts(run.stdout)[0][0] == 40


def test_ensemble_over_a_sequence_model(server_dir: str) -> None:
    """The C API QA case `-p 2000 -t5 --sync` on the ensemble over the sequence
    model, as 2.40 runs it: every request carries its sequence's correlation
    ID and start/end flags through the ensemble to its step, and the server
    stops at the end. (A reused request object kept every send's ensemble
    release callback on Triton 2.51: the ensemble's in-flight count wrapped
    below zero and the server could not stop.)"""
    run = capi("-m", "simple_savedmodel_sequence_object", "--model-repository", str(QA_MODELS), "-t5", "--sync",
               f"--input-data={QA_SEQ_DATA}", "--request-count", "60", server_dir=server_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "error | Request count: 0 | : 0 infer/sec" not in run.stdout + run.stderr
    assert "correlation ID" not in run.stderr
    assert counts(run.stdout) == [(60, 60)]
    # ... and each reached the sequence model behind the ensemble.
    assert re.search(r"^  savedmodel_sequence_object, version: 1\n(?:      .*\n)*?      Successful request count: 60$",
                     run.stdout, re.M), run.stdout
    stopped_cleanly(run)


def test_ensemble_stops_the_server(server_dir: str) -> None:
    """An ensemble of plain models stops the server at the end of the run too
    (the same wrapped in-flight count, without sequences)."""
    run = capi("-m", "ensemble_add_sub", "--model-repository", str(MODELS), "-t", "2", "--request-count", "300",
               server_dir=server_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert counts(run.stdout) == [(300, 300)]
    stopped_cleanly(run)


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
