"""A gRPC server (grpcio, real 127.0.0.1 socket) implementing the Triton
GRPCInferenceService methods the control and data planes call: ServerLive,
ServerReady, ModelMetadata, ModelConfig, ModelReady, ModelStatistics and
ModelInfer. Each answers as a healthy server would unless the test gives it
another answer: a different message (fields missing, wrong values), raw bytes
instead of a message (garbage protobuf), an error status, or none at all.

Bounded: handlers that never answer wait on a stop event that teardown sets;
the server stops with no grace period."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.grpc import service_pb2 as pb

SERVICE = "inference.GRPCInferenceService"
MODEL = "m"
METHODS = {
    "ServerLive": (pb.ServerLiveRequest, pb.ServerLiveResponse),
    "ServerReady": (pb.ServerReadyRequest, pb.ServerReadyResponse),
    "ModelReady": (pb.ModelReadyRequest, pb.ModelReadyResponse),
    "ModelMetadata": (pb.ModelMetadataRequest, pb.ModelMetadataResponse),
    "ModelConfig": (pb.ModelConfigRequest, pb.ModelConfigResponse),
    "ModelStatistics": (pb.ModelStatisticsRequest, pb.ModelStatisticsResponse),
    "ModelInfer": (pb.ModelInferRequest, pb.ModelInferResponse),
}


@dataclass(frozen=True)
class Fail:
    """Answer with this status and text."""

    code: grpc.StatusCode
    details: str = "failed"


NEVER = object()  # hold the call open, never answer


def metadata(**changes: Any) -> pb.ModelMetadataResponse:
    tensor = pb.ModelMetadataResponse.TensorMetadata
    doc = dict(name=MODEL, versions=["1"], platform="fake",
               inputs=[tensor(name="INPUT0", datatype="INT32", shape=[16])],
               outputs=[tensor(name="OUTPUT0", datatype="INT32", shape=[16])])
    return pb.ModelMetadataResponse(**{**doc, **changes})


def config(**changes: Any) -> pb.ModelConfigResponse:
    doc = dict(name=MODEL, platform="fake", max_batch_size=0,
               input=[mc.ModelInput(name="INPUT0", data_type=mc.TYPE_INT32, dims=[16])],
               output=[mc.ModelOutput(name="OUTPUT0", data_type=mc.TYPE_INT32, dims=[16])])
    return pb.ModelConfigResponse(config=mc.ModelConfig(**{**doc, **changes}))


def healthy_answers() -> dict[str, object]:
    return {"ServerLive": pb.ServerLiveResponse(live=True), "ServerReady": pb.ServerReadyResponse(ready=True),
            "ModelReady": pb.ModelReadyResponse(ready=True), "ModelMetadata": metadata(),
            "ModelConfig": config(),
            "ModelStatistics": pb.ModelStatisticsResponse(model_stats=[pb.ModelStatistics(name=MODEL, version="1")]),
            "ModelInfer": pb.ModelInferResponse(model_name=MODEL, model_version="1")}


def _serialize(message: object) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()  # type: ignore[attr-defined]


@dataclass
class FakeGrpcServer:
    """healthy_answers() with `answers` replacing some: a message, bytes, Fail,
    NEVER, or a function of the request returning one of those."""

    answers: dict[str, object] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.answers = {**healthy_answers(), **self.answers}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        handlers = {name: grpc.unary_unary_rpc_method_handler(self._handler(name), request_deserializer=req.FromString,
                                                              response_serializer=_serialize)
                    for name, (req, _) in METHODS.items()}
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _handler(self, name: str) -> Callable[[Any, grpc.ServicerContext], object]:
        def handle(request: Any, context: grpc.ServicerContext) -> object:
            with self._lock:
                self.calls[name] = self.calls.get(name, 0) + 1
            answer = self.answers[name]
            if callable(answer):
                answer = answer(request)
            if answer is NEVER:
                while not self._stop.is_set() and context.is_active():
                    self._stop.wait(0.1)
                context.abort(grpc.StatusCode.UNAVAILABLE, "stopping")
            if isinstance(answer, Fail):
                context.abort(answer.code, answer.details)
            return answer

        return handle

    def start(self) -> FakeGrpcServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.stop(grace=None).wait(timeout=5)

    def __enter__(self) -> FakeGrpcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
