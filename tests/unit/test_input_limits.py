"""Flags and files that would need GiB-TiB of memory, 10^12 sweep levels or
a never-ending read are refused up front with one line naming the flag."""

from __future__ import annotations

import os
import resource
import threading

import pytest
from perfanalyzer import cli, data_loader, input_files, limits
from perfanalyzer.errors import GENERIC_ERROR, OPTION_ERROR, OptionError, ServerError
from perfanalyzer.model import ModelSpec, TensorSpec


def refused(argv: list[str], match: str) -> None:
    with pytest.raises(OptionError, match=match):
        cli.parse_args(["-m", "m", *argv])


@pytest.mark.parametrize("value, match", [
    ("inf", "--request-rate-range: start must be a finite number"),
    ("1:inf", "--request-rate-range: end must be a finite number"),
    ("nan", "--request-rate-range: start"),
    ("1:nan:1", "--request-rate-range: end must be a finite number"),
    ("1:10:inf", "--request-rate-range: step must be a finite number"),
    ("1:1e12:1", "--request-rate-range: the range has 1000000000000 levels"),
])
def test_rate_ranges_that_cannot_be_swept(value, match):
    refused(["--request-rate-range", value], match)


def test_concurrency_range_with_too_many_levels():
    refused(["--concurrency-range", "1:10000000"], "--concurrency-range: the range has 10000000 levels")


def test_a_large_but_real_rate_range_is_kept():
    assert len(cli.parse_args(["-m", "m", "--request-rate-range", "10:100000:10"]).request_rate_range.levels()) \
        == 10000


def test_string_length_beyond_a_request():
    refused(["--string-length", str(10**12)], "--string-length: 1000000000000 characters")


@pytest.mark.parametrize("flag", ["--input-data", "--request-intervals"])
def test_devices_are_not_data_files(flag):
    refused([flag, "/dev/zero"], f"{flag} /dev/zero: is a device")


def test_a_fifo_is_read_up_to_a_bound(tmp_path):
    fifo = tmp_path / "intervals"
    os.mkfifo(fifo)

    def write() -> None:  # more than the bound; fits the pipe's buffer, so it never blocks
        with open(fifo, "wb") as fh:
            fh.write(b"100\n" * 64)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with pytest.raises(OptionError, match="--request-intervals .*: more than 100 bytes came from this stream"):
        input_files.read_bytes("--request-intervals", str(fifo), limit=100)
    writer.join(timeout=10)


SPEC = ModelSpec("m", "", "", 0, (TensorSpec("INPUT0", "FP32", (-1,)), TensorSpec("TEXT", "BYTES", (4,))), ())


def test_shape_of_a_terabyte_is_refused_before_allocating():
    s = cli.parse_args(["-m", "m", "--shape", "INPUT0:1000000000000"])
    with pytest.raises(OptionError, match=r"--shape INPUT0:1000000000000: 1000000000000 x FP32 elements need "
                                          r"3\.6 TiB; one request's inputs are limited to 2\.0 GiB"):
        data_loader.load(s, SPEC)


def test_string_length_that_fits_alone_but_not_times_the_elements():
    s = cli.parse_args(["-m", "m", "--shape", "INPUT0:1", "--string-length", str(1 << 30)])
    with pytest.raises(OptionError, match=r"input 'TEXT' \[4\] with --string-length 1073741824: 4 x BYTES"):
        data_loader.load(s, SPEC)


def test_batch_size_is_part_of_the_size():
    spec = ModelSpec("m", "", "", 64, (TensorSpec("INPUT0", "FP32", (-1,)),), ())
    limits.check_generated_size(spec, {"INPUT0": (1 << 20,)}, 8, 128)  # 32 MiB: fine
    with pytest.raises(OptionError, match="at -b 64"):
        limits.check_generated_size(spec, {"INPUT0": (1 << 24,)}, 64, 128)


def test_connections_past_the_open_file_limit():
    limits.check_connections("--concurrency-range", 100, limit=1024)
    with pytest.raises(OptionError, match=r"--concurrency-range: 1000000 requests in flight need as many "
                                          r"connections, but this process may open at most 1024 files \(ulimit -n\)"):
        limits.check_connections("--concurrency-range", 1_000_000, limit=1024)


def test_concurrency_of_a_million_exits_3_before_any_connection(capsys):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    hard = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    level = max(1_000_000, hard + 1)  # past whatever the limit can be raised to
    # Port 9 on loopback: nothing listens; the refusal comes before any attempt.
    code = cli.main(["-m", "m", "-u", "127.0.0.1:9", "--concurrency-range", str(level)])
    err = capsys.readouterr().err
    assert code == OPTION_ERROR, err
    assert err.startswith(f"error: --concurrency-range: {level} requests in flight") and err.count("\n") == 1


def test_a_models_own_huge_fixed_dims_are_the_servers_fault():
    spec = ModelSpec("m", "", "", 0, (TensorSpec("INPUT0", "INT64", (1 << 40,)),), ())
    with pytest.raises(ServerError, match=r"model 'm' from the server: input 'INPUT0' \[1099511627776\]: "
                                          r"1099511627776 x INT64 elements need 8\.0 TiB") as e:
        data_loader.load(cli.parse_args(["-m", "m"]), spec)
    assert e.value.exit_code == GENERIC_ERROR


def test_requests_sharing_connections_are_bounded_by_memory():
    limits.check_memory("--concurrency-range", 1000, "gRPC", available=1 << 30)  # 16 MiB of 1 GiB: fine
    with pytest.raises(OptionError, match=r"--concurrency-range: 1000000 requests in flight need about 15\.3 GiB "
                                          r"of client memory over gRPC \(16\.0 KiB each\), over half of the "
                                          r"8\.0 GiB available; use at most 262144"):
        limits.check_memory("--concurrency-range", 1_000_000, "gRPC", available=8 << 30)


def test_available_memory_is_read_from_proc():
    got = limits.available_memory()
    assert got is not None and got > 0


@pytest.mark.parametrize("kind", ["grpc", "capi", "tfserving"])
def test_a_billion_in_flight_over_shared_connections_exits_3_before_any_call(capsys, tmp_path, kind):
    # gRPC multiplexes requests over a few connections, so ulimit -n does not
    # bound them; without this check the client would try to hold 15 TiB.
    flags = {"grpc": ["-i", "grpc"],
             "capi": ["--service-kind", "triton_c_api", "--triton-server-directory", str(tmp_path),
                      "--model-repository", str(tmp_path)],
             "tfserving": ["--service-kind", "tfserving", "-i", "grpc"]}[kind]
    url = [] if kind == "capi" else ["-u", "127.0.0.1:9"]
    code = cli.main(["-m", "m", *url, *flags, "--concurrency-range", "1000000000"])
    err = capsys.readouterr().err
    assert code == OPTION_ERROR, err
    assert err.startswith("error: --concurrency-range: 1000000000 requests in flight need about 14.9 TiB"), err
    assert err.count("\n") == 1
