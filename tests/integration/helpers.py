"""Running the perfanalyzer CLI as a user would, against the test server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from triton_launcher import TritonServerError


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


# The CLI on a machine of `cpus` cores: --max-threads is capped by the cores, so
# a run asking for more threads than the test machine has still gets them.
_CLI_ON_CPUS = ("import sys; import perfanalyzer.engine_threads as t; cpus = int(sys.argv.pop(1)); "
                "t.usable_cpus = lambda: cpus; from perfanalyzer.__main__ import main; sys.exit(main())")


def cli_on_cpus(cpus: int, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> CliRun:
    proc = subprocess.run([sys.executable, "-c", _CLI_ON_CPUS, str(cpus), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


def serving(srv: Any) -> Iterator[Any]:
    """A fixture's server: started (a start that fails is a test error with
    the server log's tail, never a skip), yielded, stopped."""
    try:
        srv.start()
    except TritonServerError as exc:
        pytest.fail(f"could not start the Triton server: {exc}", pytrace=False)
    try:
        yield srv
    finally:
        srv.stop()
