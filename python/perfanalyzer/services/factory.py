"""--service-kind (and -i for Triton) -> the service that runs it. The one
place that knows the kinds: each module is imported only when its kind is
used, so a run never loads a client library it does not need."""

from __future__ import annotations

from collections.abc import Callable

from perfanalyzer.errors import OptionError
from perfanalyzer.services.base import Service
from perfanalyzer.settings import SERVICE_KINDS, Settings


def service_class(kind: str, protocol: str = "http") -> type[Service]:
    """The class serving `kind`; Triton's by its protocol (-i)."""
    if kind == "triton" and protocol == "grpc":
        from perfanalyzer.services.triton_grpc import TritonGrpcService

        return TritonGrpcService
    if kind == "triton":
        from perfanalyzer.services.triton_http import TritonHttpService

        return TritonHttpService
    if kind == "triton_c_api":
        from perfanalyzer.services.triton_capi import TritonCapiService

        return TritonCapiService
    if kind == "tfserving":
        from perfanalyzer.services.tfserving import TFServingService

        return TFServingService
    if kind == "torchserve":
        from perfanalyzer.services.torchserve import TorchServeService

        return TorchServeService
    raise OptionError(f"--service-kind {kind}: unknown service kind (the kinds are {', '.join(SERVICE_KINDS)})")


def open_service(settings: Settings, out: Callable[[str], None]) -> Service:
    """The service of the settings, connected as its flags say (the C API's
    starts the server in this process and says so through `out`)."""
    return service_class(settings.service_kind, settings.protocol).from_settings(settings, out)
