/* Bidirectional streaming gRPC load (KServe v2 ModelStreamInfer) on the gRPC
 * C core. Each slot owns one stream and has one request in flight on it, so
 * every response on a stream belongs to its slot's current request: no id
 * matching is needed. A request may get several responses (decoupled models)
 * and ends with the one flagged "triton_final_response" (the messages ask for
 * it with "triton_enable_empty_final_response"), which may be empty.
 *
 * Three operations are outstanding per stream: a send (one per request), a
 * receive (re-armed after each response) and the status (completes when the
 * stream ends). A stream is freed and reopened only when all three are done,
 * so a completion never reaches a slot's next stream.
 *
 * Timestamps: start (before the send), send end (just before
 * grpc_call_start_batch), the first response and the last non-empty response
 * (end_ns): latency runs to the last response with data, as perf_analyzer
 * measures decoupled models. Receive start is end_ns: the time between the
 * first and the last response is the server's, not the client's unmarshalling.
 *
 * With validation_data, each response's outputs are compared after its
 * timestamp is taken; a mismatch is remembered and the request fails when
 * its final response comes (failing it earlier would hand the rest of its
 * responses to the slot's next request). Expected outputs missing from
 * every response of the request fail it too. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpc/slice_buffer.h>
#include <grpc/support/time.h>

#include "clock.h"
#include "grpc_common.h"
#include "pb_reader.h"

#define CANCEL_WAIT_MS 2000
#define FINAL_KEY "triton_final_response"

enum { TAG_SEND = 0, TAG_RECV = 1, TAG_STATUS = 2 };

typedef struct slot {
    pa_slot base; /* first */
    pa_grpc_call_io io; /* the slot's stream (io.call NULL when none) */
    int metadata_sent;
    int send_pending;
    int queued;      /* a request waits for the previous send to complete */
    int ended;       /* the stream is over (no more responses) */
    int ops;         /* operations outstanding on the stream */
    grpc_slice body;
    uint64_t received, responses;
    uint64_t first_ns;
    pa_request_times t;
    /* Validation only: the request's body, expected outputs seen so far, the
     * first mismatch, and the buffer a response in several slices is copied to. */
    size_t body_index;
    uint64_t seen;
    int invalid;
    char invalid_msg[PA_ERROR_MESSAGE_LEN];
    pa_body_buf flat;
    /* With an export only: this request's response times so far. Kept with
     * the slot and grown only past the most responses seen, so steady state
     * allocates nothing; handed to the engine's log when the request ends,
     * because its record (and so its index) exists only then. */
    uint64_t *times;
    size_t n_times, times_cap;
    /* Sequences: the request's id and flags, and where they go in its
     * message (kept for a send that waits its turn). */
    pa_seq_request req;
    const pa_grpc_seq_fields *fields;
} slot;

typedef struct stream_engine {
    pa_engine base; /* first */
    grpc_completion_queue *cq;
    grpc_channel **channels;
    unsigned n_channels, next_channel;
    grpc_slice method;
    grpc_slice *messages;
    size_t n_messages;
    const pa_validator *validator;
    pa_grpc_seq_fields *seq_fields; /* sequences: where each message's fields are */
    char where[200];
} stream_engine;

/* Slots are calloc'ed, so their low pointer bits are free for the op kind. */
static void *tag(slot *s, int kind) { return (void *)((uintptr_t)s | (uintptr_t)kind); }

/* ---- the few protobuf fields we read ------------------------------------ */

typedef struct response_info {
    int final;
    int has_data;
    const uint8_t *error;
    size_t error_len;
    const uint8_t *infer; /* the ModelInferResponse, for validation */
    size_t infer_len;
} response_info;

/* parameters map entry {1: key, 2: InferParameter {1: bool_param}} */
static void parse_parameter(const uint8_t *p, size_t len, response_info *r) {
    int is_final_key = 0, value_true = 0;
    pb_reader e, v;
    pb_field f, g;
    pb_reader_init(&e, p, len);
    while (pb_next(&e, &f) == 1) {
        if (f.number == 1 && f.wire == PB_LEN)
            is_final_key = f.len == sizeof(FINAL_KEY) - 1 && memcmp(f.data, FINAL_KEY, f.len) == 0;
        else if (f.number == 2 && f.wire == PB_LEN) {
            pb_reader_init(&v, f.data, f.len);
            while (pb_next(&v, &g) == 1)
                if (g.number == 1 && g.wire == PB_VARINT)
                    value_true = g.value != 0;
        }
    }
    if (is_final_key && value_true)
        r->final = 1;
}

/* ModelStreamInferResponse {1: error_message, 2: ModelInferResponse {4: parameters, 5: outputs, 6: raw}} */
static int parse_response(const uint8_t *p, size_t len, response_info *r) {
    pb_reader m, in;
    pb_field f, g;
    int rc;
    memset(r, 0, sizeof(*r));
    pb_reader_init(&m, p, len);
    while ((rc = pb_next(&m, &f)) == 1) {
        if (f.wire != PB_LEN)
            continue;
        if (f.number == 1 && f.len) {
            r->error = f.data;
            r->error_len = f.len;
        } else if (f.number == 2) {
            r->infer = f.data;
            r->infer_len = f.len;
            pb_reader_init(&in, f.data, f.len);
            while ((rc = pb_next(&in, &g)) == 1) {
                if (g.number == 4 && g.wire == PB_LEN)
                    parse_parameter(g.data, g.len, r);
                else if (g.number == 5 || g.number == 6)
                    r->has_data = 1;
            }
            if (rc < 0)
                return -1;
        }
    }
    return rc;
}

/* ---- the stream's life ---------------------------------------------------- */

static int start_ops(slot *s, grpc_op *ops, size_t n, int kind) {
    if (grpc_call_start_batch(s->io.call, ops, n, tag(s, kind), NULL) != GRPC_CALL_OK)
        return -1;
    s->ops++;
    return 0;
}

static int arm_recv(slot *s) {
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &s->io.recv;
    s->io.recv = NULL;
    return start_ops(s, &op, 1, TAG_RECV);
}

static int open_stream(stream_engine *e, slot *s) {
    grpc_channel *ch = e->channels[e->next_channel];
    if (++e->next_channel == e->n_channels)
        e->next_channel = 0;
    s->io.call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, e->cq, e->method, NULL,
                                       gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (!s->io.call)
        return -1;
    s->metadata_sent = s->send_pending = s->queued = s->ended = 0;
    s->io.initial_md.count = s->io.trailing_md.count = 0;
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &s->io.trailing_md;
    ops[0].data.recv_status_on_client.status = &s->io.status;
    ops[0].data.recv_status_on_client.status_details = &s->io.details;
    if (start_ops(s, ops, 1, TAG_STATUS) != 0)
        return -1;
    ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[0].data.recv_initial_metadata.recv_initial_metadata = &s->io.initial_md;
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &s->io.recv;
    s->io.recv = NULL;
    return start_ops(s, ops, 2, TAG_RECV);
}

static int send_request(slot *s) {
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    size_t n = 0;
    if (!s->metadata_sent)
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    pa_grpc_fill_message(s->io.send, s->body, s->fields, &s->req);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = s->io.send;
    s->t.send_end_ns = pa_now_ns();
    if (start_ops(s, ops, n, TAG_SEND) != 0)
        return -1;
    s->metadata_sent = 1;
    s->send_pending = 1;
    return 0;
}

/* Every operation of an ended stream is done: free it; a request still on it failed. */
static void finish_stream(stream_engine *e, slot *s) {
    grpc_status_code status = s->io.status;
    char msg[PA_ERROR_MESSAGE_LEN];
    if (status == GRPC_STATUS_OK)
        snprintf(msg, sizeof(msg), "gRPC stream to %s ended before the final response", e->where);
    else
        pa_grpc_status_message(status, s->io.details, e->where, msg, sizeof(msg));
    grpc_slice_unref(s->io.details);
    s->io.details = grpc_empty_slice();
    grpc_call_unref(s->io.call);
    s->io.call = NULL;
    if (s->base.active)
        pa_engine_request_failed(&e->base, &s->base,
                                 status == GRPC_STATUS_OK ? PA_ERR_TRANSPORT : pa_grpc_error_kind(status),
                                 status == GRPC_STATUS_OK ? -1 : (int)status, msg,
                                 status == GRPC_STATUS_UNAVAILABLE || status == GRPC_STATUS_OK);
}

static void keep_time(stream_engine *e, slot *s, uint64_t now) {
    if (!e->base.keep_records)
        return;
    if (s->n_times == s->times_cap) {
        size_t cap = s->times_cap ? 2 * s->times_cap : 8;
        uint64_t *grown = realloc(s->times, cap * sizeof(*grown));
        if (!grown) {
            e->base.responses.out_of_memory = 1;
            return;
        }
        s->times = grown;
        s->times_cap = cap;
    }
    s->times[s->n_times++] = now;
}

static void on_response(stream_engine *e, slot *s, const response_info *r, size_t len) {
    if (!s->base.active)
        return; /* nothing asked for it (a response after an error answer) */
    uint64_t now = pa_now_ns();
    if (r->error) {
        char msg[PA_ERROR_MESSAGE_LEN];
        snprintf(msg, sizeof(msg), "gRPC stream error: %.*s", (int)(r->error_len > 256 ? 256 : r->error_len),
                 (const char *)r->error);
        pa_engine_request_failed(&e->base, &s->base, PA_ERR_OTHER, PA_GRPC_STREAM_ERROR, msg, 0);
        return;
    }
    s->received += len;
    if (e->validator && r->infer && !s->invalid && pa_validator_expects(e->validator, s->body_index) &&
        pa_check_kserve_response(e->validator, s->body_index, r->infer, r->infer_len, &s->seen, s->invalid_msg,
                                 sizeof(s->invalid_msg)))
        s->invalid = 1;
    if (r->has_data) {
        if (!s->responses++)
            s->first_ns = now;
        s->t.end_ns = now;
        keep_time(e, s, now);
    }
    if (!r->final)
        return;
    if (!s->responses) { /* only an empty final response: it ends the latency */
        s->first_ns = s->t.end_ns = now;
        keep_time(e, s, now);
    }
    if (e->validator && !s->invalid &&
        pa_validator_check_seen(e->validator, s->body_index, s->seen, s->invalid_msg, sizeof(s->invalid_msg)))
        s->invalid = 1;
    if (s->invalid) { /* a failed request, as in perf_analyzer */
        pa_engine_request_failed(&e->base, &s->base, PA_ERR_OTHER, -1, s->invalid_msg, 0);
        return;
    }
    s->t.recv_start_ns = s->t.end_ns;
    s->base.active = 0;
    pa_engine_end_step(&e->base, &s->base);
    if (!pa_engine_closing_request(&e->base, s->t.start_ns))
        pa_engine_keep_responses(&e->base, s->times, s->n_times);
    pa_engine_record_stream_ok(&e->base, &s->t, GRPC_SLICE_LENGTH(s->body), s->received, s->responses, s->first_ns);
    pa_engine_slot_done(&e->base, &s->base);
}

static void on_recv(stream_engine *e, slot *s, int success) {
    if (!success || !s->io.recv) {
        s->ended = 1; /* the status follows */
        return;
    }
    /* The parsed response points into the message's bytes: they are released
     * only after it has been recorded. */
    grpc_byte_buffer *got = s->io.recv;
    s->io.recv = NULL;
    size_t len = grpc_byte_buffer_length(got);
    grpc_slice all = grpc_empty_slice();
    response_info r;
    int parsed = -1;
    if (e->validator) {
        /* the same copy as readall's below for several slices, into a reused buffer */
        size_t n;
        const uint8_t *bytes = pa_grpc_message_bytes(got, &s->flat, &n);
        if (bytes)
            parsed = parse_response(bytes, n, &r);
    } else {
        grpc_byte_buffer_reader reader;
        grpc_slice *one = NULL;
        if (grpc_byte_buffer_reader_init(&reader, got)) {
            if (got->data.raw.compression == GRPC_COMPRESS_NONE && got->data.raw.slice_buffer.count == 1 &&
                grpc_byte_buffer_reader_peek(&reader, &one)) {
                parsed = parse_response(GRPC_SLICE_START_PTR(*one), GRPC_SLICE_LENGTH(*one), &r);
            } else {
                all = grpc_byte_buffer_reader_readall(&reader); /* several slices: one copy */
                parsed = parse_response(GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), &r);
            }
            grpc_byte_buffer_reader_destroy(&reader);
        }
    }
    if (arm_recv(s) != 0)
        s->ended = 1;
    if (parsed != 0) {
        if (s->base.active) {
            char msg[PA_ERROR_MESSAGE_LEN];
            snprintf(msg, sizeof(msg), "malformed gRPC stream response from %s", e->where);
            pa_engine_request_failed(&e->base, &s->base, PA_ERR_OTHER, -1, msg, 0);
        }
    } else {
        on_response(e, s, &r, len);
    }
    grpc_slice_unref(all);
    grpc_byte_buffer_destroy(got);
}

static void on_completion(stream_engine *e, void *t, int success) {
    slot *s = (slot *)((uintptr_t)t & ~(uintptr_t)3);
    int kind = (int)((uintptr_t)t & 3);
    s->ops--;
    if (kind == TAG_SEND) {
        s->send_pending = 0;
        if (success && s->queued && !s->ended) {
            s->queued = 0;
            if (send_request(s) != 0)
                s->ended = 1;
        }
    } else if (kind == TAG_RECV) {
        on_recv(e, s, success);
    } else {
        s->ended = 1;
    }
    if (s->ended && s->ops == 0 && s->io.call)
        finish_stream(e, s);
}

static void start_request(pa_engine *base, pa_slot *ps) {
    stream_engine *e = (stream_engine *)base;
    slot *s = (slot *)ps;
    if (pa_engine_next_step(base, ps, e->n_messages, e->where, &s->req) != 0)
        return;
    s->body = e->messages[s->req.body];
    s->body_index = s->req.body;
    s->fields = ps->seq >= 0 ? &e->seq_fields[s->req.body] : NULL;
    memset(&s->t, 0, sizeof(s->t));
    s->t.scheduled_ns = ps->scheduled_ns;
    s->t.start_ns = pa_now_ns();
    s->received = s->responses = 0;
    s->n_times = 0;
    s->seen = 0;
    s->invalid = 0;
    ps->active = 1;
    if (s->io.call && s->ended) {
        /* the old stream is still winding down: cancel it; this request fails with it */
        grpc_call_cancel(s->io.call, NULL);
        return;
    }
    if (!s->io.call && open_stream(e, s) != 0) {
        char msg[PA_ERROR_MESSAGE_LEN];
        snprintf(msg, sizeof(msg), "cannot open a gRPC stream to %s", e->where);
        if (s->io.call) {
            grpc_call_cancel(s->io.call, NULL); /* finish_stream records it once its ops are done */
            s->ended = 1;
            return;
        }
        pa_engine_request_failed(&e->base, &s->base, PA_ERR_TRANSPORT, -1, msg, 1);
        return;
    }
    if (s->send_pending) {
        s->queued = 1;
        return;
    }
    if (send_request(s) != 0) {
        grpc_call_cancel(s->io.call, NULL);
        s->ended = 1;
    }
}

static pa_slot *new_slot(pa_engine *base) {
    (void)base;
    return pa_grpc_new_slot(sizeof(slot), offsetof(slot, io));
}

static void on_complete(pa_engine *base, void *tag, int success) {
    on_completion((stream_engine *)base, tag, success);
}

static void *run(void *arg) {
    stream_engine *e = arg;
    pa_grpc_loop(&e->base, e->cq, on_complete);
    /* Every stream is cancelled and its operations collected, nothing recorded. */
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        s->base.active = 0;
        if (s->io.call)
            grpc_call_cancel(s->io.call, NULL);
    }
    for (;;) {
        int open = 0;
        for (unsigned i = 0; i < e->base.n_slots && !open; i++)
            open = ((slot *)e->base.slots[i])->io.call != NULL;
        if (!open)
            break;
        grpc_event ev = grpc_completion_queue_next(e->cq, pa_grpc_after_ns(CANCEL_WAIT_MS * 1000000ull), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            break;
        slot *s = (slot *)((uintptr_t)ev.tag & ~(uintptr_t)3);
        s->ops--;
        s->ended = 1;
        if (s->io.recv && ((uintptr_t)ev.tag & 3) == TAG_RECV) {
            grpc_byte_buffer_destroy(s->io.recv);
            s->io.recv = NULL;
        }
        if (s->ops == 0 && s->io.call) {
            grpc_slice_unref(s->io.details);
            s->io.details = grpc_empty_slice();
            grpc_call_unref(s->io.call);
            s->io.call = NULL;
        }
    }
    return NULL;
}

static void wake(pa_engine *base) { (void)base; }

static void destroy(pa_engine *base) {
    stream_engine *e = (stream_engine *)base;
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        pa_grpc_io_free(&s->io);
        free(s->times);
        free(s->flat.data);
        free(s);
    }
    free(e->base.slots);
    pa_grpc_release(e->channels, e->n_channels, e->cq, e->messages, e->n_messages);
    free(e->seq_fields);
    grpc_slice_unref(e->method);
    grpc_shutdown();
    free(e);
}

static const pa_engine_ops stream_ops = {run, wake, destroy, new_slot, start_request};

pa_engine *pa_grpc_stream_engine_create(const pa_grpc_config *cfg, char *err, size_t errlen) {
    if (!cfg->target || !*cfg->target || !cfg->method || cfg->n_messages == 0) {
        snprintf(err, errlen, "a target, a method and at least one request message are required");
        return NULL;
    }
    if (cfg->request_timeout_ms > 0) {
        snprintf(err, errlen, "a request timeout is not supported on gRPC streams");
        return NULL;
    }
    if (cfg->validator && cfg->response_format != PA_RESPONSE_KSERVE) {
        snprintf(err, errlen, "gRPC streams carry KServe responses only: no other response format to validate");
        return NULL;
    }
    unsigned n_channels = cfg->channels ? cfg->channels : 1;
    stream_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory creating the gRPC streaming engine");
        return NULL;
    }
    pa_engine_init(&e->base, &stream_ops);
    grpc_init();
    e->method = grpc_slice_from_copied_string(cfg->method);
    snprintf(e->where, sizeof(e->where), "%s", cfg->target);
    e->validator = cfg->validator;
    e->cq = grpc_completion_queue_create_for_next(NULL);
    e->channels = calloc(n_channels, sizeof(*e->channels));
    e->messages = calloc(cfg->n_messages, sizeof(*e->messages));
    if (!e->cq || !e->channels || !e->messages) {
        snprintf(err, errlen, "out of memory creating the gRPC streaming engine");
        destroy(&e->base);
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_messages; i++)
        e->messages[e->n_messages++] = grpc_slice_from_copied_buffer(cfg->messages[i].data, cfg->messages[i].len);
    if (cfg->sequencer) {
        e->seq_fields = pa_grpc_seq_fields_of(cfg, err, errlen);
        if (!e->seq_fields) {
            destroy(&e->base);
            return NULL;
        }
        e->base.sequencer = cfg->sequencer;
    }
    e->n_channels = n_channels;
    if (pa_grpc_open_channels(cfg, e->channels, n_channels, err, errlen) != 0) {
        destroy(&e->base);
        return NULL;
    }
    return &e->base;
}
