"""--collect-metrics: Triton's Prometheus endpoint sampled in the background,
aggregated per level over the stable windows as perf_analyzer does.

GPU figures are keyed by gpu_uuid: utilization and power are averaged over the
samples taken during the stable windows, used memory is their maximum and total
memory the first value. Triton's CPU metrics (a CPU-only server has no others)
are kept the same way: utilization averaged, used memory maximum."""

from __future__ import annotations

import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from perfanalyzer import stopping

GPU_UTILIZATION = "nv_gpu_utilization"
GPU_POWER = "nv_gpu_power_usage"
GPU_MEMORY_USED = "nv_gpu_memory_used_bytes"
GPU_MEMORY_TOTAL = "nv_gpu_memory_total_bytes"
CPU_UTILIZATION = "nv_cpu_utilization"
CPU_MEMORY_USED = "nv_cpu_memory_used_bytes"
CPU_MEMORY_TOTAL = "nv_cpu_memory_total_bytes"
_GPU_METRICS = {GPU_UTILIZATION: "utilization", GPU_POWER: "power", GPU_MEMORY_USED: "memory_used",
                GPU_MEMORY_TOTAL: "memory_total"}
_CPU_METRICS = {CPU_UTILIZATION: "cpu_utilization", CPU_MEMORY_USED: "cpu_memory_used",
                CPU_MEMORY_TOTAL: "cpu_memory_total"}


@dataclass(frozen=True)
class Sample:
    """One scrape: per-GPU gauges by uuid, and the server's CPU gauges."""

    t_ns: int
    gpu: dict[str, dict[str, float]] = field(default_factory=dict)  # uuid -> {utilization, power, ...}
    cpu: dict[str, float] = field(default_factory=dict)             # cpu_utilization, cpu_memory_used, ...


def parse(text: str, t_ns: int = 0) -> Sample:
    """Prometheus text exposition -> Sample (prometheus_client's parser)."""
    from prometheus_client.parser import text_string_to_metric_families

    gpu: dict[str, dict[str, float]] = {}
    cpu: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in _GPU_METRICS:
                uuid = s.labels.get("gpu_uuid", "")
                gpu.setdefault(uuid, {})[_GPU_METRICS[s.name]] = float(s.value)
            elif s.name in _CPU_METRICS:
                cpu[_CPU_METRICS[s.name]] = float(s.value)
    return Sample(t_ns, gpu, cpu)


@dataclass(frozen=True)
class LevelMetrics:
    """One level's aggregate, in perf_analyzer's units (utilization as a
    fraction 0..1, power in watts, memory in bytes)."""

    gpu_utilization: dict[str, float]
    gpu_power_usage: dict[str, float]
    gpu_memory_used_bytes: dict[str, int]
    gpu_memory_total_bytes: dict[str, int]
    cpu_utilization: float | None = None
    cpu_memory_used_bytes: int | None = None
    cpu_memory_total_bytes: int | None = None
    samples: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "gpu_utilization": dict(self.gpu_utilization),
            "gpu_power_usage": dict(self.gpu_power_usage),
            "gpu_memory_used_bytes": dict(self.gpu_memory_used_bytes),
            "gpu_memory_total_bytes": dict(self.gpu_memory_total_bytes),
            "cpu_utilization": self.cpu_utilization,
            "cpu_memory_used_bytes": self.cpu_memory_used_bytes,
            "cpu_memory_total_bytes": self.cpu_memory_total_bytes,
            "samples": self.samples,
        }


def aggregate(samples: Sequence[Sample]) -> LevelMetrics:
    """perf_analyzer's per-GPU aggregation over the samples of the stable windows."""
    util: dict[str, list[float]] = {}
    power: dict[str, list[float]] = {}
    used: dict[str, int] = {}
    total: dict[str, int] = {}
    for s in samples:
        for uuid, g in s.gpu.items():
            if "utilization" in g:
                util.setdefault(uuid, []).append(g["utilization"])
            if "power" in g:
                power.setdefault(uuid, []).append(g["power"])
            if "memory_used" in g:
                used[uuid] = max(used.get(uuid, 0), int(g["memory_used"]))
            if "memory_total" in g and uuid not in total:
                total[uuid] = int(g["memory_total"])
    cpu_util = [s.cpu["cpu_utilization"] for s in samples if "cpu_utilization" in s.cpu]
    cpu_used = [int(s.cpu["cpu_memory_used"]) for s in samples if "cpu_memory_used" in s.cpu]
    cpu_total = [int(s.cpu["cpu_memory_total"]) for s in samples if "cpu_memory_total" in s.cpu]
    return LevelMetrics(
        gpu_utilization={u: sum(v) / len(v) for u, v in util.items()},
        gpu_power_usage={u: sum(v) / len(v) for u, v in power.items()},
        gpu_memory_used_bytes=used,
        gpu_memory_total_bytes=total,
        cpu_utilization=sum(cpu_util) / len(cpu_util) if cpu_util else None,
        cpu_memory_used_bytes=max(cpu_used) if cpu_used else None,
        cpu_memory_total_bytes=cpu_total[0] if cpu_total else None,
        samples=len(samples),
    )


def _full_url(url: str) -> str:
    return url if "://" in url else f"http://{url}"


class MetricsSampler:
    """Scrapes every `interval_ms` in a thread and keeps the samples with
    their CLOCK_MONOTONIC time, so a level can take those of its stable windows.

    An unreachable endpoint gives one warning; the run goes on without metrics."""

    def __init__(self, url: str, interval_ms: int, warn: Callable[[str], None] | None = None,
                 clock_ns: Callable[[], int] = time.monotonic_ns, timeout_s: float = 5.0) -> None:
        self.url = _full_url(url)
        self.interval_s = interval_ms / 1000.0
        self.clock_ns = clock_ns
        self.timeout_s = timeout_s
        self._warn = warn or (lambda m: print(m, file=sys.stderr, flush=True))
        self._samples: list[Sample] = []
        self._lock = threading.Lock()  # between this thread and the reader, never the engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed = False
        self._warned = False

    def scrape(self) -> Sample | None:
        """One scrape now; None (and one warning per run) when it fails."""
        t = self.clock_ns()
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as resp:
                text = resp.read().decode("utf-8", errors="replace")
            sample = parse(text, t)
        except (urllib.error.URLError, OSError, ValueError) as e:
            self.failed = True
            if not self._warned:
                self._warned = True
                reason = getattr(e, "reason", None) or e
                self._warn(f"WARNING: cannot read server metrics from {self.url}: {reason}; "
                           "continuing without metrics")
            return None
        with self._lock:
            self._samples.append(sample)
        return sample

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.scrape()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def start(self) -> MetricsSampler:
        self._thread = threading.Thread(target=self._loop, name="perfanalyzer-metrics", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # Bounded by the run's clean-up deadline: a scrape of a hung server is left to finish alone.
            self._thread.join(timeout=stopping.timeout(self.timeout_s + 1))
            self._thread = None

    def between(self, start_ns: int, end_ns: int) -> list[Sample]:
        with self._lock:
            return [s for s in self._samples if start_ns <= s.t_ns <= end_ns]

    def level_metrics(self, start_ns: int, end_ns: int) -> LevelMetrics | None:
        """Aggregate over [start, end]; with no sample inside (a window shorter
        than the interval), one scrape is taken now so the level still has one."""
        samples = self.between(start_ns, end_ns)
        if not samples and not self.failed:
            one = self.scrape()
            samples = [one] if one is not None else []
        with self._lock:
            # Older samples are never asked for again: the next level starts later.
            self._samples = [s for s in self._samples if s.t_ns >= end_ns]
        return aggregate(samples) if samples else None
