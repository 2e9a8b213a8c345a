"""A server's model metadata, config and statistics with wrong types or
missing keys: a ServerError naming the document and the field, never a
KeyError/ValueError traceback."""

from __future__ import annotations

import pytest
from perfanalyzer.composing import ensemble_steps
from perfanalyzer.errors import GENERIC_ERROR, ServerError
from perfanalyzer.server_stats import ServerStats, StatsQuery
from perfanalyzer.services.triton_http import spec_from_documents

META = {"name": "m", "platform": "onnx", "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [-1, 16]}],
        "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "shape": [-1, 16]}]}
CONFIG = {"max_batch_size": 8, "input": [{"name": "INPUT0", "optional": False}]}


def test_good_documents_and_protobuf_json_strings():
    spec = spec_from_documents("m", "", META, CONFIG)
    assert spec.max_batch_size == 8 and spec.inputs[0].dims == (16,)
    grpc_style = {**META, "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": ["-1", "16"]}]}
    assert spec_from_documents("m", "", grpc_style, {"max_batch_size": "8"}).inputs[0].dims == (16,)


@pytest.mark.parametrize("meta, config, match", [
    ({**META, "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": ["a"]}]}, CONFIG,
     r"metadata of model 'm' from the server is malformed: inputs\[0\]\.shape\[0\] is 'a', not an integer"),
    ({**META, "inputs": [{"datatype": "FP32", "shape": [1]}]}, CONFIG,
     r"inputs\[0\]\.name is missing, not a non-empty string"),
    ({**META, "inputs": [{"name": "I", "shape": [1]}]}, CONFIG, r"inputs\[0\]\.datatype is missing"),
    ({**META, "inputs": [{"name": "I", "datatype": "FLOAT", "shape": [1]}]}, CONFIG,
     r"inputs\[0\]\.datatype is 'FLOAT', not a KServe datatype"),
    ({**META, "inputs": [{"name": "I", "datatype": "FP32", "shape": 3}]}, CONFIG,
     r"inputs\[0\]\.shape is 3, not a list"),
    ({**META, "inputs": {"name": "I"}}, CONFIG, r"inputs is \{'name': 'I'\}, not a list of objects"),
    ({**META, "outputs": ["OUTPUT0"]}, CONFIG, r"outputs is \['OUTPUT0'\], not a list of objects"),
    (META, {"max_batch_size": "abc"}, r"config of model 'm' from the server is malformed: max_batch_size is 'abc'"),
    (META, {"max_batch_size": 1.5}, r"max_batch_size is 1\.5, not an integer"),
    (META, {"max_batch_size": True}, r"max_batch_size is True, not an integer"),
    (META, {"max_batch_size": -1}, r"max_batch_size is -1, not a count \(>= 0\)"),
    (META, {"input": "x"}, r"config .* input is 'x', not a list of objects"),
    ({**META, "inputs": [{"name": "I\x1b[2J", "datatype": "X\x1b]0;t\x07", "shape": [1]}]}, CONFIG,
     r"datatype is 'X\\x1b\]0;t\\x07'"),
])
def test_malformed_documents(meta, config, match):
    with pytest.raises(ServerError, match=match) as e:
        spec_from_documents("m", "", meta, config)
    assert e.value.exit_code == GENERIC_ERROR
    assert "\x1b" not in str(e.value)


def stats(entry: object) -> dict:
    return {"model_stats": [entry]}


GOOD = {"name": "m", "version": "1", "inference_count": 3, "execution_count": "3",
        "inference_stats": {"success": {"count": 3, "ns": "3000"}}}


def test_good_statistics():
    s = ServerStats.from_response(stats(GOOD), "m")
    assert (s.inference_count, s.execution_count, s.success_count, s.success_ns) == (3, 3, 3, 3000)


@pytest.mark.parametrize("response, match", [
    (stats({**GOOD, "inference_stats": {"success": {"count": "x"}}}),
     r"model_stats\['m'\]\.inference_stats\.success\.count is 'x', not a count"),
    (stats({**GOOD, "inference_count": -1}), r"model_stats\['m'\]\.inference_count is -1, not a count"),
    (stats({**GOOD, "inference_stats": []}), r"model_stats\['m'\]\.inference_stats is \[\], not an object"),
    (stats({**GOOD, "inference_stats": {"queue": 5}}),
     r"model_stats\['m'\]\.inference_stats\.queue is 5, not an object"),
    (stats("m"), r"model_stats\[0\] is 'm', not an object"),
    ({"model_stats": {"m": 1}}, r"model_stats is \{'m': 1\}, not a list"),
    ([1, 2], r"the answer is \[1, 2\], not an object"),
])
def test_malformed_statistics(response, match):
    with pytest.raises(ServerError, match="the server's statistics answer is malformed: " + match):
        ServerStats.from_response(response, "m")
    with pytest.raises(ServerError, match=match):
        StatsQuery(lambda model, version: response, "m").read()


@pytest.mark.parametrize("scheduling, match", [
    ({"step": [{"model_version": 1}]}, r"ensemble_scheduling\.step\[0\]\.model_name is missing"),
    ({"step": [{"model_name": "a", "model_version": "x"}]},
     r"ensemble_scheduling\.step\[0\]\.model_version is not an integer"),
    ({"step": {"model_name": "a"}}, r"ensemble_scheduling\.step is not a list"),
    ([], r"ensemble_scheduling\.step is not a list"),
    ({"step": ["a"]}, r"ensemble_scheduling\.step\[0\]\.model_name is missing"),
])
def test_malformed_ensemble_config(scheduling, match):
    config = {"name": "ens", "platform": "ensemble", "ensemble_scheduling": scheduling}
    with pytest.raises(ServerError, match="the config of ensemble 'ens' from the server is malformed: " + match):
        ensemble_steps(config)


def test_ensemble_versions_as_protobuf_json_strings():
    config = {"name": "ens", "platform": "ensemble",
              "ensemble_scheduling": {"step": [{"model_name": "a", "model_version": "-1"},
                                               {"model_name": "b", "model_version": "2"}]}}
    assert ensemble_steps(config) == (("a", ""), ("b", "2"))
