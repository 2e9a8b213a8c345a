"""One profiling run from Settings: set up, sweep, report, exit code."""

from __future__ import annotations

import dataclasses
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import perfanalyzer
from perfanalyzer import _core
from perfanalyzer.batching import request_tensors
from perfanalyzer.data_loader import load as load_data
from perfanalyzer.errors import GENERIC_ERROR, STABILITY_ERROR, SUCCESS, PerfAnalyzerError
from perfanalyzer.profiler import LevelResult, Profiler, SweepResult
from perfanalyzer.report import console, csv_writer, export
from perfanalyzer.report.figures import LevelFigures, figures
from perfanalyzer.server_stats import ServerStats
from perfanalyzer.services.triton_http import TritonHttpService
from perfanalyzer.settings import Settings


@dataclass
class RunResult:
    sweep: SweepResult
    figures: list[LevelFigures] = field(default_factory=list)  # every printed level, unstable included
    exit_code: int = SUCCESS


def _print(text: str) -> None:
    print(text, flush=True)


def _discard(text: str) -> None:
    pass


def profile(settings: Settings, out: Callable[[str], None] = _discard) -> RunResult:
    """Runs the sweep; `out` receives the report text as it is produced."""
    if settings.load_mode == "request_rate" and settings.request_distribution == "poisson" and settings.seed is None:
        # A fresh seed per run, printed with the settings, so any run can be replayed with --seed.
        settings = dataclasses.replace(settings, seed=secrets.randbits(63))
    service = _open_service(settings, out)
    try:
        return _profile(settings, service, out)
    finally:
        service.close()


def run(settings: Settings, out: Callable[[str], None] = _print) -> int:
    """The CLI's run: report on stdout, messages on stderr, CSV with -f."""
    return profile(settings, out).exit_code


def _profile(settings: Settings, service: Any, out: Callable[[str], None]) -> RunResult:
    if settings.profile_export_file:
        export.check_path(settings.profile_export_file)
    service.check_ready()
    engine, data_message = _open_engine(settings, service)

    def server_stats() -> ServerStats | None:
        return service.server_stats(settings.model_name, settings.model_version)

    label = getattr(service, "protocol_label", "HTTP")
    if data_message:
        out(data_message)
    out(console.settings_block(settings, label))
    printed: list[LevelFigures] = []

    def on_level(level: LevelResult) -> None:
        f = figures(level, settings.percentile)
        printed.append(f)
        out(console.level_block(f, settings.percentile, label, verbose=settings.verbose, header=False))

    def on_level_start(value: float) -> None:
        out(console.level_header(value, settings.load_mode))

    if settings.profile_export_file:
        engine.keep_records()
    engine.start()
    result: SweepResult | None = None
    try:
        profiler = Profiler(settings, engine, server_stats, log=out, clock_ns=_core.now_ns)
        result = profiler.sweep(on_level, on_level_start)
    finally:
        engine.stop(drain_ms=2000)
        if settings.profile_export_file:
            _write_export(settings, result, engine, service)
        engine.close()
    return RunResult(result, printed, _finish(settings, result, printed, out))


def _write_export(settings: Settings, result: SweepResult | None, engine: _core.Engine, service: Any) -> None:
    """Every level measured so far, also when the run ends early."""
    levels = [] if result is None else list(result.levels) + ([result.unstable] if result.unstable else [])
    mono_to_wall = _core.wall_ns() - _core.now_ns()
    endpoint = service.infer_url(settings.model_name, settings.model_version).split("://", 1)[-1]
    endpoint = endpoint.split("/", 1)[-1]
    export.write(settings.profile_export_file, levels, engine.records(), mono_to_wall, endpoint,
                 perfanalyzer.__version__, settings.service_kind)


def _finish(settings: Settings, result: SweepResult, printed: list[LevelFigures],
            out: Callable[[str], None]) -> int:
    if result.message:
        print(result.message, file=sys.stderr, flush=True)
    if printed:
        out(console.summary(printed, settings.percentile))
    stable = [f for f in printed if f.stable]
    if settings.filename and stable:
        try:
            csv_writer.write_atomic(settings.filename, csv_writer.render(stable, settings.percentile))
        except OSError as e:
            raise PerfAnalyzerError(f"-f {settings.filename}: cannot write the CSV: {e.strerror}") from None
    if result.status == "unstable":
        return STABILITY_ERROR if not result.levels else SUCCESS
    if result.status in ("errors", "interrupted"):
        return GENERIC_ERROR
    if result.status == "over_limit" and not result.levels:
        return STABILITY_ERROR
    return SUCCESS


def _open_service(settings: Settings, out: Callable[[str], None]) -> Any:
    """The control plane of the service kind (each module imported only when used)."""
    if settings.service_kind == "triton_c_api":
        from perfanalyzer.services.triton_capi import TritonCapiService

        return TritonCapiService(settings, out)
    if settings.service_kind == "torchserve":
        from perfanalyzer.services.torchserve import TorchServeService

        return TorchServeService(settings.server_url, settings.http_headers)
    return TritonHttpService(settings.server_url, settings.http_headers)


def _open_engine(settings: Settings, service: Any) -> tuple[Any, str]:
    """The compiled engine with every distinct request prepared, and the line
    about the data read from files ("" when none was)."""
    if settings.service_kind == "torchserve":
        bodies, message = service.bodies(settings)
        return _core.HttpEngine(service.infer_url(settings.model_name, settings.model_version), bodies,
                                request_timeout_ms=settings.request_timeout_ms, client=settings.http_client), message
    spec = service.model_spec(settings.model_name, settings.model_version)
    spec.check_batch_size(settings.batch_size)
    data = load_data(settings, spec)
    message = data.read_message() if data.from_json else ""
    if settings.service_kind == "triton_c_api":
        return service.make_engine(settings, spec, data), message
    bodies = [service.encode_request(spec, tensors, input_format=settings.input_tensor_format,
                                     output_format=settings.output_tensor_format,
                                     parameters=settings.request_parameter_map)
              for tensors in request_tensors(spec, data, settings.batch_size)]
    engine = _core.HttpEngine(
        service.infer_url(settings.model_name, settings.model_version), bodies,
        request_timeout_ms=settings.request_timeout_ms, client=settings.http_client,
    )
    return engine, message
