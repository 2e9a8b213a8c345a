"""One profiling run from Settings: set up, sweep, report, exit code."""

from __future__ import annotations

import dataclasses
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import perfanalyzer
from perfanalyzer import _core
from perfanalyzer.batching import request_tensors
from perfanalyzer.data_loader import load as load_data
from perfanalyzer.errors import GENERIC_ERROR, STABILITY_ERROR, SUCCESS, PerfAnalyzerError
from perfanalyzer.observe import RunObservers, WindowCallback
from perfanalyzer.profiler import LevelResult, Profiler, SweepResult
from perfanalyzer.report import console, csv_writer, export, html
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


def profile(settings: Settings, out: Callable[[str], None] = _discard,
            on_window: WindowCallback | None = None, show_progress: bool | None = None) -> RunResult:
    """Runs the sweep; `out` receives the report text as it is produced,
    `on_window` every measured window; progress shows on a terminal unless
    `show_progress` says otherwise."""
    if settings.load_mode == "request_rate" and settings.request_distribution == "poisson" and settings.seed is None:
        # A fresh seed per run, printed with the settings, so any run can be replayed with --seed.
        settings = dataclasses.replace(settings, seed=secrets.randbits(63))
    service = TritonHttpService(settings.server_url, settings.http_headers)
    try:
        return _profile(settings, service, out, on_window, show_progress)
    finally:
        service.close()


def run(settings: Settings, out: Callable[[str], None] = _print) -> int:
    """The CLI's run: report on stdout, messages on stderr, CSV with -f."""
    return profile(settings, out).exit_code


def _profile(settings: Settings, service: TritonHttpService, out: Callable[[str], None],
             on_window: WindowCallback | None = None, show_progress: bool | None = False) -> RunResult:
    if settings.profile_export_file:
        export.check_path(settings.profile_export_file)
    service.check_ready()
    spec = service.model_spec(settings.model_name, settings.model_version)
    spec.check_batch_size(settings.batch_size)
    data = load_data(settings, spec)
    bodies = [service.encode_request(spec, tensors, input_format=settings.input_tensor_format,
                                     output_format=settings.output_tensor_format,
                                     parameters=settings.request_parameter_map)
              for tensors in request_tensors(spec, data, settings.batch_size)]

    def server_stats() -> ServerStats | None:
        return service.server_stats(settings.model_name, settings.model_version)

    engine = _core.HttpEngine(
        service.infer_url(settings.model_name, settings.model_version), bodies,
        request_timeout_ms=settings.request_timeout_ms, client=settings.http_client,
    )
    if data.from_json:
        out(data.read_message())
    out(console.settings_block(settings))
    printed: list[LevelFigures] = []
    observers = RunObservers(settings, service, engine, _core.now_ns, on_window, show_progress)
    report = observers.wrap_out(out)

    def on_level(level: LevelResult) -> None:
        f = observers.decorate(level, figures(level, settings.percentile))
        printed.append(f)
        report(console.level_block(f, settings.percentile, verbose=settings.verbose, header=False))

    def on_level_start(value: float) -> None:
        observers.on_level_start(value)
        report(console.level_header(value, settings.load_mode))

    if settings.profile_export_file:
        engine.keep_records()
    observers.start()  # trace settings go on before any load; a refusal ends the run here
    try:
        engine.start()
    except BaseException:
        observers.stop()
        raise
    result: SweepResult | None = None
    try:
        profiler = Profiler(settings, engine, server_stats, log=report, clock_ns=_core.now_ns)
        profiler.on_window = observers.on_window
        result = profiler.sweep(on_level, on_level_start)
    finally:
        engine.stop(drain_ms=2000)
        observers.stop()
        if settings.profile_export_file:
            _write_export(settings, result, engine, service, export.request_inputs(
                {t.name: t.datatype for t in spec.inputs}, request_tensors(spec, data, settings.batch_size)))
        engine.close()
    return RunResult(result, printed, _finish(settings, result, printed, out))


def _write_export(settings: Settings, result: SweepResult | None, engine: _core.HttpEngine,
                  service: TritonHttpService, inputs: dict[str, object] | None = None) -> None:
    """Every level measured so far, also when the run ends early."""
    levels = [] if result is None else list(result.levels) + ([result.unstable] if result.unstable else [])
    mono_to_wall = _core.wall_ns() - _core.now_ns()
    endpoint = service.infer_url(settings.model_name, settings.model_version).split("://", 1)[-1]
    endpoint = endpoint.split("/", 1)[-1]
    export.write(settings.profile_export_file, levels, engine.records(), mono_to_wall, endpoint,
                 perfanalyzer.__version__, inputs)


def _finish(settings: Settings, result: SweepResult, printed: list[LevelFigures],
            out: Callable[[str], None]) -> int:
    if result.message:
        print(result.message, file=sys.stderr, flush=True)
    if printed:
        out(console.summary(printed, settings.percentile))
    stable = [f for f in printed if f.stable]
    if settings.filename and stable:
        try:
            csv_writer.write_atomic(settings.filename, csv_writer.render(
                stable, settings.percentile, settings.verbose_csv, settings.collect_metrics))
        except OSError as e:
            raise PerfAnalyzerError(f"-f {settings.filename}: cannot write the CSV: {e.strerror}") from None
    if settings.html_report and printed:
        html.write_run(settings.html_report, settings, printed)
    if result.status == "unstable":
        return STABILITY_ERROR if not result.levels else SUCCESS
    if result.status in ("errors", "interrupted"):
        return GENERIC_ERROR
    if result.status == "over_limit" and not result.levels:
        return STABILITY_ERROR
    return SUCCESS
