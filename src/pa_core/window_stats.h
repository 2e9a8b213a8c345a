/* What one measurement window accumulates, and the double buffer that lets
 * the reader take a finished window while engine threads keep recording.
 *
 * The swap uses a writer/reader phaser (as HdrHistogram's Recorder does):
 * a writer brackets each record with one atomic add on entry and one on exit;
 * the reader flips the phase and waits only for writers that entered before
 * the flip. Writers never wait and never take a lock. */
#ifndef PA_WINDOW_STATS_H
#define PA_WINDOW_STATS_H

#include <stdint.h>

#include "histogram.h"

enum pa_error_kind {
    PA_ERR_TRANSPORT = 0, /* connection refused/reset, timeout: no HTTP answer */
    PA_ERR_HTTP_4XX,
    PA_ERR_HTTP_5XX,
    PA_ERR_OTHER, /* any other non-success answer */
    PA_ERR_KINDS
};

/* Failed gRPC requests are also counted by status code (0..16, the index is
 * grpc_status_code), plus one bucket for an error a stream carries inside a
 * response (Triton's ModelStreamInferResponse.error_message: no status code). */
#define PA_GRPC_CODES 17
#define PA_GRPC_STREAM_ERROR PA_GRPC_CODES

/* The names the binding shows for these counters (the one place they are
 * spelled): "transport", "http_4xx", "http_5xx", "other" for the error kinds;
 * gRPC's status names ("OK", "CANCELLED", ...) and then "STREAM_ERROR" for
 * the codes. NULL outside 0..PA_ERR_KINDS-1 and 0..PA_GRPC_STREAM_ERROR. */
const char *pa_error_kind_name(int kind);
const char *pa_grpc_code_name(int code);

typedef struct pa_request_times {
    uint64_t start_ns;     /* request handed to the transport */
    uint64_t send_end_ns;  /* last request byte handed over */
    uint64_t recv_start_ns;/* first response byte */
    uint64_t end_ns;       /* response complete */
    uint64_t scheduled_ns; /* open loop: when the schedule said to send; 0 in closed loop */
} pa_request_times;

typedef struct pa_window_stats {
    uint64_t ok;                 /* completed successfully */
    uint64_t errors[PA_ERR_KINDS];
    uint64_t latency_sum_ns;
    double latency_sumsq_ns2;    /* for the sample standard deviation */
    uint64_t send_sum_ns;        /* start -> last byte sent */
    uint64_t recv_sum_ns;        /* first -> last response byte */
    uint64_t bytes_sent;
    uint64_t bytes_received;
    uint64_t delayed;            /* open loop: sent more than 1 ms after their scheduled time */
    uint64_t postponed;          /* open loop: waited for a free slot (the --max-inflight cap) */
    uint64_t responses;          /* streaming: responses of the successful requests (0 when unary) */
    uint64_t grpc_codes[PA_GRPC_CODES + 1]; /* gRPC failures by status code; before `latency`: reset clears it */
    pa_hist latency;             /* successful requests only, from the actual send */
    pa_hist response_latency;    /* open loop: from the scheduled send time (coordinated-omission corrected) */
    pa_hist lag;                 /* open loop: actual minus scheduled send time */
    pa_hist first_response;      /* streaming: send start -> first response */
} pa_window_stats;

#define PA_DELAYED_NS 1000000ull

void pa_stats_reset(pa_window_stats *s);
void pa_stats_merge(pa_window_stats *dst, const pa_window_stats *src);
/* Counts one request; several threads may record into one buffer at once. */
void pa_stats_record_ok(pa_window_stats *s, const pa_request_times *t, uint64_t sent, uint64_t received);
void pa_stats_record_error(pa_window_stats *s, enum pa_error_kind kind);
/* A failed gRPC request's code (0..PA_GRPC_STREAM_ERROR); any other value is not counted. */
void pa_stats_record_grpc_code(pa_window_stats *s, int code);
void pa_stats_record_postponed(pa_window_stats *s);
/* Streaming: a successful request's response count and first-response latency. */
void pa_stats_record_stream(pa_window_stats *s, uint64_t responses, uint64_t first_response_ns);

typedef struct pa_recorder {
    int64_t start_epoch;  /* sign selects the active buffer: >= 0 -> buf[0] */
    int64_t even_end;
    int64_t odd_end;
    pa_window_stats buf[2];
} pa_recorder;

void pa_recorder_init(pa_recorder *r);

/* Writer side: enter returns a token naming the buffer to write into. */
static inline int64_t pa_recorder_enter(pa_recorder *r) {
    return __atomic_fetch_add(&r->start_epoch, 1, __ATOMIC_ACQ_REL);
}
static inline pa_window_stats *pa_recorder_buffer(pa_recorder *r, int64_t token) {
    return &r->buf[token < 0 ? 1 : 0];
}
static inline void pa_recorder_exit(pa_recorder *r, int64_t token) {
    __atomic_fetch_add(token < 0 ? &r->odd_end : &r->even_end, 1, __ATOMIC_RELEASE);
}

/* Reader side (one reader at a time): makes the other buffer active, waits
 * for writers still in the old one, copies it into `out` and clears it.
 * Returns the CLOCK_MONOTONIC time of the flip: the window boundary. */
uint64_t pa_recorder_swap(pa_recorder *r, pa_window_stats *out);

#endif
