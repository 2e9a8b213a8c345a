"""The Python API: run a profile from code and get typed results, no stdout parsing.

    import perfanalyzer
    result = perfanalyzer.profile("identity", url="localhost:8000", concurrency=range(1, 5),
                                  measurement_interval_ms=1000)
    for level in result.levels:
        print(level.value, level.throughput, level.percentiles_us[99])

The load is `concurrency=` (an int, a range, or start[, end[, step]] as a
tuple or list) or `request_rate=` (a float, or start[, end[, step]]); every
other keyword is a setting of perfanalyzer.api_options.ProfileOptions (the
CLI's flags under their Settings names), typed and checked. The same Settings
object and the same run as the CLI are used underneath. Bad arguments raise
perfanalyzer.errors.OptionError naming the parameter, an unreachable or
failing server ServerError (both PerfAnalyzerError). Nothing is printed:
the report goes to `output`, warnings to `messages` (by default the
"perfanalyzer" logger), the live progress line only with progress=True.
Ctrl-C ends the run cleanly, then raises ProfileInterrupted (a
KeyboardInterrupt that carries what was measured). profile_async() runs the
same in a worker thread for asyncio code; cancelling it stops the run."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perfanalyzer import api_options
from perfanalyzer.api_options import ProfileOptions
from perfanalyzer.errors import OptionError
from perfanalyzer.profiler import Measurement
from perfanalyzer.report import summary
from perfanalyzer.report.figures import LevelFigures
from perfanalyzer.settings import Range, RateRange, Settings

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack
    from perfanalyzer.runner import RunResult

__all__ = ["LevelReport", "ProfileInterrupted", "ProfileOptions", "ProfileResult", "Window", "profile",
           "profile_async"]

_log = logging.getLogger("perfanalyzer")
_log.addHandler(logging.NullHandler())  # a library prints nothing until the program configures logging

Concurrency = int | range | Sequence[int]
RequestRate = float | Sequence[float]


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


class ProfileInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a cancelled profile_async) ended the run. Raised once the
    engine has stopped, the server's shared-memory regions are released and
    the files asked for are written; `result` holds the levels measured."""

    def __init__(self, result: ProfileResult) -> None:
        super().__init__(result.message or "interrupted")
        self.result = result


def _bounds(value: object, kind: type) -> tuple[Any, Any, Any] | None:
    """start[, end[, step]] as the CLI's start:end:step, or None if `value` is not that."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not 1 <= len(value) <= 3:
        return None
    if not all(api_options.matches(v, kind) for v in value):
        return None
    start = value[0]
    end = value[1] if len(value) > 1 else start
    step = value[2] if len(value) > 2 else 1
    return start, end, step


def _concurrency(value: object) -> Range:
    if api_options.matches(value, int):
        return Range(value, value, 1)  # type: ignore[arg-type]
    if isinstance(value, range):
        if len(value) == 0:
            raise OptionError(f"concurrency={value!r}: the range is empty")
        return Range(value.start, value[-1], value.step)
    bounds = _bounds(value, int)
    if bounds is None:
        raise OptionError(f"concurrency={value!r}: want an int, a range, or start[, end[, step]] "
                          f"(1 to 3 ints), got {type(value).__name__}")
    return Range(*bounds)


def _rate(value: object) -> RateRange:
    if api_options.matches(value, float):
        return RateRange(float(value), float(value), 1.0)  # type: ignore[arg-type]
    bounds = _bounds(value, float)
    if bounds is None:
        raise OptionError(f"request_rate={value!r}: want a number, or start[, end[, step]] "
                          f"(1 to 3 numbers), got {type(value).__name__}")
    return RateRange(*(float(v) for v in bounds))


def _load_fields(concurrency: object, request_rate: object) -> dict[str, dict[str, Any]]:
    """The Settings fields of each load argument given, by argument name."""
    fields: dict[str, dict[str, Any]] = {}
    if concurrency is not None:
        fields["concurrency"] = {"concurrency_range": _concurrency(concurrency), "load_modes": ("concurrency",)}
    if request_rate is not None:
        fields["request_rate"] = {"request_rate_range": _rate(request_rate), "load_modes": ("request_rate",)}
    return fields


def settings_from(model: str, concurrency: Concurrency | None = None, request_rate: RequestRate | None = None,
                  **options: Unpack[ProfileOptions]) -> Settings:
    """Keyword arguments -> the validated Settings the CLI would build. A
    wrong type names the parameter; so does a bad value when that parameter
    alone is refused (a conflict between two is worded as for the flags)."""
    if not isinstance(model, str):
        raise OptionError(f"model={model!r}: want str, got {type(model).__name__}")
    by_name = {name: {name: value} for name, value in api_options.to_settings_fields(options).items()}
    by_name.update(_load_fields(concurrency, request_rate))
    fields: dict[str, Any] = {}
    for part in by_name.values():
        fields.update(part)
    if "concurrency" in by_name and "request_rate" in by_name:
        fields["load_modes"] = ("concurrency", "request_rate")
    try:
        return Settings(model_name=model, **fields).validate()
    except OptionError as e:
        given = {**options, "model": model, "concurrency": concurrency, "request_rate": request_rate}
        raise OptionError(_blame(model, by_name, given, str(e))) from None


def _blame(model: str, by_name: Mapping[str, Mapping[str, Any]], given: Mapping[str, object], message: str) -> str:
    """The message, led by the one argument that is refused on its own."""
    for name, part in {"model": {}, **by_name}.items():
        try:
            Settings(model_name=model, **part).validate()
        except OptionError as e:
            if str(e) == message:
                shown = repr(given[name])
                return f"{name}={shown if len(shown) <= 60 else shown[:57] + '...'}: {message}"
    return message


def _window(value: float, index: int, m: Measurement) -> Window:
    return Window(value, index, m.duration_ns / 1e6, m.request_count, m.throughput,
                  int(m.avg_latency_ns // 1000), int(m.percentile_ns(99) // 1000))


def _result(s: Settings, run: RunResult) -> ProfileResult:
    """A runner.RunResult as the API returns it: the settings as the run used
    them (a generated seed included) and each level's figures of --json."""
    levels = [LevelReport(**summary.level_fields(f)) for f in run.figures]
    return ProfileResult(run.settings or s, levels, run.sweep.status, run.sweep.message, run.exit_code,
                         list(run.figures), run.workers)


def _discard(text: str) -> None:
    pass


@contextlib.contextmanager
def _sigint_deferred_in_cleanup() -> Iterator[None]:
    """In the main thread, with Python's own SIGINT handler in place, the
    run's: Ctrl-C during the measurement ends it, one during the clean-up
    waits for the clean-up (a KeyboardInterrupt there could leave shared
    memory registered). A program's own handler is left alone."""
    from perfanalyzer import stopping

    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    stopping.new_run()  # a previous run's clean-up left signals deferred: this one's Ctrl-C must raise
    previous = stopping.install((signal.SIGINT,))
    try:
        yield
    finally:
        stopping.restore(previous)


def _run(model: str, concurrency: Concurrency | None, request_rate: RequestRate | None,
         on_window: Callable[[Window], None] | None, output: Callable[[str], None] | None, progress: bool,
         messages: Callable[[str], None] | None, options: ProfileOptions,
         stop: threading.Event | None = None) -> ProfileResult:
    from perfanalyzer import runner, stopping

    if not isinstance(progress, bool):
        raise OptionError(f"progress={progress!r}: want bool, got {type(progress).__name__}")
    for name, fn in (("on_window", on_window), ("output", output), ("messages", messages)):
        if fn is not None and not callable(fn):
            raise OptionError(f"{name}={fn!r}: want a callable or None, got {type(fn).__name__}")
    s = settings_from(model, concurrency, request_rate, **options)
    window_cb = None
    if on_window is not None:
        def window_cb(value: float, index: int, m: Measurement) -> None:
            on_window(_window(value, index, m))

    with _sigint_deferred_in_cleanup():
        run = runner.profile(s, output or _discard, on_window=window_cb, show_progress=None if progress else False,
                             warn=messages or _log.warning, stop=stop)
        signalled = stopping.received() is not None and stop is None
    result = _result(s, run)
    if run.sweep.status == "interrupted" or signalled:
        raise ProfileInterrupted(result)
    return result


def profile(model: str, *, concurrency: Concurrency | None = None, request_rate: RequestRate | None = None,
            on_window: Callable[[Window], None] | None = None, output: Callable[[str], None] | None = None,
            progress: bool = False, messages: Callable[[str], None] | None = None,
            **options: Unpack[ProfileOptions]) -> ProfileResult:
    """Profiles `model` and returns every level's figures.

    `on_window` is called after each measurement window (from the measuring
    thread: keep it short); `output` receives the perf_analyzer-format report
    text; `messages` the lines the CLI writes on stderr (warnings, why a run
    ended; default: the "perfanalyzer" logger, silent unless configured);
    `progress=True` shows the live progress line when stderr is a terminal.
    Files asked for in the options (`filename`, `profile_export_file`,
    `html_report`) are written as by the CLI. Ctrl-C raises
    ProfileInterrupted (a KeyboardInterrupt) once the run is cleaned up."""
    return _run(model, concurrency, request_rate, on_window, output, progress, messages, options)


async def profile_async(model: str, *, concurrency: Concurrency | None = None,
                        request_rate: RequestRate | None = None,
                        on_window: Callable[[Window], None] | None = None,
                        output: Callable[[str], None] | None = None, progress: bool = False,
                        messages: Callable[[str], None] | None = None,
                        **options: Unpack[ProfileOptions]) -> ProfileResult:
    """profile() for asyncio code: the run goes on in a worker thread (the
    engine holds no GIL while it waits), the event loop stays free. Callbacks
    run in that thread. Cancelling the awaiting task stops the run as Ctrl-C
    does, waits for its clean-up, and raises CancelledError."""
    stop = threading.Event()
    call = functools.partial(_run, model, concurrency, request_rate, on_window, output, progress, messages,
                             options, stop)
    future = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        stop.set()
        await asyncio.wait({future})  # the sweep sees `stop` within one poll, then cleans up
        if not future.cancelled():
            future.exception()  # an interrupted result: the cancellation is what the caller sees
        raise
