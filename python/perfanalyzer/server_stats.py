"""Triton statistics-extension counters, their per-window deltas and the
server-side latency breakdown perf_analyzer prints."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from perfanalyzer.composing import ModelId, composing_map
from perfanalyzer.errors import ServerError
from perfanalyzer.safe_text import escape_controls

if TYPE_CHECKING:
    from perfanalyzer.services.base import StatisticsSource
    from perfanalyzer.settings import Settings

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
    # Ensemble steps or --bls-composing-models: ((name, version, stats), ...)
    # sorted by name then version, as perf_analyzer prints them.
    composing: tuple[tuple[str, str, ServerStats], ...] = ()

    @classmethod
    def counter_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "composing"]

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> ServerStats:
        """One model_stats entry of Triton's statistics answer; a malformed
        one is a ServerError naming the field."""
        where = "model_stats[]"
        entry = _object(entry, where)
        where = f"model_stats[{escape_controls(repr(entry.get('name', '?')))[:80]}]"
        total = {key: _counter(entry, key, where) for key in ("inference_count", "execution_count")}
        inf = _object(entry.get("inference_stats", {}), f"{where}.inference_stats")
        for section in _SECTIONS:
            part = _object(inf.get(section, {}), f"{where}.inference_stats.{section}")
            total[f"{section}_count"] = _counter(part, "count", f"{where}.inference_stats.{section}")
            total[f"{section}_ns"] = _counter(part, "ns", f"{where}.inference_stats.{section}")
        return cls(**total)

    @classmethod
    def from_response(cls, response: dict[str, Any], model: str, version: str = "") -> ServerStats:
        """Sums the model_stats entries of `model` (and `version` when given)."""
        total = cls()
        for entry in _entries(response):
            if entry.get("name") != model or (version and str(entry.get("version")) != version):
                continue
            total = total + cls.from_entry(entry)
        return total

    def _combine(self, other: ServerStats, sign: int) -> ServerStats:
        """Counters added or subtracted; composing models matched by (name, version)."""
        counters = {n: getattr(self, n) + sign * getattr(other, n) for n in self.counter_names()}
        mine = {(n, v): st for n, v, st in self.composing}
        theirs = {(n, v): st for n, v, st in other.composing}
        composing = tuple((n, v, mine.get((n, v), ServerStats())._combine(theirs.get((n, v), ServerStats()), sign))
                          for n, v in sorted(mine.keys() | theirs.keys(), key=_model_order))
        return ServerStats(**counters, composing=composing)

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

    # -- composed models (ensembles, BLS): perf_analyzer's integer sums --------

    @property
    def composed_queue_us(self) -> int:
        """Σ over the composing models (recursively) of their queue average, in
        whole microseconds each, as perf_analyzer adds them."""
        total = 0
        for _, _, c in self.composing:
            total += c.composed_queue_us if c.composing else int(c.queue_ns // (c.queue_count * 1000)
                                                                   if c.queue_count else 0)
        return total

    @property
    def composed_compute_us(self) -> int:
        total = 0
        for _, _, c in self.composing:
            if c.composing:
                total += c.composed_compute_us
            elif c.compute_input_count:
                ns = c.compute_input_ns + c.compute_infer_ns + c.compute_output_ns
                total += int(ns // (c.compute_input_count * 1000))
        return total

    @property
    def composed_overhead_us(self) -> int:
        """Ensemble/BLS overhead: its average minus the composing models'
        queue and compute (never negative)."""
        avg = int(self.success_ns // (self.success_count * 1000)) if self.success_count else 0
        return max(0, avg - self.composed_queue_us - self.composed_compute_us)


def window_reader(source: StatisticsSource | None, settings: Settings,
                  warn: Callable[[str], None] | None = None) -> Callable[[], StatsSnapshot | None]:
    """What the profiler calls at each window boundary: the server's counters
    of the model and its composing models, or nothing for services without
    Triton's statistics."""
    if source is None:
        return lambda: None
    composing = composing_map(source.model_config, settings.model_name, settings.model_version,
                              settings.bls_composing_models)
    return StatsQuery(source.statistics, settings.model_name, settings.model_version, composing, warn=warn).read


class StatsQuery:
    """What to read at each window boundary and how to turn two readings into
    a ServerStats delta: the model, its version (-x, or as perf_analyzer
    chooses), and the composing models of an ensemble or BLS model.

    fetch(model, version) returns Triton's statistics answer; model "" asks
    for every model (needed when there are composing models)."""

    def __init__(self, fetch: Callable[[str, str], Mapping[str, Any]], model: str, version: str = "",
                 composing: Mapping[str, Sequence[ModelId]] | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        self.fetch = fetch
        self.model = model
        self.version = version
        self.composing = {k: tuple(v) for k, v in (composing or {}).items() if v}
        self.warn = warn
        self._warned: set[str] = set()

    def read(self) -> StatsSnapshot:
        response = self.fetch("", "") if self.composing else self.fetch(self.model, self.version)
        counters: dict[ModelId, ServerStats] = {}
        for entry in _entries(response):
            key = (str(entry.get("name", "")), str(entry.get("version", "")))
            counters[key] = counters.get(key, ServerStats()) + ServerStats.from_entry(entry)
        return StatsSnapshot(self, counters)

    def stats_version(self, name: str, version: str, start: StatsSnapshot, end: StatsSnapshot) -> str:
        """perf_analyzer's choice when no version is given: the version whose
        queue count grew in the window (the highest, with a warning, if
        several did). When none grew, the highest loaded one (its delta is
        then zero; perf_analyzer gives up on such a window)."""
        if version:
            if (name, version) not in end.counters:
                raise ServerError(f"the server has no statistics for model '{name}' version {version}")
            return version
        loaded = sorted((v for n, v in end.counters if n == name), key=_version_key)
        if not loaded:
            raise ServerError(f"the server has no statistics for model '{name}'")
        moved = [v for v in loaded
                 if end.counters[(name, v)].queue_count > start.counters.get((name, v), ServerStats()).queue_count]
        if len(moved) > 1 and self.warn and name not in self._warned:
            self._warned.add(name)
            self.warn(f"WARNING: Multiple versions of model {name} are loaded in the triton server, and the "
                      "version to use was unspecified. The stats for that model may be inaccurate.")
        return (moved or loaded)[-1]

    def delta(self, start: StatsSnapshot, end: StatsSnapshot) -> ServerStats:
        return self._delta(start, end, self.model, self.stats_version(self.model, self.version, start, end))

    def _delta(self, start: StatsSnapshot, end: StatsSnapshot, name: str, version: str) -> ServerStats:
        d = end.counters[(name, version)] - start.counters.get((name, version), ServerStats())
        composing = []
        for cname, cversion in self.composing.get(name, ()):
            cv = self.stats_version(cname, cversion, start, end)
            composing.append((cname, cv, self._delta(start, end, cname, cv)))
        return ServerStats(**{n: getattr(d, n) for n in ServerStats.counter_names()},
                           composing=tuple(sorted(composing, key=_model_order)))


def _malformed(what: str) -> ServerError:
    return ServerError(f"the server's statistics answer is malformed: {what}")


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _malformed(f"{where} is {_shown(value)}, not an object")
    return value


def _entries(response: Any) -> list[Mapping[str, Any]]:
    entries = _object(response, "the answer").get("model_stats", [])
    if not isinstance(entries, list):
        raise _malformed(f"model_stats is {_shown(entries)}, not a list")
    return [_object(e, f"model_stats[{i}]") for i, e in enumerate(entries)]


def _counter(part: Mapping[str, Any], key: str, where: str) -> int:
    """A count or a time in ns: a JSON integer, or the decimal string protobuf's
    JSON form gives 64-bit integers."""
    value = part.get(key, 0)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise _malformed(f"{where}.{key} is {_shown(value)}, not a count")


def _shown(value: Any) -> str:
    return escape_controls(repr(value))[:80]


def _version_key(v: str) -> tuple[int, str]:
    return (int(v), "") if v.isdigit() else (-1, v)


def _model_order(item: tuple[Any, ...]) -> tuple[str, tuple[int, str]]:
    """(name, version, ...) by name, then numeric version."""
    return item[0], _version_key(item[1])


@dataclass(frozen=True)
class StatsSnapshot:
    """Every (model, version)'s cumulative counters at one instant;
    `end - start` is the window's ServerStats (what the profiler computes)."""

    query: StatsQuery
    counters: dict[ModelId, ServerStats]

    def __sub__(self, start: StatsSnapshot) -> ServerStats:
        return self.query.delta(start, self)
