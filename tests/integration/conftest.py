"""Fixtures that run the integration tests against a real Triton server.

The server comes from the server venv (`make server-venv`, or $PA_SERVER_VENV).
If it cannot start, every test that uses `triton` ERRORS with the server log's
tail: nothing is skipped, so a broken rig can never pass for a green run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# The launcher is a stand-alone script in tools/, not part of the package.
sys.path.insert(0, str(REPO_ROOT / "tools"))

from triton_launcher import TritonServer  # noqa: E402

from .helpers import serving  # noqa: E402


@pytest.fixture(scope="session")
def model_repository() -> Path:
    """examples/model_repository: identity, add_sub, sleep_2ms, identity_dynamic,
    pass_through, ensemble_add_sub (add_sub -> pass_through), bls_add_sub,
    string_echo, optional_add, repeat_4 (decoupled)."""
    return REPO_ROOT / "examples" / "model_repository"


@pytest.fixture(scope="session")
def triton(model_repository: Path) -> Iterator[TritonServer]:
    """One server for the whole session (startup costs a few seconds)."""
    yield from serving(TritonServer(model_repository))
