"""What a run would need, computed before it is attempted: sweep levels,
bytes of generated data, connections. Numbers past these bounds are typos
or hostile input, and trying them ends in MemoryError or an exhausted file
table instead of a message naming the flag."""

from __future__ import annotations

import math
from collections.abc import Mapping

from perfanalyzer.errors import OptionError, ServerError
from perfanalyzer.model import ModelSpec

MAX_LEVELS = 100_000
# One request's input tensors: what a single gRPC message can carry, and far
# beyond what a Triton HTTP endpoint accepts by default.
MAX_REQUEST_BYTES = 2 << 30
# Files the process keeps for itself besides its connections (stdio, the
# control plane, shared memory, the compiled core's event descriptors).
RESERVED_FDS = 64
# Client memory per request in flight where requests share connections (gRPC
# streams, the C API): the engine's slot plus the transport's call state.
# Measured about 13 KiB per request over gRPC (peak RSS at -c 100, 2000 and
# 8000); rounded up.
IN_FLIGHT_BYTES = 16 << 10

_ITEM_BYTES = {"BOOL": 1, "UINT8": 1, "INT8": 1, "UINT16": 2, "INT16": 2, "FP16": 2, "BF16": 2,
               "UINT32": 4, "INT32": 4, "FP32": 4, "UINT64": 8, "INT64": 8, "FP64": 8}


def human_bytes(n: int) -> str:
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def check_rate_range(flag: str, start: float, end: float, step: float) -> None:
    for what, v in (("start", start), ("end", end), ("step", step)):
        if not math.isfinite(v):
            raise OptionError(f"{flag}: {what} must be a finite number, got {v}")
    if end > 0 and step > 0 and end >= start:
        check_level_count(flag, (end - start) / step + 1)


def check_level_count(flag: str, count: float) -> None:
    if count > MAX_LEVELS:
        raise OptionError(f"{flag}: the range has {count:.0f} levels; at most {MAX_LEVELS} "
                          "(a larger step or a smaller range)")


def check_string_length(n: int) -> None:
    if n > MAX_REQUEST_BYTES:
        raise OptionError(f"--string-length: {n} characters is more than one request can carry "
                          f"({human_bytes(MAX_REQUEST_BYTES)})")


def check_generated_size(spec: ModelSpec, shapes: Mapping[str, tuple[int, ...]], batch_size: int,
                         string_length: int, string_data: str = "") -> None:
    """Refuses generated inputs whose bytes would not fit one request, naming
    the flag that makes them so large, before numpy is asked to allocate them."""
    total = 0
    for t in spec.inputs:
        count = math.prod(shapes[t.name]) * (batch_size if spec.max_batch_size > 0 else 1)
        if t.datatype == "BYTES":
            each = 4 + (len(string_data.encode()) if string_data else string_length)
        else:
            each = _ITEM_BYTES.get(t.datatype, 1)
        size = count * each
        total += size
        if total <= MAX_REQUEST_BYTES:
            continue
        dims = ",".join(str(d) for d in shapes[t.name])
        flagged = any(d < 0 for d in t.dims)
        cause = f"--shape {t.name}:{dims}" if flagged else f"input '{t.name}' [{dims}]"
        if t.datatype == "BYTES" and not string_data:
            cause += f" with --string-length {string_length}"
            flagged = True
        if spec.max_batch_size > 0 and batch_size > 1:
            cause += f" at -b {batch_size}"
            flagged = True
        text = (f"{cause}: {count} x {t.datatype} elements need {human_bytes(size)}; one request's "
                f"inputs are limited to {human_bytes(MAX_REQUEST_BYTES)}")
        if not flagged:  # the model's own fixed dims: the server's answer is at fault, not a flag
            raise ServerError(f"model '{spec.name}' from the server: {text}")
        raise OptionError(text)


def open_file_limit() -> int:
    """The soft limit on open files, raised to the hard one where allowed
    (kept as it is when that fails: running out then shows as a transport error)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            target = hard if hard != resource.RLIM_INFINITY else 1 << 20
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def check_connections(flag: str, in_flight: int, limit: int | None = None) -> None:
    """Over HTTP every request in flight holds its own connection, so a
    level past the open-file limit could only fail request by request."""
    limit = open_file_limit() if limit is None else limit
    if in_flight + RESERVED_FDS > limit:
        raise OptionError(f"{flag}: {in_flight} requests in flight need as many connections, but this process "
                          f"may open at most {limit} files (ulimit -n) of which {RESERVED_FDS} are kept for "
                          f"itself; use at most {max(limit - RESERVED_FDS, 0)} or raise the limit")


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo, in bytes; None where there is none."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(flag: str, in_flight: int, transport: str, available: int | None = None) -> None:
    """Requests that share connections are bounded by memory instead: a level
    whose requests alone would take over half the memory available (the
    server, often on the same machine, needs its own) is refused."""
    available = available_memory() if available is None else available
    if available is None:
        return
    need = in_flight * IN_FLIGHT_BYTES
    if need > available // 2:
        most = available // 2 // IN_FLIGHT_BYTES
        raise OptionError(f"{flag}: {in_flight} requests in flight need about {human_bytes(need)} of client memory "
                          f"over {transport} ({human_bytes(IN_FLIGHT_BYTES)} each), over half of the "
                          f"{human_bytes(available)} available; use at most {most}")
