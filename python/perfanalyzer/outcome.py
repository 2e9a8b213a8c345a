"""How a run ends: what it writes (the profile export, -f's CSV files, the
HTML page), the periodic ramp's export, and the exit code of REFERENCE.md.
Every level measured is written, also when the run ends early."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import perfanalyzer
from perfanalyzer import _core, stopping
from perfanalyzer.errors import GENERIC_ERROR, STABILITY_ERROR, SUCCESS, PerfAnalyzerError
from perfanalyzer.periodic import RampResult, run_ramp
from perfanalyzer.profiler import SweepResult
from perfanalyzer.report import composing_csv, console, csv_writer, export, html
from perfanalyzer.report.figures import LevelFigures
from perfanalyzer.safe_text import terminal_line
from perfanalyzer.services.base import Service
from perfanalyzer.settings import Settings


@dataclass
class RunResult:
    sweep: SweepResult
    figures: list[LevelFigures] = field(default_factory=list)  # every printed level, unstable included
    exit_code: int = SUCCESS
    engine_threads: int = 1  # the engine threads that sent the load
    settings: Settings | None = None   # as the run used them (a generated seed, sequence changes)
    workers: list[dict[str, Any]] = field(default_factory=list)  # a distributed run's per-worker figures
    output_error: PerfAnalyzerError | None = None  # -f or --html-report could not be written


def to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def after_signal(result: RunResult, warn: Callable[[str], None] = to_stderr) -> RunResult:
    """A signal that came once the measurement was over: every level measured
    was written, and the exit code still says the run was interrupted (one
    line, unless the run already said why it ended)."""
    by = stopping.received()
    if by is None or result.sweep.status == "interrupted":
        return result
    if not result.sweep.message:
        warn(f"interrupted by {by} after the measurement: every level measured is reported and written")
    result.exit_code = GENERIC_ERROR
    return result


def print_line(text: str) -> None:
    """The CLI's report output: stdout, flushed as each part is produced."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _stdout_closed()


def _stdout_closed() -> None:
    """The reader of stdout went away (`| head`): the report goes nowhere from
    now on and the run carries on to write its files. stdout is pointed at
    /dev/null so that no later write, nor the flush at exit, fails again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _version() -> str:
    return str(perfanalyzer.__version__)


def endpoint(settings: Settings, service: Service) -> str:
    """The endpoint an export names: the inference URL without scheme and host."""
    url = service.infer_url(settings.model_name, settings.model_version).split("://", 1)[-1]
    return url.split("/", 1)[-1]


def write_export(settings: Settings, result: SweepResult | None, engine: _core.Engine,
                 service: Service, inputs: dict[str, object] | None = None) -> None:
    """Every level measured so far, also when the run ends early."""
    path = settings.profile_export_file
    if not path:
        return
    levels = [] if result is None else list(result.levels) + ([result.unstable] if result.unstable else [])
    mono_to_wall = _core.wall_ns() - _core.now_ns()
    export.write(path, levels, engine.records(), mono_to_wall,
                 endpoint(settings, service), _version(), inputs, service_kind=settings.service_kind,
                 response_times=engine.response_times(), sequence_ids=engine.sequence_ids())


def ramp(settings: Settings, engine: _core.Engine, service: Service) -> RunResult:
    """--periodic-concurrency-range: as perf_analyzer, the settings block is
    all the console shows; the export holds every request."""
    result: RampResult | None = None
    try:
        result = run_ramp(settings, engine, _core.now_ns, log=print_line)
    finally:
        stopping.begin_cleanup()
        engine.stop(drain_ms=stopping.drain_ms(2000))
        path = settings.profile_export_file  # the settings refuse a ramp without one
        if result is not None and path:
            mono_to_wall = _core.wall_ns() - _core.now_ns()
            records = engine.records()
            experiment = export.ramp_experiment(records, result.start_ns, result.end_ns,
                                                settings.periodic_concurrency_range.end, mono_to_wall,
                                                engine.response_times(), engine.sequence_ids())
            export.write(path, [], records, mono_to_wall,
                         endpoint(settings, service), _version(), ramp=experiment,
                         service_kind=settings.service_kind)
        engine.close()
    assert result is not None  # run_ramp returned: an exception would have left through the finally
    if result.message:
        print(terminal_line(result.message), file=sys.stderr, flush=True)
    return RunResult(SweepResult(status=result.status, message=result.message),
                     exit_code=SUCCESS if result.status == "ok" else GENERIC_ERROR, settings=settings)


def finish(settings: Settings, result: SweepResult, printed: list[LevelFigures],
           out: Callable[[str], None], warn: Callable[[str], None] = to_stderr) -> int:
    """The summary, -f's CSV files and the HTML page of the stable levels;
    the exit code the sweep's outcome gives."""
    if result.message:
        warn(terminal_line(result.message))
    if printed:
        out(console.summary(printed, settings.percentile))
    stable = [f for f in printed if f.stable]
    if settings.filename and stable:
        try:
            csv_writer.write_atomic(settings.filename, csv_writer.render(
                stable, settings.percentile, settings.verbose_csv, settings.collect_metrics))
            for path, text in composing_csv.files(settings.filename, stable).items():
                csv_writer.write_atomic(path, text)
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

