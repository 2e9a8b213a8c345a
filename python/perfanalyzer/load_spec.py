"""From a model and the data flags to the distinct requests of a run: the
model's spec as the server describes it, the data (generated or read from
files), batching, sequences, validation and shared memory. The services
call these and encode the results in their own wire format (services/)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from perfanalyzer import sequences, shm
from perfanalyzer.batching import request_tensors
from perfanalyzer.composing import reaches_sequence_model
from perfanalyzer.data_loader import DataSet
from perfanalyzer.data_loader import load as load_data
from perfanalyzer.engine_threads import engine_threads
from perfanalyzer.model import ModelSpec
from perfanalyzer.report import export
from perfanalyzer.services.base import LoadSpec
from perfanalyzer.settings import Settings
from perfanalyzer.validation import build_validator

ConfigOf = Callable[[str, str], Mapping[str, Any]]


class ModelSource(Protocol):
    def model_spec(self, model: str, version: str = "") -> ModelSpec: ...


@dataclass(frozen=True)
class ModelData:
    """The model as the run sends to it, and the data it sends."""

    spec: ModelSpec
    data: DataSet
    data_message: str                     # the line about data read from files ("" for generated data)
    export_inputs: dict[str, object]      # the export's request_inputs


def model_data(settings: Settings, models: ModelSource, config_of: ConfigOf | None = None) -> ModelData:
    """The model's spec from the server and the data for it. `config_of`
    reads model configs (Triton): an ensemble whose steps reach a sequence
    model is then driven as one."""
    spec = models.model_spec(settings.model_name, settings.model_version)
    if spec.platform == "ensemble" and not spec.sequence and config_of is not None and \
            reaches_sequence_model(config_of, spec.name, settings.model_version):
        spec = dataclasses.replace(spec, sequence=True)
    spec.check_batch_size(settings.batch_size)
    data = load_data(settings, spec)
    message = data.read_message() if data.from_json else ""
    inputs = export.request_inputs({t.name: t.datatype for t in spec.inputs},
                                   request_tensors(spec, data, settings.batch_size))
    return ModelData(spec, data, message, inputs)


class TritonEncoder(shm.SharedMemoryService, Protocol):
    """Triton's request encoding (HTTP and gRPC take the same arguments) and
    the shared-memory calls shm.regions makes on it."""

    def encode_request(self, spec: ModelSpec, tensors: dict[str, np.ndarray], request_id: str = "", *,
                       input_format: str = "binary", output_format: str = "binary",
                       parameters: dict[str, int | str | bool] | None = None, sequence: bool = False,
                       input_regions: dict[str, tuple[str, int, int]] | None = None,
                       output_regions: dict[str, tuple[str, int]] | None = None) -> Any: ...


def triton_load(settings: Settings, service: TritonEncoder, model: ModelData) -> LoadSpec:
    """Triton's requests (HTTP and gRPC): one body per distinct request, a
    sequence model's streams step by step, the validator of validation_data,
    and shared-memory regions with --shared-memory. The engine runs
    --max-threads threads, each with a sequencer of its own."""
    spec, data = model.spec, model.data
    parameters = settings.request_parameter_map
    if settings.streaming:
        # Every final response is flagged (an empty one after a decoupled model's last):
        # the engine ends a request on it.
        parameters = {**parameters, "triton_enable_empty_final_response": True}
    threads = engine_threads(settings)
    sequencer: Any = None
    steps = None
    if spec.sequence:
        sequences.check_settings(settings)
        settings = sequences.open_loop_settings(settings)
        steps = sequences.request_steps(spec, data, settings.batch_size)
        tensors_list = sequences.request_tensors(spec, data, settings.batch_size)
        threads = sequences.engine_threads(settings, threads)
        sequencer = sequences.make_sequencers(settings, data, threads)
    else:
        tensors_list = request_tensors(spec, data, settings.batch_size)
    validator = build_validator(spec, data, settings.batch_size, settings.output_tensor_format, steps)
    in_regions, out_regions = shm.regions(settings, service, spec, tensors_list, validator is not None)
    bodies = [service.encode_request(spec, tensors, input_format=settings.input_tensor_format,
                                     output_format=settings.output_tensor_format,
                                     parameters=parameters, sequence=spec.sequence,
                                     input_regions=in_regions[i] if in_regions else None,
                                     output_regions=out_regions)
              for i, tensors in enumerate(tensors_list)]
    return LoadSpec(settings, bodies, validator=validator, sequencer=sequencer, threads=threads,
                    data_message=model.data_message, export_inputs=model.export_inputs)
