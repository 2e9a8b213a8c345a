"""Shared-memory flags and regions, without a server."""

from __future__ import annotations

import os

import pytest
from perfanalyzer.cli import parse_args
from perfanalyzer.errors import OptionError
from perfanalyzer.shm import SHM_DIR, Region


def test_flags_and_defaults() -> None:
    s = parse_args(["-m", "m"])
    assert (s.shared_memory, s.output_shared_memory_size) == ("none", 102400)
    s = parse_args(["-m", "m", "--shared-memory", "SYSTEM", "--output-shared-memory-size", "64"])
    assert (s.shared_memory, s.output_shared_memory_size) == ("system", 64)


@pytest.mark.parametrize("args, words", [
    (["--shared-memory", "gpu"], "Failed to parse --shared-memory. Unsupported type provided: 'gpu'."),
    (["--output-shared-memory-size", "0"], "--output-shared-memory-size: must be > 0"),
])
def test_bad_flags(args: list[str], words: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_args(["-m", "m", *args])
    assert words in str(info.value)


def test_region_is_mapped_then_unlinked() -> None:
    key = f"/perfanalyzer_unit_{os.getpid()}"
    r = Region(key, 100)
    try:
        assert os.path.getsize(os.path.join(SHM_DIR, key[1:])) == 100
        r.map[0:3] = b"abc"
        with open(os.path.join(SHM_DIR, key[1:]), "rb") as f:
            assert f.read(3) == b"abc"
        with pytest.raises(FileExistsError):
            Region(key, 10)                      # never reuses someone else's object
    finally:
        r.close()
    assert not os.path.exists(os.path.join(SHM_DIR, key[1:]))
    r.close()                                    # twice is fine
