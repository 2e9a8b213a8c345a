"""TensorFlow Serving over gRPC (--service-kind tfserving): the model's inputs
come from GetModelMetadata's signature_def, as perf_analyzer reads them; each
distinct PredictRequest is serialized once here and sent by the compiled gRPC
engine on tensorflow.serving.PredictionService/Predict. TF Serving has no
statistics that match Triton's, so only client-side figures are reported, as
perf_analyzer does."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from perfanalyzer.batching import request_tensors
from perfanalyzer.errors import OptionError, ServerError
from perfanalyzer.inputs import tensor_bytes
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.safe_text import escape_controls
from perfanalyzer.services.base import LoadSpec, Service
from perfanalyzer.services.grpc_tls import grpc_engine_tls
from perfanalyzer.services.tfserving_proto import tf_framework_pb2 as framework
from perfanalyzer.services.tfserving_proto import tf_serving_pb2 as serving
from perfanalyzer.settings import Settings

if TYPE_CHECKING:
    from perfanalyzer import _core

DEFAULT_URL = "localhost:8500"
DEFAULT_SIGNATURE = "serving_default"
SERVICE = "tensorflow.serving.PredictionService"
PREDICT_METHOD = f"/{SERVICE}/Predict"
METADATA_METHOD = f"/{SERVICE}/GetModelMetadata"

# TensorFlow DataType -> the KServe names the data layer speaks.
DTYPES: dict[int, str] = {
    framework.DT_FLOAT: "FP32", framework.DT_DOUBLE: "FP64", framework.DT_HALF: "FP16",
    framework.DT_BFLOAT16: "BF16", framework.DT_INT8: "INT8", framework.DT_INT16: "INT16",
    framework.DT_INT32: "INT32", framework.DT_INT64: "INT64", framework.DT_UINT8: "UINT8",
    framework.DT_UINT16: "UINT16", framework.DT_UINT32: "UINT32", framework.DT_UINT64: "UINT64",
    framework.DT_BOOL: "BOOL", framework.DT_STRING: "BYTES",
}
TF_DTYPES: dict[str, int] = {name: code for code, name in DTYPES.items()}


def model_version(version: str) -> int | None:
    """-x as ModelSpec.version carries it (an integer); empty: the server's choice."""
    if not version:
        return None
    try:
        return int(version)
    except ValueError:
        raise OptionError(f"-x {version}: TensorFlow Serving model versions are integers") from None


def model_spec_message(model: str, version: str, signature_name: str) -> serving.ModelSpec:
    spec = serving.ModelSpec(name=model, signature_name=signature_name)
    number = model_version(version)
    if number is not None:
        spec.version.value = number
    return spec


def encode_predict(spec: ModelSpec, tensors: dict[str, np.ndarray], signature_name: str) -> bytes:
    """One serialized PredictRequest: numeric tensors as tensor_content (raw
    little-endian, the cheapest form for the server to read), BYTES tensors as
    string_val items."""
    req = serving.PredictRequest(model_spec=model_spec_message(spec.name, spec.version, signature_name))
    for t in spec.inputs:
        if t.name not in tensors:
            continue
        array = tensors[t.name]
        proto = req.inputs[t.name]
        proto.dtype = TF_DTYPES[t.datatype]
        proto.tensor_shape.dim.extend(framework.TensorShapeProto.Dim(size=int(d)) for d in array.shape)
        if t.datatype == "BYTES":
            proto.string_val.extend(item if isinstance(item, bytes) else str(item).encode()
                                    for item in array.reshape(-1))
        else:
            proto.tensor_content = tensor_bytes(t.datatype, array)
    return req.SerializeToString()


def spec_from_signature(model: str, version: str, signature_name: str, response: bytes,
                        batch_size: int) -> ModelSpec:
    """A ModelSpec from a serialized GetModelMetadataResponse. As perf_analyzer,
    the first dimension of every input is the batch dimension (-b fills it) and
    the batch size asked for is taken as the model's maximum: the server
    refuses what it cannot take."""
    where = f"model '{model}' signature '{signature_name}'"
    from google.protobuf.message import DecodeError

    try:
        meta = serving.GetModelMetadataResponse.FromString(response)
        if "signature_def" not in meta.metadata:
            raise ServerError(f"model '{model}': the server's metadata has no signature_def")
        sigmap = serving.SignatureDefMap()
        if not meta.metadata["signature_def"].Unpack(sigmap):
            raise ServerError(f"model '{model}': the server's signature_def is not a SignatureDefMap")
    except DecodeError as e:
        raise ServerError(f"model '{model}': the server's metadata is not a GetModelMetadataResponse "
                          f"({escape_controls(str(e))})") from None
    if signature_name not in sigmap.signature_def:
        known = escape_controls(", ".join(sorted(sigmap.signature_def))) or "none"
        raise ServerError(f"--model-signature-name {signature_name}: model '{model}' has no such signature "
                          f"(signatures: {known})")
    sig = sigmap.signature_def[signature_name]

    def tensors(infos: Any, what: str) -> tuple[TensorSpec, ...]:
        out = []
        for name in sorted(infos):
            info = infos[name]
            if info.dtype not in DTYPES:
                raise ServerError(f"{where}: {what} '{name}' has a data type this tool cannot send "
                                  f"({_dtype_name(info.dtype)})")
            if info.tensor_shape.unknown_rank:
                raise ServerError(f"{where}: {what} '{name}' has an unknown rank, which is not supported")
            dims = tuple(int(d.size) for d in info.tensor_shape.dim)
            out.append(TensorSpec(name, DTYPES[info.dtype], dims[1:]))
        return tuple(out)

    inputs = tensors(sig.inputs, "input")
    if not inputs:
        raise ServerError(f"{where}: the signature has no inputs")
    return ModelSpec(name=model, version=version, platform="tensorflow_savedmodel", max_batch_size=batch_size,
                     inputs=inputs, outputs=_outputs(sig.outputs))


def _outputs(infos: Any) -> tuple[TensorSpec, ...]:
    """The outputs validation_data may name: those of a type the validator
    knows (others are left out, not an error: they are never sent)."""
    out = []
    for name in sorted(infos):
        info = infos[name]
        if info.dtype in DTYPES:
            # the first dimension is the batch one, as for inputs; an unknown rank: any shape
            dims = (-1,) if info.tensor_shape.unknown_rank else tuple(int(d.size) for d in info.tensor_shape.dim)[1:]
            out.append(TensorSpec(name, DTYPES[info.dtype], dims))
    return tuple(out)


class TFServingService(Service):
    """GetModelMetadata over a grpcio channel; the load goes through the compiled engine."""

    protocol_label = "gRPC"

    @classmethod
    def from_settings(cls, settings: Settings, out: Callable[[str], None]) -> TFServingService:
        return cls(settings.server_url, settings.model_signature_name, settings.batch_size,
                   tls=grpc_engine_tls(settings))

    def __init__(self, url: str, signature_name: str = DEFAULT_SIGNATURE, batch_size: int = 1,
                 timeout_s: float = 30.0, tls: dict[str, Any] | None = None) -> None:
        """`tls`: the gRPC engine's TLS arguments (use_ssl and the PEM contents of
        the --ssl-grpc-* files); the metadata channel uses the same credentials."""
        import grpc

        self.target = url.rstrip("/")
        if "://" in self.target or not self.target:
            raise ServerError(f"-u {url}: invalid gRPC server address (expected host:port)")
        self.signature_name = signature_name
        self._batch_size = batch_size
        self._timeout_s = timeout_s
        self._grpc = grpc
        self._tls = tls or {}
        if self._tls.get("use_ssl"):
            creds = grpc.ssl_channel_credentials(root_certificates=self._tls.get("root_certs"),
                                                 private_key=self._tls.get("private_key"),
                                                 certificate_chain=self._tls.get("cert_chain"))
            self._channel = grpc.secure_channel(self.target, creds)
        else:
            self._channel = grpc.insecure_channel(self.target)

    def check_ready(self) -> None:
        """Nothing to ask first: GetModelMetadata tells whether the server and model are there."""

    def model_spec(self, model: str, version: str = "") -> ModelSpec:
        request = serving.GetModelMetadataRequest(model_spec=model_spec_message(model, version, ""),
                                                  metadata_field=["signature_def"])
        call = self._channel.unary_unary(METADATA_METHOD)
        try:
            response = call(request.SerializeToString(), timeout=self._timeout_s)
        except self._grpc.RpcError as e:
            code, details = e.code(), (e.details() or "").strip()
            if code in (self._grpc.StatusCode.UNAVAILABLE, self._grpc.StatusCode.DEADLINE_EXCEEDED):
                raise ServerError(f"cannot reach the server at {self.target}: {details} ({code.name})") from None
            label = f"model '{model}'{f' version {version}' if version else ''}"
            raise ServerError(f"{label} is not available on the server at {self.target}: "
                              f"{details} ({code.name})") from None
        return spec_from_signature(model, version, self.signature_name, response, self._batch_size)

    def server_stats(self, model: str, version: str = "") -> None:
        return None

    def infer_url(self, model: str, version: str = "") -> str:
        """The endpoint named in an export (gRPC has no per-model URL)."""
        return f"grpc://{self.target}{PREDICT_METHOD}"

    def load_spec(self, settings: Settings) -> LoadSpec:
        """Every distinct PredictRequest serialized once; with validation_data,
        every PredictResponse is checked in the engine."""
        from perfanalyzer.engine_threads import engine_threads
        from perfanalyzer.load_spec import model_data
        from perfanalyzer.validation import build_validator

        model = model_data(settings, self)
        spec, data = model.spec, model.data
        bodies = [encode_predict(spec, tensors, self.signature_name)
                  for tensors in request_tensors(spec, data, settings.batch_size)]
        return LoadSpec(settings, bodies, validator=build_validator(spec, data, settings.batch_size, "binary"),
                        threads=engine_threads(settings), data_message=model.data_message,
                        export_inputs=model.export_inputs)

    def make_engine(self, load: LoadSpec) -> _core.Engine:
        """The gRPC engine on Predict."""
        from perfanalyzer import _core

        settings = load.settings
        return _core.GrpcEngine(self.target, load.bodies, method=PREDICT_METHOD, channels=settings.grpc_channels,
                                compression=settings.grpc_compression_algorithm,
                                request_timeout_ms=settings.request_timeout_ms,
                                validator=load.validator,
                                response_format="tf_predict", threads=load.threads, **self._tls)

    def close(self) -> None:
        self._channel.close()


def _dtype_name(code: int) -> str:
    return framework.DataType.Name(code) if code in framework.DataType.values() else str(code)
