"""What the runner asks of a service kind, and what a service hands back.

A run is service -> LoadSpec -> engine -> profiler -> report. Every service
kind (Triton over HTTP, gRPC or its C API, TF Serving, TorchServe) implements
Service: it reads what it needs from the server, prepares every distinct
request once (`load_spec`) and builds the compiled engine that sends them
(`make_engine`). The runner never asks which kind it holds.

Capabilities only some kinds have are explicit methods with a default of
"not offered" (None), which a service that has them overrides:
`statistics_source` (Triton's per-model statistics and configs) and
`trace_control` (Triton's trace extension)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from perfanalyzer.settings import Settings
from perfanalyzer.trace import TraceService

if TYPE_CHECKING:
    from perfanalyzer import _core

# One distinct request as its engine takes it: a serialized message (gRPC,
# TF Serving), an HTTP body with its header lines, or the C API's tensors
# (name, datatype, shape, raw contents).
CapiTensor = tuple[str, str, list[int], bytes]
RequestBody = bytes | tuple[bytes, list[str]] | list[CapiTensor]


@dataclass(frozen=True)
class LoadSpec:
    """Every distinct request of a run, prepared before any load, and what
    the engine needs besides: the validator of the responses, the sequencer(s)
    of a sequence model and the engine's thread count."""

    settings: Settings                  # as the load changed them (sequences may cap --max-inflight)
    bodies: Sequence[RequestBody]
    validator: _core.Validator | None = None  # None: no validation_data
    # None: not a sequence model; a list: one per engine thread
    sequencer: _core.Sequencer | list[_core.Sequencer] | None = None
    threads: int = 1                    # engine threads (--max-threads, as the engine can use them)
    data_message: str = ""              # the report's line about data read from files
    export_inputs: dict[str, object] | None = None  # the export's request_inputs


@runtime_checkable
class StatisticsSource(Protocol):
    """Triton's statistics and model configs (the server-side figures, and
    the composing models of ensembles and BLS models)."""

    def statistics(self, model: str = "", version: str = "") -> dict[str, Any]: ...
    def model_config(self, model: str, version: str = "") -> dict[str, Any]: ...


@runtime_checkable
class Service(Protocol):
    """One service kind's control plane and request preparation."""

    protocol_label: str  # how the report names the protocol: HTTP, gRPC, C-API

    @classmethod
    def from_settings(cls, settings: Settings, out: Callable[[str], None]) -> Service:
        """The service as the flags configure it; `out` takes what it reports
        while opening (the C API's "server is alive!")."""
        ...

    def check_ready(self) -> None:
        """Fails with a ServerError when the server cannot serve (a no-op
        where the first real call tells as much)."""
        ...

    def load_spec(self, settings: Settings) -> LoadSpec:
        """Reads the model from the server, loads the data and prepares every
        distinct request; refuses what this kind cannot send."""
        ...

    def make_engine(self, load: LoadSpec) -> _core.Engine:
        """The compiled engine sending `load`, not started."""
        ...

    def infer_url(self, model: str, version: str = "") -> str:
        """The endpoint the export names ("" where requests never leave the process)."""
        ...

    def statistics_source(self) -> StatisticsSource | None:
        """Triton's statistics, or None (the default): client-side figures only."""
        return None

    def trace_control(self) -> TraceService | None:
        """Triton's trace extension, or None (the default): trace flags are refused."""
        return None

    def close(self) -> None: ...
