"""--input-data JSON files: every form of a tensor, streams, shapes, optional
inputs, validation_data, and one clear OptionError for each kind of bad data."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from perfanalyzer.data_loader import MIXED_DATA, JsonDataReader, read_json_files
from perfanalyzer.errors import OptionError
from perfanalyzer.model import ModelSpec, TensorSpec

SPEC = ModelSpec(
    "m", "1", "python", 8,
    (TensorSpec("A", "INT32", (4,)), TensorSpec("V", "FP32", (-1, 2)), TensorSpec("S", "BYTES", (2,)),
     TensorSpec("OPT", "FP32", (1,), optional=True)),
    (TensorSpec("OUT", "INT32", (4,)), TensorSpec("OUTV", "FP32", (-1,))),
)
SHAPES = {"A": (4,), "V": (-1, 2), "S": (2,), "OPT": (1,)}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def step(a=(1, 2, 3, 4), v=None, s=("x", "y"), **extra) -> dict:
    out = {"A": list(a), "V": v if v is not None else {"content": [1, 2, 3, 4], "shape": [2, 2]}, "S": list(s)}
    out.update(extra)
    return out


def read(doc: object, shapes=SHAPES, spec=SPEC):
    reader = JsonDataReader(spec, shapes)
    reader.read_document(doc, "--input-data d.json")
    return reader.result("--input-data d.json")


def error(doc: object, shapes=SHAPES) -> str:
    with pytest.raises(OptionError) as e:
        read(doc, shapes)
    assert e.value.exit_code == 3
    return str(e.value)


# ---------------------------------------------------------------- good data


def test_plain_steps_make_one_stream():
    data = read({"data": [step(), step(a=(5, 6, 7, 8)), step()]})
    assert len(data.streams) == 1 and len(data.streams[0]) == 3
    assert data.from_json
    assert data.read_message() == " Successfully read data for 1 stream/streams with 3 step/steps."
    s1 = data.streams[0][1]
    assert s1["A"].dtype == np.int32 and s1["A"].tolist() == [5, 6, 7, 8]
    assert s1["V"].shape == (2, 2) and s1["V"].dtype == np.float32
    assert list(s1["S"]) == [b"x", b"y"]
    assert "OPT" not in s1  # optional and absent
    assert not data.has_expected


def test_streams_of_steps():
    data = read({"data": [[step(), step()], [step()]]})
    assert [len(s) for s in data.streams] == [2, 1]
    assert data.read_message() == " Successfully read data for 2 stream/streams."


def test_every_tensor_form():
    raw = np.array([9, 8, 7, 6], dtype="<i4").tobytes()
    vraw = np.arange(6, dtype="<f4").tobytes()
    sraw = b"\x02\x00\x00\x00hi" + b"\x00\x00\x00\x00"
    forms = [
        step(a=[9, 8, 7, 6]),
        {"A": {"b64": b64(raw)}, "V": {"b64": b64(vraw), "shape": [3, 2]}, "S": {"b64": b64(sraw)}},
        {"A": {"content": [9, 8, 7, 6]}, "V": {"content": {"b64": b64(vraw)}, "shape": [3, 2]},
         "S": {"content": ["hi", ""], "shape": [2]}},
    ]
    steps = read({"data": forms}).streams[0]
    for s in steps:
        assert s["A"].tolist() == [9, 8, 7, 6]
    assert steps[1]["V"].tolist() == [[0, 1], [2, 3], [4, 5]]
    assert steps[2]["V"].tolist() == [[0, 1], [2, 3], [4, 5]]
    assert list(steps[1]["S"]) == list(steps[2]["S"]) == [b"hi", b""]


def test_b64_tolerates_whitespace_and_missing_padding():
    raw = np.array([1, 2, 3, 4], dtype="<i4").tobytes()
    text = b64(raw).rstrip("=")
    text = text[:5] + "\n " + text[5:]
    assert read({"data": [step(a=[0, 0, 0, 0]) | {"A": {"b64": text}}]}).streams[0][0]["A"].tolist() == [1, 2, 3, 4]


def test_json_shape_fills_open_dims_and_the_shape_flag_fills_the_rest():
    steps = read({"data": [step(v={"content": [1, 2, 3, 4, 5, 6], "shape": [3, 2]})]}).streams[0]
    assert steps[0]["V"].shape == (3, 2)   # the JSON names the open dimension
    shapes = dict(SHAPES, V=(1, 2))
    steps = read({"data": [step(v=[1, 2]), step(v={"content": [1, 2], "shape": [1, 2]})]}, shapes).streams[0]
    assert steps[0]["V"].shape == steps[1]["V"].shape == (1, 2)   # from --shape, and agreeing with it


def test_zero_sized_shape_is_legal():
    assert read({"data": [step(v={"content": [], "shape": [0, 2]})]}).streams[0][0]["V"].shape == (0, 2)


def test_optional_input_given_and_model_key_ignored():
    s = read({"data": [step(OPT=[0.5], model="m")]}).streams[0][0]
    assert s["OPT"].tolist() == [0.5] and "model" not in s


def test_several_files_append(tmp_path: Path):
    files = []
    for i, doc in enumerate([{"data": [step(a=(1, 1, 1, 1))]},
                             {"data": [step(a=(2, 2, 2, 2)), step(a=(3, 3, 3, 3))]},
                             {"data": [step(a=(4, 4, 4, 4))], "validation_data": [{"OUT": [4, 4, 4, 4]}]}]):
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps(doc))
    data = read_json_files([str(f) for f in files], SPEC, SHAPES)
    assert [int(s["A"][0]) for s in data.streams[0]] == [1, 2, 3, 4]
    assert [bool(e) for e in data.expected[0]] == [False, False, False, True]
    nested = []
    for i, doc in enumerate([{"data": [[step()]]}, {"data": [[step(), step()], [step()]]}]):
        nested.append(tmp_path / f"n{i}.json")
        nested[-1].write_text(json.dumps(doc))
    assert [len(s) for s in read_json_files([str(f) for f in nested], SPEC, SHAPES).streams] == [1, 2, 1]


def test_validation_data_is_parsed_and_aligned():
    data = read({"data": [step(), step()],
                 "validation_data": [{"OUT": [1, 2, 3, 4]}, {"OUTV": {"b64": b64(np.ones(3, "<f4").tobytes())}}]})
    assert data.has_expected
    first, second = data.expected[0]
    assert first["OUT"].tolist() == [1, 2, 3, 4]
    assert second["OUTV"].tolist() == [1, 1, 1]  # an output of open shape is kept flat
    nested = read({"data": [[step()], [step(), step()]],
                   "validation_data": [[{"OUT": [0, 0, 0, 0]}], [{}, {"OUTV": [1.5]}]]})
    assert [len(s) for s in nested.expected] == [1, 2] and nested.expected[1][1]["OUTV"].tolist() == [1.5]


# ---------------------------------------------------------------- bad data


@pytest.mark.parametrize("doc, message", [
    ([1, 2], 'the JSON must be an object with a "data" list, got a list'),
    ({"steps": []}, 'the JSON has no "data" field'),
    ({"data": []}, '"data" must be a non-empty list of steps or of streams of steps'),
    ({"data": {"A": [1]}}, '"data" must be a non-empty list'),
    ({"data": [[step()], step()]}, MIXED_DATA),
    ({"data": [[step()], []]}, 'stream 1 of "data" has no steps'),
    ({"data": [step(), 5]}, "step 1: a step must be an object of input name -> tensor, got a number"),
    ({"data": [step(B=[1])]}, "step 0: model 'm' has no input named 'B' (inputs: A, V, S, OPT)"),
    ({"data": [step(), {"A": [1, 2, 3, 4], "V": {"content": [1, 2], "shape": [1, 2]}, "OPT": [1.0]}]},
     "step 1: missing input 'S' (only optional inputs may be left out)"),
    ({"data": [step(a=(1, 2, 3))]},
     "step 0, input 'A': mismatch in the data provided: expected 4 elements for shape [4], got 3"),
    ({"data": [step(), step(s=("x", "y", "z"))]},
     "step 1, input 'S': mismatch in the data provided: expected 2 elements for shape [2], got 3"),
    ({"data": [step(a=("1", "2", "3", "4"))]},
     "step 0, input 'A': element 0 is the string '1'; a INT32 input takes numbers"[:40]),
    ({"data": [step(A={"b64": "not base64!"})]}, "step 0, input 'A': \"b64\" is not valid base64"),
    ({"data": [step(A={"b64": "AAAAA"})]}, "step 0, input 'A': \"b64\" is not valid base64"),
    ({"data": [step(A={"b64": 12})]}, 'the value of "b64" must be a string, got a number'),
    ({"data": [step(A={"b64": b64(bytes(8))})]},
     "step 0, input 'A': mismatch in the data provided: expected 16 bytes (4 x INT32) for shape [4], got 8 bytes"),
    ({"data": [step(A=None)]}, "step 0, input 'A': a tensor must be a list"),
    ({"data": [step(A={"shape": [4]})]}, 'step 0, input \'A\': a tensor object needs "content" (or "b64")'),
    ({"data": [step(A={"content": 7})]}, '"content" must be a list or {"b64": ...}, got a number'),
    ({"data": [step(v={"content": [1, 2], "shape": [-1, 2]})]}, '"shape" [-1, 2] has a negative dimension'),
    ({"data": [step(v={"content": [1, 2], "shape": [1.0, 2]})]}, '"shape" must be a list of integers, got [1.0, 2]'),
    ({"data": [step(v={"content": [1, 2], "shape": [True, 2]})]}, '"shape" must be a list of integers'),
    ({"data": [step(v={"content": [1, 2], "shape": "1,2"})]}, '"shape" must be a list of integers, got "1,2"'),
    ({"data": [step(v={"content": [], "shape": [0, 2**40]})]}, "has a dimension over 2147483648"),
    ({"data": [step(v={"content": [1, 2], "shape": [1, 2, 1]})]},
     "input 'V': The supplied shape of [1, 2, 1] for input \"V\" is incompatible with the model's input shape of "
     "[-1, 2]"),
    ({"data": [step(A={"content": [1, 2, 3, 4], "shape": [2, 2]})]},
     "The supplied shape of [2, 2] for input \"A\" is incompatible with the model's input shape of [4]"),
    ({"data": [step(v=[1, 2])]},
     "step 0, input 'V': the model's shape [-1, 2] is variable: give this tensor a \"shape\" next to its "
     "\"content\", or --shape V:d1,d2,..."),
    ({"data": [[step()], [step(a=(1,))]]},
     "stream 1, step 0, input 'A': mismatch in the data provided: expected 4 elements"),
])
def test_bad_data(doc, message):
    text = error(doc)
    assert text.startswith("--input-data d.json: ")
    assert message in text


@pytest.mark.parametrize("doc, message", [
    ({"data": [step(), step()], "validation_data": [{"OUT": [1, 2, 3, 4]}]}, "2 steps in data, 1 in validation_data"),
    ({"data": [[step()], [step()]], "validation_data": [[{}]]}, "2 streams in data, 1 in validation_data"),
    ({"data": [[step()], [step(), step()]], "validation_data": [[{}], [{}]]},
     "stream 1 has 2 steps in data, 1 in validation_data"),
    ({"data": [[step()]], "validation_data": [{}]}, "stream 0 of validation_data must be a list, got an object"),
    ({"data": [step()], "validation_data": {"OUT": [1]}}, "it must be a list, got an object"),
])
def test_validation_data_not_aligned(doc, message):
    text = error(doc)
    assert "d.json: The 'validation_data' field doesn't align with 'data' field in the json file: " in text
    assert message in text


def test_validation_data_names_only_outputs():
    text = error({"data": [step()], "validation_data": [{"A": [1, 2, 3, 4]}]})
    assert "step 0 of validation_data: model 'm' has no output named 'A' (outputs: OUT, OUTV)" in text
    text = error({"data": [step()], "validation_data": [{"OUT": [1, 2]}]})
    assert ("step 0 of validation_data, output 'OUT': "
            "mismatch in the data provided: expected 4 elements for shape [4], got 2") in text


def test_files_mixing_steps_and_streams(tmp_path: Path):
    (tmp_path / "a.json").write_text(json.dumps({"data": [step()]}))
    (tmp_path / "b.json").write_text(json.dumps({"data": [[step()]]}))
    with pytest.raises(OptionError) as e:
        read_json_files([str(tmp_path / "a.json"), str(tmp_path / "b.json")], SPEC, SHAPES)
    assert str(e.value).startswith(f"--input-data {tmp_path / 'b.json'}: {MIXED_DATA}")


def test_malformed_json_names_file_line_and_column(tmp_path: Path):
    f = tmp_path / "bad.json"
    f.write_text('{\n  "data": [\n    {"A": [1, 2,, 3]}\n  ]\n}\n')
    with pytest.raises(OptionError) as e:
        read_json_files([str(f)], SPEC, SHAPES)
    assert str(e.value) == f"--input-data {f}: malformed JSON at line 3, column 17: Expecting value"


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe{}", "not UTF-8 text (byte 0)"),
    (b"[" * 100_000, "the JSON is nested too deeply"),
    (b"", "malformed JSON at line 1, column 1"),
])
def test_unreadable_files(tmp_path: Path, content: bytes, message: str):
    f = tmp_path / "x.json"
    f.write_bytes(content)
    with pytest.raises(OptionError) as e:
        read_json_files([str(f)], SPEC, SHAPES)
    assert str(e.value).startswith(f"--input-data {f}: {message}")


def test_missing_file(tmp_path: Path):
    with pytest.raises(OptionError, match=r"--input-data .*nope.json: cannot read the file: No such file"):
        read_json_files([str(tmp_path / "nope.json")], SPEC, SHAPES)


def test_a_json_shape_must_match_the_shape_option():
    """perf_analyzer checks a step's "shape" against the model's dims with
    --shape filled in: with --shape V:3,2 a step of shape [1, 2] is refused
    (it was sent as given)."""
    shapes = dict(SHAPES, V=(3, 2))
    text = error({"data": [step(v={"content": [1, 2], "shape": [1, 2]})]}, shapes)
    assert text.endswith("step 0, input 'V': The supplied shape of [1, 2] for input \"V\" is incompatible with the "
                         "model's input shape of [3, 2]")
    ok = read({"data": [step(v={"content": [1, 2, 3, 4, 5, 6], "shape": [3, 2]})]}, shapes)
    assert ok.streams[0][0]["V"].shape == (3, 2)
