"""--input-data: the data steps a run sends, from generated data, a directory
of raw files, or perf_analyzer's JSON files. Every step holds batch-1 tensors;
a data error names the file, stream, step and input, and is an OptionError."""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from perfanalyzer.errors import OptionError
from perfanalyzer.input_files import read_bytes
from perfanalyzer.inputs import (
    NUMPY_DTYPES,
    TensorDataError,
    make_tensor,
    split_bytes_elements,
    tensor_from_bytes,
    tensor_from_list,
    tensor_from_strings,
)
from perfanalyzer.limits import check_generated_size
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.settings import Settings

Step = dict[str, np.ndarray]  # input (or output) name -> batch-1 tensor; optional inputs may be absent

# A JSON shape dimension beyond this cannot be real data, and numpy would fail on it.
MAX_DIM = 2**31

# perf_analyzer's wording, so scripts that grep for it keep working.
MIXED_DATA = ("Inconsistency in input-data provided. Can not have a combination of objects and arrays "
              "inside of the Data array")


@dataclass(frozen=True, eq=False)  # numpy arrays have no single truth value to compare by
class DataSet:
    """Streams of steps. Non-sequence models play stream 0 only, as perf_analyzer does."""

    streams: tuple[tuple[Step, ...], ...]
    # validation_data: expected outputs aligned with `streams` ({} where a step has none).
    expected: tuple[tuple[Step, ...], ...] = ()
    from_json: bool = False
    origin: str = "generated"

    def read_message(self) -> str:
        """perf_analyzer's line after reading JSON data."""
        text = f" Successfully read data for {len(self.streams)} stream/streams"
        if len(self.streams) == 1:
            text += f" with {len(self.streams[0])} step/steps"
        return text + "."

    @property
    def has_expected(self) -> bool:
        return any(step for stream in self.expected for step in stream)


def load(settings: Settings, spec: ModelSpec) -> DataSet:
    """The data of a run, as --input-data, --shape and the string flags say."""
    paths = settings.input_data_paths
    if paths and os.path.isdir(paths[0]):
        return read_directory(paths[0], spec, spec.resolve_shapes(settings.shape_map))
    if paths:
        return read_json_files(paths, spec, spec.resolve_shapes(settings.shape_map, strict=False))
    shapes = spec.resolve_shapes(settings.shape_map)
    check_generated_size(spec, shapes, settings.batch_size, settings.string_length, settings.string_data)
    return generate(spec, shapes, settings.input_data, settings.string_length, settings.string_data)


def generate(spec: ModelSpec, shapes: Mapping[str, tuple[int, ...]], mode: str,
             string_length: int, string_data: str = "", seed: int = 0) -> DataSet:
    """One step of random or zero data; -b N repeats it, as perf_analyzer does."""
    rng = np.random.default_rng(seed)
    step = {t.name: make_tensor(t.datatype, shapes[t.name], mode, rng, t.name, string_length, string_data)
            for t in spec.inputs}
    return DataSet(((step,),))


# ---------------------------------------------------------------- directory


def read_directory(path: str, spec: ModelSpec, shapes: Mapping[str, tuple[int, ...]]) -> DataSet:
    """One file per input named after it: raw little-endian bytes, or one string a line for BYTES.

    Files named after outputs are read as expected outputs."""
    origin = f"--input-data {path}"
    tops = {t.name.split("/")[0] for t in (*spec.inputs, *spec.outputs)}
    try:
        entries = sorted(os.listdir(path))
    except OSError as e:
        raise OptionError(f"{origin}: cannot list the directory: {e.strerror}") from None
    for entry in entries:
        if not entry.startswith(".") and entry not in tops:
            raise OptionError(f"{origin}: file '{entry}' does not match any input or output of model "
                              f"'{spec.name}' (inputs: {', '.join(t.name for t in spec.inputs)})")
    step: Step = {}
    for t in spec.inputs:
        file = os.path.join(path, t.name)
        if not os.path.isfile(file):
            if t.optional:
                continue
            raise OptionError(f"{origin}: no file for input '{t.name}' (expected {file})")
        step[t.name] = _read_tensor_file(file, t, shapes[t.name], f"{origin}: input '{t.name}' ({file})")
    expected: Step = {}
    for t in spec.outputs:
        file = os.path.join(path, t.name)
        if os.path.isfile(file):
            shape = t.dims if all(d >= 0 for d in t.dims) else None
            expected[t.name] = _read_tensor_file(file, t, shape, f"{origin}: output '{t.name}' ({file})")
    return DataSet(((step,),), ((expected,),), origin=origin)


def _read_tensor_file(file: str, t: TensorSpec, shape: tuple[int, ...] | None, where: str) -> np.ndarray:
    raw = read_bytes(f"{where.rsplit(' (', 1)[0]}", file)
    try:
        if t.datatype == "BYTES":
            lines = raw.split(b"\n")
            if lines[-1] == b"":
                lines.pop()  # a final newline ends the last line; it does not start another
            return tensor_from_strings(lines, shape if shape is not None else (len(lines),))
        return tensor_from_bytes(t.datatype, raw, shape if shape is not None else _flat_shape(t.datatype, raw))
    except TensorDataError as e:
        raise OptionError(f"{where}: {e}") from None


def _flat_shape(datatype: str, raw: bytes) -> tuple[int, ...]:
    """The 1-D shape of raw data whose dims the model leaves open (an expected output)."""
    if datatype == "BYTES":
        return (len(split_bytes_elements(raw)),)
    return (len(raw) // NUMPY_DTYPES[datatype].itemsize,)


# ---------------------------------------------------------------- JSON


def read_json_files(paths: tuple[str, ...] | list[str], spec: ModelSpec,
                    shapes: Mapping[str, tuple[int, ...]]) -> DataSet:
    """perf_analyzer's JSON data files, in order: steps append to stream 0, streams append."""
    reader = JsonDataReader(spec, shapes)
    for path in paths:
        reader.read_file(path)
    return reader.result(f"--input-data {', '.join(paths)}")


class JsonDataReader:
    """Accumulates the steps (or streams) of one or more JSON documents."""

    def __init__(self, spec: ModelSpec, shapes: Mapping[str, tuple[int, ...]]) -> None:
        self.spec = spec
        self.inputs = {t.name: t for t in spec.inputs}
        self.outputs = {t.name: t for t in spec.outputs}
        self.shapes = shapes            # --shape or the model's dims; -1 where neither says
        self.nested: bool | None = None  # streams of steps, or plain steps; fixed by the first document
        self.streams: list[list[Step]] = []
        self.expected: list[list[Step]] = []

    def read_file(self, path: str) -> None:
        origin = f"--input-data {path}"
        raw = read_bytes("--input-data", path)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise OptionError(f"{origin}: not UTF-8 text (byte {e.start})") from None
        self.read_text(text, origin)

    def read_text(self, text: str, origin: str) -> None:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise OptionError(f"{origin}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
        except RecursionError:
            raise OptionError(f"{origin}: the JSON is nested too deeply") from None
        self.read_document(doc, origin)

    def read_document(self, doc: object, origin: str) -> None:
        if not isinstance(doc, dict):
            raise OptionError(f'{origin}: the JSON must be an object with a "data" list, got {_kind(doc)}')
        if "data" not in doc:
            raise OptionError(f'{origin}: the JSON has no "data" field')
        data = doc["data"]
        if not isinstance(data, list) or not data:
            raise OptionError(f'{origin}: "data" must be a non-empty list of steps or of streams of steps')
        nested = isinstance(data[0], list)
        if any(isinstance(entry, list) != nested for entry in data):
            raise OptionError(f"{origin}: {MIXED_DATA}")
        if self.nested is not None and nested != self.nested:
            raise OptionError(f"{origin}: {MIXED_DATA} (the files before this one "
                              f"{'have streams' if self.nested else 'have plain steps'})")
        self.nested = nested
        validation = doc.get("validation_data")
        if "validation_data" in doc:
            _check_aligned(data, validation, nested, origin)
        if nested:
            for s, stream in enumerate(data):
                if not stream:
                    raise OptionError(f"{origin}: stream {s} of \"data\" has no steps")
                where = f"{origin}: stream {s}, step"
                self.streams.append([self._step(x, f"{where} {k}", True) for k, x in enumerate(stream)])
                outs = validation[s] if validation is not None else [{}] * len(stream)
                self.expected.append([self._step(x, f"{where} {k} of validation_data", False)
                                      for k, x in enumerate(outs)])
            return
        if not self.streams:
            self.streams.append([])
            self.expected.append([])
        self.streams[0] += [self._step(x, f"{origin}: step {k}", True) for k, x in enumerate(data)]
        outs = validation if validation is not None else [{}] * len(data)
        self.expected[0] += [self._step(x, f"{origin}: step {k} of validation_data", False)
                             for k, x in enumerate(outs)]

    def result(self, origin: str) -> DataSet:
        return DataSet(tuple(tuple(s) for s in self.streams), tuple(tuple(s) for s in self.expected),
                       from_json=True, origin=origin)

    def _step(self, entry: object, where: str, is_input: bool) -> Step:
        tensors = self.inputs if is_input else self.outputs
        what = "input" if is_input else "output"
        if not isinstance(entry, dict):
            raise OptionError(f"{where}: a step must be an object of {what} name -> tensor, got {_kind(entry)}")
        for name in entry:
            # perf_analyzer lets a step name its model ("model"); it is not a tensor.
            if name not in tensors and name != "model":
                raise OptionError(f"{where}: model '{self.spec.name}' has no {what} named '{name}' "
                                  f"({what}s: {', '.join(tensors) or 'none'})")
        step: Step = {}
        for t in tensors.values():
            if t.name in entry:
                step[t.name] = self._tensor(entry[t.name], t, f"{where}, {what} '{t.name}'", is_input)
            elif is_input and not t.optional:
                raise OptionError(f"{where}: missing input '{t.name}' (only optional inputs may be left out)")
        return step

    def _tensor(self, value: object, t: TensorSpec, where: str, is_input: bool) -> np.ndarray:
        shape: tuple[int, ...] | None = self.shapes.get(t.name, t.dims) if is_input else t.dims
        content = value
        if isinstance(value, dict):
            if "shape" in value:
                given = _shape(value["shape"], where)
                # Against the model's dims with --shape filled in, as perf_analyzer checks.
                wanted = shape if shape is not None else t.dims
                if not TensorSpec(t.name, t.datatype, wanted).accepts(given):
                    raise OptionError(f"{where}: The supplied shape of {list(given)} for input \"{t.name}\" is "
                                      f"incompatible with the model's input shape of {list(wanted)}")
                shape = given
            if "b64" in value:
                content = {"b64": value["b64"]}
            elif "content" in value:
                content = value["content"]
            else:
                raise OptionError(f'{where}: a tensor object needs "content" (or "b64"), '
                                  f"got keys {sorted(value)[:5]}")
        elif not isinstance(value, list):
            raise OptionError(f'{where}: a tensor must be a list, {{"b64": ...}} or '
                              f'{{"content": ..., "shape": [...]}}, got {_kind(value)}')
        if shape is not None and any(d < 0 for d in shape):
            if is_input:
                raise OptionError(f"{where}: the model's shape {list(t.dims)} is variable: give this tensor a "
                                  f'"shape" next to its "content", or --shape {t.name}:d1,d2,...')
            shape = None  # an expected output of open shape: kept flat
        try:
            if isinstance(content, list):
                return tensor_from_list(t.datatype, content, shape if shape is not None else (len(content),))
            if isinstance(content, dict) and "b64" in content:
                raw = _b64(content["b64"], where)
                return tensor_from_bytes(t.datatype, raw, shape if shape is not None else _flat_shape(t.datatype, raw))
        except TensorDataError as e:
            raise OptionError(f"{where}: {e}") from None
        raise OptionError(f'{where}: "content" must be a list or {{"b64": ...}}, got {_kind(content)}')


def _check_aligned(data: list[object], validation: object, nested: bool, origin: str) -> None:
    """validation_data must have data's streams and steps, one for one."""
    prefix = f"{origin}: The 'validation_data' field doesn't align with 'data' field in the json file"
    if not isinstance(validation, list):
        raise OptionError(f"{prefix}: it must be a list, got {_kind(validation)}")
    if len(validation) != len(data):
        unit = "streams" if nested else "steps"
        raise OptionError(f"{prefix}: {len(data)} {unit} in data, {len(validation)} in validation_data")
    if nested:
        for s, (steps, outs) in enumerate(zip(data, validation, strict=True)):
            if not isinstance(outs, list):
                raise OptionError(f"{prefix}: stream {s} of validation_data must be a list, got {_kind(outs)}")
            if len(outs) != len(steps):  # type: ignore[arg-type]
                raise OptionError(f"{prefix}: stream {s} has {len(steps)} steps in data, "  # type: ignore[arg-type]
                                  f"{len(outs)} in validation_data")


def _shape(value: object, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or any(type(d) is not int for d in value):
        raise OptionError(f'{where}: "shape" must be a list of integers, got {json.dumps(value)[:60]}')
    for d in value:
        if d < 0:
            raise OptionError(f'{where}: "shape" {value} has a negative dimension')
        if d >= MAX_DIM:
            raise OptionError(f'{where}: "shape" {value} has a dimension over {MAX_DIM}')
    return tuple(value)


def _b64(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise OptionError(f'{where}: the value of "b64" must be a string, got {_kind(value)}')
    text = "".join(value.split())
    text += "=" * (-len(text) % 4)  # tolerate stripped padding
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise OptionError(f'{where}: "b64" is not valid base64') from None


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"
