"""Whatever a data file holds, reading it either gives data or one OptionError:
no other exception (a traceback) ever reaches the user."""

from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from perfanalyzer.batching import request_tensors
from perfanalyzer.data_loader import JsonDataReader
from perfanalyzer.errors import OptionError
from perfanalyzer.model import ModelSpec, TensorSpec

SPEC = ModelSpec(
    "m", "1", "python", 4,
    (TensorSpec("I", "INT8", (2,)), TensorSpec("F", "FP16", (-1,)), TensorSpec("B", "BF16", (1,)),
     TensorSpec("S", "BYTES", (-1,)), TensorSpec("U", "UINT64", (1,)), TensorSpec("Q", "BOOL", (1,)),
     TensorSpec("O", "FP32", (1,), optional=True)),
    (TensorSpec("Y", "FP64", (-1,)),),
)
SHAPES = {t.name: t.dims for t in SPEC.inputs}
NAMES = [t.name for t in (*SPEC.inputs, *SPEC.outputs)] + ["model", "Z"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(NAMES + ["b64", "content", "shape"]),
                                                                inner, max_size=4),
    max_leaves=12,
)
b64_text = st.one_of(
    st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode()),
    st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode().rstrip("=")),
    st.text(alphabet="ABCDEFGHabcdefgh0123456789+/=-_ \n\u00e9", max_size=24),
)
shape_lists = st.lists(
    st.one_of(st.integers(min_value=-2, max_value=4), st.just(2**40), st.floats(), st.booleans(), st.text(max_size=2)),
    max_size=3,
)


def elements(t: TensorSpec) -> st.SearchStrategy[object]:
    """Mostly the JSON kind the datatype takes, with its edge values."""
    if t.datatype == "BOOL":
        return st.booleans()
    if t.datatype == "BYTES":
        return st.text(max_size=6)
    if t.datatype in ("INT8", "UINT64"):
        return st.integers(min_value=-(2**65), max_value=2**65) | st.sampled_from([-129, -128, 127, 255, 256, 2**64])
    return st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-(2**1100), max_value=2**1100)


def tensor_values(t: TensorSpec) -> st.SearchStrategy[object]:
    content = st.one_of(
        st.lists(elements(t), min_size=1, max_size=1),
        st.lists(elements(t), max_size=4),
        st.lists(scalars, max_size=3),
        st.fixed_dictionaries({"b64": b64_text | scalars}),
        scalars,
    )
    return st.one_of(
        st.lists(elements(t), min_size=2, max_size=2),
        st.lists(elements(t), max_size=4),
        st.fixed_dictionaries({"b64": b64_text | scalars}, optional={"shape": shape_lists}),
        st.fixed_dictionaries({"content": content}, optional={"shape": shape_lists}),
        st.fixed_dictionaries({"shape": shape_lists}),
        json_values,
    )


REQUIRED = {t.name: tensor_values(t) for t in SPEC.inputs if not t.optional}
steps = st.one_of(
    st.fixed_dictionaries(REQUIRED, optional={"O": tensor_values(SPEC.inputs[-1]), "model": scalars, "Z": scalars}),
    st.dictionaries(st.sampled_from(NAMES), json_values, max_size=7),
)
outputs = st.fixed_dictionaries({}, optional={"Y": tensor_values(SPEC.outputs[0]), "I": scalars})
# A valid step, and documents where one tensor of it is fuzzed: so the fuzz
# reaches every decoder, not only the first check that fails.
VALID = {"I": [1, 2], "F": {"content": [1.5], "shape": [1]}, "B": [0.5], "S": {"content": ["a"], "shape": [1]},
         "U": [2**64 - 1], "Q": [True]}
one_fuzzed = st.sampled_from([*SPEC.inputs, SPEC.outputs[0]]).flatmap(
    lambda t: tensor_values(t).map(lambda v, name=t.name: {**VALID, name: v}))
focused = st.lists(one_fuzzed, min_size=1, max_size=3).flatmap(
    lambda data: st.fixed_dictionaries({"data": st.just(data)},
                                       optional={"validation_data": st.lists(outputs, min_size=len(data),
                                                                             max_size=len(data))}))
documents = st.one_of(
    focused,
    focused,
    st.fixed_dictionaries({"data": st.lists(steps, min_size=1, max_size=3)},
                          optional={"validation_data": st.one_of(st.lists(outputs, max_size=3), json_values)}),
    st.fixed_dictionaries({"data": st.lists(st.lists(steps, max_size=2), max_size=2)},
                          optional={"validation_data": st.lists(st.lists(outputs, max_size=2), max_size=2)}),
    st.fixed_dictionaries({"data": json_values}),
    json_values,
)


def read(doc: object, text: str | None = None) -> None:
    reader = JsonDataReader(SPEC, SHAPES)
    try:
        if text is None:
            reader.read_document(doc, "--input-data f.json")
        else:
            reader.read_text(text, "--input-data f.json")
        data = reader.result("--input-data f.json")
        for batch in (1, 3):
            request_tensors(SPEC, data, batch)
    except OptionError as e:
        assert e.exit_code == 3 and "\n" not in str(e) and str(e).startswith("--input-data f.json")


# database=None: no example store written into the work tree.
@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_document_reads_or_raises_option_error(doc):
    read(doc)


@settings(max_examples=300, deadline=None, database=None)
@given(documents)
def test_any_serialized_document_reads_or_raises_option_error(doc):
    read(None, json.dumps(doc))


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=60))
def test_any_text_reads_or_raises_option_error(text):
    read(None, text)
