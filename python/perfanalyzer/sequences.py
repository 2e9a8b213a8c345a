"""Sequence models (sequence_batching in the config): the request bodies are
every stream's steps back to back, each encoded once with fixed-width
sequence fields; the compiled Sequencer picks, per request, the sequence, its
step's body, the correlation ID and the start/end flags, and the engine
patches them into its own copy of the body (no Python, no allocation).

As perf_analyzer: a new sequence takes the next stream (round robin) and is
replayed under one correlation ID; without --sequence-length, JSON streams
play whole, otherwise lengths vary by +/- --sequence-length-variation around
it (default 20) and a stream's steps repeat to fill them."""

from __future__ import annotations

import dataclasses

import numpy as np

from perfanalyzer import _core
from perfanalyzer.batching import batch
from perfanalyzer.data_loader import DataSet
from perfanalyzer.errors import OptionError
from perfanalyzer.model import ModelSpec
from perfanalyzer.settings import Settings

DEFAULT_SEQUENCE_LENGTH = 20


def request_steps(spec: ModelSpec, data: DataSet, batch_size: int) -> list[tuple[int, list[int]]]:
    """(stream, steps of its batch rows) of every body, streams back to back;
    with -b N the step fills every row."""
    n = batch_size if spec.max_batch_size > 0 else 1
    return [(s, [k] * n) for s, stream in enumerate(data.streams) for k in range(len(stream))]


def request_tensors(spec: ModelSpec, data: DataSet, batch_size: int) -> list[dict[str, np.ndarray]]:
    return [batch(spec, data.streams[s], steps, data.origin, s) for s, steps in request_steps(spec, data, batch_size)]


def make_sequencer(settings: Settings, data: DataSet) -> _core.Sequencer:
    length = settings.sequence_length
    if length is None:
        length = 0 if data.from_json else DEFAULT_SEQUENCE_LENGTH
    open_loop = settings.load_mode != "concurrency"
    return _core.Sequencer(
        [len(s) for s in data.streams], id_start=settings.sequence_id_start, id_range=settings.sequence_id_range,
        length=length, variation=settings.sequence_length_variation / 100.0,
        n_sequences=settings.num_of_sequences if open_loop else 0,
        serial=settings.serial_sequences and open_loop, seed=settings.seed or 0,
    )


def open_loop_settings(settings: Settings) -> Settings:
    """--serial-sequences in rate modes: at most one request per sequence in
    flight, so no more in flight than there are sequences."""
    if settings.load_mode == "concurrency" or not settings.serial_sequences:
        return settings
    cap = settings.num_of_sequences if not settings.max_inflight else min(settings.max_inflight,
                                                                          settings.num_of_sequences)
    return dataclasses.replace(settings, max_inflight=cap)


def check_settings(settings: Settings) -> None:
    """Over HTTP, only the native client patches sequence fields per request (both gRPC engines do), and
    Triton's sequence batcher takes one sequence step per request."""
    if settings.batch_size > 1:
        raise OptionError(f"-b {settings.batch_size}: model '{settings.model_name}' is a sequence model, and "
                          "Triton's sequence batcher takes requests of batch size 1 only")
    if settings.protocol == "http" and (settings.http_client == "curl"
                                        or settings.server_url.lower().startswith("https://")):
        raise OptionError(f"model '{settings.model_name}' is a sequence model: its requests are sent by the native "
                          "HTTP client only (plain http://, --http-client native or auto)")
