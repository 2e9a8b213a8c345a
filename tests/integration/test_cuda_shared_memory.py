"""The CUDA shared-memory extension as this (GPU-less) server sees it: our
requests reach the right endpoints with a body it parses, and a handle no GPU
backs is refused with the server's own message. A real CUDA region needs a
GPU, which these tests do not have."""

from __future__ import annotations

import base64

import pytest
from perfanalyzer.errors import ServerError
from perfanalyzer.services.triton_http import TritonHttpService


def test_status_lists_no_cuda_region(triton) -> None:
    svc = TritonHttpService(triton.http_url)
    try:
        assert [r for r in svc.cuda_shm_status() if r["name"].startswith("perfanalyzer_")] == []
    finally:
        svc.close()


def test_a_handle_without_a_gpu_is_refused_in_one_line(triton) -> None:
    svc = TritonHttpService(triton.http_url)
    try:
        with pytest.raises(ServerError) as info:
            svc.register_cuda_shm("perfanalyzer_cuda_test", base64.b64encode(bytes(64)).decode(), 0, 4096)
        text = str(info.value)
        assert text.startswith("registering CUDA shared-memory region 'perfanalyzer_cuda_test' failed on the server")
        assert "\n" not in text
        # The body parsed: a malformed one is refused for a missing 'raw_handle' field or a
        # "non-existing object member"; a well-formed one fails only when the handle is opened.
        assert "raw_handle" not in text and "non-existing" not in text, text
        assert [r for r in svc.cuda_shm_status() if r["name"] == "perfanalyzer_cuda_test"] == []
        svc.unregister_cuda_shm("perfanalyzer_cuda_test")   # cleanup after a refused registration is accepted
    finally:
        svc.close()
