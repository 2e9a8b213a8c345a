"""validation_data over -i grpc against the real server: the compiled gRPC
engines read every ModelInferResponse (unary and --streaming) and compare its
raw_output_contents; a wrong expected value fails the run (exit 99) with the
step, output name and first differing element, as over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from perfanalyzer import _core
from perfanalyzer.services.triton_grpc import encode_request

from .helpers import cli
from .test_grpc_memory import SPEC
from .test_input_data import LOOSE, model_counts, write_json
from .test_memory import run_until, stretch_growth
from .test_validation import MISMATCH, add_sub_doc

WRONG_ADD_SUB = f"{MISMATCH}: step 1, output 'OUTPUT1', element 5: expected 123, got -4.5"


@pytest.mark.parametrize("streaming", [False, True], ids=["unary", "streaming"])
def test_matching_validation_data_passes(triton, tmp_path: Path, streaming: bool) -> None:
    f = write_json(tmp_path / "v.json", add_sub_doc())
    before = model_counts(triton, "add_sub")
    run = cli("-m", "add_sub", "-i", "grpc", "-u", triton.grpc_url, "--input-data", f,
              *(["--streaming"] if streaming else []), *LOOSE)
    assert run.code == 0, run.stderr
    assert MISMATCH not in run.stderr + run.stdout
    assert model_counts(triton, "add_sub")[0] > before[0]


@pytest.mark.parametrize("streaming", [False, True], ids=["unary", "streaming"])
def test_wrong_expected_value_fails_with_step_output_and_element(triton, tmp_path: Path, streaming: bool) -> None:
    f = write_json(tmp_path / "v.json", add_sub_doc(wrong=True))
    before = model_counts(triton, "add_sub")
    run = cli("-m", "add_sub", "-i", "grpc", "-u", triton.grpc_url, "--input-data", f,
              *(["--streaming"] if streaming else []), *LOOSE)
    assert run.code == 99, run.stderr
    assert WRONG_ADD_SUB in run.stderr
    assert "Traceback" not in run.stderr
    assert model_counts(triton, "add_sub")[0] > before[0]   # served; the answers differed


def test_batched_string_outputs_validated(triton, tmp_path: Path) -> None:
    doc = {"data": [{"INPUT0": ["a", "bb"]}, {"INPUT0": ["ccc", ""]}],
           "validation_data": [{"OUTPUT0": ["a", "bb"], "LENGTH": [1, 2]}, {"OUTPUT0": ["ccc", ""], "LENGTH": [3, 0]}]}
    args = ("-m", "string_echo", "-i", "grpc", "-u", triton.grpc_url, "-b", "2", *LOOSE)
    run = cli(*args, "--input-data", write_json(tmp_path / "s.json", doc))
    assert run.code == 0, run.stderr
    doc["validation_data"][1]["OUTPUT0"] = ["ccc", "x"]
    run = cli(*args, "--input-data", write_json(tmp_path / "s.json", doc))
    assert run.code == 99, run.stderr
    assert f'{MISMATCH}: step 1, output \'OUTPUT0\', element 1: expected "x", got ""' in run.stderr


def test_decoupled_model_every_response_validated(triton, tmp_path: Path) -> None:
    # repeat_4 answers each request four times with OUTPUT0 = INPUT0, then an empty final response.
    doc = {"data": [{"INPUT0": [1.5]}, {"INPUT0": [-2.0]}],
           "validation_data": [{"OUTPUT0": [1.5]}, {"OUTPUT0": [-2.0]}]}
    args = ("-m", "repeat_4", "-i", "grpc", "-u", triton.grpc_url, "--streaming", *LOOSE)
    run = cli(*args, "--input-data", write_json(tmp_path / "r.json", doc))
    assert run.code == 0, run.stderr
    doc["validation_data"][1]["OUTPUT0"] = [2.0]
    run = cli(*args, "--input-data", write_json(tmp_path / "r.json", doc))
    assert run.code == 99, run.stderr
    assert f"{MISMATCH}: step 1, output 'OUTPUT0', element 0: expected 2, got -2" in run.stderr


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_large_response_in_several_slices(triton, tmp_path: Path, compression: str) -> None:
    # 1 MB of output arrives in several slices: the engine flattens them into the slot's buffer.
    values = np.arange(262144, dtype="<f4")
    wrong = values.copy()
    wrong[200000] = -1.0

    def doc(expected: np.ndarray) -> dict:
        return {"data": [{"INPUT0": {"content": {"b64": base64.b64encode(values.tobytes()).decode()},
                                     "shape": [262144]}}],
                "validation_data": [{"OUTPUT0": {"b64": base64.b64encode(expected.tobytes()).decode()}}]}

    args = ("-m", "identity_dynamic", "-i", "grpc", "-u", triton.grpc_url,
            "--grpc-compression-algorithm", compression, *LOOSE)
    run = cli(*args, "--input-data", write_json(tmp_path / "big.json", doc(values)))
    assert run.code == 0, run.stderr
    run = cli(*args, "--input-data", write_json(tmp_path / "big.json", doc(wrong)))
    assert run.code == 99, run.stderr
    assert f"{MISMATCH}: step 0, output 'OUTPUT0', element 200000: expected -1, got 200000" in run.stderr


def test_validation_with_shared_memory_is_an_option_error(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "v.json", add_sub_doc())
    before = model_counts(triton, "add_sub")
    run = cli("-m", "add_sub", "-i", "grpc", "-u", triton.grpc_url, "--input-data", f,
              "--shared-memory", "system", *LOOSE)
    assert run.code == 3, run.stderr
    assert "validation_data can not be checked with --shared-memory" in run.stderr
    assert model_counts(triton, "add_sub") == before


@pytest.mark.parametrize("streaming", [False, True], ids=["unary", "streaming"])
def test_validating_engine_keeps_memory_flat(triton, streaming: bool) -> None:
    # Validation reads every response into per-slot buffers that are reused: no growth per request.
    params = {"triton_enable_empty_final_response": True} if streaming else None
    values = np.arange(16, dtype="<f4").reshape(1, 16)
    validator = _core.Validator(1)
    validator.add_output(0, "OUTPUT0", "FP32", values.tobytes())
    message = encode_request(SPEC, {"INPUT0": values}, parameters=params)
    engine = _core.GrpcEngine(triton.grpc_url, [message], channels=2, streaming=streaming, validator=validator)
    try:
        engine.start()
        engine.set_concurrency(8)
        run_until(engine, 2_000)  # warm; run_until also fails on any failed request (a mismatch)
        grown = stretch_growth(engine, 15_000)
    finally:
        engine.stop(2000)
        engine.close()
    assert min(grown) < 128 * 1024, f"RSS grew by {grown} bytes in each of two stretches of 15,000 requests"


def test_engine_counts_a_mismatch_as_a_failed_request(triton, until: Callable[..., bool]) -> None:
    values = np.arange(16, dtype="<f4").reshape(1, 16)
    validator = _core.Validator(1)
    validator.add_output(0, "OUTPUT0", "FP32", (values + 1).tobytes())
    engine = _core.GrpcEngine(triton.grpc_url, [encode_request(SPEC, {"INPUT0": values})], validator=validator)
    try:
        engine.start()
        engine.set_concurrency(1)
        until(lambda: engine.failed >= 5, 60)
        engine.stop(2000)
        failed, completed, messages = engine.failed, engine.completed, engine.error_messages()
    finally:
        engine.stop(2000)
        engine.close()
    assert failed >= 5 and completed == 0
    assert messages[0] == f"{MISMATCH}: step 0, output 'OUTPUT0', element 0: expected 1, got 0"
