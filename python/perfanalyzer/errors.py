"""Errors the user can act on, each with perf_analyzer's exit code."""

from __future__ import annotations

SUCCESS = 0
STABILITY_ERROR = 2
OPTION_ERROR = 3
GENERIC_ERROR = 99


class PerfAnalyzerError(Exception):
    """One clear line for the user; the CLI prints it without a traceback."""

    exit_code = GENERIC_ERROR

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class OptionError(PerfAnalyzerError):
    exit_code = OPTION_ERROR


class ServerError(PerfAnalyzerError):
    """The server is unreachable, or answered something we cannot use."""
