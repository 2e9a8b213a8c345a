"""--service-kind triton_c_api against the real Triton library of the server
venv, with the example models. Each run is a CLI subprocess: the server lives
in the process that profiles, and servers must not pile up in pytest's."""

from __future__ import annotations

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
    run = capi("-m", "broken", "--model-repository", str(tmp_path), server_dir=server_dir)
    assert run.returncode == 99
    one_line(run.stderr, "model 'broken' failed to load", "no_such_backend")


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


def test_shared_memory_is_rejected() -> None:
    run = capi("-m", "identity", "--model-repository", str(MODELS), "--shared-memory", "system")
    assert run.returncode == 3
    one_line(run.stderr, "--shared-memory system does not apply to --service-kind triton_c_api")
