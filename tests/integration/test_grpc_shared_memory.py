"""--shared-memory system over -i grpc: the regions are registered through
Triton's gRPC shared-memory extension, the messages carry no tensor bytes,
the server reads the inputs from the region, and every region is
unregistered and unlinked at the end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from perfanalyzer.batching import request_tensors
from perfanalyzer.data_loader import load
from perfanalyzer.services.triton_grpc import TritonGrpcService
from perfanalyzer.settings import Settings
from perfanalyzer.shm import SharedMemory

from .helpers import cli
from .test_input_data import identity_steps, model_counts, write_json
from .test_shared_memory import no_leak  # noqa: F401 (fixture)


def test_grpc_message_refers_to_the_regions(triton, tmp_path: Path, no_leak: None) -> None:  # noqa: F811
    from tritonclient.grpc import service_pb2

    f = write_json(tmp_path / "d.json", {"data": identity_steps(2)})
    settings = Settings(model_name="identity", url=triton.grpc_url, protocol="grpc", input_data_paths=(f,),
                        batch_size=2).validate()
    svc = TritonGrpcService(triton.grpc_url)
    try:
        spec = svc.model_spec("identity")
        tensors = request_tensors(spec, load(settings, spec), 2)
        with SharedMemory(svc, spec) as memory:
            ins, outs = memory.inputs(tensors), memory.outputs(2)
            names = [r["name"] for r in svc.system_shm_status()]
            assert sorted(n for n in names if n in (ins[0]["INPUT0"][0], outs["OUTPUT0"][0])) == \
                sorted([ins[0]["INPUT0"][0], outs["OUTPUT0"][0]])
            message = svc.encode_request(spec, tensors[0], input_regions=ins[0], output_regions=outs)
            req = service_pb2.ModelInferRequest.FromString(message)
            assert len(req.raw_input_contents) == 0          # the tensor bytes are in the region only
            assert req.inputs[0].parameters["shared_memory_byte_size"].int64_param == 2 * 16 * 4
            assert req.outputs[0].parameters["shared_memory_region"].string_param == outs["OUTPUT0"][0]
            reply = svc._client._client_stub.ModelInfer(req)
            assert not any(reply.raw_output_contents)        # the output went to its region
            result = np.frombuffer(memory.read(outs["OUTPUT0"][0], 0, 2 * 16 * 4), "<f4").reshape(2, 16)
            assert result[:, 0].tolist() == [0.0, 100.0]      # the model read the region and wrote the other
    finally:
        svc.close()


def test_profile_over_grpc_with_system_shared_memory(triton, no_leak: None) -> None:  # noqa: F811
    before = model_counts(triton, "identity")
    run = cli("-m", "identity", "-i", "grpc", "-u", triton.grpc_url, "--shared-memory", "system", "-b", "2",
              "--request-count", "200")
    assert run.code == 0, run.stderr
    success, fail = model_counts(triton, "identity")
    assert fail == before[1] and success - before[0] == 200
