"""Running the perfanalyzer CLI as a user would, against the test server."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str


def cli(*args: str, timeout: float = 120) -> CliRun:
    proc = subprocess.run(
        [sys.executable, "-m", "perfanalyzer", *args], capture_output=True, text=True, timeout=timeout
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)
