"""TorchServe's inference API (--service-kind torchserve): POST
/predictions/{model}[/{version}] with a file's contents as the body, sent by
the compiled HTTP engine. TorchServe has no statistics endpoint that matches
Triton's, so only client-side figures are reported, as perf_analyzer does."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from perfanalyzer.errors import OptionError, ServerError
from perfanalyzer.safe_text import escape_controls
from perfanalyzer.services.base import LoadSpec, Service
from perfanalyzer.services.triton_http import TritonHttpService, split_url
from perfanalyzer.settings import Settings
from perfanalyzer.tls import HttpsOptions

if TYPE_CHECKING:
    from perfanalyzer import _core

INPUT_KEY = "TORCHSERVE_INPUT"
DEFAULT_URL = "localhost:8080"
PING_TIMEOUT_S = 10.0


class TorchServeService(Service):
    protocol_label = "HTTP"

    @classmethod
    def from_settings(cls, settings: Settings, out: Callable[[str], None]) -> TorchServeService:
        return cls(settings.server_url, settings.http_headers, https=settings.https)

    def __init__(self, url: str, headers: tuple[str, ...] = (), https: HttpsOptions | None = None) -> None:
        scheme, host = split_url(url)
        if scheme not in ("http", "https") or not host:
            raise ServerError(f"-u {url}: invalid server URL (expected host:port or http://host:port)")
        self.base_url = f"{scheme}://{host}"
        self.headers = list(headers)
        self.https = https

    def check_ready(self) -> None:
        """TorchServe's health API (GET /ping on the inference port answers
        {"status": "Healthy"}) before any load: a server that is down, or
        something else on the port, is one line here rather than a window of
        failed requests. The same client, headers and TLS options as Triton's
        control plane."""
        what = "TorchServe's liveness check (GET /ping)"
        hint = "; is TorchServe up, with its inference API on this port?"
        http = TritonHttpService(self.base_url, tuple(self.headers), timeout_s=PING_TIMEOUT_S, https=self.https)
        try:
            status, body = http.get("/ping", what=what)
        except ServerError as e:
            raise ServerError(f"{e}{hint}") from None
        finally:
            http.close()
        if status != 200 or not isinstance(body, dict) or body.get("status") != "Healthy":
            raise ServerError(f"{what} failed on the server at {http.shown_url}: {_ping_answer(status, body)}{hint}")

    def infer_url(self, model: str, version: str = "") -> str:
        path = f"/predictions/{quote(model, safe='')}" + (f"/{quote(version, safe='')}" if version else "")
        return self.base_url + path

    def server_stats(self, model: str, version: str = "") -> None:
        return None

    def bodies(self, settings: Settings) -> tuple[list[tuple[bytes, list[str]]], str]:
        """One request per data entry, in file order: (body, header lines), and
        perf_analyzer's line about the data read."""
        if len(settings.input_data_paths) != 1 or not os.path.isfile(settings.input_data_paths[0]):
            raise OptionError("--service-kind torchserve needs --input-data with one JSON file "
                              f'{{"data": [{{"{INPUT_KEY}": ["path/to/file"]}}]}}')
        path = settings.input_data_paths[0]
        headers = ["Content-Type: application/octet-stream", *self.headers]
        out = [(read_input(path, entry, i), headers) for i, entry in enumerate(_entries(path))]
        return out, f" Successfully read data for 1 stream/streams with {len(out)} step/steps."

    def load_spec(self, settings: Settings) -> LoadSpec:
        from perfanalyzer.engine_threads import engine_threads

        bodies, message = self.bodies(settings)
        return LoadSpec(settings, bodies, threads=engine_threads(settings), data_message=message)

    def make_engine(self, load: LoadSpec) -> _core.Engine:
        from perfanalyzer import _core

        settings = load.settings
        return _core.HttpEngine(self.infer_url(settings.model_name, settings.model_version), load.bodies,
                                request_timeout_ms=settings.request_timeout_ms,
                                client=settings.http_client, threads=load.threads)

    def close(self) -> None:
        pass


def _ping_answer(status: int, body: Any) -> str:
    if isinstance(body, dict):
        text = json.dumps(body)
    else:
        text = body or "an empty body"
    return f"HTTP {status}: {escape_controls(str(text)[:200])}"


def _entries(path: str) -> list[object]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as e:
        raise OptionError(f"--input-data {path}: cannot read: {e.strerror}") from None
    except ValueError as e:
        raise OptionError(f"--input-data {path}: not valid JSON: {e}") from None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list) or not data:
        raise OptionError(f'--input-data {path}: expected {{"data": [{{"{INPUT_KEY}": ["path/to/file"]}}, ...]}}')
    return data


def read_input(json_path: str, entry: object, index: int) -> bytes:
    """The file an entry names; relative paths are tried from the current
    directory first (as perf_analyzer opens them), then from the JSON file's."""
    where = f"--input-data {json_path}: data[{index}]"
    files = entry.get(INPUT_KEY) if isinstance(entry, dict) else None
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or len(files) != 1 or not isinstance(files[0], str):
        raise OptionError(f'{where}: expected {{"{INPUT_KEY}": ["path/to/file"]}} (one file per request)')
    name = files[0]
    candidates = [name] if os.path.isabs(name) else [name, os.path.join(os.path.dirname(json_path), name)]
    for cand in candidates:
        if os.path.isfile(cand):
            try:
                with open(cand, "rb") as fh:
                    return fh.read()
            except OSError as e:
                raise OptionError(f"{where}: cannot read {cand}: {e.strerror}") from None
    raise OptionError(f"{where}: no such file: {name}")
