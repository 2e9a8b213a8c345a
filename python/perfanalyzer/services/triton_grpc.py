"""Triton over gRPC: control plane through tritonclient.grpc, and the KServe v2
ModelInferRequest messages the compiled engine sends, serialized once here.

The control-plane answers are converted to the JSON shapes the HTTP service
reads, so model specs and server statistics are built by the same code."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from perfanalyzer import stopping
from perfanalyzer.errors import ServerError
from perfanalyzer.inputs import tensor_bytes
from perfanalyzer.model import ModelSpec
from perfanalyzer.safe_text import escape_controls
from perfanalyzer.server_stats import ServerStats
from perfanalyzer.services.base import LoadSpec, Service, StatisticsSource
from perfanalyzer.services.grpc_tls import grpc_engine_tls
from perfanalyzer.services.triton_http import spec_from_documents
from perfanalyzer.settings import Settings
from perfanalyzer.trace import TraceService

if TYPE_CHECKING:
    from perfanalyzer import _core

INFER_METHOD = "inference.GRPCInferenceService/ModelInfer"
# Sequences: the engines patch the id and flags per request (grpc_sequence.h):
# an id whose varint takes 10 bytes, so that any id fits in its place.
SEQUENCE_ID_SENTINEL = -1


def encode_request(spec: ModelSpec, tensors: dict[str, np.ndarray], request_id: str = "",
                   parameters: dict[str, int | str | bool] | None = None,
                   input_regions: dict[str, tuple[str, int, int]] | None = None,
                   output_regions: dict[str, tuple[str, int]] | None = None, sequence: bool = False) -> bytes:
    """One serialized ModelInferRequest: every input present in `tensors` as raw
    contents (the same bytes the HTTP binary format carries), every output asked for.
    input_regions / output_regions: name -> (region, offset, size) / (region,
    size) of registered shared memory; those tensors are not in the message
    (Triton takes raw contents for all inputs or none, and shared memory
    places them all). sequence: the sequence parameters, with values the
    engine overwrites per request."""
    from tritonclient.grpc import service_pb2

    req = service_pb2.ModelInferRequest(model_name=spec.name, model_version=spec.version, id=request_id)
    if sequence:
        req.parameters["sequence_id"].int64_param = SEQUENCE_ID_SENTINEL
        req.parameters["sequence_start"].bool_param = False  # a oneof member: serialized even when false
        req.parameters["sequence_end"].bool_param = False
    for name, value in (parameters or {}).items():
        p = req.parameters[name]
        if isinstance(value, bool):  # before int: bool is an int in Python
            p.bool_param = value
        elif isinstance(value, int):
            p.int64_param = value
        else:
            p.string_param = str(value)
    for t in spec.inputs:
        if t.name not in tensors:
            continue  # an optional input left out
        array = tensors[t.name]
        entry = req.inputs.add()
        entry.name = t.name
        entry.datatype = t.datatype
        entry.shape.extend(int(d) for d in array.shape)
        if input_regions and t.name in input_regions:
            region, offset, size = input_regions[t.name]
            entry.parameters["shared_memory_region"].string_param = region
            entry.parameters["shared_memory_byte_size"].int64_param = size
            entry.parameters["shared_memory_offset"].int64_param = offset
        else:
            req.raw_input_contents.append(tensor_bytes(t.datatype, array))
    for o in spec.outputs:
        out = req.outputs.add()
        out.name = o.name
        if output_regions and o.name in output_regions:
            region, size = output_regions[o.name]
            out.parameters["shared_memory_region"].string_param = region
            out.parameters["shared_memory_byte_size"].int64_param = size
    return req.SerializeToString()


class TritonGrpcService(Service):
    """Control plane over Triton's gRPC endpoint (KServe v2 + extensions)."""

    protocol_label = "gRPC"

    @classmethod
    def from_settings(cls, settings: Settings, out: Callable[[str], None]) -> TritonGrpcService:
        return cls(settings.server_url, ssl=settings.ssl_grpc_use_ssl,
                   root_certificates=settings.ssl_grpc_root_certifications_file or None,
                   private_key=settings.ssl_grpc_private_key_file or None,
                   certificate_chain=settings.ssl_grpc_certificate_chain_file or None)

    def __init__(self, url: str, verbose: bool = False, timeout_s: float = 30.0, ssl: bool = False,
                 root_certificates: str | None = None, private_key: str | None = None,
                 certificate_chain: str | None = None) -> None:
        import tritonclient.grpc as grpcclient

        self.target = url.rstrip("/")
        if "://" in self.target or not self.target:
            raise ServerError(f"-u {url}: invalid gRPC server address (expected host:port)")
        self._exception = grpcclient.InferenceServerException
        self._timeout_limit_s = timeout_s
        try:
            self._client = grpcclient.InferenceServerClient(
                self.target, verbose=verbose, ssl=ssl, root_certificates=root_certificates,
                private_key=private_key, certificate_chain=certificate_chain)
        except self._exception as e:
            raise ServerError(f"-u {url}: {_message(e)}") from None

    @property
    def _timeout_s(self) -> float:
        """The limit of one call, shorter once the run is ending (see stopping);
        gRPC's blocking calls poll for signals, so Ctrl-C interrupts them."""
        return max(0.001, stopping.timeout(self._timeout_limit_s))

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, client_timeout=self._timeout_s, **kwargs)
        except self._exception as e:
            raise ServerError(f"{what} failed on the server at {self.target}: {_message(e)}") from None

    def check_ready(self) -> None:
        try:
            live = self._client.is_server_live(client_timeout=self._timeout_s)
        except self._exception as e:
            raise ServerError(f"cannot reach the server at {self.target}: {_message(e)}") from None
        if not live:
            raise ServerError(f"the server at {self.target} is not live")
        if not self._call("checking readiness", self._client.is_server_ready):
            raise ServerError(f"the server at {self.target} is not ready")

    def model_spec(self, model: str, version: str = "") -> ModelSpec:
        try:
            meta = self._client.get_model_metadata(model, version, as_json=True, client_timeout=self._timeout_s)
        except self._exception as e:
            raise ServerError(
                f"model '{model}'{f' version {version}' if version else ''} is not available on the "
                f"server at {self.target}: {_message(e)}"
            ) from None
        config = self._call(f"reading the config of model '{model}'", self._client.get_model_config, model, version,
                            as_json=True).get("config", {})
        if not self._call(f"checking model '{model}'", self._client.is_model_ready, model, version):
            raise ServerError(f"model '{model}' is not ready on the server at {self.target}")
        return spec_from_documents(model, version, meta, config)

    def server_stats(self, model: str, version: str = "") -> ServerStats:
        # JSON from protobuf: 64-bit counters come as strings, zero fields are
        # left out; from_response reads both.
        return ServerStats.from_response(self.statistics(model, version), model, version)

    def statistics(self, model: str = "", version: str = "") -> dict[str, Any]:
        """Triton's statistics answer as JSON; model "" asks for every model."""
        return self._call("reading statistics", self._client.get_inference_statistics, model, version,
                          as_json=True)

    def model_config(self, model: str, version: str = "") -> dict[str, Any]:
        return self._call(f"reading the config of model '{model}'", self._client.get_model_config, model, version,
                          as_json=True).get("config", {})

    def trace_settings(self, model: str = "") -> dict[str, Any]:
        """Triton's trace extension over gRPC (the model's settings, or the
        global ones), in the HTTP extension's JSON form."""
        return _trace_json(self._call("reading the trace settings", self._client.get_trace_settings,
                                      model_name=model or None, as_json=True))

    def update_trace_settings(self, model: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Sends `changes` (None clears a model setting back to the global one)."""
        return _trace_json(self._call(f"updating the trace settings of model '{model}'",
                                      self._client.update_trace_settings, model_name=model, settings=changes,
                                      as_json=True))

    def infer_url(self, model: str, version: str = "") -> str:
        """The endpoint named in an export (gRPC has no per-model URL)."""
        return f"grpc://{self.target}/{INFER_METHOD}"

    def encode_request(self, spec: ModelSpec, tensors: dict[str, np.ndarray], request_id: str = "", *,
                       input_format: str = "binary", output_format: str = "binary",
                       parameters: dict[str, int | str | bool] | None = None, sequence: bool = False,
                       input_regions: dict[str, tuple[str, int, int]] | None = None,
                       output_regions: dict[str, tuple[str, int]] | None = None) -> bytes:
        """The HTTP service's signature; the tensor formats are HTTP's alone (settings refuse json for gRPC)."""
        return encode_request(spec, tensors, request_id, parameters, input_regions, output_regions, sequence)

    # Triton's shared-memory extensions over gRPC: the calls the HTTP service
    # offers, so shm.py's regions work with either protocol.
    def register_system_shm(self, region: str, key: str, byte_size: int) -> None:
        self._call(f"registering shared-memory region '{region}'", self._client.register_system_shared_memory,
                   region, key, byte_size)

    def unregister_system_shm(self, region: str) -> None:
        self._call(f"unregistering shared-memory region '{region}'", self._client.unregister_system_shared_memory,
                   region)

    def system_shm_status(self) -> list[dict[str, Any]]:
        reply = self._call("reading the shared-memory status", self._client.get_system_shared_memory_status,
                           as_json=True)
        return list(reply.get("regions", {}).values())

    def register_cuda_shm(self, region: str, raw_handle_b64: str, device_id: int, byte_size: int) -> None:
        self._call(f"registering CUDA shared-memory region '{region}'", self._client.register_cuda_shared_memory,
                   region, raw_handle_b64.encode(), device_id, byte_size)

    def unregister_cuda_shm(self, region: str) -> None:
        self._call(f"unregistering CUDA shared-memory region '{region}'",
                   self._client.unregister_cuda_shared_memory, region)

    def load_spec(self, settings: Settings) -> LoadSpec:
        """-i grpc: messages serialized once. What the gRPC engine cannot do yet
        is refused rather than silently left out."""
        from perfanalyzer.load_spec import model_data, triton_load

        return triton_load(settings, self, model_data(settings, self, self.model_config))

    def make_engine(self, load: LoadSpec) -> _core.Engine:
        from perfanalyzer import _core

        settings = load.settings
        return _core.GrpcEngine(settings.server_url, load.bodies, channels=settings.grpc_channels,
                                compression=settings.grpc_compression_algorithm,
                                request_timeout_ms=settings.request_timeout_ms, streaming=settings.streaming,
                                sequencer=load.sequencer, validator=load.validator, threads=load.threads,
                                **grpc_engine_tls(settings))

    def statistics_source(self) -> StatisticsSource:
        return self

    def trace_control(self) -> TraceService:
        return self

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # closing a channel that never connected must not mask the run's outcome
            pass


def _message(e: Exception) -> str:
    """tritonclient's exception text without its "[StatusCode.X]" prefix noise."""
    msg = getattr(e, "message", None)
    text = msg() if callable(msg) else str(e)
    status = getattr(e, "status", None)
    code = status() if callable(status) else None
    return escape_controls(f"{text} ({code})" if code and code not in text else text)


def _trace_json(answer: dict[str, Any]) -> dict[str, Any]:
    """{"settings": {"trace_rate": {"value": ["1000"]}, ...}} -> {"trace_rate": "1000", ...}:
    one string per setting, as HTTP answers, and trace_level's list."""
    out: dict[str, Any] = {}
    for key, entry in answer.get("settings", {}).items():
        values = list(entry.get("value", [])) if isinstance(entry, dict) else []
        out[key] = values if key == "trace_level" else (values[0] if values else "")
    return out
