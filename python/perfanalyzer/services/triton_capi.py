"""Triton in this process through its C API (--service-kind triton_c_api):
where the server library and backends are, the environment the Python
backend needs, and the control plane over the compiled in-process server."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfanalyzer.batching import request_tensors
from perfanalyzer.errors import OptionError, ServerError
from perfanalyzer.inputs import tensor_bytes
from perfanalyzer.model import ModelSpec
from perfanalyzer.safe_text import terminal_line
from perfanalyzer.server_stats import ServerStats
from perfanalyzer.services.base import CapiTensor, LoadSpec, Service, StatisticsSource
from perfanalyzer.services.triton_http import spec_from_documents
from perfanalyzer.settings import Settings

if TYPE_CHECKING:
    from perfanalyzer import _core

DEFAULT_SERVER_DIRECTORY = "/opt/tritonserver"
STUB = "triton_python_backend_stub"


@dataclass(frozen=True)
class ServerLayout:
    library: Path
    backends: Path
    venv: Path | None = None          # the venv of an nvidia-pytriton wheel: its python serves the Python backend
    stub_source: Path | None = None   # the wheel's Python backend stub for that venv's Python


def default_server_directory() -> str:
    """The tritonserver bundled by the nvidia-pytriton wheel when it is
    importable here, or in the venv PA_SERVER_VENV names; else /opt/tritonserver."""
    spec = importlib.util.find_spec("pytriton")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "tritonserver"
        if bundled.is_dir():
            return str(bundled)
    venv = os.environ.get("PA_SERVER_VENV")
    if venv:
        for cand in sorted(Path(venv).glob("lib/python3.*/site-packages/pytriton/tritonserver")):
            return str(cand)
    return DEFAULT_SERVER_DIRECTORY


def resolve_layout(directory: str, given: bool = True) -> ServerLayout:
    """The library and backend directory under --triton-server-directory: a
    Triton install (lib/libtritonserver.so, backends/) or the wheel's
    pytriton/tritonserver, whose library sits in nvidia_pytriton.libs.
    `given`: the directory came from the flag, not from the default."""
    d = Path(directory).expanduser().resolve()
    searched = [d / "lib" / "libtritonserver.so"]
    library: Path | None = searched[0] if searched[0].is_file() else None
    wheel = d.name == "tritonserver" and d.parent.name == "pytriton"
    if library is None and wheel:
        wheel_libs = d.parent.parent / "nvidia_pytriton.libs"
        searched.append(wheel_libs / "libtritonserver*.so")
        library = next(iter(sorted(wheel_libs.glob("libtritonserver*.so"))), None)
    if library is None:
        paths = ", ".join(map(str, searched))
        if given:
            raise ServerError(f"--triton-server-directory {directory}: no Triton server library (searched {paths}); "
                              "give a Triton install, or pip install nvidia-pytriton and give its "
                              "pytriton/tritonserver directory (or leave the flag out to have it found)")
        raise ServerError(f"--service-kind triton_c_api: no Triton server library (the nvidia-pytriton wheel is "
                          f"not installed here, and none at {paths}); pip install nvidia-pytriton, or give a "
                          "Triton install with --triton-server-directory")
    venv, stub = None, None
    if wheel and len(d.parents) > 4:
        venv = d.parents[4]
        python = d.parents[2].name.removeprefix("python")  # lib/python3.X/site-packages
        stub = d / "python_backend_stubs" / python / STUB
    return ServerLayout(library, d / "backends", venv, stub if stub is not None and stub.is_file() else None)


def prepare_environment(layout: ServerLayout) -> None:
    """What the wheel's Python backend needs before the server starts in this
    process: its stub next to libtriton_python.so, and the wheel venv's python
    (numpy < 2) first on PATH, since the stub processes inherit our environment."""
    if layout.stub_source is not None:
        dst = layout.backends / "python" / STUB
        if not (dst.is_file() and dst.stat().st_size == layout.stub_source.stat().st_size):
            tmp = dst.with_name(f".{STUB}.{os.getpid()}.tmp")
            try:
                shutil.copy2(layout.stub_source, tmp)
                os.replace(tmp, dst)  # never a half-written stub for a concurrent run
            except OSError as e:
                raise ServerError(f"cannot install the Python backend stub at {dst}: {e.strerror}") from None
    if layout.venv is not None and (layout.venv / "bin").is_dir():
        path = os.environ.get("PATH", "")
        if not path.startswith(str(layout.venv / "bin") + os.pathsep):  # once, however many runs
            os.environ["PATH"] = os.pathsep.join([str(layout.venv / "bin"), path])
        os.environ["VIRTUAL_ENV"] = str(layout.venv)
        # Meant for this interpreter, not for the stub's.
        os.environ.pop("PYTHONPATH", None)
        os.environ.pop("PYTHONHOME", None)


def numeric_version(version: str) -> int:
    """-x for the C API: a number, or -1 (the server's choice) when empty."""
    if not version:
        return -1
    try:
        return int(version)
    except ValueError:
        raise OptionError(f"-x {version}: the model version must be a number") from None


class TritonCapiService(Service):
    """A Triton server started inside this process for one run."""

    protocol_label = "C-API"

    @classmethod
    def from_settings(cls, settings: Settings, out: Callable[[str], None]) -> TritonCapiService:
        return cls(settings, out)

    def __init__(self, settings: Settings, out: Callable[[str], None]) -> None:
        from perfanalyzer import _core

        self._core = _core
        self._fresh_requests = False  # set by load_spec
        self.version = numeric_version(settings.model_version)
        layout = resolve_layout(settings.triton_server_directory or default_server_directory(),
                                given=bool(settings.triton_server_directory))
        repo = Path(settings.model_repository).resolve()
        prepare_environment(layout)
        try:
            self.server = _core.CapiServer(str(layout.library), str(repo), str(layout.backends))
        except RuntimeError as e:
            raise ServerError(str(e)) from None
        out("server is alive!")

    def check_ready(self) -> None:
        """The server answered live and ready before the constructor returned."""

    def _document(self, read: Callable[[str, int], str], model: str) -> dict[str, Any]:
        try:
            return json.loads(read(model, self.version))
        except RuntimeError as e:
            raise ServerError(f"model '{model}': {e}") from None

    def model_spec(self, model: str, version: str = "") -> ModelSpec:
        try:
            self.server.load_model(model, self.version)
        except RuntimeError as e:
            # The Python backend's message carries a traceback: one line, all of it.
            raise ServerError(" ".join(str(e).split())) from None
        meta = self._document(self.server.metadata, model)
        config = self._document(self.server.config, model)
        return spec_from_documents(model, version, meta, config)

    def server_stats(self, model: str, version: str = "") -> ServerStats:
        return ServerStats.from_response(self.statistics(model, version), model, version)

    def statistics(self, model: str = "", version: str = "") -> dict[str, Any]:
        """Triton's statistics answer, as the HTTP endpoint gives it; model ""
        asks for every model (for an ensemble's composing models)."""
        try:
            return json.loads(self.server.statistics(model, numeric_version(version) if version else -1))
        except RuntimeError as e:
            raise ServerError(f"statistics of model '{model or '*'}': {e}") from None

    def model_config(self, model: str, version: str = "") -> dict[str, Any]:
        return self._document(self.server.config, model)

    def load_spec(self, settings: Settings) -> LoadSpec:
        """Every distinct request's inputs, copied into the engine once; a
        sequence model's requests are its streams' steps, sent with their
        correlation IDs and start/end flags."""
        from perfanalyzer import sequences
        from perfanalyzer.engine_threads import load_threads
        from perfanalyzer.load_spec import model_data

        model = model_data(settings, self, self.model_config)
        spec, data = model.spec, model.data
        if spec.sequence:
            sequences.check_settings(settings)
            settings = sequences.open_loop_settings(settings)
        # Each engine thread copies the requests into its own (its slots send them in parallel).
        threads = load_threads(settings, spec.sequence)
        sequencer = sequences.make_sequencers(settings, data, threads) if spec.sequence else None
        tensors_list = (sequences.request_tensors(spec, data, settings.batch_size) if spec.sequence
                        else request_tensors(spec, data, settings.batch_size))
        requests: list[list[CapiTensor]] = [
            [(t.name, t.datatype, list(tensors[t.name].shape), tensor_bytes(t.datatype, tensors[t.name]))
             for t in spec.inputs if t.name in tensors]
            for tensors in tensors_list
        ]
        # Ensembles and sequence models get a request object per send: their
        # schedulers leave a callback on the request at each send, which
        # Triton before 2.63 (25.10) never drops from a reused one.
        self._fresh_requests = spec.sequence or spec.platform == "ensemble"
        return LoadSpec(settings, requests, sequencer=sequencer, threads=threads, data_message=model.data_message,
                        export_inputs=model.export_inputs)

    def make_engine(self, load: LoadSpec) -> _core.Engine:
        settings = load.settings
        return self._core.CapiEngine(self.server, settings.model_name, load.bodies, version=self.version,
                                     request_timeout_ms=settings.request_timeout_ms, sequencer=load.sequencer,
                                     threads=load.threads, fresh_requests=self._fresh_requests)

    def statistics_source(self) -> StatisticsSource:
        return self

    def infer_url(self, model: str, version: str = "") -> str:
        return ""  # no endpoint: requests never leave the process

    def close(self) -> None:
        """Stops the server. One that does not stop is reported, not raised:
        the run's numbers are already out and stay valid."""
        try:
            self.server.close()
        except RuntimeError as e:
            print(terminal_line(f"warning: {e}"), file=sys.stderr, flush=True)
