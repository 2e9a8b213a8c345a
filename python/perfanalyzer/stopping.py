"""How a run stops: what a signal does, and how long the clean-up may take.

One mechanism for SIGINT, SIGTERM, SIGHUP and SIGQUIT (installed by the CLI):
- the first signal while setting up or measuring raises KeyboardInterrupt in
  the main thread; the sweep turns it into an "interrupted" result whose
  levels are reported and written, and the exit code is 99;
- once the measurement is over (results being written, regions released) a
  signal is only recorded, so nothing measured is lost; the run still ends
  with exit code 99;
- any later signal never raises: it ends the clean-up's server calls at once.

The clean-up after the measurement has CLEANUP_S seconds in all: every
control-plane call made then (trace settings restored, shared-memory regions
unregistered) gets at most what is left, so a hung server costs seconds, not
a 30 s timeout per call. The Python API installs the SIGINT handler only for
the length of a run, in the main thread, when Python's own is in place; its
runs have the same bounded clean-up."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from types import FrameType

CLEANUP_S = 3.0
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)

_received: list[int] = []
_deferred = False
_deadline: float | None = None


def _handler(signum: int, frame: FrameType | None) -> None:
    first = not _received
    _received.append(signum)
    if not first:
        cut_short()
    elif not _deferred:
        raise KeyboardInterrupt(signal.Signals(signum).name)


def install(signals: tuple[int, ...] = SIGNALS) -> dict[int, object]:
    """The CLI's handlers (the Python API's: SIGINT only); returns the ones
    they replace, for restore()."""
    return {sig: signal.signal(sig, _handler) for sig in signals}


def ignore() -> None:
    """The command is done: a signal during the interpreter's exit (which puts
    the default handlers back) must not turn exit code 99 or 0 into death by
    that signal."""
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def restore(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def received() -> str | None:
    """The name of the first signal received, if any."""
    return signal.Signals(_received[0]).name if _received else None


def new_run() -> None:
    """A run starts: no signal yet, signals raise again, no clean-up deadline."""
    global _deferred, _deadline
    _received.clear()
    _deferred, _deadline = False, None


def defer() -> None:
    """From now on a signal is recorded, never raised: the measurement is over."""
    global _deferred
    _deferred = True


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Signals wait until the block is done, then raise as usual. For the
    imports of compiled modules: a KeyboardInterrupt raised inside one's
    initialisation makes the interpreter kill itself with SIGINT at exit,
    whatever exit code the command chose."""
    global _deferred
    was = _deferred
    _deferred = True
    try:
        yield
    finally:
        _deferred = was
    if _received and not was:
        raise KeyboardInterrupt(received())


def begin_cleanup() -> None:
    """The measurement is over: signals are deferred and the clean-up clock starts."""
    global _deadline
    defer()
    if _deadline is None:
        _deadline = time.monotonic() + CLEANUP_S


def end_cleanup() -> None:
    """The run is over: control-plane calls made afterwards (by the caller of
    the Python API) have their full timeouts again."""
    global _deadline
    _deadline = None


def cut_short() -> None:
    """A second signal: no more waiting on the server."""
    global _deadline
    _deadline = time.monotonic()


def timeout(limit_s: float) -> float:
    """The time a control-plane call may take now: `limit_s`, or what is left
    of the clean-up (0 when nothing is)."""
    if _deadline is None:
        return limit_s
    return max(0.0, min(limit_s, _deadline - time.monotonic()))


def drain_ms(limit_ms: int) -> int:
    """How long the engine may wait for the requests in flight when it stops."""
    return int(timeout(limit_ms / 1000.0) * 1000)
