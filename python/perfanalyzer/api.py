"""The Python API: run a profile from code and get typed results, no stdout parsing.

    import perfanalyzer
    result = perfanalyzer.profile("identity", url="localhost:8000", concurrency=range(1, 5),
                                  measurement_interval_ms=1000)
    for level in result.levels:
        print(level.value, level.throughput, level.percentiles_us[99])

Keyword arguments are the CLI's settings under their Settings names
(`batch_size`, `measurement_interval_ms`, `stability_percentage`, `max_trials`,
`percentile`, `collect_metrics`, `input_data`, ...); the load is given as
`concurrency=` (an int, a range, or (start, end, step)) or `request_rate=`
(a float or (start, end, step)). The same Settings object and the same run as
the CLI are used underneath. Bad arguments raise perfanalyzer.errors.OptionError,
an unreachable or failing server ServerError (both PerfAnalyzerError)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perfanalyzer.errors import OptionError
from perfanalyzer.profiler import Measurement
from perfanalyzer.report import summary
from perfanalyzer.report.figures import LevelFigures
from perfanalyzer.settings import Range, RateRange, Settings

if TYPE_CHECKING:
    from perfanalyzer.runner import RunResult

__all__ = ["LevelReport", "ProfileResult", "Window", "profile"]


@dataclass(frozen=True)
class Window:
    """One measured window, as given to `on_window` while the run goes on."""

    level: float
    index: int                  # 1-based, within the level
    duration_ms: float
    request_count: int
    throughput: float           # infer/sec
    avg_latency_us: int
    p99_latency_us: int


@dataclass(frozen=True)
class LevelReport:
    """One load level: the merge of its stable windows (or of its last ones when
    unstable). The fields are a level of the --json document (docs/json.md)."""

    mode: str                   # concurrency | request_rate | request_intervals
    value: float
    stable: bool
    windows: int
    request_count: int
    throughput: float           # infer/sec
    avg_latency_us: int
    std_latency_us: int
    percentiles_us: dict[float, int]  # 50, 90, 95, 99, --percentile and 99.9
    send_us: int
    recv_us: int
    response_wait_us: int
    server: dict[str, Any] | None   # Triton's breakdown in usec: queue, compute_infer, overhead, counts, ...
    metrics: dict[str, Any] | None  # --collect-metrics aggregate (GPU by uuid, CPU)
    stabilizing_latency_us: int = 0  # the average, or --percentile's latency
    network_us: int = 0              # the CSV's Network+Server Send/Recv
    client_overhead_pct: float | None = None  # concurrency only
    open_loop: dict[str, Any] | None = None   # request rate: send rate, latency from schedule, lag, delayed, ...
    stream: dict[str, Any] | None = None      # --streaming: response throughput, first-response latency

    def to_dict(self) -> dict[str, Any]:
        """The level as the --json document has it (percentile keys as strings)."""
        return summary.jsonable(dataclasses.asdict(self))


@dataclass
class ProfileResult:
    settings: Settings
    levels: list[LevelReport] = field(default_factory=list)  # in measured order, an unstable one last
    status: str = "ok"          # ok | unstable | over_limit | errors | interrupted
    message: str = ""
    exit_code: int = 0          # what the CLI would exit with
    _figures: list[LevelFigures] = field(default_factory=list, repr=False)
    workers: list[dict[str, Any]] = field(default_factory=list)  # distributed runs: per-worker figures

    @property
    def stable_levels(self) -> list[LevelReport]:
        return [lv for lv in self.levels if lv.stable]

    def to_dict(self) -> dict[str, Any]:
        """The document --json writes for this run (docs/json.md)."""
        return summary.document(self.settings, [dataclasses.asdict(lv) for lv in self.levels], self.status,
                                self.message, self.exit_code, self.workers)

    def to_csv(self, path: str, verbose: bool = False) -> None:
        """perf_analyzer's -f CSV of the stable levels (written atomically)."""
        from perfanalyzer.report import csv_writer

        stable = [f for f in self._figures if f.stable]
        csv_writer.write_atomic(path, csv_writer.render(stable, self.settings.percentile, verbose,
                                                        verbose and self.settings.collect_metrics))


def _concurrency(value: int | range | Sequence[int]) -> Range:
    if isinstance(value, int):
        return Range(value, value, 1)
    if isinstance(value, range):
        if len(value) == 0:
            raise OptionError(f"concurrency={value!r}: the range is empty")
        return Range(value.start, value[-1], value.step)
    start, end, *rest = tuple(value)
    return Range(int(start), int(end), int(rest[0]) if rest else 1)


def _rate(value: float | Sequence[float]) -> RateRange:
    if isinstance(value, (int, float)):
        return RateRange(float(value), float(value), 1.0)
    start, end, *rest = tuple(value)
    return RateRange(float(start), float(end), float(rest[0]) if rest else 1.0)


def settings_from(model: str, concurrency: int | range | Sequence[int] | None = None,
                  request_rate: float | Sequence[float] | None = None, **kwargs: Any) -> Settings:
    """Keyword arguments -> the validated Settings the CLI would build."""
    names = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise OptionError(f"unknown setting(s) {', '.join(unknown)} (see perfanalyzer.settings.Settings)")
    modes: list[str] = []
    if concurrency is not None:
        kwargs["concurrency_range"] = _concurrency(concurrency)
        modes.append("concurrency")
    if request_rate is not None:
        kwargs["request_rate_range"] = _rate(request_rate)
        modes.append("request_rate")
    if modes:
        kwargs["load_modes"] = tuple(modes)
    for key in ("shapes", "http_headers", "input_data_paths", "trace_levels", "request_parameters"):
        if key in kwargs and not isinstance(kwargs[key], tuple):
            kwargs[key] = tuple(kwargs[key].items()) if isinstance(kwargs[key], dict) else tuple(kwargs[key])
    return Settings(model_name=model, **kwargs).validate()


def _window(value: float, index: int, m: Measurement) -> Window:
    return Window(value, index, m.duration_ns / 1e6, m.request_count, m.throughput,
                  int(m.avg_latency_ns // 1000), int(m.percentile_ns(99) // 1000))


def _result(s: Settings, run: RunResult) -> ProfileResult:
    """A runner.RunResult as the API returns it: the settings as the run used
    them (a generated seed included) and each level's figures of --json."""
    levels = [LevelReport(**summary.level_fields(f)) for f in run.figures]
    return ProfileResult(run.settings or s, levels, run.sweep.status, run.sweep.message, run.exit_code,
                         list(run.figures), run.workers)


def profile(model: str, *, concurrency: int | range | Sequence[int] | None = None,
            request_rate: float | Sequence[float] | None = None,
            on_window: Callable[[Window], None] | None = None,
            output: Callable[[str], None] | None = None, progress: bool = False,
            **settings: Any) -> ProfileResult:
    """Profiles `model` and returns every level's figures.

    `on_window` is called after each measurement window (from the measuring
    thread: keep it short); `output` receives the perf_analyzer-format report
    text; `progress=True` shows the live progress line on a terminal. Files
    asked for in the settings (`filename`, `profile_export_file`,
    `html_report`) are written as by the CLI."""
    from perfanalyzer import runner

    s = settings_from(model, concurrency, request_rate, **settings)
    window_cb = None
    if on_window is not None:
        def window_cb(value: float, index: int, m: Measurement) -> None:
            on_window(_window(value, index, m))

    run = runner.profile(s, output or (lambda text: None), on_window=window_cb,
                         show_progress=None if progress else False)
    return _result(s, run)
