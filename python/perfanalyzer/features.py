"""What the installed compiled core was built with.

A source build without gRPC's development files (or with -DPA_GRPC=OFF) has
the HTTP transports only; asking it for gRPC is an option error that says how
to get a full build."""

from __future__ import annotations

from perfanalyzer import _core
from perfanalyzer.errors import OptionError
from perfanalyzer.settings import Settings

FULL_BUILD = ("install the wheel built by `make wheel`, or install gRPC's development files "
              "(Debian/Ubuntu: apt-get install libgrpc-dev; Fedora/RHEL: dnf install grpc-devel) "
              "and reinstall perfanalyzer from source")


def has_grpc() -> bool:
    return bool(getattr(_core, "HAS_GRPC", False))


def require_transport(settings: Settings) -> None:
    """Raises OptionError when the settings need a transport this build lacks."""
    if has_grpc():
        return
    if settings.service_kind == "tfserving":
        what = "--service-kind tfserving (it speaks gRPC)"
    elif settings.service_kind == "triton" and settings.protocol == "grpc":
        what = "-i grpc"
    else:
        return
    raise OptionError(f"{what}: this perfanalyzer was built without gRPC (HTTP only); {FULL_BUILD}")
