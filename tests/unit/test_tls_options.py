"""--ssl-https-* flags: perf_analyzer's defaults, checks and what reaches curl."""

from __future__ import annotations

import pytest
from perfanalyzer import cli
from perfanalyzer.errors import OPTION_ERROR, OptionError, ServerError
from perfanalyzer.services.triton_http import TritonHttpService, _page_text, _server_message, _tls_hint
from perfanalyzer.tls import HttpsOptions


def test_defaults_verify_peer_and_host():
    s = cli.parse_args(["-m", "m"])
    assert s.https == HttpsOptions(verify_peer=1, verify_host=2)
    assert s.https.engine_options() == {"verify_peer": 1, "verify_host": 2, "ca_file": "", "cert_file": "",
                                        "cert_type": "", "key_file": "", "key_type": ""}


def test_all_flags_parsed(tmp_path):
    ca, cert, key = (tmp_path / n for n in ("ca.pem", "c.der", "k.der"))
    for f in (ca, cert, key):
        f.write_bytes(b"x")
    s = cli.parse_args(["-m", "m", "-u", "https://h:1", "--ssl-https-verify-peer", "0", "--ssl-https-verify-host",
                        "0", "--ssl-https-ca-certificates-file", str(ca), "--ssl-https-client-certificate-file",
                        str(cert), "--ssl-https-client-certificate-type", "der", "--ssl-https-private-key-file",
                        str(key), "--ssl-https-private-key-type", "DER"])
    assert s.https == HttpsOptions(0, 0, str(ca), str(cert), "DER", str(key), "DER")
    assert s.https.engine_options()["cert_type"] == "DER"


@pytest.mark.parametrize(("flags", "message"), [
    (["--ssl-https-verify-peer", "2"], "--ssl-https-verify-peer: must be 0 or 1, got 2"),
    (["--ssl-https-verify-host", "3"], "--ssl-https-verify-host: must be 0, 1 or 2, got 3"),
    (["--ssl-https-client-certificate-type", "P12"], "--ssl-https-client-certificate-type: 'P12' is not one of"),
    (["--ssl-https-private-key-type", "ENG"], "--ssl-https-private-key-type: 'ENG' is not one of"),
    (["--ssl-https-ca-certificates-file", "/nonexistent/ca.pem"],
     "--ssl-https-ca-certificates-file /nonexistent/ca.pem: no such file"),
    (["--ssl-https-client-certificate-file", "/nonexistent/c.pem"], "--ssl-https-client-certificate-file"),
    (["--ssl-https-private-key-file", "/nonexistent/k.pem"], "--ssl-https-private-key-file"),
])
def test_bad_options(flags, message, capsys):
    with pytest.raises(OptionError, match=message.replace(".", r"\.")):
        cli.parse_args(["-m", "m", *flags])
    assert cli.main(["-m", "m", *flags]) == OPTION_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_https_service_unreachable_is_one_line(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    svc = TritonHttpService("https://127.0.0.1:9", https=HttpsOptions(ca_file=str(ca)))
    try:
        assert svc.base_url == "https://127.0.0.1:9"
        # Nothing listens on port 9 (or the CA file is unusable): either way one line naming the URL.
        with pytest.raises(ServerError, match=r"^cannot reach the server at https://127\.0\.0\.1:9: .+"):
            svc.check_ready()
    finally:
        svc.close()


def test_proxy_error_page_becomes_one_line():
    page = (b"<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>\r\n"
            b"<center><h1>400 Bad Request</h1></center>\r\n</body>\r\n</html>\r\n")
    assert _page_text(page) == "400 No required SSL certificate was sent"
    assert _page_text(b"plain\ntext  reply") == "plain text reply"
    assert _server_message(400, _page_text(page)) == "HTTP 400: 400 No required SSL certificate was sent"
    assert _server_message(503, None) == "HTTP 503"
    assert _server_message(400, {"error": "bad input"}) == "bad input"


def test_tls_hints():
    assert "--ssl-https-ca-certificates-file" in _tls_hint(60, "SSL certificate problem: unable to get local issuer")
    assert "--ssl-https-verify-host 0" in _tls_hint(60, "SSL: no alternative certificate subject name matches")
    assert "--ssl-https-private-key-file" in _tls_hint(58, "unable to set private key file")
    assert _tls_hint(7, "Failed to connect") is None  # not TLS: "cannot reach the server"
