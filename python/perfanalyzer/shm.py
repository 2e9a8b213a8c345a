"""--shared-memory system|cuda: the inputs of every distinct request, and one
region per output, in shared memory registered with Triton; request bodies
then name the regions instead of carrying tensors.

The planning (which regions, their sizes, the input layout) is the same for
both kinds; an allocator supplies the memory and its registration: POSIX
objects here, CUDA IPC in cuda_shm.py (imported only when asked for, so the
package never needs a CUDA runtime otherwise).

Every region is unregistered and released when the run ends, however it ends
(success, error, Ctrl-C, SIGTERM): SharedMemory is a context manager and
also cleans up from an atexit hook, should a caller forget."""

from __future__ import annotations

import atexit
import mmap
import os
import secrets
from types import TracebackType
from typing import Any, Protocol

import numpy as np

from perfanalyzer.errors import OptionError, PerfAnalyzerError
from perfanalyzer.inputs import element_count, tensor_bytes
from perfanalyzer.model import ModelSpec
from perfanalyzer.settings import Settings

SHM_DIR = "/dev/shm"  # where Linux keeps shm_open objects
SHM_PREFIX = "perfanalyzer_"
DEFAULT_OUTPUT_SHM_SIZE = 102400
FIXED_SIZES = {"BOOL": 1, "UINT8": 1, "INT8": 1, "UINT16": 2, "INT16": 2, "FP16": 2, "BF16": 2, "UINT32": 4,
               "INT32": 4, "FP32": 4, "UINT64": 8, "INT64": 8, "FP64": 8}


def check(settings: Settings) -> None:
    """Fails before the server is contacted when the kind asked for cannot work here."""
    if settings.shared_memory == "cuda" and settings.service_kind != "triton_c_api":  # in-process: nothing shared
        from perfanalyzer import cuda_shm
        cuda_shm.check_device()


class SharedMemoryService(Protocol):
    """Triton's system and CUDA shared-memory extensions, as the HTTP and
    gRPC services offer them."""

    def register_system_shm(self, region: str, key: str, byte_size: int) -> None: ...
    def unregister_system_shm(self, region: str) -> None: ...
    def register_cuda_shm(self, region: str, raw_handle_b64: str, device_id: int, byte_size: int) -> None: ...
    def unregister_cuda_shm(self, region: str) -> None: ...


class Allocator(Protocol):
    """Where regions live and how the server learns of them."""

    kind: str

    def create(self, name: str, size: int) -> Any: ...
    def write(self, handle: Any, data: bytes | bytearray) -> None: ...
    def register(self, service: SharedMemoryService, name: str, handle: Any, size: int) -> None: ...
    def unregister(self, service: SharedMemoryService, name: str) -> None: ...
    def destroy(self, handle: Any) -> None: ...


class SystemAllocator:
    """POSIX shared-memory objects in /dev/shm."""

    kind = "system"

    def create(self, name: str, size: int) -> Region:
        return Region(f"/{name}", size)

    def write(self, handle: Region, data: bytes | bytearray) -> None:
        handle.map[0:len(data)] = data

    def register(self, service: SharedMemoryService, name: str, handle: Region, size: int) -> None:
        service.register_system_shm(name, handle.key, size)

    def unregister(self, service: SharedMemoryService, name: str) -> None:
        service.unregister_system_shm(name)

    def destroy(self, handle: Region) -> None:
        handle.close()


def allocator(kind: str) -> Allocator:
    if kind == "cuda":
        from perfanalyzer import cuda_shm
        return cuda_shm.CudaAllocator()
    return SystemAllocator()


_open: list[SharedMemory] = []


def close_all() -> None:
    """Releases every region this process still holds (the run's finally)."""
    for s in list(_open):
        s.close()


def regions(settings: Settings, service: SharedMemoryService, spec: ModelSpec,
            tensors_list: list[dict[str, np.ndarray]], validating: bool, memory_allocator: Allocator | None = None
            ) -> tuple[list[dict[str, tuple[str, int, int]]] | None, dict[str, tuple[str, int]] | None]:
    """--shared-memory: per request, where its inputs are, and where outputs go
    (None, None without shared memory). close_all() releases them."""
    if settings.shared_memory == "none":
        return None, None
    check(settings)
    if validating:
        raise OptionError("validation_data can not be checked with --shared-memory: the outputs are written to "
                          "shared memory, not returned in the responses")
    memory = SharedMemory(service, spec, settings.output_shared_memory_size,
                          memory_allocator or allocator(settings.shared_memory))
    try:
        return memory.inputs(tensors_list), memory.outputs(settings.batch_size)
    except OSError as e:
        memory.close()
        raise PerfAnalyzerError(f"--shared-memory system: cannot create a shared-memory region in {SHM_DIR}: "
                                f"{e.strerror}") from None
    except BaseException:
        memory.close()
        raise


class Region:
    """One POSIX shared-memory object, mapped."""

    def __init__(self, key: str, size: int) -> None:
        self.key = key  # shm_open name, "/..."
        self.size = size
        self.path = os.path.join(SHM_DIR, key.lstrip("/"))
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            os.ftruncate(fd, size)
            self.map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            os.unlink(self.path)
            raise
        os.close(fd)

    def close(self) -> None:
        self.map.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class SharedMemory:
    """The regions of one run; `bodies` are ready to hand to the engine."""

    def __init__(self, service: SharedMemoryService, spec: ModelSpec, output_size: int = DEFAULT_OUTPUT_SHM_SIZE,
                 memory_allocator: Allocator | None = None) -> None:
        self.service = service
        self.spec = spec
        self.output_size = output_size
        self.allocator = memory_allocator or SystemAllocator()
        self.tag = f"{SHM_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
        self.regions: dict[str, Any] = {}   # registered name -> the allocator's handle
        self.registered: list[str] = []
        self.closed = False
        _open.append(self)
        atexit.register(self.close)

    def __enter__(self) -> SharedMemory:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _region(self, name: str, size: int) -> Any:
        region_name, size = f"{self.tag}_{name}", max(size, 1)
        handle = self.allocator.create(region_name, size)
        self.regions[region_name] = handle  # before registering: a refused registration still frees it
        self.allocator.register(self.service, region_name, handle, size)
        self.registered.append(region_name)
        return handle

    def inputs(self, tensors_list: list[dict[str, np.ndarray]]) -> list[dict[str, tuple[str, int, int]]]:
        """Writes every request's inputs into one region, back to back (64-byte
        aligned); per request: input name -> (region, offset, size)."""
        layout, data = plan_inputs(self.spec, tensors_list)
        handle = self._region("inputs", len(data))
        self.allocator.write(handle, data)
        name = f"{self.tag}_inputs"
        return [{k: (name, off, n) for k, (off, n) in where.items()} for where in layout]

    def outputs(self, batch_size: int) -> dict[str, tuple[str, int]]:
        """One region per output, shared by all requests (their contents are
        not read); sizes from output_sizes()."""
        out = {}
        sizes = output_sizes(self.spec, batch_size, self.output_size)
        for i, (t, size) in enumerate(zip(self.spec.outputs, sizes, strict=True)):
            self._region(f"output{i}", size)
            out[t.name] = (f"{self.tag}_output{i}", size)
        return out

    def read(self, region_name: str, offset: int, size: int) -> bytes:
        """System regions only: CUDA memory is not mapped in this process."""
        return bytes(self.regions[region_name].map[offset:offset + size])

    def close(self) -> None:
        """Unregisters every region (best effort: the server may be gone), then
        releases them: the server lets go of memory before it is freed; idempotent."""
        if self.closed:
            return
        self.closed = True
        atexit.unregister(self.close)
        if self in _open:
            _open.remove(self)
        for name in self.registered:
            try:
                self.allocator.unregister(self.service, name)
            except PerfAnalyzerError:
                pass
        for handle in self.regions.values():
            self.allocator.destroy(handle)
        self.regions.clear()  # CUDA memory is freed when its last handle goes


def plan_inputs(spec: ModelSpec, tensors_list: list[dict[str, np.ndarray]]
                ) -> tuple[list[dict[str, tuple[int, int]]], bytearray]:
    """Every request's inputs back to back (64-byte aligned): per request,
    input name -> (offset, size), and the bytes of the whole region."""
    datatypes = {t.name: t.datatype for t in spec.inputs}
    blobs, layout, offset = [], [], 0
    for tensors in tensors_list:
        where = {}
        for name, array in tensors.items():
            raw = tensor_bytes(datatypes[name], array)
            where[name] = (offset, len(raw))
            blobs.append((offset, raw))
            offset += (len(raw) + 63) // 64 * 64
        layout.append(where)
    data = bytearray(offset)
    for off, raw in blobs:
        data[off:off + len(raw)] = raw
    return layout, data  # not copied again: it is as large as all the inputs together


def output_sizes(spec: ModelSpec, batch_size: int, output_size: int = DEFAULT_OUTPUT_SHM_SIZE) -> list[int]:
    """Bytes per output region: the exact size of a batch when the output's
    shape and type are fixed, else --output-shared-memory-size."""
    rows = batch_size if spec.max_batch_size > 0 else 1
    return [rows * element_count(t.dims) * FIXED_SIZES[t.datatype]
            if t.datatype in FIXED_SIZES and all(d >= 0 for d in t.dims) else output_size
            for t in spec.outputs]
