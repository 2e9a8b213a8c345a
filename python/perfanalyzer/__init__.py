"""perfanalyzer: measure inference-server throughput and latency the way
Triton's perf_analyzer does, with a compiled core that keeps the client out
of the measurement."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what type checkers see of the lazy names below
    from perfanalyzer.api import ProfileInterrupted, profile, profile_async

__all__ = ["ProfileInterrupted", "__version__", "profile", "profile_async"]


def __getattr__(name: str) -> object:
    # Looked up lazily: importlib.metadata costs ~50 ms of start-up CPU.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("perfanalyzer")
        except PackageNotFoundError:  # a source tree that was not installed
            return "0.0.0+unknown"
    if name in ("profile", "profile_async", "ProfileInterrupted"):
        # The embedding API (perfanalyzer.api); imported on use, it loads the compiled core.
        from perfanalyzer import api

        return getattr(api, name)
    raise AttributeError(name)
