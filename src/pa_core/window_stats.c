#include "window_stats.h"

#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "clock.h"

void pa_stats_reset(pa_window_stats *s) {
    memset(s, 0, offsetof(pa_window_stats, latency));
    pa_hist_reset(&s->latency);
    pa_hist_reset(&s->response_latency);
    pa_hist_reset(&s->lag);
    pa_hist_reset(&s->first_response);
}

void pa_stats_merge(pa_window_stats *dst, const pa_window_stats *src) {
    dst->ok += src->ok;
    for (int k = 0; k < PA_ERR_KINDS; k++)
        dst->errors[k] += src->errors[k];
    dst->latency_sum_ns += src->latency_sum_ns;
    dst->latency_sumsq_ns2 += src->latency_sumsq_ns2;
    dst->send_sum_ns += src->send_sum_ns;
    dst->recv_sum_ns += src->recv_sum_ns;
    dst->bytes_sent += src->bytes_sent;
    dst->bytes_received += src->bytes_received;
    dst->delayed += src->delayed;
    dst->postponed += src->postponed;
    dst->responses += src->responses;
    for (int c = 0; c <= PA_GRPC_CODES; c++)
        dst->grpc_codes[c] += src->grpc_codes[c];
    pa_hist_merge(&dst->latency, &src->latency);
    pa_hist_merge(&dst->response_latency, &src->response_latency);
    pa_hist_merge(&dst->lag, &src->lag);
    pa_hist_merge(&dst->first_response, &src->first_response);
}

/* Relaxed atomic adds: several writers may share the active buffer of a
 * recorder (the phaser only separates writers from the reader). */
static inline void add_u64(uint64_t *p, uint64_t v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }

static inline void add_double(double *p, double v) {
    double cur, next;
    __atomic_load(p, &cur, __ATOMIC_RELAXED);
    do {
        next = cur + v;
    } while (!__atomic_compare_exchange(p, &cur, &next, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

void pa_stats_record_ok(pa_window_stats *s, const pa_request_times *t, uint64_t sent, uint64_t received) {
    uint64_t latency = t->end_ns - t->start_ns;
    /* A response can start before the body is fully sent (an early error);
     * clamp so the breakdown never goes negative. */
    uint64_t send_end = t->send_end_ns ? t->send_end_ns : t->start_ns;
    uint64_t recv_start = t->recv_start_ns ? t->recv_start_ns : t->end_ns;
    if (send_end > t->end_ns)
        send_end = t->end_ns;
    if (recv_start < send_end)
        recv_start = send_end;
    add_u64(&s->ok, 1);
    add_u64(&s->latency_sum_ns, latency);
    add_double(&s->latency_sumsq_ns2, (double)latency * (double)latency);
    add_u64(&s->send_sum_ns, send_end - t->start_ns);
    add_u64(&s->recv_sum_ns, t->end_ns - recv_start);
    add_u64(&s->bytes_sent, sent);
    add_u64(&s->bytes_received, received);
    pa_hist_record(&s->latency, latency);
    if (t->scheduled_ns) {
        uint64_t lag = t->start_ns > t->scheduled_ns ? t->start_ns - t->scheduled_ns : 0;
        pa_hist_record(&s->response_latency, t->end_ns - t->scheduled_ns);
        pa_hist_record(&s->lag, lag);
        if (lag > PA_DELAYED_NS)
            add_u64(&s->delayed, 1);
    }
}

void pa_stats_record_postponed(pa_window_stats *s) { add_u64(&s->postponed, 1); }

void pa_stats_record_stream(pa_window_stats *s, uint64_t responses, uint64_t first_response_ns) {
    add_u64(&s->responses, responses);
    pa_hist_record(&s->first_response, first_response_ns);
}

void pa_stats_record_error(pa_window_stats *s, enum pa_error_kind kind) { add_u64(&s->errors[kind], 1); }

static const char *const ERROR_KIND_NAMES[PA_ERR_KINDS] = {"transport", "http_4xx", "http_5xx", "other"};

/* Index = grpc_status_code; the last: an error carried inside a stream response. */
static const char *const GRPC_CODE_NAMES[PA_GRPC_STREAM_ERROR + 1] = {
    "OK",         "CANCELLED",     "UNKNOWN",   "INVALID_ARGUMENT",  "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED", "STREAM_ERROR",
};

const char *pa_error_kind_name(int kind) {
    return kind >= 0 && kind < PA_ERR_KINDS ? ERROR_KIND_NAMES[kind] : NULL;
}

const char *pa_grpc_code_name(int code) {
    return code >= 0 && code <= PA_GRPC_STREAM_ERROR ? GRPC_CODE_NAMES[code] : NULL;
}

void pa_stats_record_grpc_code(pa_window_stats *s, int code) {
    if (code >= 0 && code <= PA_GRPC_STREAM_ERROR)
        add_u64(&s->grpc_codes[code], 1);
}

void pa_recorder_init(pa_recorder *r) {
    r->start_epoch = 0;
    r->even_end = 0;
    r->odd_end = INT64_MIN;
    pa_stats_reset(&r->buf[0]);
    pa_stats_reset(&r->buf[1]);
}

uint64_t pa_recorder_swap(pa_recorder *r, pa_window_stats *out) {
    int64_t cur = __atomic_load_n(&r->start_epoch, __ATOMIC_ACQUIRE);
    int next_odd = cur >= 0;
    int64_t initial = next_odd ? INT64_MIN : 0;
    /* The buffer about to become active was cleared at the previous swap. */
    __atomic_store_n(next_odd ? &r->odd_end : &r->even_end, initial, __ATOMIC_RELEASE);
    int64_t at_flip = __atomic_exchange_n(&r->start_epoch, initial, __ATOMIC_ACQ_REL);
    uint64_t flip_ns = pa_now_ns();
    int64_t *old_end = next_odd ? &r->even_end : &r->odd_end;
    while (__atomic_load_n(old_end, __ATOMIC_ACQUIRE) != at_flip)
        sched_yield();
    pa_window_stats *old = &r->buf[next_odd ? 0 : 1];
    if (out)
        memcpy(out, old, sizeof(*out));
    pa_stats_reset(old);
    return flip_ns;
}
