"""BYTES inputs and optional inputs against real models: string_echo returns
what arrived (and each element's length), optional_add says whether INPUT1
came with the request."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from perfanalyzer.inputs import split_bytes_elements
from perfanalyzer.settings import Settings

from .helpers import cli
from .test_input_data import LOOSE, encoded, model_counts, post, write_json


def outputs(header: dict, raw: bytes) -> dict[str, np.ndarray | list[bytes]]:
    """The binary outputs of one response by name (BYTES as lists of bytes)."""
    out: dict[str, np.ndarray | list[bytes]] = {}
    pos = 0
    for o in header["outputs"]:
        n = o["parameters"]["binary_data_size"]
        chunk = raw[pos:pos + n]
        pos += n
        if o["datatype"] == "BYTES":
            out[o["name"]] = split_bytes_elements(chunk)
        else:
            dtype = {"INT32": "<i4", "FP32": "<f4"}[o["datatype"]]
            out[o["name"]] = np.frombuffer(chunk, dtype).reshape(o["shape"])
    return out


def echo(triton, settings: Settings) -> list[dict]:
    return [outputs(*post(triton, settings.model_name, *b)) for b in encoded(triton, settings)]


def test_string_length_reaches_the_model(triton) -> None:
    settings = Settings(model_name="string_echo", url=triton.http_url, string_length=7, batch_size=3).validate()
    (got,) = echo(triton, settings)
    assert got["LENGTH"].tolist() == [[7, 7]] * 3
    assert all(len(s) == 7 and s.isalnum() for s in got["OUTPUT0"])


def test_string_data_is_replicated(triton) -> None:
    settings = Settings(model_name="string_echo", url=triton.http_url, string_data="héllo").validate()
    (got,) = echo(triton, settings)
    assert got["OUTPUT0"] == ["héllo".encode()] * 2
    assert got["LENGTH"].tolist() == [[6, 6]]


def test_json_strings_plain_and_b64(triton, tmp_path: Path) -> None:
    packed = b"".join(len(s).to_bytes(4, "little") + s for s in (b"\x00bin", b""))
    f = write_json(tmp_path / "s.json", {"data": [
        {"INPUT0": ["a", "bcd"]},
        {"INPUT0": {"b64": base64.b64encode(packed).decode()}},
        {"INPUT0": {"content": ["x y", "zz"], "shape": [2]}},
    ]})
    settings = Settings(model_name="string_echo", url=triton.http_url, input_data_paths=(f,)).validate()
    got = echo(triton, settings)
    assert [g["OUTPUT0"] for g in got] == [[b"a", b"bcd"], [b"\x00bin", b""], [b"x y", b"zz"]]
    assert [g["LENGTH"].tolist() for g in got] == [[[1, 3]], [[4, 0]], [[3, 2]]]


@pytest.mark.parametrize("args", [
    ["--string-length", "5"],
    ["--string-data", "abc", "-b", "4"],
    ["--input-tensor-format", "json", "--output-tensor-format", "json"],
])
def test_string_model_profiles_through_the_cli(triton, args: list[str]) -> None:
    before = model_counts(triton, "string_echo")
    run = cli("-m", "string_echo", "-u", triton.http_url, *args, *LOOSE)
    assert run.code == 0, run.stderr
    success, fail = model_counts(triton, "string_echo")
    assert fail == before[1] and success > before[0]


def test_json_strings_through_the_cli(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "s.json", {"data": [{"INPUT0": ["one", "two"]}, {"INPUT0": ["three", "four"]}]})
    run = cli("-m", "string_echo", "-u", triton.http_url, "--input-data", f, "-b", "2", *LOOSE)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith(" Successfully read data for 1 stream/streams with 2 step/steps.")


def test_number_for_a_string_input_is_exit_3(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "s.json", {"data": [{"INPUT0": [1, 2]}]})
    run = cli("-m", "string_echo", "-u", triton.http_url, "--input-data", f, *LOOSE)
    assert run.code == 3 and "Traceback" not in run.stderr
    assert "element 0 is the number 1; a BYTES input takes strings" in run.stderr


# ---------------------------------------------------------------- optional inputs

A = [1.0, 2.0, 3.0, 4.0]
B = [10.0, 20.0, 30.0, 40.0]


def test_optional_input_present_and_absent_reach_the_model(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "o.json", {"data": [{"INPUT0": A, "INPUT1": B}, {"INPUT0": A}]})
    settings = Settings(model_name="optional_add", url=triton.http_url, input_data_paths=(f,)).validate()
    bodies = encoded(triton, settings)
    header = json.loads(bodies[1][0][:int(bodies[1][1][1].split(": ")[1])])
    assert [i["name"] for i in header["inputs"]] == ["INPUT0"]   # left out, not sent empty
    got = [outputs(*post(triton, "optional_add", *b)) for b in bodies]
    assert [g["GOT_INPUT1"].tolist() for g in got] == [[[1]], [[0]]]
    assert got[0]["OUTPUT0"].tolist() == [[11.0, 22.0, 33.0, 44.0]]
    assert got[1]["OUTPUT0"].tolist() == [A]


def test_optional_input_absent_in_every_step_batches(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "o.json", {"data": [{"INPUT0": A}, {"INPUT0": B}]})
    run = cli("-m", "optional_add", "-u", triton.http_url, "--input-data", f, "-b", "2", *LOOSE)
    assert run.code == 0, run.stderr
    settings = Settings(model_name="optional_add", url=triton.http_url, input_data_paths=(f,), batch_size=2).validate()
    (got,) = echo(triton, settings)
    assert got["GOT_INPUT1"].tolist() == [[0], [0]]


def test_optional_inputs_profile_with_random_data(triton) -> None:
    run = cli("-m", "optional_add", "-u", triton.http_url, *LOOSE)
    assert run.code == 0, run.stderr


def test_mixed_optional_inputs_in_one_batch_is_exit_3(triton, tmp_path: Path) -> None:
    f = write_json(tmp_path / "o.json", {"data": [{"INPUT0": A, "INPUT1": B}, {"INPUT0": A}]})
    before = model_counts(triton, "optional_add")
    run = cli("-m", "optional_add", "-u", triton.http_url, "--input-data", f, "-b", "2", *LOOSE)
    assert run.code == 3, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "the same set of inputs must be specified for each batch" in lines[0]
    assert model_counts(triton, "optional_add") == before
