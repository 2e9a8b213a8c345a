"""Every service kind implements services.base.Service, and the factory picks
the right one per --service-kind and -i. No server needed: the services are
built as a run builds them, without contacting anything."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from perfanalyzer.cli import parse_args
from perfanalyzer.errors import OptionError
from perfanalyzer.services.base import LoadSpec, Service, StatisticsSource
from perfanalyzer.services.factory import open_service, service_class
from perfanalyzer.services.tfserving import TFServingService
from perfanalyzer.services.torchserve import TorchServeService
from perfanalyzer.services.triton_capi import TritonCapiService
from perfanalyzer.services.triton_grpc import TritonGrpcService
from perfanalyzer.services.triton_http import TritonHttpService
from perfanalyzer.settings import SERVICE_KINDS
from perfanalyzer.trace import TraceService

ALL = (TritonHttpService, TritonGrpcService, TritonCapiService, TFServingService, TorchServeService)
# What each kind must define itself; the rest of the Protocol has a default.
REQUIRED = ("from_settings", "check_ready", "load_spec", "make_engine", "infer_url", "close")
OPTIONAL = ("statistics_source", "trace_control")


def defined_by(cls: type, name: str) -> type:
    return next(c for c in cls.__mro__ if name in vars(c))


def test_the_protocol_lists_what_the_runner_uses() -> None:
    members = {n for n in vars(Service) if not n.startswith("_")} | set(Service.__annotations__)
    assert members == {*REQUIRED, *OPTIONAL, "protocol_label"}


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_kind_defines_the_protocol_with_its_signatures(cls: type) -> None:
    assert Service in cls.__mro__  # the defaults come from the Protocol itself
    assert cls.protocol_label in ("HTTP", "gRPC", "C-API")
    for name in REQUIRED:
        assert defined_by(cls, name) is not Service, f"{cls.__name__} leaves {name} to the Protocol's stub"
    for name in REQUIRED + OPTIONAL:
        ours = list(inspect.signature(getattr(cls, name)).parameters)
        protocol = list(inspect.signature(getattr(Service, name)).parameters)
        assert ours == protocol, f"{cls.__name__}.{name}{ours} vs Service.{name}{protocol}"


def test_a_class_missing_a_member_is_not_a_service() -> None:
    class Half:
        protocol_label = "HTTP"

        def check_ready(self) -> None:
            pass

    assert not isinstance(Half(), Service)
    assert not isinstance(object(), Service)


def built(argv: list[str]) -> Service:
    return open_service(parse_args(argv), lambda text: None)


@pytest.mark.parametrize(
    ("argv", "cls", "statistics", "traces"),
    [
        (["-m", "m"], TritonHttpService, True, True),
        (["-m", "m", "-i", "grpc"], TritonGrpcService, True, True),
        (["-m", "m", "--service-kind", "tfserving"], TFServingService, False, False),
        (["-m", "m", "--service-kind", "torchserve", "--input-data", "{data}"], TorchServeService, False, False),
    ],
)
def test_the_factory_opens_the_kind_asked_for(argv: list[str], cls: type, statistics: bool, traces: bool,
                                              tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text('{"data": [{"TORCHSERVE_INPUT": ["a.bin"]}]}')
    service = built([a.replace("{data}", str(data)) for a in argv])
    try:
        assert type(service) is cls
        assert isinstance(service, Service)  # the runtime check of the Protocol, on a real instance
        assert (service.statistics_source() is not None) == statistics
        assert (service.trace_control() is not None) == traces
        if statistics:
            assert isinstance(service.statistics_source(), StatisticsSource)
        if traces:
            assert isinstance(service.trace_control(), TraceService)
    finally:
        service.close()


def test_the_factory_passes_the_flags_on() -> None:
    http = built(["-m", "m", "-u", "127.0.0.1:8123", "-H", "X-Token: 1"])
    try:
        assert isinstance(http, TritonHttpService)
        assert http.infer_url("m") == "http://127.0.0.1:8123/v2/models/m/infer"
        assert http.headers == {"X-Token": "1"}
    finally:
        http.close()
    grpc = built(["-m", "m", "-i", "grpc", "-u", "127.0.0.1:8124"])
    try:
        assert grpc.infer_url("m") == "grpc://127.0.0.1:8124/inference.GRPCInferenceService/ModelInfer"
    finally:
        grpc.close()
    tf = built(["-m", "m", "--service-kind", "tfserving", "-u", "127.0.0.1:8125",
                "--model-signature-name", "sig"])
    try:
        assert isinstance(tf, TFServingService)
        assert (tf.target, tf.signature_name) == ("127.0.0.1:8125", "sig")
    finally:
        tf.close()


@pytest.mark.parametrize(
    ("kind", "protocol", "cls"),
    [("triton", "http", TritonHttpService), ("triton", "grpc", TritonGrpcService),
     ("triton_c_api", "http", TritonCapiService), ("tfserving", "http", TFServingService),
     ("tfserving", "grpc", TFServingService), ("torchserve", "http", TorchServeService)],
)
def test_the_factory_class_per_kind(kind: str, protocol: str, cls: type) -> None:
    assert service_class(kind, protocol) is cls


def test_an_unknown_kind_is_one_line_naming_it() -> None:
    with pytest.raises(OptionError) as e:
        service_class("kserve", "http")
    message = str(e.value)
    assert message == ("--service-kind kserve: unknown service kind "
                       "(the kinds are triton, triton_c_api, torchserve, tfserving)")
    assert "\n" not in message


def test_torchserve_load_spec(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"first")
    (tmp_path / "b.bin").write_bytes(b"second")
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"data": [{"TORCHSERVE_INPUT": ["a.bin"]}, {"TORCHSERVE_INPUT": ["b.bin"]}]}))
    s = parse_args(["-m", "resnet", "--service-kind", "torchserve", "--input-data", str(data),
                    "--max-threads", "1"])
    load = TorchServeService.from_settings(s, lambda text: None).load_spec(s)
    assert isinstance(load, LoadSpec)
    assert [body for body, _ in load.bodies] == [b"first", b"second"]  # type: ignore[misc]
    assert (load.settings, load.threads, load.validator, load.sequencer, load.export_inputs) == (s, 1, None, None, None)
    assert load.data_message == " Successfully read data for 1 stream/streams with 2 step/steps."


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_every_kind_the_settings_accept_has_a_service(protocol: str) -> None:
    for kind in SERVICE_KINDS:
        assert Service in service_class(kind, protocol).__mro__
