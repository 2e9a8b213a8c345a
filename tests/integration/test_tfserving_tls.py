"""--service-kind tfserving over TLS: the loopback PredictionService of
test_tfserving started with server-side and with mutual TLS, certificates made
at test time by openssl. Both the metadata call (grpcio) and the load (the
compiled engine) must go through TLS: the server only speaks TLS."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from .helpers import cli
from .test_grpc_tls import _ca, _leaf
from .test_tfserving import MODEL, VERSION, AddModel, Received, _array, serve


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make the test certificates (Debian package openssl)", pytrace=False)
    d = tmp_path_factory.mktemp("tfs_tls")
    _ca(d, "ca")
    _ca(d, "other_ca")
    _leaf(d, "server", "ca")
    _leaf(d, "client", "ca")
    return d


def _serve(certs: Path, mutual: bool) -> tuple[grpc.Server, int, Received]:
    received = Received()
    creds = grpc.ssl_server_credentials(
        [((certs / "server.key").read_bytes(), (certs / "server.crt").read_bytes())],
        root_certificates=(certs / "ca.crt").read_bytes() if mutual else None, require_client_auth=mutual)
    server, port = serve(AddModel(received), creds)
    return server, port, received


@pytest.fixture(params=["server", "mutual"])
def tls_tfserving(request: pytest.FixtureRequest, certs: Path) -> Iterator[tuple[int, Received, bool]]:
    mutual = request.param == "mutual"
    server, port, received = _serve(certs, mutual)
    try:
        yield port, received, mutual
    finally:
        server.stop(grace=None).wait(10)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.json"
    path.write_text('{"data": [{"a": [0.5, 1.5, 2.5, 3.5], "b": [1, 2, 3, 4]}]}')
    return path


def _tls_args(certs: Path, ca: str = "ca.crt", client_cert: bool = True) -> list[str]:
    args = ["--ssl-grpc-use-ssl", "--ssl-grpc-root-certifications-file", str(certs / ca)]
    if client_cert:
        args += ["--ssl-grpc-private-key-file", str(certs / "client.key"),
                 "--ssl-grpc-certificate-chain-file", str(certs / "client.crt")]
    return args


def _assert_one_line(run, *needles: str) -> None:
    assert run.code == 99, (run.code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    for needle in needles:
        assert needle in lines[0], run.stderr


def test_predict_over_tls(tls_tfserving: tuple[int, Received, bool], certs: Path, data_file: Path) -> None:
    port, received, mutual = tls_tfserving
    run = cli("-m", MODEL, "-x", str(VERSION), "--service-kind", "tfserving", "-u", f"127.0.0.1:{port}",
              "--input-data", str(data_file), "--request-count", "30", *_tls_args(certs, client_cert=mutual))
    assert run.code == 0, run.stderr
    assert "    Request count: 30\n" in run.stdout
    assert len(received.metadata) == 1 and len(received.predict) == 30
    assert {tuple(_array(r.inputs["b"]).reshape(-1)) for r in received.predict} == {(1, 2, 3, 4)}


def test_wrong_ca_fails(tls_tfserving: tuple[int, Received, bool], certs: Path) -> None:
    port, received, mutual = tls_tfserving
    run = cli("-m", MODEL, "--service-kind", "tfserving", "-u", f"127.0.0.1:{port}", "-p", "300",
              *_tls_args(certs, ca="other_ca.crt", client_cert=mutual))
    _assert_one_line(run, f"127.0.0.1:{port}")
    assert "handshake" in run.stderr.lower(), run.stderr  # says why, not only that the server is unreachable
    assert not received.metadata and not received.predict


def test_plain_client_against_tls_server_fails(tls_tfserving: tuple[int, Received, bool]) -> None:
    port, received, _ = tls_tfserving
    run = cli("-m", MODEL, "--service-kind", "tfserving", "-u", f"127.0.0.1:{port}", "-p", "300")
    _assert_one_line(run, f"127.0.0.1:{port}")
    assert not received.metadata


def test_missing_client_certificate_fails(certs: Path) -> None:
    server, port, received = _serve(certs, mutual=True)
    try:
        run = cli("-m", MODEL, "--service-kind", "tfserving", "-u", f"127.0.0.1:{port}", "-p", "300",
                  *_tls_args(certs, client_cert=False))
    finally:
        server.stop(grace=None).wait(10)
    _assert_one_line(run, f"127.0.0.1:{port}")
    assert not received.metadata
