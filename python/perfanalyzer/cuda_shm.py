"""--shared-memory cuda: regions in GPU memory, handed to Triton as CUDA IPC
handles through tritonclient's CUDA shared-memory utilities.

Imported only when cuda is asked for: those utilities need cuda-python and a
CUDA driver, which the rest of the package never does. Region planning is
shm.py's, shared with --shared-memory system."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from perfanalyzer.errors import OptionError, PerfAnalyzerError

if TYPE_CHECKING:
    from perfanalyzer.shm import SharedMemoryService

DEVICE_ID = 0  # perf_analyzer also puts its CUDA regions on device 0


def _reason(e: BaseException) -> str:
    text = str(e).strip()
    if not text and e.__cause__ is not None:
        text = str(e.__cause__).strip()
    return text.splitlines()[0] if text else type(e).__name__


def load() -> ModuleType:
    """tritonclient.utils.cuda_shared_memory, or an option error (exit 3), as
    perf_analyzer built without GPU support refuses the option."""
    try:
        import tritonclient.utils.cuda_shared_memory as cudashm
    except Exception as e:  # RuntimeError when cuda-python is missing, OSError for a broken CUDA library
        raise OptionError("--shared-memory cuda: this installation has no CUDA support (tritonclient's CUDA "
                          "shared-memory utilities need cuda-python: pip install 'tritonclient[cuda]'): "
                          f"{_reason(e)}") from None
    return cudashm


def check_device(device_id: int = DEVICE_ID) -> None:
    """Fails with one line when the CUDA support is missing (exit 3) or no GPU
    is usable (exit 99, a runtime failure as in a GPU build on a machine without
    a GPU), before anything is sent to the server."""
    load()
    try:
        import cuda.bindings.runtime as cudart
        err, count = cudart.cudaGetDeviceCount()
        failed = err != cudart.cudaError_t.cudaSuccess
        reason = getattr(err, "name", str(err))
    except Exception as e:  # no driver library, or a binding that cannot start
        failed, count, reason = True, 0, _reason(e)
    if failed or count <= device_id:
        raise PerfAnalyzerError(f"--shared-memory cuda: no usable CUDA GPU {device_id} on this machine "
                                f"({reason if failed else f'{count} device(s) found'})")


class CudaAllocator:
    """Regions from cudaMalloc, registered by IPC handle (see shm.Allocator).
    `library` is the seam for tests: anything with tritonclient's four calls."""

    kind = "cuda"

    def __init__(self, device_id: int = DEVICE_ID, library: Any = None) -> None:
        self.device_id = device_id
        self.lib = library if library is not None else load()

    def create(self, name: str, size: int) -> Any:
        try:
            return self.lib.create_shared_memory_region(name, size, self.device_id)
        except Exception as e:
            raise PerfAnalyzerError(f"--shared-memory cuda: cannot allocate {size} bytes on GPU {self.device_id} "
                                    f"for region '{name}': {_reason(e)}") from None

    def write(self, handle: Any, data: bytes | bytearray) -> None:
        """The whole planned region in one copy, from offset 0."""
        if not data:
            return
        try:
            self.lib.set_shared_memory_region(handle, [np.frombuffer(data, dtype=np.uint8)])
        except Exception as e:
            raise PerfAnalyzerError(f"--shared-memory cuda: cannot copy {len(data)} bytes of inputs to GPU "
                                    f"{self.device_id}: {_reason(e)}") from None

    def register(self, service: SharedMemoryService, name: str, handle: Any, size: int) -> None:
        raw = self.lib.get_raw_handle(handle)  # base64 of the cudaIpcMemHandle_t
        service.register_cuda_shm(name, raw.decode() if isinstance(raw, bytes) else raw, self.device_id, size)

    def unregister(self, service: SharedMemoryService, name: str) -> None:
        service.unregister_cuda_shm(name)

    def destroy(self, handle: Any) -> None:
        try:
            self.lib.destroy_shared_memory_region(handle)
        except Exception:  # noqa: S110 - at exit, freeing the rest matters more than one failure
            pass
