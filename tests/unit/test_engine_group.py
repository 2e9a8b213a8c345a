"""Every transport's engine threads as one group: made, started, stopped and
closed together, on a port where nothing listens (each thread's requests fail
and are counted once, in the group's counters)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from perfanalyzer import _core

CLOSED = "127.0.0.1:9"  # the discard port: nothing listens on loopback

ENGINES: dict[str, Callable[[int], _core.Engine]] = {
    "native": lambda n: _core.HttpEngine(f"http://{CLOSED}/", [(b"{}", [])], client="native", threads=n),
    "curl": lambda n: _core.HttpEngine(f"http://{CLOSED}/", [(b"{}", [])], client="curl", threads=n),
    "grpc": lambda n: _core.GrpcEngine(CLOSED, [b""], threads=n),
    "grpc_stream": lambda n: _core.GrpcEngine(CLOSED, [b""], streaming=True, threads=n),
}


@pytest.mark.parametrize("kind", ENGINES)
def test_a_group_runs_and_closes_as_one(kind: str, until: Callable[..., bool]) -> None:
    if kind.startswith("grpc") and not getattr(_core, "HAS_GRPC", False):
        pytest.skip("built without gRPC")
    engine = ENGINES[kind](3)
    assert engine.threads == 3
    engine.start()
    engine.set_concurrency(6)
    until(lambda: engine.failed >= 6, 30)
    engine.stop(drain_ms=0)
    assert engine.failed >= 6 and engine.completed == 0
    assert engine.error_messages()
    engine.close()  # the members go with the lead (each stopped once, none touched after it is freed)


def test_threads_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="threads must be >= 1"):
        _core.HttpEngine(f"http://{CLOSED}/", [(b"{}", [])], threads=0)
