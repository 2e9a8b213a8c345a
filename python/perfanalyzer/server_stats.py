"""Triton statistics-extension counters, their per-window deltas and the
server-side latency breakdown perf_analyzer prints."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# inference_stats sections perf_analyzer reads (each has count and ns).
_SECTIONS = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output",
             "cache_hit", "cache_miss")


@dataclass(frozen=True)
class ServerStats:
    """Cumulative counters of one model (summed over the versions asked for)."""

    inference_count: int = 0
    execution_count: int = 0
    success_count: int = 0
    success_ns: int = 0
    fail_count: int = 0
    fail_ns: int = 0
    queue_count: int = 0
    queue_ns: int = 0
    compute_input_count: int = 0
    compute_input_ns: int = 0
    compute_infer_count: int = 0
    compute_infer_ns: int = 0
    compute_output_count: int = 0
    compute_output_ns: int = 0
    cache_hit_count: int = 0
    cache_hit_ns: int = 0
    cache_miss_count: int = 0
    cache_miss_ns: int = 0

    @classmethod
    def from_response(cls, response: dict[str, Any], model: str, version: str = "") -> ServerStats:
        """Sums the model_stats entries of `model` (and `version` when given)."""
        total: dict[str, int] = {f.name: 0 for f in fields(cls)}
        for entry in response.get("model_stats", []):
            if entry.get("name") != model or (version and str(entry.get("version")) != version):
                continue
            total["inference_count"] += int(entry.get("inference_count", 0))
            total["execution_count"] += int(entry.get("execution_count", 0))
            inf = entry.get("inference_stats", {})
            for section in _SECTIONS:
                part = inf.get(section, {})
                total[f"{section}_count"] += int(part.get("count", 0))
                total[f"{section}_ns"] += int(part.get("ns", 0))
        return cls(**total)

    def _combine(self, other: ServerStats, sign: int) -> ServerStats:
        return ServerStats(**{f.name: getattr(self, f.name) + sign * getattr(other, f.name) for f in fields(self)})

    def __sub__(self, other: ServerStats) -> ServerStats:
        return self._combine(other, -1)

    def __add__(self, other: ServerStats) -> ServerStats:
        return self._combine(other, 1)

    # Averages per request in microseconds (perf_analyzer's definitions).
    @staticmethod
    def _avg_us(ns: int, count: int) -> float:
        return ns / count / 1000.0 if count else 0.0

    @property
    def avg_request_us(self) -> float:
        return self._avg_us(self.success_ns, self.success_count)

    @property
    def queue_us(self) -> float:
        return self._avg_us(self.queue_ns, self.queue_count)

    @property
    def compute_input_us(self) -> float:
        return self._avg_us(self.compute_input_ns, self.compute_input_count)

    @property
    def compute_infer_us(self) -> float:
        # perf_analyzer divides every compute part by compute_input's count.
        return self._avg_us(self.compute_infer_ns, self.compute_input_count)

    @property
    def compute_output_us(self) -> float:
        return self._avg_us(self.compute_output_ns, self.compute_input_count)

    @property
    def compute_us(self) -> float:
        return self.compute_input_us + self.compute_infer_us + self.compute_output_us

    @property
    def overhead_us(self) -> float:
        return max(0.0, self.avg_request_us - self.queue_us - self.compute_us)

    @property
    def cache_hit_us(self) -> float:
        return self._avg_us(self.cache_hit_ns, self.cache_hit_count)

    @property
    def cache_miss_us(self) -> float:
        return self._avg_us(self.cache_miss_ns, self.cache_miss_count)

    @property
    def uses_cache(self) -> bool:
        return self.cache_hit_count + self.cache_miss_count > 0
