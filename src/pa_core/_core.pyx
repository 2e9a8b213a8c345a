# cython: language_level=3, boundscheck=False, wraparound=False
"""Binding over the compiled core: histogram, window statistics and engines.

Every blocking call releases the GIL; nothing here runs per request."""

from libc.stdint cimport uint64_t, int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

import numpy as np
cimport cython
cimport numpy as cnp

cnp.import_array()

cdef extern from "clock.h":
    uint64_t pa_now_ns() nogil
    uint64_t pa_wall_ns() nogil

cdef extern from "histogram.h":
    enum: PA_HIST_BUCKETS
    ctypedef struct pa_hist:
        uint64_t total
        uint64_t min
        uint64_t max
        uint64_t counts[1]
    void pa_hist_reset(pa_hist *h) nogil
    void pa_hist_record(pa_hist *h, uint64_t v) nogil
    void pa_hist_record_n(pa_hist *h, uint64_t v, uint64_t n) nogil
    void pa_hist_merge(pa_hist *dst, const pa_hist *src) nogil
    size_t pa_hist_index(uint64_t v) nogil
    void pa_hist_bucket_range(size_t index, uint64_t *lo, uint64_t *hi) nogil
    uint64_t pa_hist_value_at_rank(const pa_hist *h, uint64_t rank) nogil
    uint64_t pa_hist_percentile(const pa_hist *h, double percent) nogil

cdef extern from "window_stats.h":
    enum: PA_ERR_KINDS
    enum: PA_GRPC_STREAM_ERROR
    enum pa_error_kind:
        PA_ERR_TRANSPORT
        PA_ERR_HTTP_4XX
        PA_ERR_HTTP_5XX
        PA_ERR_OTHER
    ctypedef struct pa_request_times:
        uint64_t start_ns
        uint64_t send_end_ns
        uint64_t recv_start_ns
        uint64_t end_ns
        uint64_t scheduled_ns
    ctypedef struct pa_window_stats:
        uint64_t ok
        uint64_t errors[PA_ERR_KINDS]
        uint64_t latency_sum_ns
        double latency_sumsq_ns2
        uint64_t send_sum_ns
        uint64_t recv_sum_ns
        uint64_t bytes_sent
        uint64_t bytes_received
        uint64_t delayed
        uint64_t postponed
        uint64_t responses
        uint64_t grpc_codes[PA_GRPC_STREAM_ERROR + 1]
        pa_hist latency
        pa_hist response_latency
        pa_hist lag
        pa_hist first_response
    ctypedef struct pa_recorder:
        pass
    void pa_stats_reset(pa_window_stats *s) nogil
    void pa_stats_merge(pa_window_stats *dst, const pa_window_stats *src) nogil
    void pa_stats_record_ok(pa_window_stats *s, const pa_request_times *t, uint64_t sent, uint64_t received) nogil
    void pa_stats_record_error(pa_window_stats *s, pa_error_kind kind) nogil
    void pa_stats_record_grpc_code(pa_window_stats *s, int code) nogil
    const char *pa_error_kind_name(int kind) nogil
    const char *pa_grpc_code_name(int code) nogil
    void pa_recorder_init(pa_recorder *r) nogil
    int64_t pa_recorder_enter(pa_recorder *r) nogil
    pa_window_stats *pa_recorder_buffer(pa_recorder *r, int64_t token) nogil
    void pa_recorder_exit(pa_recorder *r, int64_t token) nogil
    uint64_t pa_recorder_swap(pa_recorder *r, pa_window_stats *out) nogil

cdef extern from "schedule.h":
    enum pa_load_kind:
        PA_LOAD_CLOSED
        PA_LOAD_CONSTANT
        PA_LOAD_POISSON
        PA_LOAD_INTERVALS
    ctypedef struct pa_schedule:
        uint64_t due_ns
    int pa_schedule_init(pa_schedule *s, pa_load_kind kind, double rate, uint64_t seed,
                         const uint64_t *intervals_ns, size_t n_intervals)
    void pa_schedule_start(pa_schedule *s, uint64_t now_ns)
    void pa_schedule_advance(pa_schedule *s)
    void pa_schedule_free(pa_schedule *s)

cdef extern from "record_log.h":
    ctypedef struct pa_record:
        uint64_t scheduled_ns
        uint64_t start_ns
        uint64_t end_ns
        uint64_t status
    ctypedef struct pa_record_log:
        size_t total
        int out_of_memory
    void pa_record_log_copy(const pa_record_log *log, pa_record *out)
    ctypedef struct pa_response_time:
        uint64_t request
        uint64_t ns
    ctypedef struct pa_response_log:
        size_t total
        int out_of_memory
    void pa_response_log_append(pa_response_log *log, uint64_t request, uint64_t ns)
    void pa_response_log_copy(const pa_response_log *log, pa_response_time *out, uint64_t request_offset)
    void pa_response_log_free(pa_response_log *log)

cdef extern from "engine.h":
    enum: PA_MAX_ERROR_MESSAGES
    enum: PA_ERROR_MESSAGE_LEN
    ctypedef struct pa_engine:
        pass
    int pa_engine_set_schedule_part(pa_engine *e, pa_schedule *schedule, unsigned max_inflight,
                                    unsigned part, unsigned parts)
    void pa_engine_set_budget(pa_engine *e, uint64_t n) nogil
    void pa_engine_keep_records(pa_engine *e)
    int pa_engine_record_count(const pa_engine *e, size_t *total)
    void pa_engine_copy_records(const pa_engine *e, pa_record *out)
    int pa_engine_response_count(const pa_engine *e, size_t *total)
    void pa_engine_copy_responses(const pa_engine *e, pa_response_time *out)
    int pa_engine_sequence_id_count(const pa_engine *e, size_t *total)
    void pa_engine_copy_sequence_ids(const pa_engine *e, uint64_t *out)
    int pa_engine_add_member(pa_engine *lead, pa_engine *member)
    int pa_engine_start(pa_engine *e, char *err, size_t errlen)
    void pa_engine_set_concurrency(pa_engine *e, unsigned n) nogil
    int pa_engine_set_periodic(pa_engine *e, unsigned start, unsigned end, unsigned step, uint64_t period)
    int pa_engine_ramp_done(const pa_engine *e) nogil
    uint64_t pa_engine_swap(pa_engine *e, pa_window_stats *out) nogil
    uint64_t pa_engine_completed(const pa_engine *e) nogil
    uint64_t pa_engine_failed(const pa_engine *e) nogil
    unsigned pa_engine_in_flight(const pa_engine *e) nogil
    size_t pa_engine_error_messages(pa_engine *e, const char **msgs, size_t max)
    void pa_engine_stop(pa_engine *e, long drain_ms) nogil
    void pa_engine_destroy(pa_engine *e) nogil

HIST_BUCKETS = PA_HIST_BUCKETS
RECORD_DTYPE = np.dtype([("scheduled_ns", np.uint64), ("start_ns", np.uint64), ("end_ns", np.uint64),
                         ("status", np.uint64)])
RESPONSE_DTYPE = np.dtype([("request", np.uint64), ("ns", np.uint64)])
# The C core's tables (window_stats.c), index for index.
ERROR_KINDS = tuple(pa_error_kind_name(k).decode() for k in range(PA_ERR_KINDS))
# Index = gRPC status code; the last: an error carried inside a stream response (no status code).
GRPC_CODE_NAMES = tuple(pa_grpc_code_name(c).decode() for c in range(PA_GRPC_STREAM_ERROR + 1))

include "schedule.pxi"  # before the engines: they make their schedules with it


def now_ns() -> int:
    """CLOCK_MONOTONIC in nanoseconds: the clock of every engine timestamp."""
    return pa_now_ns()


def wall_ns() -> int:
    return pa_wall_ns()


cdef class Histogram:
    """Log-linear histogram of nanosecond values (< 0.1 % relative error)."""
    cdef pa_hist *h

    def __cinit__(self):
        self.h = <pa_hist *> malloc(sizeof(pa_hist))
        if self.h == NULL:
            raise MemoryError()
        pa_hist_reset(self.h)

    def __dealloc__(self):
        free(self.h)

    def record(self, uint64_t value_ns, uint64_t count=1) -> None:
        pa_hist_record_n(self.h, value_ns, count)

    def record_array(self, values) -> None:
        cdef cnp.ndarray[cnp.uint64_t, ndim=1] arr = np.ascontiguousarray(values, dtype=np.uint64)
        cdef Py_ssize_t i, n = arr.shape[0]
        cdef uint64_t *p = <uint64_t *> arr.data
        with nogil:
            for i in range(n):
                pa_hist_record(self.h, p[i])

    def merge(self, Histogram other) -> None:
        pa_hist_merge(self.h, other.h)

    def percentile(self, double percent) -> int:
        return pa_hist_percentile(self.h, percent)

    def value_at_rank(self, uint64_t rank) -> int:
        return pa_hist_value_at_rank(self.h, rank)

    @property
    def total(self) -> int:
        return self.h.total

    @property
    def min(self) -> int:
        return self.h.min if self.h.total else 0

    @property
    def max(self) -> int:
        return self.h.max

    def counts(self):
        """Bucket counts as a numpy array (a copy)."""
        cdef cnp.ndarray[cnp.uint64_t, ndim=1] out = np.empty(PA_HIST_BUCKETS, dtype=np.uint64)
        memcpy(out.data, self.h.counts, PA_HIST_BUCKETS * sizeof(uint64_t))
        return out

    @staticmethod
    def bucket_index(uint64_t value_ns) -> int:
        return pa_hist_index(value_ns)

    @staticmethod
    def bucket_range(size_t index):
        cdef uint64_t lo, hi
        pa_hist_bucket_range(index, &lo, &hi)
        return lo, hi


cdef pa_window_stats *_alloc_stats() except NULL:
    cdef pa_window_stats *s = <pa_window_stats *> malloc(sizeof(pa_window_stats))
    if s == NULL:
        raise MemoryError()
    pa_stats_reset(s)
    return s


cdef class WindowStats:
    """What the engine counted in one window (or several merged)."""
    cdef pa_window_stats *s

    def __cinit__(self):
        self.s = _alloc_stats()

    def __dealloc__(self):
        free(self.s)

    def merge(self, WindowStats other) -> None:
        pa_stats_merge(self.s, other.s)

    def copy(self) -> WindowStats:
        cdef WindowStats c = WindowStats()
        pa_stats_merge(c.s, self.s)
        return c

    def record_ok(self, uint64_t start_ns, uint64_t send_end_ns, uint64_t recv_start_ns,
                  uint64_t end_ns, uint64_t sent=0, uint64_t received=0) -> None:
        """Counts one request by hand (for tests and for engines in Python)."""
        cdef pa_request_times t
        t.start_ns, t.send_end_ns, t.recv_start_ns, t.end_ns = start_ns, send_end_ns, recv_start_ns, end_ns
        pa_stats_record_ok(self.s, &t, sent, received)

    def record_error(self, str kind, int grpc_code=-1) -> None:
        """Counts one failed request by hand (kind from ERROR_KINDS; grpc_code an index of GRPC_CODE_NAMES)."""
        cdef int k = ERROR_KINDS.index(kind)
        pa_stats_record_error(self.s, <pa_error_kind> k)
        pa_stats_record_grpc_code(self.s, grpc_code)

    @property
    def ok(self) -> int:
        return self.s.ok

    @property
    def errors(self) -> dict:
        return {ERROR_KINDS[k]: self.s.errors[k] for k in range(PA_ERR_KINDS) if self.s.errors[k]}

    @property
    def grpc_codes(self) -> dict:
        """Failed gRPC requests by status code name (codes never seen are left out)."""
        return {GRPC_CODE_NAMES[c]: self.s.grpc_codes[c] for c in range(len(GRPC_CODE_NAMES)) if self.s.grpc_codes[c]}

    @property
    def error_count(self) -> int:
        return sum(self.s.errors[k] for k in range(PA_ERR_KINDS))

    @property
    def latency_sum_ns(self) -> int:
        return self.s.latency_sum_ns

    @property
    def latency_sumsq_ns2(self) -> float:
        return self.s.latency_sumsq_ns2

    @property
    def send_sum_ns(self) -> int:
        return self.s.send_sum_ns

    @property
    def recv_sum_ns(self) -> int:
        return self.s.recv_sum_ns

    @property
    def bytes_sent(self) -> int:
        return self.s.bytes_sent

    @property
    def bytes_received(self) -> int:
        return self.s.bytes_received

    def percentile_ns(self, double percent) -> int:
        return pa_hist_percentile(&self.s.latency, percent)

    @property
    def delayed(self) -> int:
        """Open loop: requests sent more than 1 ms after their scheduled time."""
        return self.s.delayed

    @property
    def postponed(self) -> int:
        """Open loop: requests that waited for a free slot (the in-flight cap)."""
        return self.s.postponed

    @property
    def scheduled_count(self) -> int:
        """Open loop: successful requests that carried a scheduled time."""
        return self.s.response_latency.total

    def response_percentile_ns(self, double percent) -> int:
        """Latency from the scheduled send time (coordinated-omission corrected)."""
        return pa_hist_percentile(&self.s.response_latency, percent)

    def lag_percentile_ns(self, double percent) -> int:
        return pa_hist_percentile(&self.s.lag, percent)

    @property
    def responses(self) -> int:
        """Streaming: responses of the successful requests (0 when unary)."""
        return self.s.responses

    @property
    def first_response_count(self) -> int:
        return self.s.first_response.total

    def first_response_percentile_ns(self, double percent) -> int:
        """Streaming: send start -> first response."""
        return pa_hist_percentile(&self.s.first_response, percent)

    def response_histogram(self) -> Histogram:
        cdef Histogram h = Histogram()
        pa_hist_merge(h.h, &self.s.response_latency)
        return h

    def lag_histogram(self) -> Histogram:
        cdef Histogram h = Histogram()
        pa_hist_merge(h.h, &self.s.lag)
        return h

    @property
    def latency_min_ns(self) -> int:
        return self.s.latency.min if self.s.latency.total else 0

    @property
    def latency_max_ns(self) -> int:
        return self.s.latency.max

    def histogram(self) -> Histogram:
        cdef Histogram h = Histogram()
        pa_hist_merge(h.h, &self.s.latency)
        return h


cdef class Recorder:
    """The double-buffered recorder on its own, so tests can hammer the swap."""
    cdef pa_recorder *r

    def __cinit__(self):
        self.r = <pa_recorder *> malloc(sizeof(pa_recorder))
        if self.r == NULL:
            raise MemoryError()
        pa_recorder_init(self.r)

    def __dealloc__(self):
        free(self.r)

    def record_many(self, uint64_t n, uint64_t latency_ns) -> None:
        """Records n requests of the given latency, one phaser section each."""
        cdef uint64_t i
        cdef int64_t token
        cdef pa_request_times t
        t.start_ns, t.send_end_ns, t.recv_start_ns, t.end_ns = 0, 0, latency_ns, latency_ns
        with nogil:
            for i in range(n):
                token = pa_recorder_enter(self.r)
                pa_stats_record_ok(pa_recorder_buffer(self.r, token), &t, 1, 1)
                pa_recorder_exit(self.r, token)

    def record_errors(self, uint64_t n, str kind, int grpc_code) -> None:
        """Records n failed requests of one kind and gRPC code, one phaser section each."""
        cdef uint64_t i
        cdef int64_t token
        cdef pa_window_stats *s
        cdef int ki = ERROR_KINDS.index(kind)
        cdef pa_error_kind k = <pa_error_kind> ki
        with nogil:
            for i in range(n):
                token = pa_recorder_enter(self.r)
                s = pa_recorder_buffer(self.r, token)
                pa_stats_record_error(s, k)
                pa_stats_record_grpc_code(s, grpc_code)
                pa_recorder_exit(self.r, token)

    def swap(self):
        cdef WindowStats w = WindowStats()
        cdef uint64_t t
        with nogil:
            t = pa_recorder_swap(self.r, w.s)
        return t, w


cdef class ResponseLog:
    """The chunked response-time log on its own, for tests."""
    cdef pa_response_log log

    def __dealloc__(self):
        pa_response_log_free(&self.log)

    def append(self, uint64_t request, uint64_t ns) -> None:
        pa_response_log_append(&self.log, request, ns)

    def __len__(self) -> int:
        return self.log.total

    def array(self, uint64_t request_offset=0):
        cdef cnp.ndarray out = np.empty(self.log.total, dtype=RESPONSE_DTYPE)
        if self.log.total:
            pa_response_log_copy(&self.log, <pa_response_time *> out.data, request_offset)
        return out


@cython.no_gc_clear  # a collector's clear would drop `keep` while the engine thread still runs
cdef class Engine:
    """What every load engine offers, whatever its transport: a subclass's
    __cinit__ creates the C engine (self.e); the rest is shared."""
    cdef pa_engine *e
    # What the C engine uses (sequencers, validator, server): a subclass's own
    # fields are released before this class's __dealloc__ stops the engine
    # thread, this class's only after it.
    cdef object keep
    cdef readonly unsigned threads  # engine threads of the group (engine_group.pxi)

    def __dealloc__(self):
        if self.e != NULL:
            with nogil:
                pa_engine_destroy(self.e)
            self.e = NULL

    cdef pa_engine *_live(self) except NULL:
        if self.e == NULL:
            raise RuntimeError("the engine is closed")
        return self.e

    def start(self) -> None:
        cdef char err[256]
        if pa_engine_start(self._live(), err, sizeof(err)) != 0:
            raise RuntimeError(err.decode(errors="replace"))

    def set_concurrency(self, unsigned n) -> None:
        """Closed loop: n requests in flight."""
        pa_engine_set_concurrency(self._live(), n)

    def set_periodic(self, unsigned start, unsigned end, unsigned step, uint64_t period) -> None:
        """Periodic concurrency: start slots; each time every slot added last
        had `period` responses, `step` more, until `end` slots had theirs."""
        if pa_engine_set_periodic(self._live(), start, end, step, period) != 0:
            raise ValueError(f"invalid periodic concurrency {start}:{end}:{step} with period {period}")

    @property
    def ramp_done(self) -> bool:
        """Periodic concurrency: the ramp reached its end; no request starts any more."""
        return pa_engine_ramp_done(self._live()) != 0

    def keep_records(self) -> None:
        """Before start(): keep every request's times, for an export."""
        pa_engine_keep_records(self._live())

    def records(self):
        """After stop(): every successful request as a structured numpy array
        (scheduled_ns, start_ns, end_ns in CLOCK_MONOTONIC ns), oldest first."""
        cdef size_t total
        cdef int rc = pa_engine_record_count(self._live(), &total)
        if rc == -1:
            raise RuntimeError("no records: call keep_records() before start() and read them after stop()")
        if rc == -2:
            raise MemoryError("the request log ran out of memory; the export would be incomplete")
        cdef cnp.ndarray out = np.empty(total, dtype=RECORD_DTYPE)
        if total:
            pa_engine_copy_records(self.e, <pa_record *> out.data)
        return out

    def response_times(self):
        """After stop(): every response of every kept streaming request as a
        structured array (request: index into records(), ns: CLOCK_MONOTONIC),
        grouped by request, in arrival order; empty for one-response transports."""
        cdef size_t total
        cdef int rc = pa_engine_response_count(self._live(), &total)
        if rc == -1:
            raise RuntimeError("no records: call keep_records() before start() and read them after stop()")
        if rc == -2:
            raise MemoryError("the response log ran out of memory; the export would be incomplete")
        cdef cnp.ndarray out = np.empty(total, dtype=RESPONSE_DTYPE)
        if total:
            pa_engine_copy_responses(self.e, <pa_response_time *> out.data)
        return out

    def sequence_ids(self):
        """After stop(): each record's sequence correlation ID (uint64 array
        aligned with records()), or None when the engine sends no sequences."""
        cdef size_t total
        cdef int rc = pa_engine_sequence_id_count(self._live(), &total)
        if rc == -1:
            return None
        if rc == -2:
            raise MemoryError("the request log ran out of memory; the export would be incomplete")
        cdef cnp.ndarray out = np.empty(total, dtype=np.uint64)
        if total:
            pa_engine_copy_sequence_ids(self.e, <uint64_t *> out.data)
        return out

    def set_budget(self, n=None) -> None:
        """At most n more requests will be started; None lifts the limit."""
        pa_engine_set_budget(self._live(), 0xFFFFFFFFFFFFFFFF if n is None else n)

    def set_rate(self, double rate, str distribution="constant", uint64_t seed=0,
                 unsigned max_inflight=0, unsigned part=0, unsigned parts=1) -> None:
        """Open loop: rate requests/s, evenly spaced or Poisson from the seed;
        of a schedule split over `parts` processes, this one's times part,
        part + parts, ..."""
        cdef pa_schedule sc
        _make_schedule(&sc, distribution, rate, seed, None)
        if pa_engine_set_schedule_part(self._live(), &sc, max_inflight, part, parts) != 0:
            raise ValueError(f"cannot set the schedule (part {part} of {parts})")

    def set_intervals(self, intervals_ns, unsigned max_inflight=0, unsigned part=0, unsigned parts=1) -> None:
        """Open loop: the gaps between sends, looped (split as set_rate's)."""
        cdef pa_schedule sc
        _make_schedule(&sc, "constant", 1.0, 0, intervals_ns)
        if pa_engine_set_schedule_part(self._live(), &sc, max_inflight, part, parts) != 0:
            raise ValueError(f"cannot set the schedule (part {part} of {parts})")

    def swap(self):
        """Ends the current window: (boundary CLOCK_MONOTONIC ns, WindowStats)."""
        cdef WindowStats w = WindowStats()
        cdef pa_engine *e = self._live()
        cdef uint64_t t
        with nogil:
            t = pa_engine_swap(e, w.s)
        return t, w

    @property
    def completed(self) -> int:
        return pa_engine_completed(self._live())

    @property
    def failed(self) -> int:
        return pa_engine_failed(self._live())

    @property
    def in_flight(self) -> int:
        return pa_engine_in_flight(self._live())

    def error_messages(self) -> list:
        cdef const char *msgs[PA_MAX_ERROR_MESSAGES]
        cdef size_t i, n = pa_engine_error_messages(self._live(), msgs, PA_MAX_ERROR_MESSAGES)
        return [msgs[i].decode("utf-8", errors="replace") for i in range(n)]

    def stop(self, long drain_ms=5000) -> None:
        cdef pa_engine *e = self._live()
        with nogil:
            pa_engine_stop(e, drain_ms)

    def close(self) -> None:
        if self.e != NULL:
            with nogil:
                pa_engine_destroy(self.e)
            self.e = NULL


# One file per transport: each defines an Engine subclass that creates its C engine.
include "stats_wire.pxi"  # WindowStats to and from compact bytes (windows of other processes)
include "validate.pxi"  # before the transports: they take a Validator
include "sequence.pxi"  # ... and a Sequencer
include "engine_group.pxi"  # how every transport makes its engine threads
include "grpc_validate.pxi"  # protobuf responses checked by a Validator
include "http1_parse.pxi"  # tests: the native HTTP client's response parser, fed directly
include "http_engine.pxi"
include "capi_engine.pxi"
include "pa_features.pxi"  # generated by CMake: HAS_GRPC, and the gRPC binding when built
