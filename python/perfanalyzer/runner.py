"""One profiling run from Settings: service -> LoadSpec -> engine -> profiler
-> report, and the exit code. Nothing here depends on the service kind
(services/ holds what does)."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Callable
from typing import TextIO

from perfanalyzer import _core, outcome, preflight, shm, stopping, summary_file
from perfanalyzer.errors import GENERIC_ERROR, PerfAnalyzerError
from perfanalyzer.features import require_transport
from perfanalyzer.observe import RunObservers, WindowCallback
from perfanalyzer.outcome import RunResult
from perfanalyzer.profiler import LevelResult, Profiler
from perfanalyzer.report import console
from perfanalyzer.report.figures import LevelFigures, figures
from perfanalyzer.server_stats import window_reader
from perfanalyzer.services.base import LoadSpec, Service
from perfanalyzer.services.factory import open_service
from perfanalyzer.settings import Settings

__all__ = ["RunResult", "profile", "run"]


def profile(settings: Settings, out: Callable[[str], None] = lambda text: None,
            on_window: WindowCallback | None = None, show_progress: bool | None = None,
            warn: Callable[[str], None] = outcome.to_stderr, stop: threading.Event | None = None,
            json_stdout: TextIO | None = None) -> RunResult:
    """Runs the sweep; `out` receives the report text as it is produced,
    `on_window` every measured window, `warn` the lines the command writes on
    stderr (warnings, why the run ended); progress shows on a terminal unless
    `show_progress` says otherwise. Setting `stop` (from another thread) ends
    the sweep as Ctrl-C does: an "interrupted" result, cleaned up.
    `json_stdout`: where `--json -` writes (default sys.stdout)."""
    if settings.load_mode == "request_rate" and settings.request_distribution == "poisson" and settings.seed is None:
        # A fresh seed per run, printed with the settings, so any run can be replayed with --seed.
        settings = dataclasses.replace(settings, seed=secrets.randbits(63))
    stopping.new_run()
    if settings.ray_address is not None or settings.ray_workers is not None:
        from perfanalyzer.distributed import check  # Ray only when asked for

        check(settings)
    require_transport(settings)  # an HTTP-only build refuses gRPC before anything starts
    shm.check(settings)  # a missing CUDA runtime fails before the server is contacted
    preflight.check(settings)  # every output path and resource, before any load
    service = open_service(settings, out)
    try:
        result = _profile(settings, service, out, on_window, show_progress, warn, stop)
    finally:
        stopping.begin_cleanup()  # however the run ended: server calls from here on are bounded
        try:
            shm.close_all()  # before the service: it unregisters the regions
            service.close()
        finally:
            stopping.end_cleanup()
    result = outcome.after_signal(result, warn)
    summary_file.write(settings, result, json_stdout, warn)
    return result


def run(settings: Settings, out: Callable[[str], None] = outcome.print_line) -> int:
    """The CLI's run: report on stdout, messages on stderr, CSV with -f.
    With `--json -` stdout is the document's alone: everything else written
    to it (the report, any library's output) goes to stderr."""
    if settings.json_file != "-":
        return profile(settings, out).exit_code
    with summary_file.stdout_for_json() as stream:
        return profile(settings, out, json_stdout=stream).exit_code


def _profile(settings: Settings, service: Service, out: Callable[[str], None], on_window: WindowCallback | None,
             show_progress: bool | None, warn: Callable[[str], None], stop: threading.Event | None) -> RunResult:
    service.check_ready()
    if settings.ray_address is not None:  # the load from client processes on Ray (docs/distributed.md)
        from perfanalyzer.distributed import open_group

        load, engine = LoadSpec(settings, ()), open_group(settings, out, warn)
    else:
        load = service.load_spec(settings)
        engine = service.make_engine(load)
    try:
        return _measure(load, engine, service, out, on_window, show_progress, warn, stop)
    except BaseException:
        # Ctrl-C or an error before the measurement's own clean-up took over:
        # no engine thread outlives the run (close is idempotent).
        if isinstance(engine, _core.Engine):
            engine.close()
        raise


def _measure(load: LoadSpec, engine: _core.Engine, service: Service, out: Callable[[str], None],
             on_window: WindowCallback | None, show_progress: bool | None, warn: Callable[[str], None],
             stop: threading.Event | None) -> RunResult:
    settings = load.settings
    server_stats = window_reader(service.statistics_source(), settings, warn=warn)
    if load.data_message:
        out(load.data_message)
    out(console.settings_block(settings, service.protocol_label))
    printed: list[LevelFigures] = []
    observers = RunObservers(settings, service, engine, _core.now_ns, on_window, show_progress, warn)
    report = observers.wrap_out(out)

    def on_level(level: LevelResult) -> None:
        f = observers.decorate(level, figures(level, settings.percentile))
        printed.append(f)
        report(console.level_block(f, settings.percentile, service.protocol_label, verbose=settings.verbose,
                                   header=False))

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
    if settings.load_mode == "periodic_concurrency":
        try:
            return outcome.ramp(settings, engine, service)
        finally:
            observers.stop()
    profiler = Profiler(settings, engine, server_stats, log=report, clock_ns=_core.now_ns, stop=stop)
    profiler.on_window = observers.on_window
    try:
        profiler.sweep(on_level, on_level_start)
    except PerfAnalyzerError as e:
        # Whatever else ended the sweep (a level's metrics, say): the levels measured are still written.
        profiler.result.status, profiler.result.message = "errors", str(e)
    finally:
        stopping.begin_cleanup()
        result = profiler.result
        engine.stop(drain_ms=stopping.drain_ms(2000))
        observers.stop()
        if settings.profile_export_file:
            outcome.write_export(settings, result, engine, service, load.export_inputs)
        engine.close()
    run = RunResult(result, printed, settings=settings, engine_threads=getattr(engine, "threads", 1),
                    workers=engine.worker_figures() if hasattr(engine, "worker_figures") else [])
    try:
        run.exit_code = outcome.finish(settings, result, printed, out, warn)
    except PerfAnalyzerError as e:  # -f or --html-report: --json is still written
        run.exit_code, run.output_error = GENERIC_ERROR, e
    return run
