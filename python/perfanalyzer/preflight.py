"""Checks of everything a run will need at its end, made before it starts:
a measurement that ran for minutes must not be lost because the CSV's
directory is read-only or matplotlib is missing, and a level must not be
attempted that the process cannot open the connections for."""

from __future__ import annotations

from perfanalyzer import limits, output_files
from perfanalyzer.errors import OptionError
from perfanalyzer.settings import Settings


def check(settings: Settings) -> None:
    """OptionError naming the flag, before the server is contacted."""
    if settings.filename:
        output_files.check("-f", settings.filename)
    if settings.profile_export_file:
        output_files.check("--profile-export-file", settings.profile_export_file, must_not_exist=True)
    if settings.json_file and settings.json_file != "-":
        output_files.check("--json", settings.json_file)
    if settings.html_report:
        output_files.check("--html-report", settings.html_report)
        try:
            import matplotlib  # noqa: F401  (the package only; pyplot loads when the plot is drawn)
        except ImportError:
            raise OptionError("--html-report: the report's plot needs matplotlib: "
                              "pip install 'perfanalyzer[plot]'") from None
    _check_in_flight(settings)


def _check_in_flight(settings: Settings) -> None:
    """HTTP holds one connection per request in flight; gRPC and the C API
    share theirs, so memory bounds them."""
    level = _in_flight(settings)
    if level is None:
        return
    flag, in_flight = level
    if settings.service_kind in ("triton", "torchserve") and settings.protocol == "http":
        limits.check_connections(flag, in_flight)
    else:
        transport = "the C API" if settings.service_kind == "triton_c_api" else "gRPC"
        limits.check_memory(flag, in_flight, transport)


def _in_flight(settings: Settings) -> tuple[str, int] | None:
    """The flag that sets the most requests in flight, and that number."""
    if settings.load_mode == "concurrency":
        r = settings.concurrency_range
        in_flight = max(r.start, r.end)
        flag = "--concurrency-range"
    elif settings.load_mode in ("request_rate", "request_intervals") and settings.max_inflight:
        in_flight, flag = settings.max_inflight, "--max-inflight"
    elif settings.load_mode == "periodic_concurrency":
        in_flight, flag = settings.periodic_concurrency_range.end, "--periodic-concurrency-range"
    else:
        return None
    return flag, in_flight
