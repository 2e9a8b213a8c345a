"""Triton over HTTP: control plane through tritonclient, and the KServe v2
request bodies (JSON header + binary tensor data) the compiled engine sends."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from perfanalyzer.errors import ServerError
from perfanalyzer.inputs import tensor_bytes
from perfanalyzer.model import ModelSpec, TensorSpec
from perfanalyzer.server_stats import ServerStats


def split_url(url: str) -> tuple[str, str]:
    """'http://host:port/' or 'host:port' -> ('http', 'host:port')."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "http", url.rstrip("/")
    return scheme.lower(), rest.rstrip("/")


class TritonHttpService:
    def __init__(self, url: str, headers: tuple[str, ...] = (), verbose: bool = False) -> None:
        import tritonclient.http as httpclient

        self.scheme, self.host = split_url(url)
        self.base_url = f"{self.scheme}://{self.host}"
        self.headers = {k.strip(): v.strip() for k, _, v in (h.partition(":") for h in headers)}
        self._errors = httpclient.InferenceServerException
        try:
            self.client = httpclient.InferenceServerClient(self.host, ssl=self.scheme == "https", verbose=verbose)
        except Exception as e:  # tritonclient validates the URL eagerly
            raise ServerError(f"-u {url}: invalid server URL: {e}") from None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, headers=self.headers or None, **kwargs)
        except self._errors as e:
            raise ServerError(f"{what} failed on the server at {self.base_url}: {e.message()}") from None
        except Exception as e:  # socket-level failures surface as many types
            reason = str(e) or type(e).__name__
            raise ServerError(f"cannot reach the server at {self.base_url} ({what}): {reason}") from None

    def check_ready(self) -> None:
        if not self._call("live check", self.client.is_server_live):
            raise ServerError(f"the server at {self.base_url} is not live")
        if not self._call("ready check", self.client.is_server_ready):
            raise ServerError(f"the server at {self.base_url} is not ready")

    def model_spec(self, model: str, version: str = "") -> ModelSpec:
        try:
            meta = self.client.get_model_metadata(model, version, headers=self.headers or None)
            config = self.client.get_model_config(model, version, headers=self.headers or None)
        except self._errors as e:
            raise ServerError(
                f"model '{model}'{f' version {version}' if version else ''} is not available on the "
                f"server at {self.base_url}: {e.message()}"
            ) from None
        except Exception as e:
            raise ServerError(f"cannot reach the server at {self.base_url}: {e}") from None
        if not self._call(f"readiness of model '{model}'", self.client.is_model_ready, model, version):
            raise ServerError(f"model '{model}' is not ready on the server at {self.base_url}")
        max_batch = int(config.get("max_batch_size", 0))

        def tensors(entries: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
            out = []
            for t in entries:
                dims = tuple(int(d) for d in t["shape"])
                if max_batch > 0 and dims:
                    dims = dims[1:]  # metadata includes the batch dimension as -1
                out.append(TensorSpec(t["name"], t["datatype"], dims))
            return tuple(out)

        return ModelSpec(
            name=model,
            version=version,
            platform=meta.get("platform", ""),
            max_batch_size=max_batch,
            inputs=tensors(meta.get("inputs", [])),
            outputs=tensors(meta.get("outputs", [])),
        )

    def server_stats(self, model: str, version: str = "") -> ServerStats:
        response = self._call("statistics", self.client.get_inference_statistics, model, version)
        return ServerStats.from_response(response, model, version)

    def infer_url(self, model: str, version: str = "") -> str:
        path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
        return self.base_url + path

    def encode_request(
        self, spec: ModelSpec, tensors: dict[str, np.ndarray], request_id: str = ""
    ) -> tuple[bytes, list[str]]:
        """One infer request: (body, header lines), outputs requested as binary."""
        header: dict[str, Any] = {}
        if request_id:
            header["id"] = request_id
        inputs, blobs = [], []
        for t in spec.inputs:
            raw = tensor_bytes(t.datatype, tensors[t.name])
            blobs.append(raw)
            inputs.append({
                "name": t.name,
                "shape": list(tensors[t.name].shape),
                "datatype": t.datatype,
                "parameters": {"binary_data_size": len(raw)},
            })
        header["inputs"] = inputs
        header["outputs"] = [{"name": o.name, "parameters": {"binary_data": True}} for o in spec.outputs]
        json_part = json.dumps(header, separators=(",", ":")).encode()
        lines = [
            "Content-Type: application/octet-stream",
            f"Inference-Header-Content-Length: {len(json_part)}",
        ]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return json_part + b"".join(blobs), lines

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass
