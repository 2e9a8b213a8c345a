"""--input-data DIR (one raw file per input), generated data, and which
source a run's Settings pick."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from perfanalyzer.data_loader import generate, load, read_directory
from perfanalyzer.errors import OptionError
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.settings import Settings

SPEC = ModelSpec(
    "m", "1", "python", 8,
    (TensorSpec("A", "INT16", (2, 2)), TensorSpec("S", "BYTES", (3,)), TensorSpec("OPT", "FP32", (1,), optional=True)),
    (TensorSpec("OUT", "FP64", (2,)), TensorSpec("OUTV", "INT32", (-1,))),
)
SHAPES = {"A": (2, 2), "S": (3,), "OPT": (1,)}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "A").write_bytes(np.array([1, -2, 3, -4], dtype="<i2").tobytes())
    (tmp_path / "S").write_bytes(b"one\n\ntwo words\n")
    return tmp_path


def test_directory_gives_one_step(data_dir: Path):
    data = read_directory(str(data_dir), SPEC, SHAPES)
    assert len(data.streams) == 1 and len(data.streams[0]) == 1 and not data.from_json
    (s,) = data.streams[0]
    assert s["A"].dtype == np.int16 and s["A"].tolist() == [[1, -2], [3, -4]]
    assert list(s["S"]) == [b"one", b"", b"two words"]
    assert "OPT" not in s  # optional: no file, left out
    assert not data.has_expected


def test_directory_reads_optional_inputs_and_outputs(data_dir: Path):
    (data_dir / "OPT").write_bytes(np.array([0.5], dtype="<f4").tobytes())
    (data_dir / "OUT").write_bytes(np.array([1.5, 2.5], dtype="<f8").tobytes())
    (data_dir / "OUTV").write_bytes(np.arange(5, dtype="<i4").tobytes())
    (data_dir / ".hidden").write_bytes(b"ignored")
    data = read_directory(str(data_dir), SPEC, SHAPES)
    assert data.streams[0][0]["OPT"].tolist() == [0.5]
    expected = data.expected[0][0]
    assert expected["OUT"].tolist() == [1.5, 2.5] and expected["OUTV"].tolist() == [0, 1, 2, 3, 4]


def test_directory_errors(data_dir: Path):
    def err() -> str:
        with pytest.raises(OptionError) as e:
            read_directory(str(data_dir), SPEC, SHAPES)
        assert e.value.exit_code == 3
        return str(e.value)

    (data_dir / "S").write_bytes(b"one\ntwo\n")
    assert err() == (f"--input-data {data_dir}: input 'S' ({data_dir / 'S'}): mismatch in the data provided: "
                     "expected 3 elements for shape [3], got 2")
    (data_dir / "S").unlink()
    assert err() == f"--input-data {data_dir}: no file for input 'S' (expected {data_dir / 'S'})"
    (data_dir / "S").write_bytes(b"a\nb\nc")
    (data_dir / "A").write_bytes(bytes(6))
    assert err() == (f"--input-data {data_dir}: input 'A' ({data_dir / 'A'}): mismatch in the data provided: "
                     "expected 8 bytes (4 x INT16) "
                     "for shape [2, 2], got 6 bytes")
    (data_dir / "A").write_bytes(bytes(8))
    (data_dir / "INPUT9").write_bytes(b"")
    assert err() == (f"--input-data {data_dir}: file 'INPUT9' does not match any input or output of model 'm' "
                     "(inputs: A, S, OPT)")


def test_directory_needs_shape_for_variable_inputs(tmp_path: Path):
    spec = ModelSpec("m", "1", "python", 8, (TensorSpec("X", "FP32", (-1,)),), ())
    (tmp_path / "X").write_bytes(bytes(12))
    settings = Settings(model_name="m", input_data_paths=(str(tmp_path),))
    with pytest.raises(OptionError, match=r"input 'X' has a variable dimension \[-1\]: give its shape with --shape"):
        load(settings, spec)
    ok = load(Settings(model_name="m", input_data_paths=(str(tmp_path),), shapes=(("X", (3,)),)), spec)
    assert ok.streams[0][0]["X"].shape == (3,)


def test_generated_data_is_one_step_of_batch_1_tensors():
    data = generate(SPEC, SHAPES, "random", 7)
    (s,) = data.streams[0]
    assert s["A"].shape == (2, 2) and s["A"].dtype == np.int16
    assert [len(x) for x in s["S"]] == [7, 7, 7]
    assert s["OPT"].shape == (1,)   # perf_analyzer generates optional inputs too
    assert not data.from_json
    z = generate(SPEC, SHAPES, "zero", 7, "hello")
    assert not z.streams[0][0]["A"].any() and list(z.streams[0][0]["S"]) == [b"hello"] * 3


def test_load_picks_the_source(tmp_path: Path, data_dir: Path):
    zero = load(Settings(model_name="m", input_data="zero"), SPEC)
    assert not zero.streams[0][0]["A"].any() and list(zero.streams[0][0]["S"]) == [b"0"] * 3
    rand = load(Settings(model_name="m", string_length=3), SPEC)
    assert [len(x) for x in rand.streams[0][0]["S"]] == [3, 3, 3]
    assert load(Settings(model_name="m", input_data_paths=(str(data_dir),)), SPEC).streams[0][0]["A"][0, 1] == -2
    f = tmp_path / "d.json"
    f.write_text('{"data": [{"A": [1, 2, 3, 4], "S": ["a", "b", "c"]}]}')
    data = load(Settings(model_name="m", input_data_paths=(str(f), str(f))), SPEC)
    assert data.from_json and len(data.streams[0]) == 2


def test_load_json_does_not_need_shape_flag_when_the_data_gives_shapes(tmp_path: Path):
    spec = ModelSpec("m", "1", "python", 0, (TensorSpec("X", "FP32", (-1,)),), ())
    f = tmp_path / "d.json"
    f.write_text('{"data": [{"X": {"content": [1, 2], "shape": [2]}}, {"X": {"content": [3], "shape": [1]}}]}')
    steps = load(Settings(model_name="m", input_data_paths=(str(f),)), spec).streams[0]
    assert [s["X"].shape for s in steps] == [(2,), (1,)]
