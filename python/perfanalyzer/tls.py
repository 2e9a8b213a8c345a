"""HTTPS options (perf_analyzer's --ssl-https-* flags): parsed once, checked
once, then handed both to the control plane (pycurl) and to the compiled
curl engine, so the two always verify the server the same way."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

from perfanalyzer.errors import OptionError

CERT_TYPES = ("PEM", "DER")


@dataclass(frozen=True)
class HttpsOptions:
    verify_peer: int = 1
    verify_host: int = 2
    ca_file: str = ""
    cert_file: str = ""
    cert_type: str = "PEM"
    key_file: str = ""
    key_type: str = "PEM"

    def validate(self) -> HttpsOptions:
        if self.verify_peer not in (0, 1):
            raise OptionError(f"--ssl-https-verify-peer: must be 0 or 1, got {self.verify_peer}")
        if self.verify_host not in (0, 1, 2):
            raise OptionError(f"--ssl-https-verify-host: must be 0, 1 or 2, got {self.verify_host}")
        for flag, kind in (("--ssl-https-client-certificate-type", self.cert_type),
                           ("--ssl-https-private-key-type", self.key_type)):
            if kind not in CERT_TYPES:
                raise OptionError(f"{flag}: '{kind}' is not one of {', '.join(CERT_TYPES)}")
        for flag, path in (("--ssl-https-ca-certificates-file", self.ca_file),
                           ("--ssl-https-client-certificate-file", self.cert_file),
                           ("--ssl-https-private-key-file", self.key_file)):
            if path and not os.path.isfile(path):
                raise OptionError(f"{flag} {path}: no such file")
        return self

    def engine_options(self) -> dict[str, Any]:
        """What the compiled curl engine takes (`HttpEngine(tls=...)`)."""
        return {"verify_peer": self.verify_peer, "verify_host": self.verify_host, "ca_file": self.ca_file,
                "cert_file": self.cert_file, "cert_type": self.cert_type if self.cert_file else "",
                "key_file": self.key_file, "key_type": self.key_type if self.key_file else ""}

    def apply_to_pycurl(self, curl: Any, pycurl: Any) -> None:
        """The same options on a pycurl handle (the control plane)."""
        curl.setopt(pycurl.SSL_VERIFYPEER, self.verify_peer)
        curl.setopt(pycurl.SSL_VERIFYHOST, self.verify_host)
        if self.ca_file:
            curl.setopt(pycurl.CAINFO, self.ca_file)
        if self.cert_file:
            curl.setopt(pycurl.SSLCERT, self.cert_file)
            curl.setopt(pycurl.SSLCERTTYPE, self.cert_type)
        if self.key_file:
            curl.setopt(pycurl.SSLKEY, self.key_file)
            curl.setopt(pycurl.SSLKEYTYPE, self.key_type)


def add_flags(g: argparse._ArgumentGroup) -> None:
    """The TLS group of --help: gRPC's flags (also TF Serving's), then HTTPS's."""
    g.add_argument("--ssl-grpc-use-ssl", action="store_true", help="-i grpc and tfserving: connect with TLS")
    g.add_argument("--ssl-grpc-root-certifications-file", default="",
                   help="PEM root certificates that verify the server (default: the system's)")
    g.add_argument("--ssl-grpc-private-key-file", default="", help="PEM private key of the client (mutual TLS)")
    g.add_argument("--ssl-grpc-certificate-chain-file", default="",
                   help="PEM certificate chain of the client (mutual TLS)")
    g.add_argument("--ssl-https-verify-peer", type=int, default=1, metavar="{0,1}",
                   help="1 (default): verify the server's certificate against the CA; 0: accept any")
    g.add_argument("--ssl-https-verify-host", type=int, default=2, metavar="{0,1,2}",
                   help="2 (default): the certificate must name the host of -u; 0: do not check the name")
    g.add_argument("--ssl-https-ca-certificates-file", default="",
                   help="CA certificates (PEM) to verify the server with, instead of the system's")
    g.add_argument("--ssl-https-client-certificate-file", default="",
                   help="client certificate, for servers that require one (mutual TLS)")
    g.add_argument("--ssl-https-client-certificate-type", default="PEM", type=str.upper, metavar="{PEM,DER}",
                   help="PEM (default) or DER")
    g.add_argument("--ssl-https-private-key-file", default="", help="the client certificate's private key")
    g.add_argument("--ssl-https-private-key-type", default="PEM", type=str.upper, metavar="{PEM,DER}",
                   help="PEM (default) or DER")


def from_args(ns: argparse.Namespace) -> HttpsOptions:
    return HttpsOptions(
        verify_peer=ns.ssl_https_verify_peer,
        verify_host=ns.ssl_https_verify_host,
        ca_file=ns.ssl_https_ca_certificates_file,
        cert_file=ns.ssl_https_client_certificate_file,
        cert_type=ns.ssl_https_client_certificate_type,
        key_file=ns.ssl_https_private_key_file,
        key_type=ns.ssl_https_private_key_type,
    )
