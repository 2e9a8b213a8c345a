"""perfanalyzer: measure inference-server throughput and latency the way
Triton's perf_analyzer does, with a compiled core that keeps the client out
of the measurement."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("perfanalyzer")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
