"""Sequence models (sequence_batching in the config): the request bodies are
every stream's steps back to back, each encoded once with fixed-width
sequence fields; the compiled Sequencer picks, per request, the sequence, its
step's body, the correlation ID and the start/end flags, and the engine
patches them into its own copy of the body (no Python, no allocation).

As perf_analyzer: a new sequence takes the next stream (round robin) and is
replayed under one correlation ID; without --sequence-length, JSON streams
play whole, otherwise lengths vary by +/- --sequence-length-variation around
it (default 20) and a stream's steps repeat to fill them.

With several engine threads, each thread has a sequencer of its own: a
disjoint share of the id range and (rate modes) of --num-of-sequences, as
perf_analyzer splits sequences over its worker threads. The shares of the
range interleave (thread k of g: start + k, start + k + g, ...), so ids stay
as small as perf_analyzer's one shared counter keeps them. A sequence lives
on one thread, no lock is shared, and ids cannot collide between threads.
Closed loop: each thread has a share of the concurrency, and its share of the
range is at least that whenever the whole range covers the concurrency."""

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
DEFAULT_ID_RANGE = Settings.sequence_id_range


def request_steps(spec: ModelSpec, data: DataSet, batch_size: int) -> list[tuple[int, list[int]]]:
    """(stream, steps of its batch rows) of every body, streams back to back;
    with -b N the step fills every row."""
    n = batch_size if spec.max_batch_size > 0 else 1
    return [(s, [k] * n) for s, stream in enumerate(data.streams) for k in range(len(stream))]


def request_tensors(spec: ModelSpec, data: DataSet, batch_size: int) -> list[dict[str, np.ndarray]]:
    return [batch(spec, data.streams[s], steps, data.origin, s) for s, steps in request_steps(spec, data, batch_size)]


def share(n: int, k: int, g: int) -> int:
    """Part k of n spread as evenly as possible over g (the engine's split of
    concurrency over threads: the first n % g get one more)."""
    return n // g + (k < n % g)


def make_sequencer(settings: Settings, data: DataSet, thread: int = 0, threads: int = 1) -> _core.Sequencer:
    """The sequencer of engine thread `thread` out of `threads`."""
    length = settings.sequence_length
    if length is None:
        length = 0 if data.from_json else DEFAULT_SEQUENCE_LENGTH
    open_loop = settings.load_mode != "concurrency"
    seed = settings.seed or 0
    # Client process p of P (a distributed run): its thread k is thread p + P*k of one process with P times
    # the threads, so the ids interleave over processes as they do over threads.
    thread, threads = settings.client_part + settings.client_parts * thread, settings.client_parts * threads
    return _core.Sequencer(
        # Thread k of g: ids start + k + g*j, j < its share; the shares
        # interleave, cover the range once and keep every thread's ids small.
        [len(s) for s in data.streams], id_start=settings.sequence_id_start + thread, id_stride=threads,
        id_range=share(settings.sequence_id_range, thread, threads),
        length=length, variation=settings.sequence_length_variation / 100.0,
        n_sequences=share(settings.num_of_sequences, thread, threads) if open_loop else 0,
        serial=settings.serial_sequences and open_loop,
        seed=(seed + thread) % 2**64 if thread else seed,  # each thread its own lengths
    )


def make_sequencers(settings: Settings, data: DataSet, threads: int) -> list[_core.Sequencer]:
    return [make_sequencer(settings, data, k, threads) for k in range(threads)]


def engine_threads(settings: Settings, threads: int) -> int:
    """Rate modes: no more threads than sequences (each needs one of its
    own) nor than --max-inflight (the engine leaves threads past it idle, and
    their sequences would never run). Closed loop: the concurrency already
    caps the threads and the id range covers it; the cap by the range holds
    even where no concurrency bounds the threads."""
    if settings.load_mode == "concurrency":
        return max(1, min(threads, settings.sequence_id_range))  # each thread needs an id of its own
    most = settings.num_of_sequences
    if settings.max_inflight:
        most = min(most, settings.max_inflight)
    return max(1, min(threads, most, settings.sequence_id_range))


def open_loop_settings(settings: Settings) -> Settings:
    """--serial-sequences in rate modes: at most one request per sequence in
    flight, so no more in flight than there are sequences."""
    if settings.load_mode == "concurrency" or not settings.serial_sequences:
        return settings
    cap = settings.num_of_sequences if not settings.max_inflight else min(settings.max_inflight,
                                                                          settings.num_of_sequences)
    return dataclasses.replace(settings, max_inflight=cap)


SEQUENCE_PARAMETERS = ("sequence_id", "sequence_start", "sequence_end")


def check_settings(settings: Settings) -> None:
    """What a sequence model rules out, before anything is sent."""
    model = settings.model_name
    if settings.batch_size > 1:
        # Triton's sequence batcher takes one sequence step per request.
        raise OptionError(f"-b {settings.batch_size}: model '{model}' is a sequence model, and "
                          "Triton's sequence batcher takes requests of batch size 1 only")
    for name, _, _ in settings.request_parameters:
        if name in SEQUENCE_PARAMETERS:
            # The engines patch these into every request; a value of the user's
            # would be overwritten, or (gRPC) leave nothing to patch.
            raise OptionError(f"--request-parameter {name}: set per request for sequence model '{model}'")
    r = settings.concurrency_range
    if settings.load_mode == "concurrency" and r.end == 0 and settings.sequence_id_range < DEFAULT_ID_RANGE:
        # The settings check covers the largest concurrency of a bounded
        # sweep; an open-ended one has none. The default range (2^32 - 1 ids)
        # outnumbers any concurrency a sweep reaches.
        raise OptionError(f"--concurrency-range {r.start}:0: an open-ended sweep can exceed --sequence-id-range "
                          f"on sequence model '{model}', sequence id collision may occur; give the sweep an end")
