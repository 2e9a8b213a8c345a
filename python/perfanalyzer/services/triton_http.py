"""Triton over HTTP: control plane on the REST endpoints, and the KServe v2
request bodies (JSON header + binary tensor data) the compiled engine sends."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from perfanalyzer import stopping
from perfanalyzer.errors import OptionError, ServerError
from perfanalyzer.headers import parse_header
from perfanalyzer.inputs import NUMPY_DTYPES, TensorDataError, tensor_bytes, tensor_json_values
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.safe_text import escape_controls, mask_userinfo
from perfanalyzer.server_stats import ServerStats
from perfanalyzer.services.base import LoadSpec, Service, StatisticsSource
from perfanalyzer.settings import Settings
from perfanalyzer.tls import HttpsOptions
from perfanalyzer.trace import TraceService

if TYPE_CHECKING:
    from perfanalyzer import _core

# Larger control-plane answers are refused (the biggest real ones, all models'
# statistics or an ensemble's config, are well under a MiB).
MAX_ANSWER_BYTES = 64 << 20


def split_url(url: str) -> tuple[str, str]:
    """'http://host:port/' or 'host:port' -> ('http', 'host:port')."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "http", url.rstrip("/")
    return scheme.lower(), rest.rstrip("/")


class TritonHttpService(Service):
    """Control plane over Triton's REST endpoints (KServe v2 + extensions).

    pycurl on one kept-alive handle: it imports in milliseconds, where
    tritonclient.http's gevent stack costs the client ~0.4 s of CPU at start,
    which the benchmark charges to every request of a short run."""

    protocol_label = "HTTP"

    @classmethod
    def from_settings(cls, settings: Settings, out: Callable[[str], None]) -> TritonHttpService:
        return cls(settings.server_url, settings.http_headers, https=settings.https)

    def __init__(self, url: str, headers: tuple[str, ...] = (), verbose: bool = False,
                 timeout_s: float = 30.0, https: HttpsOptions | None = None) -> None:
        import pycurl

        self.scheme, self.host = split_url(url)
        if self.scheme not in ("http", "https") or not self.host:
            raise ServerError(f"-u {mask_userinfo(url)}: invalid server URL (expected host:port or http://host:port)")
        self.base_url = f"{self.scheme}://{self.host}"
        self.shown_url = mask_userinfo(self.base_url)  # what messages name: never the credentials
        self.headers = dict(parse_header(h) for h in headers)
        self._pycurl = pycurl
        self._curl = pycurl.Curl()
        self._multi = pycurl.CurlMulti()
        self.timeout_s = timeout_s
        self._curl.setopt(pycurl.NOSIGNAL, 1)
        self._curl.setopt(pycurl.VERBOSE, 1 if verbose else 0)
        self._curl.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in self.headers.items()])
        (https or HttpsOptions()).apply_to_pycurl(self._curl, pycurl)

    def _perform(self, path: str, what: str = "") -> tuple[int, bytes]:
        """Runs the request set up on the handle -> (HTTP status, body); `what`
        names the call in the error when the server cannot be reached. A body
        past MAX_ANSWER_BYTES ends the transfer: no Triton answer comes near
        it, and a server streaming without end must not fill the memory."""
        pc, buf, too_large = self._pycurl, bytearray(), []

        def take(data: bytes) -> int | None:
            if len(buf) + len(data) > MAX_ANSWER_BYTES:
                too_large.append(True)
                return 0  # anything but len(data) aborts the transfer
            buf.extend(data)
            return None

        self._curl.setopt(pc.URL, self.base_url + path)
        self._curl.setopt(pc.WRITEFUNCTION, take)
        try:
            self._transfer()
        except pc.error as e:
            if too_large:
                raise ServerError(f"the server at {self.shown_url} answered {path} with more than "
                                  f"{MAX_ANSWER_BYTES >> 20} MiB, which is no Triton answer") from None
            reason = e.args[1] if len(e.args) > 1 and e.args[1] else f"curl error {e.args[0]}"
            hint = _tls_hint(e.args[0], reason) if e.args else None
            if hint is not None:
                raise ServerError(f"TLS with the server at {self.shown_url} failed: {reason}{hint}") from None
            if what:
                raise ServerError(f"{what} failed on the server at {self.shown_url}: "
                                  f"{escape_controls(reason)}") from None
            raise ServerError(f"cannot reach the server at {self.shown_url}: {escape_controls(reason)}") from None
        return int(self._curl.getinfo(pc.RESPONSE_CODE)), bytes(buf)

    def get(self, path: str, what: str = "") -> tuple[int, Any]:
        """GET base_url + path -> (HTTP status, decoded JSON body, or the page's text)."""
        return self._get(path, what=what)

    def _get(self, path: str, post: bytes | None = None, what: str = "") -> tuple[int, Any]:
        """GET (or POST `post`) base_url + path -> (HTTP status, decoded JSON body or None)."""
        if post is None:
            self._curl.setopt(self._pycurl.HTTPGET, 1)
        else:
            self._curl.setopt(self._pycurl.POSTFIELDS, post)
        status, raw = self._perform(path, what)
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            # Not Triton's JSON (a proxy's error page, say): keep its text for the message.
            body = _page_text(raw)
        return status, body

    def _transfer(self) -> None:
        """Runs the transfer set up on the handle, within the call's timeout
        (shorter once the run is ending, see stopping). A multi handle polled in
        0.1 s steps rather than a blocking perform(): a signal's handler runs
        between two polls, so Ctrl-C is not held up by a hung server."""
        pc = self._pycurl
        timeout_s = stopping.timeout(self.timeout_s)
        if timeout_s <= 0:
            raise pc.error(pc.E_OPERATION_TIMEDOUT, "no time left before exit")
        self._curl.setopt(pc.TIMEOUT_MS, max(1, int(timeout_s * 1000)))
        self._multi.add_handle(self._curl)
        try:
            while True:
                ret, active = self._multi.perform()
                if ret == pc.E_CALL_MULTI_PERFORM:
                    continue
                if not active:
                    break
                self._multi.select(0.1)
            _, _, failed = self._multi.info_read()
        finally:
            self._multi.remove_handle(self._curl)
        if failed:
            _, code, message = failed[0]
            raise pc.error(code, message)

    def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST a JSON body -> (HTTP status, decoded JSON answer or None)."""
        self._curl.setopt(self._pycurl.POSTFIELDS, json.dumps(body))
        try:
            status, raw = self._perform(path)
        finally:
            self._curl.setopt(self._pycurl.HTTPGET, 1)  # the handle is shared with the GETs
        try:
            answer = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            answer = None
        return status, answer

    def _get_json(self, what: str, path: str) -> dict[str, Any]:
        status, body = self._get(path, what=what)
        if status != 200 or not isinstance(body, dict):
            raise ServerError(f"{what} failed on the server at {self.shown_url}: {_server_message(status, body)}")
        return body

    def check_ready(self) -> None:
        for what in ("live", "ready"):
            status, body = self._get(f"/v2/health/{what}")
            if status != 200:
                # nginx and others answer 400 when a required client certificate is missing or refused.
                hint = _CLIENT_CERT_HINT if isinstance(body, str) and "SSL certificate" in body else ""
                raise ServerError(f"the server at {self.shown_url} is not {what}: {_server_message(status, body)}"
                                  f"{hint}")

    @staticmethod
    def _model_path(model: str, version: str) -> str:
        return f"/v2/models/{quote(model, safe='')}" + (f"/versions/{quote(version, safe='')}" if version else "")

    def model_spec(self, model: str, version: str = "") -> ModelSpec:
        path = self._model_path(model, version)
        status, meta = self._get(path)
        if status != 200 or not isinstance(meta, dict):
            raise ServerError(
                f"model '{model}'{f' version {version}' if version else ''} is not available on the "
                f"server at {self.shown_url}: {_server_message(status, meta)}"
            )
        config = self._get_json(f"reading the config of model '{model}'", path + "/config")
        if self._get(path + "/ready")[0] != 200:
            raise ServerError(f"model '{model}' is not ready on the server at {self.shown_url}")
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
                f"server at {self.shown_url}: {_server_message(status, config)}"
            )
        return config

    def register_system_shm(self, region: str, key: str, byte_size: int) -> None:
        """Registers a POSIX shared-memory object (shm_open `key`) as `region`."""
        body = json.dumps({"key": key, "offset": 0, "byte_size": byte_size}).encode()
        self._shm_region("system", region, "register", body)

    def unregister_system_shm(self, region: str) -> None:
        self._shm_region("system", region, "unregister", b"")

    def system_shm_status(self) -> list[dict[str, Any]]:
        return self._shm_status("system")

    def register_cuda_shm(self, region: str, raw_handle_b64: str, device_id: int, byte_size: int) -> None:
        """Registers GPU memory, by its base64 CUDA IPC handle, as `region`."""
        self._shm_region("cuda", region, "register", cuda_register_body(raw_handle_b64, device_id, byte_size))

    def unregister_cuda_shm(self, region: str) -> None:
        self._shm_region("cuda", region, "unregister", b"")

    def cuda_shm_status(self) -> list[dict[str, Any]]:
        return self._shm_status("cuda")

    def _shm_region(self, kind: str, region: str, action: str, body: bytes) -> None:
        """Triton's system/CUDA shared-memory extensions: register or unregister one region."""
        path, label = _SHM_EXTENSIONS[kind]
        status, reply = self._get(f"/v2/{path}/region/{quote(region, safe='')}/{action}", body)
        if status != 200:
            raise ServerError(f"{action}ing {label} region '{region}' failed on the server at "
                              f"{self.shown_url}: {_server_message(status, reply)}")

    def _shm_status(self, kind: str) -> list[dict[str, Any]]:
        path, label = _SHM_EXTENSIONS[kind]
        status, reply = self._get(f"/v2/{path}/status")
        if status != 200 or not isinstance(reply, list):
            raise ServerError(f"reading the {label} status failed on the server at {self.shown_url}: "
                              f"{_server_message(status, reply)}")
        return reply

    def trace_settings(self, model: str = "") -> dict[str, Any]:
        """Triton's trace extension: the model's settings, or the global ones."""
        path = (self._model_path(model, "") if model else "/v2") + "/trace/setting"
        return self._get_json("reading the trace settings", path)

    def update_trace_settings(self, model: str, changes: dict[str, Any]) -> dict[str, Any]:
        """POSTs `changes` (None clears a model setting back to the global one)."""
        status, answer = self._post(self._model_path(model, "") + "/trace/setting", changes)
        if status != 200 or not isinstance(answer, dict):
            raise ServerError(f"updating the trace settings of model '{model}' failed on the server at "
                              f"{self.shown_url}: {_server_message(status, answer)}")
        return answer

    def infer_url(self, model: str, version: str = "") -> str:
        return self.base_url + self._model_path(model, version) + "/infer"

    def encode_request(
        self, spec: ModelSpec, tensors: dict[str, np.ndarray], request_id: str = "", *,
        input_format: str = "binary", output_format: str = "binary",
        parameters: dict[str, int | str | bool] | None = None, sequence: bool = False,
        input_regions: dict[str, tuple[str, int, int]] | None = None,
        output_regions: dict[str, tuple[str, int]] | None = None,
    ) -> tuple[bytes, list[str]]:
        """One infer request: (body, header lines).

        Inputs missing from `tensors` (optional ones) are left out. Binary input
        format: JSON header + raw tensor bytes (Inference-Header-Content-Length);
        json: the tensors' values as `data` lists in a pure JSON body. sequence:
        the parameters hold fixed-width sequence_id/sequence_start/sequence_end
        values that the engine patches per request (see sequence.h).
        input_regions / output_regions: name -> (region, offset, size) / (region,
        size) of registered shared memory; those tensors are not in the body."""
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
            if input_regions and t.name in input_regions:
                region, offset, size = input_regions[t.name]
                entry["parameters"] = {"shared_memory_region": region, "shared_memory_byte_size": size,
                                       "shared_memory_offset": offset}
            elif input_format == "json":
                entry["data"] = _json_data(t, tensors[t.name])
            else:
                raw = tensor_bytes(t.datatype, tensors[t.name])
                blobs.append(raw)
                entry["parameters"] = {"binary_data_size": len(raw)}
            inputs.append(entry)
        header["inputs"] = inputs
        header["outputs"] = [_requested_output(o, output_format) for o in spec.outputs]
        for out in header["outputs"]:
            if output_regions and out["name"] in output_regions:
                region, size = output_regions[out["name"]]
                out["parameters"] = {"shared_memory_region": region, "shared_memory_byte_size": size}
        if sequence:
            header.setdefault("parameters", {}).update(SEQUENCE_PLACEHOLDERS)
        json_part = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
        if sequence:
            json_part = _fixed_width_sequence_fields(json_part)
        if input_format == "json":
            lines = ["Content-Type: application/json"]
        else:
            lines = [
                "Content-Type: application/octet-stream",
                f"Inference-Header-Content-Length: {len(json_part)}",
            ]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return json_part + b"".join(blobs), lines

    def load_spec(self, settings: Settings) -> LoadSpec:
        from perfanalyzer.load_spec import model_data, triton_load

        return triton_load(settings, self, model_data(settings, self, self.model_config))

    def make_engine(self, load: LoadSpec) -> _core.Engine:
        from perfanalyzer import _core

        settings = load.settings
        return _core.HttpEngine(
            self.infer_url(settings.model_name, settings.model_version), load.bodies,
            request_timeout_ms=settings.request_timeout_ms, client=settings.http_client,
            tls=settings.https.engine_options(),
            threads=load.threads,
            validator=load.validator, sequencer=load.sequencer,
        )

    def statistics_source(self) -> StatisticsSource:
        return self

    def trace_control(self) -> TraceService:
        return self

    def close(self) -> None:
        self._multi.close()
        self._curl.close()


# libcurl's TLS error codes -> what to check (CURLE_SSL_CONNECT_ERROR 35,
# CURLE_SSL_CERTPROBLEM 58, CURLE_SSL_CIPHER 59, CURLE_PEER_FAILED_VERIFICATION 60,
# CURLE_SSL_CACERT_BADFILE 77, CURLE_SSL_ISSUER_ERROR 83).
_VERIFY_HINT = (" (give the CA that signed the server's certificate with --ssl-https-ca-certificates-file, "
                "or skip the check with --ssl-https-verify-peer 0)")
_TLS_HINTS = {
    35: "",
    58: " (check --ssl-https-client-certificate-file/-type and --ssl-https-private-key-file/-type)",
    59: "",
    60: _VERIFY_HINT,
    77: " (check --ssl-https-ca-certificates-file)",
    83: _VERIFY_HINT,
}
_CLIENT_CERT_HINT = (" (the server requires a client certificate it trusts: --ssl-https-client-certificate-file "
                     "and --ssl-https-private-key-file)")


def _tls_hint(code: int, reason: str) -> str | None:
    """None when the error is not about TLS."""
    if code == 60 and ("subject name" in reason or "host name" in reason):
        return " (the certificate does not name the host of -u; --ssl-https-verify-host 0 skips that check)"
    return _TLS_HINTS.get(code)


# Placeholders json.dumps writes, then replaced by values the engine can
# overwrite in place: a space-padded id (JSON allows the whitespace) and
# `false`/`true ` flags, so every request has the same length.
SEQUENCE_PLACEHOLDERS = {"sequence_id": "@pa-seq-id@", "sequence_start": "@pa-seq-start@",
                         "sequence_end": "@pa-seq-end@"}
SEQUENCE_ID_WIDTH = 20  # sequence.h: PA_SEQ_ID_WIDTH


def _fixed_width_sequence_fields(json_part: bytes) -> bytes:
    return (json_part.replace(b'"@pa-seq-id@"', b" " * (SEQUENCE_ID_WIDTH - 1) + b"0")
            .replace(b'"@pa-seq-start@"', b"false").replace(b'"@pa-seq-end@"', b"false"))


# Shared-memory kind -> (Triton's extension path, how messages name it).
_SHM_EXTENSIONS = {"system": ("systemsharedmemory", "shared-memory"),
                   "cuda": ("cudasharedmemory", "CUDA shared-memory")}

# Triton reads and writes these only as binary data, never as JSON values.
BINARY_ONLY = ("FP16", "BF16")


def spec_from_documents(model: str, version: str, meta: dict[str, Any], config: dict[str, Any]) -> ModelSpec:
    """A ModelSpec from Triton's model metadata and config documents (the
    same JSON over HTTP, from the in-process C API, and from gRPC's answers
    converted to JSON). A document with a wrong type or a missing key is a
    ServerError naming the document and the field."""
    doc = _Document(model, "config")
    max_batch = doc.integer(config.get("max_batch_size", 0), "max_batch_size")
    if max_batch < 0:
        raise doc.error("max_batch_size", max_batch, "a count (>= 0)")
    # Only the config says which inputs are optional; the metadata does not.
    optional = {t["name"]: bool(t.get("optional", False)) for t in doc.entries(config, "input")
                if isinstance(t.get("name"), str)}

    def tensors(key: str) -> tuple[TensorSpec, ...]:
        doc = _Document(model, "metadata")
        out = []
        for i, t in enumerate(doc.entries(meta, key)):
            where = f"{key}[{i}]"
            name = doc.text(t.get("name"), f"{where}.name")
            datatype = doc.text(t.get("datatype"), f"{where}.datatype")
            if key == "inputs" and datatype not in NUMPY_DTYPES:
                raise doc.error(f"{where}.datatype", datatype, "a KServe datatype")
            shape = t.get("shape", [])
            if not isinstance(shape, list):
                raise doc.error(f"{where}.shape", shape, "a list")
            dims = tuple(doc.integer(d, f"{where}.shape[{j}]") for j, d in enumerate(shape))
            if max_batch > 0 and dims:
                dims = dims[1:]  # metadata includes the batch dimension as -1
            out.append(TensorSpec(name, datatype, dims, optional.get(name, False)))
        return tuple(out)

    platform = meta.get("platform", "")
    return ModelSpec(
        name=model,
        version=version,
        platform=platform if isinstance(platform, str) else "",
        max_batch_size=max_batch,
        inputs=tensors("inputs"),
        outputs=tensors("outputs"),
        sequence="sequence_batching" in config,
    )


class _Document:
    """Typed reads of one of the server's JSON documents about a model."""

    def __init__(self, model: str, name: str) -> None:
        self.model, self.name = model, name

    def error(self, where: str, value: object, wanted: str) -> ServerError:
        shown = "missing" if value is None else f"{escape_controls(repr(value))[:80]}"
        return ServerError(f"the {self.name} of model '{escape_controls(self.model)}' from the server is malformed: "
                           f"{where} is {shown}, not {wanted}")

    def entries(self, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
            raise self.error(key, value, "a list of objects")
        return value

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(where, value, "a non-empty string")
        return value

    def integer(self, value: object, where: str) -> int:
        """A JSON integer, or the decimal string protobuf's JSON form gives 64-bit integers."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value):
            return int(value)
        raise self.error(where, value, "an integer")


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
        return escape_controls(str(body["error"]))
    if isinstance(body, str) and body:
        return f"HTTP {status}: {escape_controls(body)}"
    return f"HTTP {status}"


def _page_text(raw: bytes, limit: int = 200) -> str:
    """An HTML page's <title> (e.g. nginx's "400 No required SSL certificate
    was sent"), or the start of a plain-text body, on one line."""
    text = raw.decode("utf-8", errors="replace")
    m = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if m:
        text = m.group(1)
    return escape_controls(" ".join(text.split())[:limit])


def cuda_register_body(raw_handle_b64: str, device_id: int, byte_size: int) -> bytes:
    """The CUDA shared-memory extension's register request: the IPC handle as
    base64 inside {"b64": ...}, the GPU it lives on, and its size."""
    return json.dumps({"raw_handle": {"b64": raw_handle_b64}, "device_id": device_id,
                       "byte_size": byte_size}).encode()
