"""validation_data against the real server: every response is compared in the
compiled engine; a wrong expected value fails the run (exit 99) with the step,
output name and first differing element."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import cli
from .test_input_data import LOOSE, model_counts, write_json

MISMATCH = "Output doesn't match expected output"


def add_sub_doc(wrong: bool = False) -> dict:
    a, b = [float(i) for i in range(16)], [0.5] * 16
    steps = [{"INPUT0": a, "INPUT1": b}, {"INPUT0": b, "INPUT1": a}, {"INPUT0": a, "INPUT1": a}]
    expected = [{"OUTPUT0": [x + y for x, y in zip(s["INPUT0"], s["INPUT1"], strict=True)],
                 "OUTPUT1": [x - y for x, y in zip(s["INPUT0"], s["INPUT1"], strict=True)]} for s in steps]
    if wrong:
        expected[1]["OUTPUT1"][5] = 123.0
    return {"data": steps, "validation_data": expected}


@pytest.mark.parametrize("client", ["native", "curl"])
def test_matching_validation_data_passes(triton, tmp_path: Path, client: str) -> None:
    f = write_json(tmp_path / "v.json", add_sub_doc())
    run = cli("-m", "add_sub", "-u", triton.http_url, "--input-data", f, "--http-client", client, *LOOSE)
    assert run.code == 0, run.stderr
    assert MISMATCH not in run.stderr + run.stdout


@pytest.mark.parametrize("client", ["native", "curl"])
def test_wrong_expected_value_fails_with_step_output_and_element(triton, tmp_path: Path, client: str) -> None:
    f = write_json(tmp_path / "v.json", add_sub_doc(wrong=True))
    before = model_counts(triton, "add_sub")
    run = cli("-m", "add_sub", "-u", triton.http_url, "--input-data", f, "--http-client", client, *LOOSE)
    assert run.code == 99, run.stderr
    assert f"{MISMATCH}: step 1, output 'OUTPUT1', element 5: expected 123, got -4.5" in run.stderr
    assert "Traceback" not in run.stderr
    assert model_counts(triton, "add_sub")[0] > before[0]   # the requests were served; the answers differed


def test_batched_string_outputs_validated(triton, tmp_path: Path) -> None:
    doc = {"data": [{"INPUT0": ["a", "bb"]}, {"INPUT0": ["ccc", ""]}],
           "validation_data": [{"OUTPUT0": ["a", "bb"], "LENGTH": [1, 2]}, {"OUTPUT0": ["ccc", ""], "LENGTH": [3, 0]}]}
    run = cli("-m", "string_echo", "-u", triton.http_url, "--input-data", write_json(tmp_path / "s.json", doc),
              "-b", "2", *LOOSE)
    assert run.code == 0, run.stderr
    doc["validation_data"][1]["LENGTH"] = [3, 9]
    run = cli("-m", "string_echo", "-u", triton.http_url, "--input-data", write_json(tmp_path / "s.json", doc),
              "-b", "2", *LOOSE)
    assert run.code == 99, run.stderr
    assert f"{MISMATCH}: step 1, output 'LENGTH', element 1: expected 9, got 0" in run.stderr


def test_validation_with_json_outputs_is_an_option_error(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "v.json", add_sub_doc())
    before = model_counts(triton, "add_sub")
    run = cli("-m", "add_sub", "-u", triton.http_url, "--input-data", f, "--output-tensor-format", "json", *LOOSE)
    assert run.code == 3, run.stderr
    assert "validation_data needs --output-tensor-format binary" in run.stderr
    assert model_counts(triton, "add_sub") == before
