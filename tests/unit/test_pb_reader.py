"""The compiled protobuf reader the gRPC engines validate responses with:
strict about the wire format (truncation, varints, wire types, lengths),
never reading past the buffer, and in agreement with the protobuf library
on every well-formed message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from perfanalyzer import _core
from tritonclient.grpc import service_pb2 as kserve

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def test_every_wire_type_read() -> None:
    msg = (key(1, VARINT) + varint(150) + key(2, FIXED64) + (2**40 + 7).to_bytes(8, "little")
           + key(3, LEN) + varint(3) + b"abc" + key(4, FIXED32) + (0xDEADBEEF).to_bytes(4, "little")
           + key(5, LEN) + varint(0))
    assert _core.pb_fields(msg) == [(1, VARINT, 150), (2, FIXED64, 2**40 + 7), (3, LEN, b"abc"),
                                    (4, FIXED32, 0xDEADBEEF), (5, LEN, b"")]
    assert _core.pb_fields(b"") == []


def test_varint_limits() -> None:
    top = key(1, VARINT) + b"\xff" * 9 + b"\x01"     # 2**64 - 1: ten bytes, the last holding bit 63
    assert _core.pb_fields(top) == [(1, VARINT, 2**64 - 1)]
    for bad in (b"\xff" * 9 + b"\x02",                # bits past 64
                b"\x80" * 10 + b"\x00",               # eleven bytes
                b"\x80\x80"):                         # truncated
        with pytest.raises(ValueError):
            _core.pb_fields(key(1, VARINT) + bad)


@pytest.mark.parametrize("msg", [
    key(1, LEN) + varint(4) + b"abc",                 # length past the end
    key(1, LEN) + varint(2**63) + b"abc",             # absurd length
    key(1, LEN) + b"\xff\xff",                        # truncated length
    key(1, FIXED64) + b"\0" * 7,                      # short fixed64
    key(1, FIXED32) + b"\0" * 3,                      # short fixed32
    key(1, 3), key(1, 4), key(1, 6), key(1, 7),       # groups and wire types that do not exist
    key(0, VARINT) + b"\x01",                         # field number 0
    varint((2**29) << 3) + b"\x01",                   # field number past 2**29 - 1
    b"\x80",                                          # truncated key
], ids=["overlong", "absurd-length", "truncated-length", "short-fixed64", "short-fixed32", "group-start",
        "group-end", "wire-6", "wire-7", "field-0", "field-too-big", "truncated-key"])
def test_malformed_messages_refused(msg: bytes) -> None:
    with pytest.raises(ValueError):
        _core.pb_fields(msg)


def test_fields_before_a_malformed_one_are_not_trusted_past_it() -> None:
    good = key(1, VARINT) + varint(1)
    with pytest.raises(ValueError, match="after 1 fields"):
        _core.pb_fields(good + key(2, LEN) + varint(10) + b"short")


def test_agrees_with_protobuf_on_a_model_infer_response() -> None:
    r = kserve.ModelInferResponse(model_name="add_sub", model_version="1", id="x")
    o = r.outputs.add(name="OUTPUT0", datatype="FP32", shape=[1, 16])
    r.raw_output_contents.append(b"\x01" * 64)
    r.parameters["triton_final_response"].bool_param = True
    fields = _core.pb_fields(r.SerializeToString())
    assert [f[0] for f in fields] == [1, 2, 3, 4, 5, 6]
    assert fields[4] == (5, LEN, o.SerializeToString())
    assert fields[5] == (6, LEN, b"\x01" * 64)
    inner = _core.pb_fields(fields[4][2])
    assert inner[:2] == [(1, LEN, b"OUTPUT0"), (2, LEN, b"FP32")]
    assert inner[2] == (3, LEN, varint(1) + varint(16))  # shape: packed int64


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    try:
        fields = _core.pb_fields(data)
    except ValueError:
        return
    # what it accepts re-encodes to the same fields: nothing was skipped or invented
    out = b""
    for number, wire, value in fields:
        out += key(number, wire)
        if wire == VARINT:
            out += varint(value)
        elif wire == LEN:
            out += varint(len(value)) + value
        else:
            out += value.to_bytes(8 if wire == FIXED64 else 4, "little")
    assert len(out) <= len(data)  # shorter only where a varint had redundant continuation bytes
    assert _core.pb_fields(out) == fields


names = st.text(alphabet="ABCDEFGHIJ_0123456789", min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, st.binary(max_size=40)), max_size=5), st.text(max_size=10))
def test_agrees_with_protobuf_on_random_responses(outputs: list[tuple[str, bytes]], model: str) -> None:
    r = kserve.ModelInferResponse(model_name=model)
    for name, raw in outputs:
        r.outputs.add(name=name, datatype="BYTES")
        r.raw_output_contents.append(raw)
    fields = _core.pb_fields(r.SerializeToString())
    assert [v for n, _, v in fields if n == 6] == [raw for _, raw in outputs]
    assert [_core.pb_fields(v)[0][2] for n, _, v in fields if n == 5] == [n.encode() for n, _ in outputs]
