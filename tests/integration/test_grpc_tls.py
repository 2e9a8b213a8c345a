"""gRPC over TLS against a real Triton started with mutual TLS, with a throw-away CA made by openssl."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from triton_launcher import TritonServer, TritonServerError

from .helpers import cli

EXT = "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(d: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}", cwd=d)


def _leaf(d: Path, name: str, ca: str) -> None:
    """A key and a certificate for 127.0.0.1 (IP only: "localhost" does not match it), signed by `ca`."""
    (d / "ext.cnf").write_text(EXT)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.crt", "-days", "2", "-extfile", "ext.cnf", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make the test certificates (Debian package openssl)", pytrace=False)
    d = tmp_path_factory.mktemp("tls")
    _ca(d, "ca")
    _ca(d, "other_ca")
    _leaf(d, "server", "ca")
    _leaf(d, "client", "ca")
    return d


@pytest.fixture(scope="module")
def tls_triton(certs: Path, model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    """Triton with mutual TLS on gRPC, serving only `identity` (fast to start)."""
    repo = tmp_path_factory.mktemp("repo")
    (repo / "identity").symlink_to(model_repository / "identity", target_is_directory=True)
    server = TritonServer(repo, extra_args=[
        "--grpc-use-ssl=true", "--grpc-use-ssl-mutual=true", f"--grpc-server-cert={certs / 'server.crt'}",
        f"--grpc-server-key={certs / 'server.key'}", f"--grpc-root-cert={certs / 'ca.crt'}"])
    try:
        server.start()
    except TritonServerError as exc:
        pytest.fail(f"could not start the TLS Triton server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def _run(server: TritonServer, certs: Path, *extra: str, host: str = "127.0.0.1", ca: str = "ca.crt",
         client_cert: bool = True):
    args = ["-m", "identity", "-i", "grpc", "-u", f"{host}:{server.grpc_port}", "-p", "300", "-s", "100", "-r", "20",
            "--ssl-grpc-use-ssl", "--ssl-grpc-root-certifications-file", str(certs / ca)]
    if client_cert:
        args += ["--ssl-grpc-private-key-file", str(certs / "client.key"),
                 "--ssl-grpc-certificate-chain-file", str(certs / "client.crt")]
    return cli(*args, *extra)


def _assert_fails_clearly(run, *needles: str) -> None:
    assert run.code == 99, (run.code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    for n in needles:
        assert n in lines[0], run.stderr


def test_mutual_tls_profiles(tls_triton: TritonServer, certs: Path) -> None:
    run = _run(tls_triton, certs)
    assert run.code == 0, run.stderr
    assert "Avg gRPC time" in run.stdout and "Successful request count" in run.stdout


def test_mutual_tls_streaming(tls_triton: TritonServer, certs: Path) -> None:
    run = _run(tls_triton, certs, "--streaming")
    assert run.code == 0, run.stderr
    assert "Response Throughput" in run.stdout


def test_plain_client_against_tls_server_fails(tls_triton: TritonServer) -> None:
    run = cli("-m", "identity", "-i", "grpc", "-u", tls_triton.grpc_url)
    _assert_fails_clearly(run, tls_triton.grpc_url)


def test_wrong_ca_fails(tls_triton: TritonServer, certs: Path) -> None:
    _assert_fails_clearly(_run(tls_triton, certs, ca="other_ca.crt"), f"127.0.0.1:{tls_triton.grpc_port}")


def test_wrong_host_name_fails(tls_triton: TritonServer, certs: Path) -> None:
    # The server's certificate names 127.0.0.1 only; verification is on by default.
    _assert_fails_clearly(_run(tls_triton, certs, host="localhost"), f"localhost:{tls_triton.grpc_port}")


def test_missing_client_certificate_fails(tls_triton: TritonServer, certs: Path) -> None:
    _assert_fails_clearly(_run(tls_triton, certs, client_cert=False), f"127.0.0.1:{tls_triton.grpc_port}")


def test_missing_certificate_file_is_an_option_error(certs: Path) -> None:
    run = cli("-m", "identity", "-i", "grpc", "--ssl-grpc-use-ssl", "--ssl-grpc-root-certifications-file",
              str(certs / "nope.crt"))
    assert run.code == 3
    assert "--ssl-grpc-root-certifications-file" in run.stderr and "nope.crt" in run.stderr
