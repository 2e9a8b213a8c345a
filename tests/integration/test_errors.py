"""Every error a user can hit before or during a run: one line, right exit code."""

from __future__ import annotations

from .helpers import cli


def assert_one_line(stderr: str, *needles: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for n in needles:
        assert n in lines[0], stderr


def test_unknown_model(triton) -> None:
    run = cli("-m", "no_such_model", "-u", triton.http_url)
    assert run.code == 99
    assert_one_line(run.stderr, "no_such_model", triton.http_url)


def test_batch_on_non_batching_model(triton) -> None:
    run = cli("-m", "add_sub", "-u", triton.http_url, "-b", "2")
    assert run.code == 3
    assert_one_line(run.stderr, "can not specify batch size > 1 as the model", "does not support batching")


def test_batch_over_max_batch_size(triton) -> None:
    run = cli("-m", "identity", "-u", triton.http_url, "-b", "65")
    assert run.code == 3
    assert_one_line(run.stderr, "expecting batch size <= 64", "identity")


def test_missing_shape_for_variable_dimension(triton) -> None:
    run = cli("-m", "identity_dynamic", "-u", triton.http_url)
    assert run.code == 3
    assert_one_line(run.stderr, "INPUT0", "--shape")


def test_shape_for_unknown_input(triton) -> None:
    run = cli("-m", "identity_dynamic", "-u", triton.http_url, "--shape", "NOPE:4")
    assert run.code == 3
    assert_one_line(run.stderr, "NOPE", "INPUT0")


def test_incompatible_shape(triton) -> None:
    run = cli("-m", "identity", "-u", triton.http_url, "--shape", "INPUT0:8")
    assert run.code == 3
    assert_one_line(run.stderr, "INPUT0", "[8]", "[16]")


def test_unstable_first_level_exits_2_and_still_reports(triton) -> None:
    # A spread of 0.0001 % over 3 windows never happens on a real machine.
    run = cli("-m", "identity", "-u", triton.http_url, "-p", "200", "-r", "3", "-s", "0.0001")
    assert run.code == 2
    assert "Failed to obtain stable measurement within 3 measurement windows for concurrency 1." in run.stderr
    assert "UNSTABLE" in run.stdout
    assert "Throughput:" in run.stdout


def test_latency_limit_hit_at_first_level(triton) -> None:
    run = cli("-m", "sleep_2ms", "-u", triton.http_url, "-l", "1", "-p", "300", "-s", "100", "-r", "20")
    assert run.code == 2
    assert "Measured latency went over the set limit of 1 msec." in run.stderr
