"""--shared-memory cuda without a GPU: the planning shared with the system
path, the registration body, the error when CUDA is missing, and the order
in which regions are registered, written, unregistered and freed (through
the allocator seam; the HTTP transport is not faked)."""

from __future__ import annotations

import base64
import importlib.util
import json
import socket
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from perfanalyzer import shm
from perfanalyzer.cuda_shm import CudaAllocator, check_device
from perfanalyzer.errors import OPTION_ERROR, OptionError, PerfAnalyzerError
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.services.triton_http import cuda_register_body
from perfanalyzer.settings import Settings

SPEC = ModelSpec("m", "1", "python", 8, (TensorSpec("IN", "FP32", (3,)), TensorSpec("S", "BYTES", (1,))),
                 (TensorSpec("OUT", "FP32", (3,)), TensorSpec("TXT", "BYTES", (1,)), TensorSpec("V", "INT64", (-1,))))
TENSORS = [{"IN": np.arange(6, dtype=np.float32).reshape(2, 3), "S": np.array([[b"ab"], [b"c"]], dtype=object)},
           {"IN": np.ones((2, 3), dtype=np.float32), "S": np.array([[b""], [b"xyz"]], dtype=object)}]


def has_cuda_support() -> bool:
    try:
        return importlib.util.find_spec("cuda.bindings.runtime") is not None
    except ImportError:
        return False


HAS_CUDA_SUPPORT = has_cuda_support()


class Recorder:
    """An allocator that keeps regions in host memory and logs every step."""

    kind = "fake"

    def __init__(self, fail_on: str = "") -> None:
        self.log: list[tuple[str, str]] = []
        self.memory: dict[str, bytearray] = {}
        self.fail_on = fail_on

    def create(self, name: str, size: int) -> str:
        if self.fail_on and name.endswith(self.fail_on):
            raise PerfAnalyzerError(f"--shared-memory fake: cannot allocate region '{name}'")
        self.log.append(("create", name))
        self.memory[name] = bytearray(size)
        return name

    def write(self, handle: str, data: bytes) -> None:
        self.log.append(("write", handle))
        self.memory[handle][:len(data)] = data

    def register(self, service: Any, name: str, handle: str, size: int) -> None:
        self.log.append(("register", name))

    def unregister(self, service: Any, name: str) -> None:
        self.log.append(("unregister", name))

    def destroy(self, handle: str) -> None:
        self.log.append(("destroy", handle))


def test_planning_is_shared_with_the_system_path() -> None:
    layout, data = shm.plan_inputs(SPEC, TENSORS)
    assert layout[0]["IN"] == (0, 24) and layout[0]["S"] == (64, 4 + 2 + 4 + 1)
    assert layout[1]["IN"] == (128, 24) and layout[1]["S"] == (192, 4 + 0 + 4 + 3)
    assert len(data) == 256
    assert np.frombuffer(data[128:152], dtype=np.float32).tolist() == [1.0] * 6
    assert shm.output_sizes(SPEC, 4, 1000) == [4 * 3 * 4, 1000, 1000]   # fixed FP32; BYTES and -1 get the flag's size
    unbatched = ModelSpec("m", "1", "python", 0, SPEC.inputs, SPEC.outputs[:1])
    assert shm.output_sizes(unbatched, 4) == [3 * 4]


def test_regions_are_written_once_and_released_in_order() -> None:
    rec = Recorder()
    settings = Settings(model_name="m", shared_memory="system", batch_size=2, output_shared_memory_size=512)
    ins, outs = shm.regions(settings, None, SPEC, TENSORS, False, rec)
    try:
        name = ins[0]["IN"][0]
        assert ins[1]["S"] == (name, 192, 11) and outs["OUT"][1] == 2 * 3 * 4 and outs["V"][1] == 512
        assert rec.memory[name] == bytearray(shm.plan_inputs(SPEC, TENSORS)[1])
        created = [n for op, n in rec.log if op == "create"]
        assert rec.log[:3] == [("create", name), ("register", name), ("write", name)]
        assert len(created) == 4                                          # inputs + 3 outputs
    finally:
        shm.close_all()
    tail = rec.log[-8:]
    assert [op for op, _ in tail] == ["unregister"] * 4 + ["destroy"] * 4   # the server lets go before the free
    assert {n for _, n in tail[:4]} == set(created) == {n for _, n in tail[4:]}
    done = len(rec.log)
    shm.close_all()
    assert len(rec.log) == done                                          # closing twice does nothing more


def test_a_failed_region_releases_those_made_before_it() -> None:
    rec = Recorder(fail_on="output1")
    settings = Settings(model_name="m", shared_memory="system", batch_size=2)
    with pytest.raises(PerfAnalyzerError, match="cannot allocate region"):
        shm.regions(settings, None, SPEC, TENSORS, False, rec)
    made = [n for op, n in rec.log if op == "create"]
    assert len(made) == 2
    assert [n for op, n in rec.log if op == "unregister"] == made
    assert [n for op, n in rec.log if op == "destroy"] == made
    assert shm._open == []


def test_registration_body() -> None:
    raw = base64.b64encode(bytes(range(64))).decode()
    body = json.loads(cuda_register_body(raw, 0, 4096))
    assert body == {"raw_handle": {"b64": raw}, "device_id": 0, "byte_size": 4096}


class FakeCudaLibrary:
    """tritonclient.utils.cuda_shared_memory's four calls, over host memory."""

    def __init__(self) -> None:
        self.live: dict[str, bytearray] = {}
        self.devices: list[int] = []

    def create_shared_memory_region(self, name: str, size: int, device_id: int) -> str:
        self.devices.append(device_id)
        self.live[name] = bytearray(size)
        return name

    def set_shared_memory_region(self, handle: str, values: list[np.ndarray]) -> None:
        raw = b"".join(v.tobytes() for v in values)
        self.live[handle][:len(raw)] = raw

    def get_raw_handle(self, handle: str) -> bytes:
        return base64.b64encode(handle.encode().ljust(64, b"\0"))

    def destroy_shared_memory_region(self, handle: str) -> None:
        del self.live[handle]


def test_cuda_allocator_writes_the_planned_layout_and_frees_it() -> None:
    lib = FakeCudaLibrary()
    cuda = CudaAllocator(device_id=0, library=lib)
    data = shm.plan_inputs(SPEC, TENSORS)[1]
    h = cuda.create("r", len(data))
    cuda.write(h, data)                                                  # one copy of the whole region, from 0
    assert bytes(lib.live["r"]) == data and lib.devices == [0]
    cuda.destroy(h)
    assert "r" not in lib.live
    cuda.destroy(h)                                                      # a second free is harmless


def test_cuda_allocation_failure_is_one_line_generic_error() -> None:
    class NoMemory(FakeCudaLibrary):
        def create_shared_memory_region(self, name: str, size: int, device_id: int) -> str:
            raise RuntimeError("unable to create cuda shared memory handle\ncudaErrorMemoryAllocation")

    with pytest.raises(PerfAnalyzerError) as info:
        CudaAllocator(library=NoMemory()).create("big", 1 << 40)
    assert info.value.exit_code == 99
    assert str(info.value) == ("--shared-memory cuda: cannot allocate 1099511627776 bytes on GPU 0 for region 'big': "
                               "unable to create cuda shared memory handle")


def test_missing_cuda_support_is_one_line_option_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # As an installation without cuda-python looks, whether or not this one has it.
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", None)
    monkeypatch.delitem(sys.modules, "tritonclient.utils.cuda_shared_memory", raising=False)
    with pytest.raises(OptionError) as info:
        check_device()
    assert info.value.exit_code == OPTION_ERROR
    assert str(info.value).startswith("--shared-memory cuda: this installation has no CUDA support")
    assert "\n" not in str(info.value)
    with pytest.raises(OptionError):
        shm.allocator("cuda")


def test_system_path_never_imports_cuda() -> None:
    code = ("import sys; from perfanalyzer import runner, shm; from perfanalyzer.settings import Settings; "
            "shm.allocator('system'); shm.check(Settings(model_name='m', shared_memory='system')); "
            "print(sorted(m for m in sys.modules if m.startswith(('cuda.', 'tritonclient.utils.cuda'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def gpu_count() -> int:
    if not HAS_CUDA_SUPPORT:
        return 0
    import cuda.bindings.runtime as cudart
    err, count = cudart.cudaGetDeviceCount()
    return count if err == cudart.cudaError_t.cudaSuccess else 0


@pytest.mark.skipif(not HAS_CUDA_SUPPORT or gpu_count() > 0, reason="needs cuda-python on a machine without a GPU")
def test_cuda_support_without_a_gpu_is_one_line_generic_error() -> None:
    with pytest.raises(PerfAnalyzerError) as info:
        check_device()
    assert info.value.exit_code == 99 and not isinstance(info.value, OptionError)
    assert str(info.value).startswith("--shared-memory cuda: no usable CUDA GPU 0 on this machine (")


@pytest.mark.skipif(gpu_count() > 0, reason="a GPU is usable here")
def test_cli_refuses_cuda_before_contacting_the_server() -> None:
    with socket.socket() as listener:                    # a "server" that records whether anyone called
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "perfanalyzer", "-m", "identity", "-u", f"127.0.0.1:{port}",
                               "--shared-memory", "cuda"], capture_output=True, text=True, timeout=60)
        with pytest.raises(TimeoutError):
            listener.accept()
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    if HAS_CUDA_SUPPORT:
        assert proc.returncode == 99 and "--shared-memory cuda: no usable CUDA GPU 0" in lines[0]
    else:
        assert proc.returncode == OPTION_ERROR
        assert "--shared-memory cuda: this installation has no CUDA support" in lines[0]
