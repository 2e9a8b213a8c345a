"""What watches a run besides the measurement itself: server metrics, server
trace settings, live progress and the per-window callback of the Python API.

The runner starts one RunObservers before the load and stops it when the
load has stopped (normally, on an error or on Ctrl-C): that stops the sampler
and the progress line and puts the server's trace settings back."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

from perfanalyzer.errors import OptionError, ServerError
from perfanalyzer.metrics import LevelMetrics, MetricsSampler
from perfanalyzer.profiler import STABLE_WINDOWS, LevelResult, Measurement, level_label
from perfanalyzer.report import progress as progress_mod
from perfanalyzer.report.figures import LevelFigures
from perfanalyzer.safe_text import terminal_line
from perfanalyzer.services.base import Service
from perfanalyzer.settings import Settings
from perfanalyzer.trace import TraceSession, requested

# (level value, window number at that level, the window's measurement)
WindowCallback = Callable[[float, int, Measurement], None]


def _warn(text: str) -> None:
    # Metrics and trace warnings quote the server and the URL of -u.
    print(terminal_line(text), file=sys.stderr, flush=True)


class RunObservers:
    def __init__(self, settings: Settings, service: Service, engine: Any, clock_ns: Callable[[], int],
                 on_window: WindowCallback | None = None, show_progress: bool | None = None,
                 warn: Callable[[str], None] = _warn) -> None:
        self.s = settings
        self.warn = warn
        self.clock_ns = clock_ns
        self.user_on_window = on_window
        self.sampler = (MetricsSampler(settings.metrics_endpoint, settings.metrics_interval_ms,
                                      lambda text: warn(terminal_line(text)), clock_ns)
                        if settings.collect_metrics else None)
        wanted = requested(settings)
        control = service.trace_control()
        if wanted and control is None:
            raise OptionError("--trace-level/--trace-rate/--trace-count/--log-frequency/--trace-file: server "
                              f"traces need Triton's trace extension, which --service-kind "
                              f"{settings.service_kind} does not offer")
        self.trace = TraceSession(control, settings.model_name, wanted) if control is not None else None
        if show_progress is None:
            show_progress = progress_mod.wanted(settings.quiet)
        self.progress = (progress_mod.Progress(engine, settings.max_trials, settings.stability_percentage,
                                               level_label(settings.load_mode), clock_ns,
                                               planned_levels=progress_mod.planned_levels(settings))
                         if show_progress else None)

    def start(self) -> None:
        if self.trace is not None:
            self.trace.__enter__()  # before any load, so every measured request can be traced
        if self.sampler is not None:
            self.sampler.start()
        if self.progress is not None:
            self.progress.start()

    def stop(self) -> None:
        """Safe to call more than once; never raises for the trace restore."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        if self.sampler is not None:
            self.sampler.stop()
        try:
            if self.trace is not None:
                self.trace.close()
        except ServerError as e:
            self.warn(f"WARNING: could not restore the server's trace settings: {e}")

    # -- hooks ------------------------------------------------------------------------
    def wrap_out(self, out: Callable[[str], None]) -> Callable[[str], None]:
        if self.progress is None:
            return out
        progress = self.progress
        return lambda text: progress.print_above(out, text)

    def on_level_start(self, value: float) -> None:
        if self.progress is not None:
            self.progress.level_start(value)

    def on_window(self, value: float, trial: int, m: Measurement) -> None:
        if self.progress is not None:
            self.progress.window_done(trial, m.throughput, int(m.percentile_ns(99) // 1000))
        if self.user_on_window is not None:
            self.user_on_window(value, trial, m)

    def level_metrics(self, level: LevelResult) -> LevelMetrics | None:
        """Metrics over the level's stable windows (its last three), as perf_analyzer."""
        if self.sampler is None or len(level.boundaries_ns) < 2:
            return None
        b = level.boundaries_ns
        start = b[max(0, len(b) - 1 - STABLE_WINDOWS)]
        return self.sampler.level_metrics(start, b[-1])

    def decorate(self, level: LevelResult, f: LevelFigures) -> LevelFigures:
        if self.sampler is None:
            return f
        return dataclasses.replace(f, metrics=self.level_metrics(level))
