"""One client process of a distributed run: a Ray actor running its own
compiled engine on its share of the load. The driver calls it once per
load change and once per window; nothing here runs per request."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from perfanalyzer import _core
from perfanalyzer.distributed.split import worker_settings
from perfanalyzer.services.base import Service
from perfanalyzer.settings import Settings


class ClientWorker:
    def __init__(self, settings: Settings, part: int, parts: int) -> None:
        self.part, self.parts = part, parts
        self.settings = worker_settings(settings, part, parts)
        self.service: Service | None = None
        self.engine: Any = None
        self._cpu_ns = time.process_time_ns()

    def open(self) -> dict[str, Any]:
        """Opens the service and prepares the engine; where it runs."""
        from perfanalyzer.services.factory import open_service  # the same preparation as a local run's

        service = self.service = open_service(self.settings, lambda text: None)
        service.check_ready()
        self.engine = service.make_engine(service.load_spec(self.settings))
        return {"part": self.part, "host": socket.gethostname(), "pid": os.getpid(), "node": _node(),
                "wire": _core.STATS_WIRE_VERSION}

    def node(self) -> str:
        """The node this worker runs on: its address and the start of its Ray node id."""
        return _node()

    def start(self) -> int:
        """Starts the engine thread(s), no load yet: the driver's barrier."""
        self.engine.start()
        self._cpu_ns = time.process_time_ns()
        return self.part

    def set_concurrency(self, n: int) -> None:
        self.engine.set_concurrency(n)

    def set_rate(self, rate: float, distribution: str, seed: int, max_inflight: int) -> None:
        self.engine.set_rate(rate, distribution, seed, max_inflight, part=self.part, parts=self.parts)

    def set_intervals(self, intervals_ns: list[int], max_inflight: int) -> None:
        self.engine.set_intervals(intervals_ns, max_inflight, part=self.part, parts=self.parts)

    def set_budget(self, n: int | None) -> None:
        self.engine.set_budget(n)

    def counters(self) -> tuple[int, int, int]:
        return self.engine.completed, self.engine.failed, self.engine.in_flight

    def swap(self) -> tuple[int, bytes, int]:
        """Ends the window: (boundary as wall-clock ns, the window's bytes,
        this process's CPU ns since the last boundary)."""
        t, stats = self.engine.swap()
        wall = t + (_core.wall_ns() - _core.now_ns())
        cpu = time.process_time_ns()
        used, self._cpu_ns = cpu - self._cpu_ns, cpu
        return wall, _core.stats_to_bytes(stats), used

    def error_messages(self) -> list[str]:
        return self.engine.error_messages()

    def stop(self, drain_ms: int) -> None:
        if self.engine is not None:
            self.engine.stop(drain_ms=drain_ms)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if self.service is not None:
            self.service.close()
            self.service = None


def _node() -> str:
    import ray

    return f"{ray.util.get_node_ip_address()} ({ray.get_runtime_context().get_node_id()[:8]})"
