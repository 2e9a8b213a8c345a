"""HTTPS for real: Triton behind a TLS-terminating nginx, certificates made
for the test. Good certificates measure like plain HTTP; every verification
failure is one clear line and a non-zero exit, never figures."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from perfanalyzer import _core
from perfanalyzer.runner import profile
from perfanalyzer.settings import Range, Settings
from perfanalyzer.tls import HttpsOptions

from .helpers import cli
from .tls_proxy import TlsProxy, TlsRigError

# One window of exactly 100 requests: reported whatever the machine's noise.
FAST = ("--request-count", "100")


@pytest.fixture(scope="module")
def proxy(triton, tmp_path_factory) -> Iterator[TlsProxy]:
    p = TlsProxy(triton.http_url, tmp_path_factory.mktemp("tls"))
    try:
        p.start()
    except TlsRigError as exc:
        pytest.fail(f"could not start the TLS proxy: {exc}", pytrace=False)
    try:
        yield p
    finally:
        p.stop()


def run(proxy: TlsProxy, case: str, *flags: str):
    return cli("-m", "identity", "-u", proxy.url(case), *FAST, *flags)


def assert_one_line_error(r, *needles: str) -> None:
    assert r.code == 99, (r.code, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Request concurrency" not in r.stdout and "Throughput" not in r.stdout


def test_good_certificate_counts_match_the_server(proxy: TlsProxy) -> None:
    s = Settings(model_name="identity", url=proxy.url("good"), concurrency_range=Range(2, 2, 1), request_count=300,
                 https=HttpsOptions(ca_file=proxy.pki.ca)).validate()
    result = profile(s)
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    m = level.merged
    assert m.request_count == 300
    # As over plain HTTP: the server counts the same requests, up to what was
    # in flight at each boundary and what finished while its counters were read.
    skew_s = sum(m.server_skew_ns) / 1e9 + 0.002
    assert abs(m.request_count - m.server.success_count) <= 2 * 2 + m.throughput * skew_s + 1


def test_good_certificate_by_host_name(proxy: TlsProxy) -> None:
    url = proxy.url("good").replace("127.0.0.1", "localhost")
    r = cli("-m", "identity", "-u", url, *FAST, "--ssl-https-ca-certificates-file", proxy.pki.ca)
    assert r.code == 0, r.stderr
    assert "Avg HTTP time" in r.stdout and "Successful request count" in r.stdout


def test_verification_is_on_by_default(proxy: TlsProxy) -> None:
    # No CA given: the system's CAs do not know the test CA.
    assert_one_line_error(run(proxy, "good"), proxy.url("good"), "unable to get local issuer certificate")


def test_wrong_ca(proxy: TlsProxy) -> None:
    r = run(proxy, "good", "--ssl-https-ca-certificates-file", proxy.pki.wrong_ca)
    assert_one_line_error(r, proxy.url("good"), "unable to get local issuer certificate")


def test_wrong_host_name(proxy: TlsProxy) -> None:
    r = run(proxy, "wrong_name", "--ssl-https-ca-certificates-file", proxy.pki.ca)
    assert_one_line_error(r, proxy.url("wrong_name"), "127.0.0.1", "--ssl-https-verify-host 0")
    assert "subject name" in r.stderr or "host name" in r.stderr, r.stderr


def test_wrong_host_name_accepted_with_verify_host_0(proxy: TlsProxy) -> None:
    r = run(proxy, "wrong_name", "--ssl-https-ca-certificates-file", proxy.pki.ca, "--ssl-https-verify-host", "0")
    assert r.code == 0, r.stderr


def test_self_signed_rejected_then_accepted_with_verify_peer_0(proxy: TlsProxy) -> None:
    r = run(proxy, "self_signed")
    assert_one_line_error(r, proxy.url("self_signed"), "SSL certificate")
    assert re.search("self.signed", r.stderr), r.stderr
    r = run(proxy, "self_signed", "--ssl-https-verify-peer", "0")
    assert r.code == 0, r.stderr
    assert "Successful request count" in r.stdout


def test_missing_client_certificate(proxy: TlsProxy) -> None:
    r = run(proxy, "mutual", "--ssl-https-ca-certificates-file", proxy.pki.ca)
    assert_one_line_error(r, proxy.url("mutual"), "No required SSL certificate was sent",
                          "--ssl-https-client-certificate-file")


def test_client_certificate_from_another_ca(proxy: TlsProxy) -> None:
    # A certificate the server's CA did not sign: the server refuses it.
    r = run(proxy, "mutual", "--ssl-https-ca-certificates-file", proxy.pki.ca,
            "--ssl-https-client-certificate-file", proxy.pki.path("wrong_ca.pem"),
            "--ssl-https-private-key-file", proxy.pki.path("wrong_ca.key"))
    assert r.code == 99, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and proxy.url("mutual") in r.stderr, r.stderr


@pytest.mark.parametrize("kind", ["PEM", "DER"])
def test_client_certificate(proxy: TlsProxy, kind: str) -> None:
    cert, key = ((proxy.pki.client_cert, proxy.pki.client_key) if kind == "PEM"
                 else (proxy.pki.client_cert_der, proxy.pki.client_key_der))
    r = run(proxy, "mutual", "--ssl-https-ca-certificates-file", proxy.pki.ca,
            "--ssl-https-client-certificate-file", cert, "--ssl-https-client-certificate-type", kind,
            "--ssl-https-private-key-file", key, "--ssl-https-private-key-type", kind)
    assert r.code == 0, r.stderr
    assert "Successful request count" in r.stdout


def _engine_errors(proxy: TlsProxy, case: str, tls: dict, n: int = 100) -> tuple[int, list[str]]:
    """The compiled curl engine alone (no control plane in front of it):
    n requests, then how many succeeded and the errors it recorded."""
    url = proxy.url(case) + "/v2/models/identity/infer"
    body = (b'{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"FP32","data":' + str([0.0] * 16).encode()
            + b"}]}", ["Content-Type: application/json"])
    e = _core.HttpEngine(url, [body], client="curl", tls=tls)
    try:
        e.set_concurrency(1)
        e.set_budget(n)
        e.start()
        deadline = time.monotonic() + 30
        while e.completed + e.failed < n and time.monotonic() < deadline:
            time.sleep(0.01)
        e.stop(drain_ms=2000)
        return e.completed, e.error_messages()
    finally:
        e.close()


def test_engine_uses_the_tls_options(proxy: TlsProxy) -> None:
    ok, errors = _engine_errors(proxy, "mutual", {"ca_file": proxy.pki.ca, "cert_file": proxy.pki.client_cert_der,
                                                  "cert_type": "DER", "key_file": proxy.pki.client_key_der,
                                                  "key_type": "DER"})
    assert ok == 100 and errors == []
    ok, errors = _engine_errors(proxy, "good", {"ca_file": proxy.pki.wrong_ca}, n=3)
    assert ok == 0 and any("unable to get local issuer certificate" in m for m in errors), errors
    ok, errors = _engine_errors(proxy, "self_signed", {"verify_peer": 0})
    assert ok == 100 and errors == []
