"""gRPC engines keep memory flat: no per-request record or leak (calls,
responses, status details and metadata are released or reused)."""

from __future__ import annotations

import numpy as np
import pytest
from perfanalyzer import _core
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.services.triton_grpc import encode_request

from .test_memory import rss_bytes, run_until

SPEC = ModelSpec("identity", "", "python", 64, (TensorSpec("INPUT0", "FP32", (16,)),),
                 (TensorSpec("OUTPUT0", "FP32", (16,)),))


@pytest.mark.parametrize("streaming", [False, True])
def test_rss_does_not_grow_with_requests(triton, streaming: bool) -> None:
    params = {"triton_enable_empty_final_response": True} if streaming else None
    message = encode_request(SPEC, {"INPUT0": np.ones((1, 16), dtype=np.float32)}, parameters=params)
    engine = _core.GrpcEngine(triton.grpc_url, [message], channels=2, streaming=streaming)
    try:
        engine.start()
        engine.set_concurrency(8)
        run_until(engine, 2_000)  # warm: connections, arenas, allocator caches
        engine.swap()
        before = rss_bytes()
        start = engine.completed
        run_until(engine, start + 20_000)
        engine.swap()
        grown = rss_bytes() - before
    finally:
        engine.stop(2000)
        engine.close()
    assert grown < 128 * 1024, f"RSS grew by {grown} bytes over 20,000 requests"
