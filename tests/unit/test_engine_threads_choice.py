"""How many engine threads a run gets from --max-threads."""

from __future__ import annotations

from perfanalyzer.cli import parse_args
from perfanalyzer.engine_threads import engine_threads, usable_cpus


def threads(*argv: str, cpus: int = 8) -> int:
    return engine_threads(parse_args(["-m", "m", *argv]), cpus=cpus)


def test_one_thread_unless_asked() -> None:
    assert threads() == 1
    assert threads("--concurrency-range", "64") == 1
    assert threads("--request-rate-range", "10000") == 1


def test_asked_threads_are_capped_by_cpus_and_concurrency() -> None:
    assert threads("--max-threads", "4", "--concurrency-range", "16") == 4
    assert threads("--max-threads", "16", "--concurrency-range", "16", cpus=2) == 2
    assert threads("--max-threads", "4", "--concurrency-range", "1:3") == 3
    assert threads("--max-threads", "4", "--concurrency-range", "1:0", "-l", "5") == 4  # open-ended sweep
    assert threads("--max-threads", "3", "--request-rate-range", "100") == 3


def test_periodic_ramp_runs_on_one_thread(tmp_path) -> None:
    assert threads("--max-threads", "4", "--periodic-concurrency-range", "1:8:1",
                   "--profile-export-file", str(tmp_path / "r.json")) == 1


def test_usable_cpus_is_positive() -> None:
    assert usable_cpus() >= 1
