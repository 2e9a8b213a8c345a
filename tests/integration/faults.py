"""What every fault-injection case asserts about a run of the real CLI: its
exit code, exactly one line on stderr naming the problem, no traceback, and
no raw control character reaching the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

# Short, loose windows: the fake servers answer in microseconds.
FAST = ("-p", "200", "-r", "3", "-s", "100")
# A run that must succeed: one window of exactly this many requests is stable by definition.
COUNTED = ("--request-count", "300")
CLI = os.path.join(os.path.dirname(sys.executable), "perfanalyzer")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def run(*args: str, timeout: float = 60) -> Run:
    """The installed console script, as a user runs it; a run past `timeout` fails the test."""
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def one_line(r: Run, code: int, *needles: str) -> str:
    """The one stderr line of a failed run, checked."""
    assert "Traceback" not in r.stderr, r.stderr
    assert r.code == code, f"exit {r.code}, stderr: {r.stderr}"
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    for stream in (r.stdout, r.stderr):
        assert not any(ord(c) < 32 and c not in "\n\t" for c in stream), repr(stream[-300:])
    return lines[0]
