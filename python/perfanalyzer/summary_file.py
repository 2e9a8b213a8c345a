"""--json: the run's summary document, written once every other output is
written and the exit code is known; with `--json -` stdout is handed to the
document alone (file descriptor 1 points at stderr for the run)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

from perfanalyzer.errors import PerfAnalyzerError
from perfanalyzer.outcome import RunResult
from perfanalyzer.report import summary
from perfanalyzer.safe_text import terminal_line
from perfanalyzer.settings import Settings


def write(settings: Settings, run: RunResult, stdout: TextIO | None, warn: Callable[[str], None]) -> None:
    """Writes --json; then the first output that failed ends the run (a
    second one is a line of its own)."""
    error = run.output_error
    if settings.json_file:
        doc = summary.document(run.settings or settings, [summary.level_fields(f) for f in run.figures],
                               run.sweep.status, run.sweep.message, run.exit_code, run.workers)
        try:
            summary.write(settings.json_file, doc, stdout)
        except PerfAnalyzerError as e:
            if error is None:
                error = e
            else:
                warn(f"error: {terminal_line(str(e))}")
    if error is not None:
        raise error


@contextlib.contextmanager
def stdout_for_json() -> Iterator[TextIO]:
    """A stream on the real stdout for the document, while file descriptor 1
    (print, the compiled core, libraries) is pointed at stderr."""
    sys.stdout.flush()
    fd = sys.stdout.fileno()
    original = os.dup(fd)
    stream = os.fdopen(os.dup(original), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), fd)
    try:
        yield stream
    finally:
        try:
            stream.close()
        except BrokenPipeError:  # the reader went away: the write already said so
            pass
        sys.stdout.flush()
        os.dup2(original, fd)
        os.close(original)
