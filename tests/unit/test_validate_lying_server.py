"""The HTTP validation reader fed what a lying or broken server sends:
sizes past the response, sizes that wrap a 64-bit sum, digit runs that
overflow, and random bytes. Every one is a message, never a crash."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from perfanalyzer import _core

MISMATCH = "Output doesn't match expected output"


ONES = b"\0\0\x80\x3f" * 4  # four FP32 1.0


def validator() -> _core.Validator:
    v = _core.Validator(1)
    v.set_steps(0, (0,), 0)
    v.add_output(0, "OUT", "FP32", ONES)
    return v


def lying(sizes: list[tuple[str, str]], blob: bytes = ONES) -> tuple[bytes, int]:
    """A response whose outputs declare the given binary_data_size texts, verbatim."""
    outs = ",".join(f'{{"name":"{name}","datatype":"FP32","shape":[4],"parameters":{{"binary_data_size":{size}}}}}'
                    for name, size in sizes)
    header = f'{{"model_name":"m","outputs":[{outs}]}}'.encode()
    return header + blob, len(header)


def test_sizes_summing_past_2_to_64_are_refused() -> None:
    # The first (unexpected) output claims nearly 2^63 bytes, the second another
    # 2^63: the offsets wrap back into the buffer unless every size is checked.
    body, n = lying([("A", str(2**63 - 1)), ("B", str(2**63 - 1)), ("OUT", "16")])
    msg = validator().check_http(0, body, n)
    assert msg is not None and "binary_data_size" in msg and "'A'" in msg


def test_a_size_near_2_to_63_on_the_expected_output_is_refused() -> None:
    body, n = lying([("OUT", str(2**63 - 8))])
    assert "binary_data_size" in validator().check_http(0, body, n)


def test_a_long_digit_run_is_not_a_number() -> None:
    for digits in ("9" * 30, "1" + "0" * 40, "18446744073709551632"):
        body, n = lying([("A", digits), ("OUT", "16")])
        msg = validator().check_http(0, body, n)
        assert msg is not None and "binary_data_size" in msg, digits


def test_an_inference_header_length_past_the_end_is_refused() -> None:
    body, n = lying([("OUT", "16")])
    assert "Inference-Header-Content-Length" in validator().check_http(0, body, len(body) + 1)
    assert "Inference-Header-Content-Length" in validator().check_http(0, body, -2)
    assert validator().check_http(0, body, n) is None


def test_bytes_outputs_with_lying_element_lengths() -> None:
    v = _core.Validator(1)
    v.add_output(0, "S", "BYTES", b"\x02\0\0\0ab")
    for got in (b"\xff\xff\xff\xff" + b"ab", b"\x02\0\0\0a", b"\x02\0\0", b"\xff\xff\xff\x7fab\x02\0\0\0ab"):
        header = json.dumps({"outputs": [{"name": "S", "parameters": {"binary_data_size": len(got)}}]}).encode()
        msg = v.check_http(0, header + got, len(header))
        assert msg is not None and msg.startswith(MISMATCH)


json_piece = st.sampled_from([
    b'{"outputs":[', b'{"name":"OUT"', b'{"name":"A"', b'"name"', b'"binary_data_size"', b':', b',',
    b'"parameters":{', b'}', b']', b'"', b' ', b'0', b'16', b'9' * 25, str(2**63).encode(),
    str(2**64 - 1).encode(), b'-1', b'\0' * 4, b'\xff',
])


@settings(max_examples=400, deadline=None)
@given(st.lists(json_piece, max_size=40), st.binary(max_size=64), st.integers(-3, 200))
def test_garbage_never_crashes(pieces: list[bytes], tail: bytes, json_len: int) -> None:
    body = b"".join(pieces) + tail
    msg = validator().check_http(0, body, json_len)
    assert msg is None or isinstance(msg, str)
