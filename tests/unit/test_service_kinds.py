"""--service-kind: which flags each kind takes, where the in-process server's
files are looked for, and TorchServe's data file. No server needed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from perfanalyzer.cli import main as cli_main
from perfanalyzer.cli import parse_args
from perfanalyzer.errors import OptionError, ServerError
from perfanalyzer.services.torchserve import TorchServeService
from perfanalyzer.services.triton_capi import numeric_version, prepare_environment, resolve_layout

REPO = str(Path(__file__).resolve().parents[2] / "examples" / "model_repository")


def capi(*extra: str) -> list[str]:
    return ["-m", "identity", "--service-kind", "triton_c_api", "--model-repository", REPO, *extra]


def test_capi_settings() -> None:
    s = parse_args(capi("--request-rate-range", "100", "--triton-server-directory", "/tmp"))
    assert (s.service_kind, s.model_repository, s.triton_server_directory) == ("triton_c_api", REPO, "/tmp")
    assert s.load_mode == "request_rate"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-m", "identity", "--service-kind", "triton_c_api"],
         "--model-repository should not be empty when using service-kind=triton_c_api."),
        (["-m", "identity", "--service-kind", "triton_c_api", "--model-repository", "/no/such/dir"],
         "--model-repository /no/such/dir: no such directory"),
        (capi("-u", "localhost:8000"), "-u does not apply to --service-kind triton_c_api"),
        (capi("-H", "A: b"), "-H does not apply to --service-kind triton_c_api"),
        (capi("--http-client", "curl"), "--http-client does not apply to --service-kind triton_c_api"),
        (capi("--triton-server-directory", "/no/such/dir"), "--triton-server-directory /no/such/dir: no such"),
        (["-m", "identity", "--model-repository", REPO], "--model-repository applies only to --service-kind "
         "triton_c_api (got triton)"),
        (["-m", "identity", "--triton-server-directory", "/tmp"], "--triton-server-directory applies only"),
        (["-m", "identity", "--service-kind", "tfserve"],
         "Failed to parse --service-kind. Unsupported type provided: 'tfserve'"),
        (["-m", "identity", "--shared-memory", "nvlink"],
         "Failed to parse --shared-memory. Unsupported type provided: 'nvlink'"),
        (["-m", "resnet", "--service-kind", "torchserve"],
         "--input-data should be provided with a json file with input data for torchserve"),
    ],
)
def test_flags_that_do_not_apply(argv: list[str], needle: str) -> None:
    with pytest.raises(OptionError) as e:
        parse_args(argv)
    assert needle in str(e.value)
    assert e.value.exit_code == 3


def test_capi_takes_shared_memory_and_async_as_perf_analyzer_does(capsys) -> None:
    """2.40 runs the C API with --shared-memory system or cuda (exit 0), and
    names -a as not supported there; here both change nothing."""
    for kind in ("system", "cuda"):
        assert parse_args(capi("--shared-memory", kind)).shared_memory == kind
    assert capsys.readouterr().err == ""
    assert parse_args(capi("-a")).async_mode
    assert capsys.readouterr().err == ("WARNING: Async mode is not supported by triton_c_api service kind; "
                                       "-a changes nothing\n")


def test_torchserve_flags(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text('{"data": [{"TORCHSERVE_INPUT": ["x.bin"]}]}')
    s = parse_args(["-m", "resnet", "--service-kind", "torchserve", "--input-data", str(data)])
    assert s.server_url == "localhost:8080"
    assert parse_args(["-m", "m"]).server_url == "localhost:8000"
    for extra, flag in ((["-b", "2"], "-b"), (["--shared-memory", "system"], "--shared-memory system")):
        with pytest.raises(OptionError, match=f"{flag} does not apply to --service-kind torchserve"):
            parse_args(["-m", "resnet", "--service-kind", "torchserve", "--input-data", str(data), *extra])


def test_numeric_version() -> None:
    assert numeric_version("") == -1
    assert numeric_version("3") == 3
    with pytest.raises(OptionError, match="-x latest: the model version must be a number"):
        numeric_version("latest")


def test_layout_names_every_path_searched(tmp_path: Path) -> None:
    with pytest.raises(ServerError) as e:
        resolve_layout(str(tmp_path))
    assert str(tmp_path / "lib" / "libtritonserver.so") in str(e.value)
    wheel = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "pytriton" / "tritonserver"
    wheel.mkdir(parents=True)
    with pytest.raises(ServerError) as e:
        resolve_layout(str(wheel))
    assert str(wheel.parent.parent / "nvidia_pytriton.libs" / "libtritonserver*.so") in str(e.value)


def test_no_server_library_says_which_wheel_to_install(tmp_path: Path) -> None:
    with pytest.raises(ServerError) as given:
        resolve_layout(str(tmp_path))
    assert str(given.value).startswith(f"--triton-server-directory {tmp_path}: no Triton server library")
    assert "pip install nvidia-pytriton" in str(given.value)
    # the default directory, when the wheel is not installed: the flag was never given, so not named first
    with pytest.raises(ServerError) as default:
        resolve_layout(str(tmp_path), given=False)
    assert str(default.value).startswith("--service-kind triton_c_api: no Triton server library (the "
                                         "nvidia-pytriton wheel is not installed here, and none at ")
    assert "pip install nvidia-pytriton" in str(default.value)


def test_no_server_library_is_one_line_from_the_command(tmp_path: Path, capsys) -> None:
    code = cli_main(["-m", "identity", "--service-kind", "triton_c_api", "--model-repository", REPO,
                     "--triton-server-directory", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 99 and err.count("\n") == 1, err
    assert err.startswith(f"error: --triton-server-directory {tmp_path}: no Triton server library")
    assert "pip install nvidia-pytriton" in err


def test_layout_of_install_and_of_wheel(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libtritonserver.so").write_bytes(b"")
    layout = resolve_layout(str(tmp_path))
    assert (layout.library, layout.backends, layout.venv) == (tmp_path / "lib" / "libtritonserver.so",
                                                              tmp_path / "backends", None)
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    wheel = site / "pytriton" / "tritonserver"
    stub = wheel / "python_backend_stubs" / "3.11" / "triton_python_backend_stub"
    stub.parent.mkdir(parents=True)
    stub.write_bytes(b"stub")
    (site / "nvidia_pytriton.libs").mkdir()
    lib = site / "nvidia_pytriton.libs" / "libtritonserver-0123abcd.so"
    lib.write_bytes(b"")
    layout = resolve_layout(str(wheel))
    assert (layout.library, layout.backends, layout.venv, layout.stub_source) == (
        lib, wheel / "backends", tmp_path / "venv", stub)


def test_torchserve_urls_and_bodies(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"\x00\x01image-a")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.bin").write_bytes(b"second")
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"data": [{"TORCHSERVE_INPUT": ["a.jpg"]}, {"TORCHSERVE_INPUT": ["sub/b.bin"]}]}))
    svc = TorchServeService("localhost:8080", ("X-Token: 1",))
    assert svc.infer_url("resnet 50") == "http://localhost:8080/predictions/resnet%2050"
    assert svc.infer_url("resnet", "2") == "http://localhost:8080/predictions/resnet/2"
    s = parse_args(["-m", "resnet", "--service-kind", "torchserve", "--input-data", str(data)])
    bodies, message = svc.bodies(s)
    assert [b for b, _ in bodies] == [b"\x00\x01image-a", b"second"]
    assert bodies[0][1] == ["Content-Type: application/octet-stream", "X-Token: 1"]
    assert message == " Successfully read data for 1 stream/streams with 2 step/steps."


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ("[1]", 'expected {"data": [{"TORCHSERVE_INPUT"'),
        ('{"data": []}', 'expected {"data"'),
        ('{"data": [{"INPUT0": [1]}]}', "data[0]: expected"),
        ('{"data": [{"TORCHSERVE_INPUT": ["a", "b"]}]}', "one file per request"),
        ('{"data": [{"TORCHSERVE_INPUT": ["missing.jpg"]}]}', "data[0]: no such file: missing.jpg"),
        ("{not json", "not valid JSON"),
    ],
)
def test_torchserve_bad_data(tmp_path: Path, doc: str, needle: str) -> None:
    data = tmp_path / "data.json"
    data.write_text(doc)
    s = parse_args(["-m", "resnet", "--service-kind", "torchserve", "--input-data", str(data)])
    with pytest.raises(OptionError) as e:
        TorchServeService("localhost:8080").bodies(s)
    assert needle in str(e.value) and str(data) in str(e.value)


def test_environment_for_the_wheels_python_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    wheel = site / "pytriton" / "tritonserver"
    stub = wheel / "python_backend_stubs" / "3.11" / "triton_python_backend_stub"
    stub.parent.mkdir(parents=True)
    stub.write_bytes(b"the stub for 3.11")
    (wheel / "backends" / "python").mkdir(parents=True)
    (site / "nvidia_pytriton.libs").mkdir()
    (site / "nvidia_pytriton.libs" / "libtritonserver-0123abcd.so").write_bytes(b"")
    (tmp_path / "venv" / "bin").mkdir()
    monkeypatch.setenv("PATH", "/usr/bin")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    layout = resolve_layout(str(wheel))
    prepare_environment(layout)
    prepare_environment(layout)
    assert os.environ["PATH"] == f"{tmp_path / 'venv' / 'bin'}:/usr/bin"
    assert "PYTHONPATH" not in os.environ
    assert (wheel / "backends" / "python" / "triton_python_backend_stub").read_bytes() == b"the stub for 3.11"
