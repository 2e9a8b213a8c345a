"""A TLS-terminating nginx in front of Triton's HTTP port, and the throw-away
certificates it needs (made with the openssl command line).

Triton's HTTP endpoint has no TLS of its own; perf_analyzer's --ssl-https-*
options exist for servers behind an HTTPS proxy, which is what this builds.
One nginx process serves every case on its own 127.0.0.1 port:

  good        certificate from `ca` naming 127.0.0.1 and localhost
  wrong_name  certificate from `ca` naming only wrong.example
  self_signed a self-signed certificate naming 127.0.0.1 and localhost
  mutual      the good certificate, and a client certificate from `ca` required
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CASES = ("good", "wrong_name", "self_signed", "mutual")


class TlsRigError(RuntimeError):
    pass


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise TlsRigError(f"openssl {' '.join(args[:2])} failed: {proc.stderr.strip()[-500:]}")


@dataclass(frozen=True)
class Pki:
    dir: Path

    def path(self, name: str) -> str:
        return str(self.dir / name)

    ca = property(lambda self: self.path("ca.pem"))
    wrong_ca = property(lambda self: self.path("wrong_ca.pem"))
    client_cert = property(lambda self: self.path("client.pem"))
    client_key = property(lambda self: self.path("client.key"))
    client_cert_der = property(lambda self: self.path("client.der"))
    client_key_der = property(lambda self: self.path("client_key.der"))


def make_pki(directory: Path) -> Pki:
    """Two CAs, server certificates for each case, a client certificate
    (PEM and DER). EC P-256 keys: fast to make, accepted everywhere."""
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")

    def ca(name: str) -> None:
        _openssl("req", "-x509", *key, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
                 "-subj", f"/CN=perfanalyzer test {name}", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)

    def leaf(name: str, signer: str, san: str, usage: str) -> None:
        _openssl("req", "-new", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN=perfanalyzer test {name}", cwd=d)
        (d / f"{name}.ext").write_text(f"basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"
                                       + (f"subjectAltName={san}\n" if san else ""))
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{signer}.pem", "-CAkey", f"{signer}.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)

    ca("ca")
    ca("wrong_ca")
    leaf("server", "ca", "IP:127.0.0.1,DNS:localhost", "serverAuth")
    leaf("wrong_name", "ca", "DNS:wrong.example", "serverAuth")
    leaf("client", "ca", "", "clientAuth")
    _openssl("req", "-x509", *key, "-keyout", "self_signed.key", "-out", "self_signed.pem", "-days", "2",
             "-subj", "/CN=perfanalyzer test self-signed", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             cwd=d)
    _openssl("x509", "-in", "client.pem", "-outform", "DER", "-out", "client.der", cwd=d)
    _openssl("pkey", "-in", "client.key", "-outform", "DER", "-out", "client_key.der", cwd=d)
    return Pki(d)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nginx_config(pki: Pki, upstream: str, ports: dict[str, int], root: Path) -> str:
    certs = {"good": "server", "wrong_name": "wrong_name", "self_signed": "self_signed", "mutual": "server"}
    servers = []
    for case, port in ports.items():
        name = certs[case]
        verify = (f"        ssl_client_certificate {pki.ca};\n        ssl_verify_client on;\n"
                  if case == "mutual" else "")
        servers.append(
            f"    server {{\n"
            f"        listen 127.0.0.1:{port} ssl;\n"
            f"        ssl_certificate {pki.path(name + '.pem')};\n"
            f"        ssl_certificate_key {pki.path(name + '.key')};\n"
            f"{verify}"
            f"        location / {{\n"
            f"            proxy_pass http://triton;\n"
            f"            proxy_http_version 1.1;\n"
            f"            proxy_set_header Connection \"\";\n"
            f"        }}\n"
            f"    }}\n"
        )
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the temp dirs below
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log warn;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{\n"
        f"    access_log off;\n"
        f"    client_body_temp_path {root}/body;\n    proxy_temp_path {root}/proxy;\n"
        f"    fastcgi_temp_path {root}/fastcgi;\n    uwsgi_temp_path {root}/uwsgi;\n    scgi_temp_path {root}/scgi;\n"
        f"    client_max_body_size 0;\n    keepalive_requests 1000000;\n    keepalive_timeout 120s;\n"
        f"    upstream triton {{\n        server {upstream};\n        keepalive 64;\n    }}\n"
        + "".join(servers) + "}\n"
    )


class TlsProxy:
    """nginx as a foreground process; `url(case)` is that case's https:// URL."""

    def __init__(self, upstream: str, directory: Path) -> None:
        self.upstream = upstream
        self.dir = directory
        self.pki = make_pki(directory / "pki")
        self.ports = {case: _free_port() for case in CASES}
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, case: str) -> str:
        return f"https://127.0.0.1:{self.ports[case]}"

    def start(self, timeout_s: float = 20.0) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(nginx):
            raise TlsRigError("nginx is not installed (Debian package nginx; `make` installs it)")
        root = self.dir / "nginx"
        root.mkdir(parents=True, exist_ok=True)
        conf = root / "nginx.conf"
        conf.write_text(_nginx_config(self.pki, self.upstream, self.ports, root))
        log = open(root / "stderr.log", "wb")
        # -e: nginx opens its compiled-in error log before reading the config; keep even that one here.
        self.proc = subprocess.Popen([nginx, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
                                     stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout_s
        waiting = set(self.ports.values())
        while waiting:
            if self.proc.poll() is not None:
                raise TlsRigError(f"nginx exited with {self.proc.returncode}: {self._log_tail(root)}")
            if time.monotonic() > deadline:
                self.stop()
                raise TlsRigError(f"nginx did not listen within {timeout_s:g} s: {self._log_tail(root)}")
            for port in list(waiting):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        waiting.discard(port)
            time.sleep(0.05)

    @staticmethod
    def _log_tail(root: Path) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            p = root / name
            if p.exists():
                text += p.read_text(errors="replace")
        return text.strip()[-800:] or "(no log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # SIGTERM: nginx's fast shutdown, workers included
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)

    def __enter__(self) -> TlsProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
