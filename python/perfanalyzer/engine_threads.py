"""--max-threads as the compiled engine's thread count.

perf_analyzer needs threads to keep requests in flight (16 by default, 4 in
rate mode, one per concurrent request with --sync). One engine thread of ours
drives any number of requests through epoll, so extra threads only help
when that one thread is the bottleneck (a high request rate or concurrency on
a machine with idle cores), and on a small machine they only take CPU from
the server. So: one thread unless --max-threads is given; when it is, that
many, but never more than this process may run on at once, nor (closed
loop) more than the largest concurrency of the sweep, where a thread
would have no request to send."""

from __future__ import annotations

import os

from perfanalyzer import sequences
from perfanalyzer.settings import Settings


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def engine_threads(s: Settings, cpus: int | None = None) -> int:
    if s.max_threads is None or s.load_mode == "periodic_concurrency":
        return 1  # the ramp counts responses on one thread
    useful = usable_cpus() if cpus is None else cpus
    if s.load_mode == "concurrency":
        levels = s.concurrency_range.levels()
        if levels:
            useful = min(useful, max(levels))
    return max(1, min(s.max_threads, useful))


def load_threads(s: Settings, sequence: bool = False) -> int:
    """The engine threads of a run, whatever its transport: a sequence model's
    also no more than its sequences and ids allow (s after
    sequences.open_loop_settings)."""
    threads = engine_threads(s)
    return sequences.engine_threads(s, threads) if sequence else threads
