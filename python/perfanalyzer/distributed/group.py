"""The driver's side of a distributed run: N worker actors that together
stand in for the local engine (the profiler's Engine protocol). The profiler
runs unchanged: its windows, stabilization and server statistics read once,
over the merged window."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perfanalyzer import _core
from perfanalyzer.distributed import split
from perfanalyzer.errors import PerfAnalyzerError
from perfanalyzer.profiler import RequestErrors
from perfanalyzer.settings import Settings

PLACE_TIMEOUT_S = 60.0  # for the placement group: a cluster without the CPUs never places it
CALL_TIMEOUT_S = 120.0  # a worker that does not answer a control call this long is treated as lost


@dataclass
class WorkerLoad:
    """What one worker's engine cost, over the run so far."""

    requests: int = 0
    delayed: int = 0
    cpu_ns: int = 0
    window_ns: int = 0
    lag_p99_ns: int = 0   # worst window's


class RayGroup:
    def __init__(self, settings: Settings, out: Callable[[str], None],
                 warn: Callable[[str], None] | None = None) -> None:
        import ray
        from ray.util.placement_group import placement_group, remove_placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        from perfanalyzer.distributed.worker import ClientWorker

        self.ray, self.s, self.out = ray, settings, out
        self.warn = warn or (lambda text: print(text, file=sys.stderr, flush=True))
        self.n = split.workers(settings)
        self._remove_pg = remove_placement_group
        self.owns_ray = not ray.is_initialized()
        if self.owns_ray:
            address = settings.ray_address
            try:
                if address == "local":
                    ray.init(address="local", include_dashboard=False, log_to_driver=False,
                             configure_logging=False, num_cpus=max(self.n, 1))
                else:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
            except Exception as e:  # noqa: BLE001 - any failure to reach Ray is one line
                raise PerfAnalyzerError(f"--ray-address {address}: cannot start or join Ray: "
                                        f"{' '.join(str(e).split())[:300]}") from None
        self.workers: list[Any] = []
        self.pg = placement_group([{"CPU": 1}] * self.n, strategy="SPREAD")
        try:
            ray.get(self.pg.ready(), timeout=PLACE_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - not placed in time, whatever Ray says
            self.close()
            raise PerfAnalyzerError(f"--ray-workers {self.n}: the Ray cluster cannot place {self.n} workers of "
                                    f"1 CPU each within {PLACE_TIMEOUT_S:.0f} s") from None
        actor = ray.remote(num_cpus=1, max_restarts=0)(ClientWorker)
        # Named within the run's namespace, so that an operator (or a test) can find worker k.
        self.workers = [actor.options(name=f"perfanalyzer-client-{k}", scheduling_strategy=(
            PlacementGroupSchedulingStrategy(placement_group=self.pg, placement_group_bundle_index=k)))
            .remote(settings, k, self.n)
            for k in range(self.n)]
        self.where = [f"worker {k}" for k in range(self.n)]
        try:
            info = self._all("open")
        except RequestErrors as e:  # before any load: a setup failure, not a measurement's
            self.close()
            raise PerfAnalyzerError(str(e)) from None
        self.where = [f"worker {k} on node {i['node']}" for k, i in enumerate(info)]
        nodes = len({i["node"] for i in info})
        out(f"*** Distributed run: {self.n} client workers on {nodes} node{'s' if nodes != 1 else ''} (Ray) ***")
        self.concurrency = [0] * self.n
        self.open_loop = False
        self.loads = [WorkerLoad() for _ in range(self.n)]
        self.skews_ns: list[int] = []
        self.merge_ns: list[int] = []
        self.bytes_per_worker: list[int] = []

    # -- calls to every worker at once ---------------------------------
    def _all(self, method: str, *args: Any, per_worker: list[tuple] | None = None) -> list[Any]:
        refs = [getattr(w, method).remote(*(per_worker[k] if per_worker else args))
                for k, w in enumerate(self.workers)]
        try:
            return self.ray.get(refs, timeout=CALL_TIMEOUT_S)
        except self.ray.exceptions.RayActorError as e:
            raise RequestErrors(self._lost(refs, e)) from None
        except self.ray.exceptions.GetTimeoutError:
            raise RequestErrors(f"a client worker did not answer {method} within {CALL_TIMEOUT_S:.0f} s") from None
        except self.ray.exceptions.RayTaskError as e:
            raise RequestErrors(self._failed(refs, e)) from None

    def _lost(self, refs: list[Any], error: Exception) -> str:
        """The one line naming the worker (and node) that died."""
        for k, ref in enumerate(refs):
            try:
                self.ray.get(ref, timeout=0)
            except self.ray.exceptions.RayActorError:
                return f"client {self.where[k]} died mid-run: the run ends here"
            except Exception:  # noqa: BLE001 - only the dead one matters here
                continue
        return f"a client worker died mid-run: {' '.join(str(error).split())[:200]}"

    def _failed(self, refs: list[Any], error: Any) -> str:
        """The one line naming the worker whose call raised, and why."""
        where = "a client worker"
        for k, ref in enumerate(refs):
            try:
                self.ray.get(ref, timeout=0)
            except self.ray.exceptions.RayTaskError:
                where = f"client {self.where[k]}"
                break
            except Exception:  # noqa: BLE001 - only the failed one matters here
                continue
        return f"{where}: {' '.join(str(error.cause).split())[:300]}"

    # -- the Engine protocol --------------------------------------------
    def start(self) -> None:
        """The barrier: every engine is up before any load is set."""
        try:
            self._all("start")
        except RequestErrors as e:
            raise PerfAnalyzerError(str(e)) from None

    def set_concurrency(self, n: int) -> None:
        self.concurrency, self.open_loop = split.concurrency_shares(n, self.n), False
        self._all("set_concurrency", per_worker=[(c,) for c in self.concurrency])

    def set_rate(self, rate: float, distribution: str, seed: int, max_inflight: int) -> None:
        self.open_loop = True
        caps = [split.share(max_inflight, k, self.n) if max_inflight else 0 for k in range(self.n)]
        self._all("set_rate", per_worker=[(rate, distribution, seed, c) for c in caps])

    def set_intervals(self, intervals_ns: list[int], max_inflight: int) -> None:
        self.open_loop = True
        caps = [split.share(max_inflight, k, self.n) if max_inflight else 0 for k in range(self.n)]
        self._all("set_intervals", per_worker=[(list(intervals_ns), c) for c in caps])

    def set_budget(self, n: int | None) -> None:
        if n is None or n == 0:
            self._all("set_budget", n)
            return
        shares = split.budget_shares(n, [c > 0 for c in self.concurrency], self.open_loop)
        self._all("set_budget", per_worker=[(b,) for b in shares])

    def _counters(self) -> list[tuple[int, int, int]]:
        return self._all("counters")

    @property
    def completed(self) -> int:
        return sum(c[0] for c in self._counters())

    @property
    def failed(self) -> int:
        return sum(c[1] for c in self._counters())

    @property
    def in_flight(self) -> int:
        return sum(c[2] for c in self._counters())

    def swap(self) -> tuple[int, Any]:
        """Every worker swaps at once; their windows merged into one. The
        boundary is the workers' mean, on this process's clock."""
        answers = self._all("swap")
        t0 = time.perf_counter_ns()
        merged = None
        for k, (_, data, cpu_ns) in enumerate(answers):
            stats = _core.stats_from_bytes(data)
            load = self.loads[k]
            load.requests += stats.ok
            load.delayed += stats.delayed
            load.cpu_ns += cpu_ns
            load.lag_p99_ns = max(load.lag_p99_ns, stats.lag_percentile_ns(99))
            if merged is None:
                merged = stats
            else:
                merged.merge(stats)
        self.merge_ns.append(time.perf_counter_ns() - t0)
        self.bytes_per_worker.append(sum(len(a[1]) for a in answers) // self.n)
        walls = [a[0] for a in answers]
        self.skews_ns.append(max(walls) - min(walls))
        boundary = int(statistics.fmean(walls)) - (_core.wall_ns() - _core.now_ns())
        if self._last_boundary:
            for load in self.loads:
                load.window_ns += max(1, boundary - self._last_boundary)
        self._last_boundary = boundary
        if self.s.verbose:
            self.out(f"  Workers: boundary skew {self.skews_ns[-1] // 1000} usec, merge {self.merge_ns[-1] // 1000} "
                     f"usec, {self.bytes_per_worker[-1]} bytes per worker")
        return boundary, merged

    _last_boundary = 0

    def error_messages(self) -> list[str]:
        return [m for messages in self._all("error_messages") for m in messages]

    def keep_records(self) -> None:
        raise PerfAnalyzerError("--profile-export-file: not with --ray-address")

    def stop(self, drain_ms: int = 5000) -> None:
        try:
            self._all("stop", drain_ms)
        except RequestErrors:
            pass  # the run already ends on the lost worker's line
        self._report()

    def close(self) -> None:
        for w in self.workers:
            try:
                self.ray.get(w.close.remote(), timeout=10)
            except Exception:  # noqa: BLE001,S110 - a dead worker has nothing left to close
                pass
            self.ray.kill(w)
        self.workers = []
        try:
            self._remove_pg(self.pg)
        except Exception:  # noqa: BLE001,S110 - gone with the cluster
            pass
        if self.owns_ray:
            self.ray.shutdown()

    def worker_figures(self) -> list[dict[str, Any]]:
        """Each worker's self-overhead over the run (the report below and --json read it)."""
        return worker_figures(self.where, self.loads) if self.skews_ns else []

    def _report(self) -> None:
        """Each worker's self-overhead, so that a saturated client is seen."""
        if not self.skews_ns:
            return
        self.out("Client workers (self-overhead over the run):")
        for w in self.worker_figures():
            line = (f"  {w['where']}: {w['requests']} requests, CPU {w['cpu_pct']:.0f} % of a core "
                    f"({w['cpu_us_per_request']:.1f} usec per request), "
                    f"schedule lag p99 {w['lag_p99_us']} usec, delayed {w['delayed_pct']:.1f} %")
            self.out(line)
            if w["cpu_pct"] >= 90 or w["delayed_pct"] >= 5:
                self.warn(f"warning: client {w['where']} looks saturated (CPU {w['cpu_pct']:.0f} %, delayed "
                          f"{w['delayed_pct']:.1f} %): add workers or nodes")
        self.out(f"  window boundary skew between workers: max {max(self.skews_ns) // 1000} usec, median "
                 f"{int(statistics.median(self.skews_ns)) // 1000} usec over {len(self.skews_ns)} windows")
        self.out(f"  driver merge: median {int(statistics.median(self.merge_ns)) // 1000} usec per window, "
                 f"{int(statistics.median(self.bytes_per_worker))} bytes per worker per window")


def worker_figures(where: list[str], loads: list[WorkerLoad]) -> list[dict[str, Any]]:
    """Per worker: requests completed, CPU as a share of one core over the
    windows, CPU per request, worst window's schedule lag p99, share delayed."""
    out = []
    for k, load in enumerate(loads):
        out.append({
            "worker": k,
            "where": where[k],
            "requests": load.requests,
            "cpu_pct": load.cpu_ns / load.window_ns * 100 if load.window_ns else 0.0,
            "cpu_us_per_request": load.cpu_ns / load.requests / 1000 if load.requests else 0.0,
            "lag_p99_us": load.lag_p99_ns // 1000,
            "delayed": load.delayed,
            "delayed_pct": load.delayed / load.requests * 100 if load.requests else 0.0,
        })
    return out
