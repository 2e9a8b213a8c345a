"""Live progress on stderr while a level is measured: level, the time since
the run started and an estimate of the time left, window n of max, requests
and throughput of the running window, p99 of the last one and how far the
last windows are from agreeing. Only on a terminal, never with -q.

The line is redrawn by a thread that reads the engine's live counters (a few
atomic loads, four times a second); it never touches the measurement."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from perfanalyzer.settings import Settings

REFRESH_S = 0.25


def wanted(quiet: bool, stream: TextIO | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    return not quiet and hasattr(stream, "isatty") and stream.isatty()


def planned_levels(s: Settings) -> int | None:
    """How many levels the run will measure at most, or None when the sweep
    grows until -l (nothing to estimate from)."""
    if s.load_mode == "request_intervals":
        return 1  # one schedule, looped
    if s.load_mode not in ("concurrency", "request_rate"):
        return None
    r = s.concurrency_range if s.load_mode == "concurrency" else s.request_rate_range
    if s.binary_search:
        # start, end, then one level per halving while the interval is wider than a step
        width, n = float(r.end - r.start), 2
        while width > r.step:
            width = float(-(-int(width) // 2)) if s.load_mode == "concurrency" else width / 2
            n += 1
        return n
    levels = r.levels()
    return None if levels is None else len(levels)


def clock_text(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on (whole seconds, rounded down)."""
    total = max(0, int(seconds))
    h, rest = divmod(total, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class Progress:
    def __init__(self, engine: Any, max_trials: int, stability_pct: float, label: str,
                 clock_ns: Callable[[], int] = time.monotonic_ns, stream: TextIO | None = None,
                 planned_levels: int | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.engine = engine
        self.max_trials = max_trials
        self.stability_pct = stability_pct
        self.label = label
        self.clock_ns = clock_ns
        self.planned_levels = planned_levels
        self.console = Console(file=stream if stream is not None else sys.stderr, highlight=False)
        self._live = Live(console=self.console, transient=True, auto_refresh=False,
                          redirect_stdout=False, redirect_stderr=False)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.value: float | None = None
        self.window = 1
        self._window_start_ns = clock_ns()
        self._done_at_start = 0
        self._last_p99_us: int | None = None
        self._throughputs: list[float] = []
        self._run_start_ns = clock_ns()
        self._level_start_ns = self._run_start_ns
        self._levels_done = 0  # levels finished before the one measured now

    # -- what the run tells us --------------------------------------------------
    def level_start(self, value: float) -> None:
        with self._lock:
            if self.value is not None:
                self._levels_done += 1
            self.value, self.window, self._throughputs, self._last_p99_us = value, 1, [], None
            self._mark()
            self._level_start_ns = self._window_start_ns

    def window_done(self, trial: int, throughput: float, p99_us: int) -> None:
        with self._lock:
            self.window = trial + 1
            self._throughputs.append(throughput)
            self._last_p99_us = p99_us
            self._mark()

    def _mark(self) -> None:
        self._window_start_ns = self.clock_ns()
        self._done_at_start = int(self.engine.completed)

    # -- drawing ----------------------------------------------------------------------
    def text(self) -> str:
        with self._lock:
            if self.value is None:
                return "perfanalyzer: starting"
            elapsed = max(1e-9, (self.clock_ns() - self._window_start_ns) / 1e9)
            done = int(self.engine.completed) - self._done_at_start
            # The times come second: a narrow terminal cuts the line's end off.
            parts = [f"{self.label} {self.value:g}", self.time_text(),
                     f"window {min(self.window, self.max_trials)}/{self.max_trials}",
                     f"{done} req", f"{done / elapsed:,.1f} infer/sec"]
            if self._last_p99_us is not None:
                parts.append(f"last p99 {self._last_p99_us} usec")
            last = self._throughputs[-3:]
            if len(last) >= 2 and min(last) > 0:
                spread = 100.0 * (max(last) / min(last) - 1)
                parts.append(f"spread {spread:.1f}% of {self.stability_pct:g}%")
        return " | ".join(parts)

    def time_text(self) -> str:
        """Elapsed time, and what is left estimated from the levels finished so
        far: levels still to measure x their mean duration, less the time the
        current level has already taken. No estimate before the first level
        ends, nor when the sweep grows until -l."""
        now = self.clock_ns()
        elapsed_s = (now - self._run_start_ns) / 1e9
        text = f"elapsed {clock_text(elapsed_s)}"
        if self.planned_levels is None or not self._levels_done:
            return text
        mean_s = (self._level_start_ns - self._run_start_ns) / 1e9 / self._levels_done
        in_level_s = (now - self._level_start_ns) / 1e9
        left_s = max(0.0, (self.planned_levels - self._levels_done) * mean_s - in_level_s)
        return f"{text}, about {clock_text(left_s)} left (estimate)"

    def _loop(self) -> None:
        while not self._stop.wait(REFRESH_S):
            self.refresh()

    def refresh(self) -> None:
        from rich.text import Text

        with self._lock:
            if self._live.is_started:
                # One line, cut to the terminal's width, so the redraw never wraps.
                line = Text(self.text(), style="dim", no_wrap=True, overflow="ellipsis")
                self._live.update(line, refresh=True)

    def start(self) -> Progress:
        with self._lock:
            self._run_start_ns = self._level_start_ns = self.clock_ns()
        self._live.start()
        self._thread = threading.Thread(target=self._loop, name="perfanalyzer-progress", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._live.stop()

    def print_above(self, write: Callable[[str], None], text: str) -> None:
        """Report text goes out on its own stream with the progress line out of the way."""
        with self._lock:
            if self._stop.is_set():
                write(text)
                return
            # Stopping a transient display erases it and puts the cursor back,
            # so the text lands where the line was.
            self._live.stop()
            write(text)
            self._live.start()
