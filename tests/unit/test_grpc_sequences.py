"""Sequences over gRPC without a server: the sequence fields of a serialized
ModelInferRequest are found once, and what the engines send for each step
parses back (with tritonclient's own protobuf classes) to that step's id and
flags, the rest of the message untouched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from perfanalyzer import _core
from perfanalyzer.errors import OptionError
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.sequences import check_settings
from perfanalyzer.services.triton_grpc import encode_request
from perfanalyzer.settings import Settings
from tritonclient.grpc import service_pb2

SPEC = ModelSpec("seq", "", "", 4, (TensorSpec("INPUT", "INT32", (1,)),), (TensorSpec("OUTPUT", "INT32", (1,)),),
                 sequence=True)


def message(**parameters: int | str | bool) -> bytes:
    return encode_request(SPEC, {"INPUT": np.arange(64, dtype=np.int32).reshape(1, 64)}, parameters=parameters,
                          sequence=True)


IDS = [0, 1, 127, 128, 300, 2**32 - 1, 2**32, 12345678901234, 2**63 - 1, 2**63, 2**64 - 1]


@pytest.mark.parametrize("in_place", [False, True])
def test_every_id_and_flag_parses_back(in_place: bool) -> None:
    original = message(triton_enable_empty_final_response=True, tag="x", level=3)
    before = service_pb2.ModelInferRequest.FromString(original)
    for id_ in IDS:
        for start, end in [(True, False), (False, False), (False, True), (True, True)]:
            sent, _ = _core.grpc_sequence_message(original, id_, start, end, in_place=in_place)
            assert len(sent) == len(original)
            got = service_pb2.ModelInferRequest.FromString(sent)
            # int64_param: Triton takes it as the uint64 correlation ID
            assert got.parameters["sequence_id"].int64_param % 2**64 == id_
            assert got.parameters["sequence_id"].WhichOneof("parameter_choice") == "int64_param"
            assert got.parameters["sequence_start"].bool_param is start
            assert got.parameters["sequence_end"].bool_param is end
            assert got.parameters["sequence_start"].WhichOneof("parameter_choice") == "bool_param"
            for name in ("sequence_id", "sequence_start", "sequence_end"):
                got.parameters[name].CopyFrom(before.parameters[name])
            assert got == before  # nothing else changed


def test_the_engines_send_shared_bytes_around_inlined_patches() -> None:
    original = message()
    sliced, n = _core.grpc_sequence_message(original, 99, True, False)
    patched, _ = _core.grpc_sequence_message(original, 99, True, False, in_place=True)
    assert sliced == patched
    assert n >= 4  # the unchanged stretches go out as references to the one shared message
    assert original == message()  # ... which is never written


def test_the_fields_are_found_wherever_the_map_puts_them() -> None:
    # A map's entries may come in any order: build the messages by hand, ours last and first.
    req = service_pb2.ModelInferRequest(model_name="m")
    req.parameters["sequence_end"].bool_param = False
    req.parameters["a"].string_param = "b"
    req.parameters["sequence_start"].bool_param = False
    req.parameters["sequence_id"].int64_param = -1
    data = req.SerializeToString()
    id_at, start_at, end_at = _core.grpc_sequence_fields(data)
    assert data[id_at:id_at + 10] == b"\xff" * 9 + b"\x01"
    assert data[start_at] == 0 and data[end_at] == 0
    got = service_pb2.ModelInferRequest.FromString(_core.grpc_sequence_message(data, 7, False, True)[0])
    assert (got.parameters["sequence_id"].int64_param, got.parameters["sequence_end"].bool_param) == (7, True)


def with_parameters(fill: Callable[[Any], object]) -> bytes:
    """Our three parameters, then `fill` changes the parameters map."""
    req = service_pb2.ModelInferRequest(model_name="m")
    req.parameters["sequence_id"].int64_param = -1
    req.parameters["sequence_start"].bool_param = False
    req.parameters["sequence_end"].bool_param = False
    fill(req.parameters)
    return req.SerializeToString()


@pytest.mark.parametrize("data, words", [
    (service_pb2.ModelInferRequest(model_name="m").SerializeToString(), "no 'sequence_id' parameter"),
    (with_parameters(lambda p: p.__delitem__("sequence_end")), "no 'sequence_end' parameter"),
    (with_parameters(lambda p: setattr(p["sequence_id"], "int64_param", 5)),
     "parameter 'sequence_id' is not an int64_param written in 10 bytes"),
    (with_parameters(lambda p: setattr(p["sequence_id"], "string_param", "abc")),
     "parameter 'sequence_id' is not an int64_param written in 10 bytes"),
    (with_parameters(lambda p: setattr(p["sequence_id"], "uint64_param", 2**64 - 1)),
     "parameter 'sequence_id' is not an int64_param written in 10 bytes"),
    (with_parameters(lambda p: setattr(p["sequence_start"], "int64_param", 0)),
     "parameter 'sequence_start' is not a bool_param"),
    (with_parameters(lambda p: p["sequence_end"].Clear()), "parameter 'sequence_end' is not a bool_param"),
    # Serialized messages concatenate into one: each map entry twice.
    (with_parameters(lambda p: None) * 2, "' appears twice"),
    (with_parameters(lambda p: None)[:-3], "not a valid protobuf message"),
    (b"\x22\x05\x0a\x0bsequence_id", "not a valid protobuf message (parameters entry at byte 0 of 15)"),
    (b"\x0f\x00", "not a valid protobuf message (field at byte 0 of 2)"),
    (b"\xff" * 11, "not a valid protobuf message (field at byte 0 of 11)"),
])
def test_messages_without_patchable_fields_are_refused(data: bytes, words: str) -> None:
    with pytest.raises(ValueError) as info:
        _core.grpc_sequence_fields(data)
    assert words in str(info.value)


@pytest.mark.parametrize("streaming", [False, True])
def test_an_engine_refuses_messages_it_cannot_patch(streaming: bool) -> None:
    good = message()
    bad = encode_request(SPEC, {"INPUT": np.ones((1, 1), np.int32)})
    with pytest.raises(RuntimeError) as info:
        _core.GrpcEngine("127.0.0.1:9", [good, bad], sequencer=_core.Sequencer([2]), streaming=streaming)
    assert str(info.value) == "request message 1 has no sequence fields to patch: no 'sequence_id' parameter"
    with pytest.raises(ValueError, match="the sequencer has 3 bodies, the engine 1 messages"):
        _core.GrpcEngine("127.0.0.1:9", [good], sequencer=_core.Sequencer([3]), streaming=streaming)
    q = _core.Sequencer([1])
    engine = _core.GrpcEngine("127.0.0.1:9", [good], sequencer=q, streaming=streaming)
    assert engine.sequencer is q
    with pytest.raises(ValueError, match="already used"):
        _core.GrpcEngine("127.0.0.1:9", [good], sequencer=q, streaming=streaming)
    engine.close()


def test_messages_without_sequence_keep_no_sequence_parameters() -> None:
    req = service_pb2.ModelInferRequest.FromString(encode_request(SPEC, {"INPUT": np.ones((1, 1), np.int32)}))
    assert "sequence_id" not in req.parameters


def test_the_http_client_choice_does_not_concern_grpc_sequences() -> None:
    check_settings(Settings(model_name="seq", protocol="grpc", http_client="curl").validate())
    with pytest.raises(OptionError, match="-b 2: model 'seq' is a sequence model"):
        check_settings(Settings(model_name="seq", protocol="grpc", batch_size=2).validate())


@pytest.mark.parametrize("streaming", [False, True])
def test_an_engine_makes_its_threads_each_with_its_own_sequencer(streaming: bool) -> None:
    qs = [_core.Sequencer([1]) for _ in range(3)]
    engine = _core.GrpcEngine("127.0.0.1:9", [message()], sequencer=qs, streaming=streaming, threads=3)
    assert engine.threads == 3 and engine.sequencer == tuple(qs)
    engine.close()
    with pytest.raises(ValueError, match="3 engine threads need as many sequencers, got 1"):
        _core.GrpcEngine("127.0.0.1:9", [message()], sequencer=_core.Sequencer([1]), streaming=streaming, threads=3)
    assert _core.GrpcEngine("127.0.0.1:9", [message()], streaming=streaming, threads=2).threads == 2
