"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


@pytest.fixture
def until() -> Callable[[Callable[[], bool], float], bool]:
    """until(done, timeout_s): polls done() every 10 ms; True once it holds,
    False when timeout_s passes first (a bounded wait on an engine's counters,
    which the test then asserts on)."""

    def wait(done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    return wait
