"""Values of flags that are more than a number (ranges, shapes, request
parameters, id ranges, interval files), parsed with perf_analyzer's messages."""

from __future__ import annotations

import os
from dataclasses import dataclass

from perfanalyzer.errors import OptionError
from perfanalyzer.input_files import read_bytes

INPUT_DATA_MODES = ("random", "zero")
REQUEST_PARAMETER_TYPES = ("int", "string", "bool")


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
class RateRange:
    """Request rates start:end:step (floats); end == 0 means "until -l"."""

    start: float
    end: float
    step: float

    def levels(self) -> list[float] | None:
        if self.end == 0:
            return None
        n = int((self.end - self.start) / self.step + 1e-9) + 1
        return [round(self.start + i * self.step, 9) for i in range(n)]


def parse_rate_range(text: str) -> RateRange:
    """--request-rate-range start[:end[:step]] with floats."""
    parts = text.split(":")
    if len(parts) > 3:
        raise OptionError("Failed to parse --request-rate-range. The value does not match <start:end:step>.")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise OptionError(f"Failed to parse --request-rate-range. Invalid value provided: {text}") from None
    start = values[0]
    end = values[1] if len(values) > 1 else start
    step = values[2] if len(values) > 2 else 1.0
    return RateRange(start, end, step)


def read_intervals(path: str) -> tuple[int, ...]:
    """--request-intervals: one gap in microseconds per line -> nanoseconds."""
    if not os.path.exists(path):
        raise OptionError(f"Failed to parse --request-intervals. The value must be a valid file path "
                          f"({path}: no such file or directory)")
    raw = read_bytes("--request-intervals", path)
    try:
        lines = raw.decode().splitlines()
    except UnicodeDecodeError as e:
        raise OptionError(f"--request-intervals {path}: not text (byte {e.start})") from None
    out = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        try:
            us = float(text)
        except ValueError:
            raise OptionError(f"--request-intervals {path}:{n}: '{text}' is not a number of microseconds") from None
        if us < 0 or us != us:
            raise OptionError(f"--request-intervals {path}:{n}: interval must be >= 0 microseconds, got {text}")
        out.append(int(round(us * 1000)))
    if out and sum(out) == 0:
        raise OptionError(f"--request-intervals {path}: the intervals sum to zero")
    return tuple(out)


def parse_periodic_range(text: str) -> Range:
    """--periodic-concurrency-range start:end[:step], with perf_analyzer's checks."""
    flag = "--periodic-concurrency-range"
    parts = text.split(":")
    if len(parts) < 2:
        raise OptionError(f"Failed to parse {flag}. Both <start> and <end> values must be provided.")
    if len(parts) > 3:
        raise OptionError(f"Failed to parse {flag}. The value does not match <start:end:step>.")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise OptionError(f"Failed to parse {flag}. Invalid value provided: {text}") from None
    start, end = values[0], values[1]
    step = values[2] if len(values) > 2 else 1
    if start <= 0:
        raise OptionError(f"Failed to parse {flag}. The <start> value must be > 0.")
    if step <= 0:
        raise OptionError(f"Failed to parse {flag}. The <step> value must be > 0.")
    if start > end:
        raise OptionError(f"Failed to parse {flag}. The <start> must be <= <end>.")
    if (end - start) % step:
        raise OptionError(f"Failed to parse {flag}. The <step> value must be a factor of the range size "
                          "(<end> - <start>).")
    return Range(start, end, step)


def parse_range(flag: str, text: str) -> Range:
    """Parses perf_analyzer's start[:end[:step]] (missing end = start, step = 1)."""
    parts = text.split(":")
    if len(parts) > 3:
        raise OptionError(f"Failed to parse {flag}. The value does not match <start:end:step>.")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise OptionError(f"Failed to parse {flag}. Invalid value provided: {text}") from None
    start = values[0]
    end = values[1] if len(values) > 1 else start
    step = values[2] if len(values) > 2 else 1
    return Range(start, end, step)


def split_input_data(values: list[str]) -> tuple[str, tuple[str, ...]]:
    """--input-data values -> (generated mode, data paths). An existing path
    wins over the words random/zero, as in perf_analyzer."""
    mode, paths = "random", []
    for v in values:
        if v in INPUT_DATA_MODES and not os.path.exists(v):
            mode = "zero" if v == "zero" else mode
        else:
            paths.append(v)
    return mode, tuple(paths)


def parse_request_parameter(text: str) -> tuple[str, str, str]:
    """--request-parameter name:value:type; the value may itself hold ':'."""
    name, sep, rest = text.partition(":")
    value, sep2, kind = rest.rpartition(":")
    if not (sep and sep2 and name):
        raise OptionError(f"Failed to parse --request-parameter. The value does not match <name:value:type>. "
                          f"(got '{text}'; type {', '.join(REQUEST_PARAMETER_TYPES)})")
    return name, value, kind.lower()


def typed_parameter(name: str, value: str, kind: str) -> int | str | bool:
    if kind == "string":
        return value
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            raise OptionError(f"--request-parameter {name}: '{value}' is not an int") from None
    if kind == "bool":
        if value.lower() not in ("true", "false"):
            raise OptionError(f"--request-parameter {name}: '{value}' is not a bool (true or false)")
        return value.lower() == "true"
    raise OptionError(f"--request-parameter {name}: unsupported type '{kind}' "
                      f"(supported: {', '.join(REQUEST_PARAMETER_TYPES)})")


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """--shape NAME:d1,d2,... (the name itself may contain ':')."""
    name, sep, dims = text.rpartition(":")
    if not sep or not name:
        raise OptionError(f"Failed to parse --shape. There must be a colon after input name. (got '{text}')")
    try:
        return name, tuple(int(d) for d in dims.split(","))
    except ValueError:
        raise OptionError(f"Failed to parse --shape. Invalid value provided: {text}") from None


def parse_sequence_id_range(text: str | None) -> dict[str, int]:
    """--sequence-id-range start[:end] -> Settings fields (perf_analyzer: ids start .. end - 1)."""
    if text is None:
        return {}
    parts = text.split(":")
    if len(parts) > 2:
        raise OptionError("Failed to parse --sequence-id-range. The value does not match <start:end>.")
    try:
        start = int(parts[0])
        end = int(parts[1]) if len(parts) == 2 else start + 2**32 - 1
    except ValueError:
        raise OptionError(f"Failed to parse --sequence-id-range. Invalid value provided: {text}") from None
    if start < 0 or end < 0:
        raise OptionError("Failed to parse --sequence-id-range. The range values must be >= 0.")
    if end <= start:
        raise OptionError("Failed to parse --sequence-id-range. The 'end' value must be greater than 'start' value.")
    return {"sequence_id_start": start, "sequence_id_range": end - start}
