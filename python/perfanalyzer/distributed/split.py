"""How one run's load divides exactly over N client processes.

Closed loop: the concurrency as evenly as possible (the first c % N one
more). Open loop: worker k sends the schedule's times k, k + N, ... (the
engine's part/parts split), so the merged send times depend on the seed
alone, not on N. Request budgets (--request-count, warm-up) are divided over
the workers that carry load, exactly in total. Sequence IDs interleave:
worker k of N takes the IDs a single process's engine thread k would."""

from __future__ import annotations

import dataclasses

from perfanalyzer.errors import OptionError
from perfanalyzer.settings import Settings

DEFAULT_WORKERS = 2


def share(n: int, k: int, parts: int) -> int:
    """Part k of n over `parts`: the first n % parts get one more."""
    return n // parts + (k < n % parts)


def workers(settings: Settings) -> int:
    return settings.ray_workers if settings.ray_workers is not None else DEFAULT_WORKERS


def concurrency_shares(concurrency: int, n: int) -> list[int]:
    return [share(concurrency, k, n) for k in range(n)]


def budget_shares(budget: int, active: list[bool], open_loop: bool) -> list[int]:
    """A budget of `budget` requests over the workers. Open loop: the first
    `budget` schedule times, of which worker k holds those = k mod N.
    Closed loop: over the workers with concurrency only (one without would
    never spend its part)."""
    n = len(active)
    if open_loop:
        return [share(budget, k, n) for k in range(n)]
    loaded = [k for k in range(n) if active[k]]
    out = [0] * n
    for i, k in enumerate(loaded):
        out[k] = share(budget, i, len(loaded))
    return out


def merged_schedule(times_by_worker: list[list[int]]) -> list[int]:
    """The send times of every worker, in one sorted list."""
    return sorted(t for times in times_by_worker for t in times)


def worker_settings(settings: Settings, k: int, n: int) -> Settings:
    """What worker k of n runs: its own engine with its own --max-threads;
    the profiler's loop stays with the driver, so the worker never measures
    nor writes files itself."""
    return dataclasses.replace(settings, client_part=k, client_parts=n, filename=None,
                               profile_export_file=None, ray_address=None, ray_workers=None)


def check(settings: Settings) -> None:
    """Refuses, as an option error, what a distributed run cannot do."""
    if settings.ray_address is None:
        raise OptionError("--ray-workers: needs --ray-address (local, auto or a cluster address)")
    if not settings.ray_address.strip():
        raise OptionError("--ray-address: empty; give local, auto or a cluster address")
    n = workers(settings)
    if n < 1:
        raise OptionError(f"--ray-workers: must be > 0, got {n}")
    if settings.service_kind == "triton_c_api":
        raise OptionError("--ray-address: not with --service-kind=triton_c_api (the server runs inside one process)")
    if settings.load_mode == "periodic_concurrency":
        raise OptionError("--ray-address: not with --periodic-concurrency-range (one ramp, counted in one place)")
    if settings.profile_export_file:
        raise OptionError("--profile-export-file: not with --ray-address (every worker's requests would have to "
                          "travel to the driver; see docs/distributed.md)")
    if settings.max_inflight and settings.max_inflight < n:
        raise OptionError(f"--max-inflight {settings.max_inflight}: below --ray-workers {n} (each worker needs "
                          "a cap of at least one)")
