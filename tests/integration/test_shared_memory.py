"""--shared-memory system against the real server: inputs and outputs travel
through POSIX shared memory registered with Triton, and every region is
unregistered and unlinked when the run ends: success, failure, Ctrl-C or
SIGTERM. Nothing may be left in /dev/shm or registered on the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from perfanalyzer.batching import request_tensors
from perfanalyzer.data_loader import load
from perfanalyzer.services.triton_http import TritonHttpService
from perfanalyzer.settings import Settings
from perfanalyzer.shm import SHM_DIR, SHM_PREFIX, SharedMemory

from .helpers import cli
from .test_input_data import LOOSE, identity_steps, model_counts, post, write_json


def ours() -> set[str]:
    return {n for n in os.listdir(SHM_DIR) if n.startswith(SHM_PREFIX)}


def registered(triton) -> list[str]:
    svc = TritonHttpService(triton.http_url)
    try:
        return [r["name"] for r in svc.system_shm_status() if r["name"].startswith(SHM_PREFIX)]
    finally:
        svc.close()


@pytest.fixture
def no_leak(triton):
    before = ours()
    yield
    assert ours() == before, "shared-memory objects left in /dev/shm"
    assert registered(triton) == [], "regions left registered on the server"


def test_data_travels_through_shared_memory(triton, tmp_path: Path, no_leak: None) -> None:
    f = write_json(tmp_path / "d.json", {"data": identity_steps(2)})
    settings = Settings(model_name="identity", url=triton.http_url, input_data_paths=(f,), batch_size=2).validate()
    svc = TritonHttpService(triton.http_url)
    try:
        spec = svc.model_spec("identity")
        tensors = request_tensors(spec, load(settings, spec), 2)
        with SharedMemory(svc, spec) as memory:
            ins, outs = memory.inputs(tensors), memory.outputs(2)
            assert sorted(registered(triton)) == sorted([ins[0]["INPUT0"][0], outs["OUTPUT0"][0]])
            body, lines = svc.encode_request(spec, tensors[0], input_regions=ins[0], output_regions=outs)
            header = json.loads(body)                       # all JSON: no tensor bytes in the body
            assert header["inputs"][0]["parameters"]["shared_memory_byte_size"] == 2 * 16 * 4
            reply, raw = post(triton, "identity", body, lines)
            assert raw == b"" and "data" not in reply["outputs"][0]   # the output went to the region
            result = np.frombuffer(memory.read(outs["OUTPUT0"][0], 0, 2 * 16 * 4), "<f4").reshape(2, 16)
            assert result[:, 0].tolist() == [0.0, 100.0]      # the model read the region and wrote the other
    finally:
        svc.close()


@pytest.mark.parametrize("model, args", [
    ("identity", ["-b", "4"]),
    ("string_echo", ["--string-length", "16"]),
    ("add_sub", ["--input-data", "zero"]),
])
def test_profile_with_system_shared_memory(triton, model: str, args: list[str], no_leak: None) -> None:
    before = model_counts(triton, model)
    run = cli("-m", model, "-u", triton.http_url, "--shared-memory", "system", *args, *LOOSE)
    assert run.code == 0, run.stderr
    success, fail = model_counts(triton, model)
    assert fail == before[1] and success > before[0]


def test_a_failing_run_leaves_nothing(triton, no_leak: None) -> None:
    # Four bytes cannot hold the strings: the server fails every request.
    run = cli("-m", "string_echo", "-u", triton.http_url, "--shared-memory", "system",
              "--output-shared-memory-size", "4", *LOOSE)
    assert run.code == 99, run.stderr
    assert "shared memory" in run.stderr.lower() or "shared_memory" in run.stderr.lower(), run.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_nothing(triton, sig: signal.Signals, no_leak: None) -> None:
    before = ours()
    proc = subprocess.Popen([sys.executable, "-m", "perfanalyzer", "-m", "identity", "-u", triton.http_url,
                             "--shared-memory", "system", "-p", "60000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (ours() - before) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert ours() - before, "the run never created its regions"
        time.sleep(0.5)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 99, err
    assert "Traceback" not in err


def test_option_errors(triton, tmp_path: Path, no_leak: None) -> None:
    run = cli("-m", "identity", "-u", triton.http_url, "--shared-memory", "cuda", *LOOSE)
    assert run.code == 3 and run.stderr.startswith("error: --shared-memory cuda:"), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    run = cli("-m", "identity", "-u", triton.http_url, "--shared-memory", "gpu", *LOOSE)
    assert run.code == 3 and "Failed to parse --shared-memory. Unsupported type provided: 'gpu'" in run.stderr
    doc = {"data": identity_steps(1), "validation_data": [{"OUTPUT0": [0.0] * 16}]}
    run = cli("-m", "identity", "-u", triton.http_url, "--shared-memory", "system",
              "--input-data", write_json(tmp_path / "v.json", doc), *LOOSE)
    assert run.code == 3 and "validation_data can not be checked with --shared-memory" in run.stderr
