"""The one stop mechanism: what a signal does at each moment of a run, and
the clean-up deadline control-plane calls get."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
from perfanalyzer import stopping


@pytest.fixture
def handlers() -> Iterator[None]:
    previous = stopping.install()
    stopping.new_run()
    try:
        yield
    finally:
        stopping.restore(previous)
        stopping.new_run()


def deliver(sig: int) -> None:
    """Sends `sig` to this process and lets its handler run."""
    os.kill(os.getpid(), sig)
    for _ in range(100):  # the handler runs between two bytecodes of the main thread
        time.sleep(0.001)


def test_first_signal_while_measuring_raises(handlers: None) -> None:
    with pytest.raises(KeyboardInterrupt):
        deliver(signal.SIGTERM)
    assert stopping.received() == "SIGTERM"


def test_signals_after_the_measurement_are_recorded_not_raised(handlers: None) -> None:
    stopping.begin_cleanup()
    deliver(signal.SIGHUP)
    assert stopping.received() == "SIGHUP"


def test_second_signal_never_raises_and_ends_the_cleanup(handlers: None) -> None:
    with pytest.raises(KeyboardInterrupt):
        deliver(signal.SIGINT)
    stopping.begin_cleanup()
    assert 0 < stopping.timeout(30) <= stopping.CLEANUP_S
    deliver(signal.SIGINT)
    deliver(signal.SIGQUIT)
    assert stopping.timeout(30) == 0
    assert stopping.drain_ms(2000) == 0


def test_timeouts_are_full_outside_a_cleanup(handlers: None) -> None:
    assert stopping.timeout(30) == 30
    stopping.begin_cleanup()
    assert stopping.timeout(30) <= stopping.CLEANUP_S
    stopping.end_cleanup()
    assert stopping.timeout(30) == 30


def test_a_signal_during_a_held_block_raises_after_it(handlers: None) -> None:
    done = []
    with pytest.raises(KeyboardInterrupt):
        with stopping.held():
            deliver(signal.SIGINT)
            done.append(True)
    assert done == [True]
