"""The --ssl-grpc-* files as the gRPC engine (and TF Serving's metadata
channel) take them: their PEM contents, read once before any load."""

from __future__ import annotations

from perfanalyzer.errors import PerfAnalyzerError
from perfanalyzer.settings import Settings


def grpc_engine_tls(settings: Settings) -> dict[str, object]:
    """The gRPC engine's TLS arguments: PEM contents of the --ssl-grpc-* files
    (none without --ssl-grpc-use-ssl)."""
    if not settings.ssl_grpc_use_ssl:
        return {}

    def read(flag: str, path: str) -> bytes | None:
        if not path:
            return None
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as e:
            raise PerfAnalyzerError(f"{flag} {path}: cannot read: {e.strerror}") from None

    return dict(use_ssl=True,
                root_certs=read("--ssl-grpc-root-certifications-file", settings.ssl_grpc_root_certifications_file),
                private_key=read("--ssl-grpc-private-key-file", settings.ssl_grpc_private_key_file),
                cert_chain=read("--ssl-grpc-certificate-chain-file", settings.ssl_grpc_certificate_chain_file))
