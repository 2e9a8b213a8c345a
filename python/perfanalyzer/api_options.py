"""The keyword arguments of perfanalyzer.profile(): their types, checked at
run time as a type checker checks them, and turned into Settings fields.

Each key is a field of perfanalyzer.settings.Settings (the CLI's flag under
that name); the types are what a caller naturally has (a list, a dict, a
pathlib.Path), converted here to the tuples and strings Settings holds. A
wrong type is an OptionError naming the parameter, before anything starts."""

from __future__ import annotations

import collections.abc
import os
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict, Union

from perfanalyzer.errors import OptionError
from perfanalyzer.tls import HttpsOptions

PathArg = str | os.PathLike[str]


class ProfileOptions(TypedDict, total=False):
    """Every setting profile() takes besides the model and the load."""

    model_version: str
    url: str
    protocol: Literal["http", "grpc"]
    http_headers: Sequence[str]
    batch_size: int
    shapes: Mapping[str, Sequence[int]] | Sequence[tuple[str, Sequence[int]]]
    input_data: Literal["random", "zero"]
    input_data_paths: PathArg | Sequence[PathArg]
    string_length: int
    string_data: str
    input_tensor_format: Literal["binary", "json"]
    output_tensor_format: Literal["binary", "json"]
    request_parameters: Mapping[str, bool | int | str]
    sequence_length: int | None
    sequence_length_variation: float
    sequence_id_start: int
    sequence_id_range: int
    num_of_sequences: int
    serial_sequences: bool
    output_shared_memory_size: int
    latency_threshold_ms: int
    measurement_interval_ms: int
    measurement_mode: Literal["time_windows", "count_windows"]
    measurement_request_count: int
    stability_percentage: float
    max_trials: int
    percentile: int
    filename: PathArg | None
    verbose: bool
    async_mode: bool
    max_threads: int | None
    ray_address: str | None
    ray_workers: int | None
    request_timeout_ms: int
    http_client: Literal["auto", "native", "curl"]
    request_distribution: Literal["constant", "poisson"]
    seed: int | None
    max_inflight: int
    request_count: int
    warmup_request_count: int
    binary_search: bool
    profile_export_file: PathArg | None
    https: HttpsOptions
    bls_composing_models: Sequence[tuple[str, str]]
    collect_metrics: bool
    metrics_url: str
    metrics_interval_ms: int
    verbose_csv: bool
    trace_file: PathArg | None
    trace_levels: Sequence[Literal["OFF", "TIMESTAMPS", "TENSORS"]]
    trace_rate: int | None
    trace_count: int | None
    log_frequency: int | None
    html_report: PathArg | None
    json_file: PathArg | None
    service_kind: Literal["triton", "triton_c_api", "torchserve", "tfserving"]
    triton_server_directory: PathArg
    model_repository: PathArg
    model_signature_name: str
    shared_memory: Literal["none", "system", "cuda"]
    grpc_channels: int
    grpc_compression_algorithm: Literal["none", "gzip", "deflate"]
    streaming: bool
    ssl_grpc_use_ssl: bool
    ssl_grpc_root_certifications_file: PathArg
    ssl_grpc_private_key_file: PathArg
    ssl_grpc_certificate_chain_file: PathArg


_HINTS: dict[str, Any] | None = None
# Settings fields that profile() sets itself, or that only the CLI's parsing produces.
_OTHER_WAY = {"model_name": "the first argument", "concurrency_range": "concurrency=",
              "request_rate_range": "request_rate=", "load_modes": "concurrency= or request_rate=",
              "quiet": "progress="}


def _hints() -> dict[str, Any]:
    global _HINTS
    if _HINTS is None:
        _HINTS = typing.get_type_hints(ProfileOptions)
    return _HINTS


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def matches(value: object, tp: Any) -> bool:
    """Whether `value` has type `tp`, for the types ProfileOptions uses. A
    str is not a sequence of str here, and a bool is not an int."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if _is_union(tp):
        return any(matches(value, a) for a in args)
    if tp is type(None):
        return value is None
    if origin is Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is os.PathLike:
        return isinstance(value, os.PathLike) and isinstance(os.fspath(value), str)
    if origin is collections.abc.Sequence:
        return _plain_sequence(value) and all(matches(v, args[0]) for v in value)  # type: ignore[attr-defined]
    if origin is tuple:
        return _plain_sequence(value) and len(value) == len(args) and \
            all(matches(v, a) for v, a in zip(value, args, strict=True))  # type: ignore[arg-type]
    if origin is collections.abc.Mapping:
        return isinstance(value, Mapping) and all(matches(k, args[0]) and matches(v, args[1])
                                                  for k, v in value.items())
    return isinstance(value, tp)


def _plain_sequence(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def describe(tp: Any) -> str:
    """A type as a caller reads it: `int or None`, `one of 'http', 'grpc'`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if _is_union(tp):
        return " or ".join(describe(a) for a in args)
    if tp is type(None):
        return "None"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is os.PathLike:
        return "os.PathLike"
    if origin is collections.abc.Sequence:
        return f"a sequence of ({describe(args[0])})"
    if origin is tuple:
        return f"a ({', '.join(describe(a) for a in args)}) pair" if len(args) == 2 else str(tp)
    if origin is collections.abc.Mapping:
        return f"a mapping of {describe(args[0])} to ({describe(args[1])})"
    return getattr(tp, "__name__", str(tp))


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check(name: str, value: object) -> None:
    """OptionError unless `name` is a ProfileOptions key and `value` has its type."""
    hints = _hints()
    if name not in hints:
        how = f" (give it as {_OTHER_WAY[name]})" if name in _OTHER_WAY else ""
        raise OptionError(f"{name}: unknown setting of perfanalyzer.profile(){how}; the settings are the keys "
                          "of perfanalyzer.api_options.ProfileOptions")
    if not matches(value, hints[name]):
        raise OptionError(f"{name}={_shown(value)}: want {describe(hints[name])}, got {type(value).__name__}")


def _path(value: Any) -> str:
    return os.fspath(value)


def _request_parameter(name: str, value: bool | int | str) -> tuple[str, str, str]:
    if isinstance(value, bool):
        return (name, "true" if value else "false", "bool")
    if isinstance(value, int):
        return (name, str(value), "int")
    return (name, value, "string")


def to_settings_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """Checked options -> Settings fields (tuples, str paths)."""
    fields: dict[str, Any] = {}
    for name, value in options.items():
        check(name, value)
        if name == "shapes":
            pairs = value.items() if isinstance(value, Mapping) else value
            value = tuple((n, tuple(dims)) for n, dims in pairs)
        elif name == "input_data_paths":
            value = (_path(value),) if isinstance(value, (str, os.PathLike)) else tuple(_path(p) for p in value)
        elif name == "request_parameters":
            value = tuple(_request_parameter(n, v) for n, v in value.items())
        elif name in ("http_headers", "trace_levels"):
            value = tuple(value)
        elif name == "bls_composing_models":
            value = tuple((n, v) for n, v in value)
        elif isinstance(value, os.PathLike):
            value = _path(value)
        fields[name] = value
    return fields
