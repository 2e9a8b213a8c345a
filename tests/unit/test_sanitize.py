"""The parsers of server answers built with AddressSanitizer and
UndefinedBehaviorSanitizer and run on generated inputs: `make sanitize` runs
a million per parser; this runs fewer, from another seed, on every test run."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INPUTS = 200000


def test_parsers_under_asan_and_ubsan(tmp_path: Path) -> None:
    binary = tmp_path / "fuzz_parsers"
    subprocess.run(["make", "-s", "-C", str(ROOT), "sanitize-build", f"SANITIZE_BIN={binary}"],
                   check=True, timeout=600, capture_output=True)
    run = subprocess.run([str(binary), str(INPUTS), "7"], capture_output=True, text=True, timeout=600)
    # a sanitizer report aborts the run with it on stderr
    assert run.returncode == 0, run.stderr[-4000:]
    lines = run.stdout.splitlines()
    assert sum(f" {INPUTS} inputs in" in line for line in lines) == 5, run.stdout
    assert "no sanitizer report" in lines[-1]
