"""--shared-memory system: the inputs of every distinct request, and one
region per output, in POSIX shared memory registered with Triton; request
bodies then name the regions instead of carrying tensors.

Every region is unregistered and unlinked when the run ends, however it ends
(success, error, Ctrl-C, SIGTERM): SharedMemory is a context manager and
also cleans up from an atexit hook, should a caller forget."""

from __future__ import annotations

import atexit
import mmap
import os
import secrets
from types import TracebackType

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


def check_cuda() -> None:
    """--shared-memory cuda: needs a CUDA device and tritonclient's CUDA utilities."""
    try:
        import tritonclient.utils.cuda_shared_memory as cudashm  # noqa: F401
    except Exception as e:  # ImportError, or the CUDA runtime failing to load
        raise OptionError("--shared-memory cuda: CUDA shared memory needs an NVIDIA GPU with the CUDA runtime and "
                          f"tritonclient[cuda]; not available here ({str(e).splitlines()[0] if str(e) else e!r})"
                          ) from None
    raise OptionError("--shared-memory cuda: not supported by this version yet; use --shared-memory system")


_open: list[SharedMemory] = []


def close_all() -> None:
    """Releases every region this process still holds (the run's finally)."""
    for s in list(_open):
        s.close()


def regions(settings: Settings, service: object, spec: ModelSpec, tensors_list: list[dict[str, np.ndarray]],
            validating: bool) -> tuple[list[dict[str, tuple[str, int, int]]] | None, dict[str, tuple[str, int]] | None]:
    """--shared-memory: per request, where its inputs are, and where outputs go
    (None, None without shared memory). close_all() releases them."""
    if settings.shared_memory == "none":
        return None, None
    if settings.shared_memory == "cuda":
        check_cuda()
    if validating:
        raise OptionError("validation_data can not be checked with --shared-memory: the outputs are written to "
                          "shared memory, not returned in the responses")
    memory = SharedMemory(service, spec, settings.output_shared_memory_size)
    try:
        return memory.inputs(tensors_list), memory.outputs(settings.batch_size)
    except OSError as e:
        memory.close()
        raise PerfAnalyzerError(f"--shared-memory system: cannot create a shared-memory region in {SHM_DIR}: "
                                f"{e.strerror}") from None


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

    def __init__(self, service: object, spec: ModelSpec, output_size: int = DEFAULT_OUTPUT_SHM_SIZE) -> None:
        self.service = service
        self.spec = spec
        self.output_size = output_size
        self.tag = f"{SHM_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
        self.regions: dict[str, Region] = {}   # registered name -> region
        self.registered: list[str] = []
        self.closed = False
        _open.append(self)
        atexit.register(self.close)

    def __enter__(self) -> SharedMemory:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _region(self, name: str, size: int) -> Region:
        region = Region(f"/{self.tag}_{name}", max(size, 1))
        self.regions[f"{self.tag}_{name}"] = region
        region_name = f"{self.tag}_{name}"
        self.service.register_system_shm(region_name, region.key, region.size)  # type: ignore[attr-defined]
        self.registered.append(region_name)
        return region

    def inputs(self, tensors_list: list[dict[str, np.ndarray]]) -> list[dict[str, tuple[str, int, int]]]:
        """Writes every request's inputs into one region, back to back (64-byte
        aligned); per request: input name -> (region, offset, size)."""
        datatypes = {t.name: t.datatype for t in self.spec.inputs}
        blobs, layout, offset = [], [], 0
        for tensors in tensors_list:
            where = {}
            for name, array in tensors.items():
                raw = tensor_bytes(datatypes[name], array)
                where[name] = (offset, len(raw))
                blobs.append((offset, raw))
                offset += (len(raw) + 63) // 64 * 64
            layout.append(where)
        region = self._region("inputs", offset)
        for off, raw in blobs:
            region.map[off:off + len(raw)] = raw
        name = f"{self.tag}_inputs"
        return [{k: (name, off, n) for k, (off, n) in where.items()} for where in layout]

    def outputs(self, batch_size: int) -> dict[str, tuple[str, int]]:
        """One region per output, shared by all requests (their contents are
        not read): the exact size when the output's shape and type are fixed,
        else --output-shared-memory-size."""
        out = {}
        rows = batch_size if self.spec.max_batch_size > 0 else 1
        for i, t in enumerate(self.spec.outputs):
            if t.datatype in FIXED_SIZES and all(d >= 0 for d in t.dims):
                size = rows * element_count(t.dims) * FIXED_SIZES[t.datatype]
            else:
                size = self.output_size
            self._region(f"output{i}", size)
            out[t.name] = (f"{self.tag}_output{i}", size)
        return out

    def read(self, region_name: str, offset: int, size: int) -> bytes:
        return bytes(self.regions[region_name].map[offset:offset + size])

    def close(self) -> None:
        """Unregisters (best effort: the server may be gone) and unlinks everything; idempotent."""
        if self.closed:
            return
        self.closed = True
        atexit.unregister(self.close)
        if self in _open:
            _open.remove(self)
        for name in self.registered:
            try:
                self.service.unregister_system_shm(name)  # type: ignore[attr-defined]
            except PerfAnalyzerError:
                pass
        for region in self.regions.values():
            region.close()
