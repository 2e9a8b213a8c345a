"""The one frozen description of a profiling run, and its validation.

Both the CLI and the Python API build a Settings; everything downstream reads
only this, so a rule about flags lives in exactly one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from perfanalyzer.errors import OptionError

MEASUREMENT_MODES = ("time_windows", "count_windows")
HTTP_CLIENTS = ("auto", "native", "curl")
PROTOCOLS = ("http",)
INPUT_DATA_MODES = ("random", "zero")


@dataclass(frozen=True)
class Range:
    """start:end:step; end == 0 means "until the latency limit is hit"."""

    start: int
    end: int
    step: int

    def levels(self) -> list[int] | None:
        """The levels of a bounded sweep, or None for an open-ended one."""
        if self.end == 0:
            return None
        return list(range(self.start, self.end + 1, self.step))


@dataclass(frozen=True)
class Settings:
    model_name: str
    model_version: str = ""
    url: str = ""
    protocol: str = "http"
    http_headers: tuple[str, ...] = ()
    batch_size: int = 1
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    input_data: str = "random"
    concurrency_range: Range = field(default_factory=lambda: Range(1, 1, 1))
    latency_threshold_ms: int = 0
    measurement_interval_ms: int = 5000
    measurement_mode: str = "time_windows"
    measurement_request_count: int = 50
    stability_percentage: float = 10.0
    max_trials: int = 10
    percentile: int = -1
    filename: str | None = None
    verbose: bool = False
    async_mode: bool = False
    max_threads: int = 16
    request_timeout_ms: int = 0
    http_client: str = "auto"

    @property
    def server_url(self) -> str:
        return self.url or "localhost:8000"

    @property
    def shape_map(self) -> dict[str, tuple[int, ...]]:
        return dict(self.shapes)

    @property
    def stabilizing_label(self) -> str:
        return "average latency" if self.percentile == -1 else f"p{self.percentile} latency"

    def validate(self) -> Settings:
        if not self.model_name:
            raise OptionError("-m (model name) is required")
        if self.protocol not in PROTOCOLS:
            raise OptionError(f"-i: unsupported protocol '{self.protocol}' (supported: {', '.join(PROTOCOLS)})")
        if self.batch_size <= 0:
            raise OptionError(f"-b: batch size must be > 0, got {self.batch_size}")
        if self.input_data not in INPUT_DATA_MODES:
            raise OptionError(
                f"--input-data: '{self.input_data}' is not supported yet (supported: {', '.join(INPUT_DATA_MODES)})"
            )
        r = self.concurrency_range
        if r.start < 1:
            raise OptionError(f"--concurrency-range: start must be >= 1, got {r.start}")
        if r.step < 1:
            raise OptionError(f"--concurrency-range: step must be >= 1, got {r.step}")
        if r.end != 0 and r.end < r.start:
            raise OptionError(f"--concurrency-range: end ({r.end}) must be >= start ({r.start}) or 0")
        if r.end == 0 and self.latency_threshold_ms == 0:
            raise OptionError(
                "The end of the search range and the latency limit can not be both 0 (or 0.0) simultaneously"
            )
        if self.latency_threshold_ms < 0:
            raise OptionError(f"-l: latency threshold must be >= 0 msec, got {self.latency_threshold_ms}")
        if self.measurement_interval_ms <= 0:
            raise OptionError(f"-p: measurement window must be > 0 msec, got {self.measurement_interval_ms}")
        if self.measurement_mode not in MEASUREMENT_MODES:
            raise OptionError(
                f"--measurement-mode: '{self.measurement_mode}' is not one of {', '.join(MEASUREMENT_MODES)}"
            )
        if self.measurement_request_count <= 0:
            raise OptionError(
                f"--measurement-request-count: must be > 0, got {self.measurement_request_count}"
            )
        if self.stability_percentage <= 0:
            raise OptionError(f"-s: stability percentage must be > 0, got {self.stability_percentage:g}")
        if self.max_trials <= 0:
            raise OptionError(f"-r: max trials must be > 0, got {self.max_trials}")
        if self.percentile != -1 and not 1 <= self.percentile <= 99:
            raise OptionError(f"--percentile: must be -1 or within 1..99, got {self.percentile}")
        if self.max_threads <= 0:
            raise OptionError(f"--max-threads: must be > 0, got {self.max_threads}")
        for name, dims in self.shapes:
            if any(d <= 0 for d in dims):
                raise OptionError(f"--shape {name}: every dimension must be > 0, got {list(dims)}")
        if self.http_client not in HTTP_CLIENTS:
            raise OptionError(f"--http-client: '{self.http_client}' is not one of {', '.join(HTTP_CLIENTS)}")
        if self.http_client == "native" and self.server_url.startswith("https://"):
            raise OptionError("--http-client native speaks plain HTTP only; use curl (or auto) for https://")
        for h in self.http_headers:
            if ":" not in h:
                raise OptionError(f"-H '{h}': a header must look like 'Name: value'")
        return self


def parse_range(flag: str, text: str) -> Range:
    """Parses perf_analyzer's start[:end[:step]] (missing end = start, step = 1)."""
    parts = text.split(":")
    if not 1 <= len(parts) <= 3 or any(p.strip() == "" for p in parts):
        raise OptionError(f"{flag}: expected start:end:step, got '{text}'")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise OptionError(f"{flag}: expected integers in start:end:step, got '{text}'") from None
    start = values[0]
    end = values[1] if len(values) > 1 else start
    step = values[2] if len(values) > 2 else 1
    return Range(start, end, step)


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """--shape NAME:d1,d2,... (the name itself may contain ':')."""
    name, sep, dims = text.rpartition(":")
    if not sep or not name or not dims:
        raise OptionError(f"--shape: expected NAME:d1,d2,..., got '{text}'")
    try:
        return name, tuple(int(d) for d in dims.split(","))
    except ValueError:
        raise OptionError(f"--shape {name}: dimensions must be integers, got '{dims}'") from None
