"""Triton over HTTP: control plane on the REST endpoints, and the KServe v2
request bodies (JSON header + binary tensor data) the compiled engine sends."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import numpy as np

from perfanalyzer.errors import OptionError, ServerError
from perfanalyzer.inputs import TensorDataError, tensor_bytes, tensor_json_values
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.server_stats import ServerStats
from perfanalyzer.tls import HttpsOptions


def split_url(url: str) -> tuple[str, str]:
    """'http://host:port/' or 'host:port' -> ('http', 'host:port')."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "http", url.rstrip("/")
    return scheme.lower(), rest.rstrip("/")


class TritonHttpService:
    """Control plane over Triton's REST endpoints (KServe v2 + extensions).

    pycurl on one kept-alive handle: it imports in milliseconds, where
    tritonclient.http's gevent stack costs the client ~0.4 s of CPU at start,
    which the benchmark charges to every request of a short run."""

    def __init__(self, url: str, headers: tuple[str, ...] = (), verbose: bool = False,
                 timeout_s: float = 30.0, https: HttpsOptions | None = None) -> None:
        import pycurl

        self.scheme, self.host = split_url(url)
        if self.scheme not in ("http", "https") or not self.host:
            raise ServerError(f"-u {url}: invalid server URL (expected host:port or http://host:port)")
        self.base_url = f"{self.scheme}://{self.host}"
        self.headers = {k.strip(): v.strip() for k, _, v in (h.partition(":") for h in headers)}
        self._pycurl = pycurl
        self._curl = pycurl.Curl()
        self._curl.setopt(pycurl.NOSIGNAL, 1)
        self._curl.setopt(pycurl.TIMEOUT_MS, int(timeout_s * 1000))
        self._curl.setopt(pycurl.VERBOSE, 1 if verbose else 0)
        self._curl.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in self.headers.items()])
        (https or HttpsOptions()).apply_to_pycurl(self._curl, pycurl)

    def _get(self, path: str) -> tuple[int, Any]:
        """GET base_url + path -> (HTTP status, decoded JSON body or None)."""
        pc, buf = self._pycurl, bytearray()
        self._curl.setopt(pc.URL, self.base_url + path)
        self._curl.setopt(pc.WRITEFUNCTION, buf.extend)
        try:
            self._curl.perform()
        except pc.error as e:
            reason = e.args[1] if len(e.args) > 1 and e.args[1] else f"curl error {e.args[0]}"
            raise ServerError(f"cannot reach the server at {self.base_url}: {reason}") from None
        status = int(self._curl.getinfo(pc.RESPONSE_CODE))
        try:
            body = json.loads(buf) if buf else None
        except ValueError:
            # Not Triton's JSON (a proxy's error page, say): keep its text for the message.
            body = _page_text(bytes(buf))
        return status, body

    def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST a JSON body -> (HTTP status, decoded JSON answer or None)."""
        pc, buf = self._pycurl, bytearray()
        self._curl.setopt(pc.URL, self.base_url + path)
        self._curl.setopt(pc.WRITEFUNCTION, buf.extend)
        self._curl.setopt(pc.POSTFIELDS, json.dumps(body))
        try:
            self._curl.perform()
        except pc.error as e:
            reason = e.args[1] if len(e.args) > 1 and e.args[1] else f"curl error {e.args[0]}"
            raise ServerError(f"cannot reach the server at {self.base_url}: {reason}") from None
        finally:
            self._curl.setopt(pc.HTTPGET, 1)  # the handle is shared with the GETs
        status = int(self._curl.getinfo(pc.RESPONSE_CODE))
        try:
            answer = json.loads(buf) if buf else None
        except ValueError:
            answer = None
        return status, answer

    def _get_json(self, what: str, path: str) -> dict[str, Any]:
        status, body = self._get(path)
        if status != 200 or not isinstance(body, dict):
            raise ServerError(f"{what} failed on the server at {self.base_url}: {_server_message(status, body)}")
        return body

    def check_ready(self) -> None:
        for what in ("live", "ready"):
            status, body = self._get(f"/v2/health/{what}")
            if status != 200:
                raise ServerError(f"the server at {self.base_url} is not {what}: {_server_message(status, body)}")

    @staticmethod
    def _model_path(model: str, version: str) -> str:
        return f"/v2/models/{quote(model, safe='')}" + (f"/versions/{quote(version, safe='')}" if version else "")

    def model_spec(self, model: str, version: str = "") -> ModelSpec:
        path = self._model_path(model, version)
        status, meta = self._get(path)
        if status != 200 or not isinstance(meta, dict):
            raise ServerError(
                f"model '{model}'{f' version {version}' if version else ''} is not available on the "
                f"server at {self.base_url}: {_server_message(status, meta)}"
            )
        config = self._get_json(f"reading the config of model '{model}'", path + "/config")
        if self._get(path + "/ready")[0] != 200:
            raise ServerError(f"model '{model}' is not ready on the server at {self.base_url}")
        return spec_from_documents(model, version, meta, config)

    def server_stats(self, model: str, version: str = "") -> ServerStats:
        return ServerStats.from_response(self.statistics(model, version), model, version)

    def statistics(self, model: str = "", version: str = "") -> dict[str, Any]:
        """Triton's statistics answer for one model, or for every model when model is ""."""
        path = self._model_path(model, version) + "/stats" if model else "/v2/models/stats"
        return self._get_json("reading statistics", path)

    def model_config(self, model: str, version: str = "") -> dict[str, Any]:
        status, config = self._get(self._model_path(model, version) + "/config")
        if status != 200 or not isinstance(config, dict):
            raise ServerError(
                f"model '{model}'{f' version {version}' if version else ''} is not available on the "
                f"server at {self.base_url}: {_server_message(status, config)}"
            )
        return config

    def trace_settings(self, model: str = "") -> dict[str, Any]:
        """Triton's trace extension: the model's settings, or the global ones."""
        path = (self._model_path(model, "") if model else "/v2") + "/trace/setting"
        return self._get_json("reading the trace settings", path)

    def update_trace_settings(self, model: str, changes: dict[str, Any]) -> dict[str, Any]:
        """POSTs `changes` (None clears a model setting back to the global one)."""
        status, answer = self._post(self._model_path(model, "") + "/trace/setting", changes)
        if status != 200 or not isinstance(answer, dict):
            raise ServerError(f"updating the trace settings of model '{model}' failed on the server at "
                              f"{self.base_url}: {_server_message(status, answer)}")
        return answer

    def infer_url(self, model: str, version: str = "") -> str:
        return self.base_url + self._model_path(model, version) + "/infer"

    def encode_request(
        self, spec: ModelSpec, tensors: dict[str, np.ndarray], request_id: str = "", *,
        input_format: str = "binary", output_format: str = "binary",
        parameters: dict[str, int | str | bool] | None = None,
    ) -> tuple[bytes, list[str]]:
        """One infer request: (body, header lines).

        Inputs missing from `tensors` (optional ones) are left out. Binary input
        format: JSON header + raw tensor bytes (Inference-Header-Content-Length);
        json: the tensors' values as `data` lists in a pure JSON body."""
        header: dict[str, Any] = {}
        if request_id:
            header["id"] = request_id
        if parameters:
            header["parameters"] = dict(parameters)
        inputs, blobs = [], []
        for t in spec.inputs:
            if t.name not in tensors:
                continue
            entry: dict[str, Any] = {"name": t.name, "shape": list(tensors[t.name].shape), "datatype": t.datatype}
            if input_format == "json":
                entry["data"] = _json_data(t, tensors[t.name])
            else:
                raw = tensor_bytes(t.datatype, tensors[t.name])
                blobs.append(raw)
                entry["parameters"] = {"binary_data_size": len(raw)}
            inputs.append(entry)
        header["inputs"] = inputs
        header["outputs"] = [_requested_output(o, output_format) for o in spec.outputs]
        json_part = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
        if input_format == "json":
            lines = ["Content-Type: application/json"]
        else:
            lines = [
                "Content-Type: application/octet-stream",
                f"Inference-Header-Content-Length: {len(json_part)}",
            ]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return json_part + b"".join(blobs), lines

    def close(self) -> None:
        self._curl.close()


# Triton reads and writes these only as binary data, never as JSON values.
BINARY_ONLY = ("FP16", "BF16")


def spec_from_documents(model: str, version: str, meta: dict[str, Any], config: dict[str, Any]) -> ModelSpec:
    """A ModelSpec from Triton's model metadata and config documents (the
    same JSON over HTTP and from the in-process C API)."""
    max_batch = int(config.get("max_batch_size", 0))
    # Only the config says which inputs are optional; the metadata does not.
    optional = {t.get("name"): bool(t.get("optional", False)) for t in config.get("input", [])}

    def tensors(entries: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
        out = []
        for t in entries:
            dims = tuple(int(d) for d in t["shape"])
            if max_batch > 0 and dims:
                dims = dims[1:]  # metadata includes the batch dimension as -1
            out.append(TensorSpec(t["name"], t["datatype"], dims, optional.get(t["name"], False)))
        return tuple(out)

    return ModelSpec(
        name=model,
        version=version,
        platform=meta.get("platform", ""),
        max_batch_size=max_batch,
        inputs=tensors(meta.get("inputs", [])),
        outputs=tensors(meta.get("outputs", [])),
    )


def _json_data(t: TensorSpec, array: np.ndarray) -> list[object]:
    if t.datatype in BINARY_ONLY:
        raise OptionError(f"--input-tensor-format json: input '{t.name}' is {t.datatype}, which Triton accepts "
                          "only as binary data; use --input-tensor-format binary")
    try:
        return tensor_json_values(t.datatype, array)
    except TensorDataError as e:
        raise OptionError(f"--input-tensor-format json: input '{t.name}': {e}") from None


def _requested_output(o: TensorSpec, output_format: str) -> dict[str, Any]:
    if output_format == "json" and o.datatype in BINARY_ONLY:
        raise OptionError(f"--output-tensor-format json: output '{o.name}' is {o.datatype}, which Triton "
                          "returns only as binary data; use --output-tensor-format binary")
    return {"name": o.name, "parameters": {"binary_data": output_format != "json"}}


def _server_message(status: int, body: Any) -> str:
    """Triton answers errors as {"error": "..."}; fall back to the status and
    whatever text came instead (a proxy's error page)."""
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    if isinstance(body, str) and body:
        return f"HTTP {status}: {body}"
    return f"HTTP {status}"


def _page_text(raw: bytes, limit: int = 200) -> str:
    """An HTML page's <title> (e.g. nginx's "400 No required SSL certificate
    was sent"), or the start of a plain-text body, on one line."""
    text = raw.decode("utf-8", errors="replace")
    m = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if m:
        text = m.group(1)
    return " ".join(text.split())[:limit]
