"""TF Serving outputs for validation_data: read from the signature's outputs
(types the validator knows; others left out, as they are never sent) and
turned into the bytes the engine compares PredictResponses against."""

from __future__ import annotations

import numpy as np
import pytest
from perfanalyzer import _core
from perfanalyzer.data_loader import DataSet
from perfanalyzer.model import TensorSpec
from perfanalyzer.services.tfserving import spec_from_signature
from perfanalyzer.services.tfserving_proto import tf_framework_pb2 as framework
from perfanalyzer.services.tfserving_proto import tf_serving_pb2 as serving
from perfanalyzer.validation import build_validator


def _metadata(outputs: dict[str, tuple[int, list[int], bool]]) -> bytes:
    sigmap = serving.SignatureDefMap()
    sig = sigmap.signature_def["serving_default"]
    sig.inputs["x"].dtype = framework.DT_FLOAT
    sig.inputs["x"].tensor_shape.dim.extend([framework.TensorShapeProto.Dim(size=-1),
                                             framework.TensorShapeProto.Dim(size=2)])
    for key, (dtype, dims, unknown_rank) in outputs.items():
        info = sig.outputs[key]
        info.dtype = dtype
        info.tensor_shape.dim.extend(framework.TensorShapeProto.Dim(size=d) for d in dims)
        info.tensor_shape.unknown_rank = unknown_rank
    response = serving.GetModelMetadataResponse()
    response.metadata["signature_def"].Pack(sigmap)
    return response.SerializeToString()


def test_outputs_from_the_signature() -> None:
    raw = _metadata({"scores": (framework.DT_FLOAT, [-1, 2], False), "label": (framework.DT_STRING, [-1], False),
                     "any": (framework.DT_INT64, [], True), "handle": (framework.DT_RESOURCE, [-1], False)})
    spec = spec_from_signature("m", "", "serving_default", raw, batch_size=2)
    assert spec.outputs == (TensorSpec("any", "INT64", (-1,)), TensorSpec("label", "BYTES", ()),
                            TensorSpec("scores", "FP32", (2,)))


def test_validator_from_tfserving_spec_checks_predict_responses() -> None:
    spec = spec_from_signature("m", "", "serving_default", _metadata({"y": (framework.DT_FLOAT, [-1, 2], False)}),
                               batch_size=2)
    x = [np.array([1, 2], "<f4"), np.array([3, 4], "<f4")]
    y = [np.array([10, 20], "<f4"), np.array([30, 40], "<f4")]
    data = DataSet((({"x": x[0]}, {"x": x[1]}),), (({"y": y[0]}, {"y": y[1]}),), origin="d.json")
    validator = build_validator(spec, data, 2, "binary")
    response = serving.PredictResponse()
    out = response.outputs["y"]
    out.dtype = framework.DT_FLOAT
    out.float_val.extend([10, 20, 30, 40])
    assert _core.check_grpc_response(validator, 0, response.SerializeToString(), "tf_predict") is None
    out.float_val[3] = 41
    assert _core.check_grpc_response(validator, 0, response.SerializeToString(), "tf_predict") == \
        "Output doesn't match expected output: step 1, output 'y', element 1: expected 40, got 41"


def test_garbage_metadata_is_a_server_error():
    from perfanalyzer.errors import ServerError

    with pytest.raises(ServerError, match="model 'm': the server's metadata is not a GetModelMetadataResponse"):
        spec_from_signature("m", "", "serving_default", b"\xff\xff\xff\xff", batch_size=1)
