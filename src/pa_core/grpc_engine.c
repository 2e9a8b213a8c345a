/* Closed- and open-loop unary gRPC load on the gRPC C core. Each request is
 * one call with one batch (send metadata, send message, close, receive
 * metadata, message and status), so it costs one completion on the engine's
 * completion queue, polled by the engine thread itself.
 *
 * Request messages are serialized once: each becomes one refcounted slice,
 * and each slot owns one byte buffer that is refilled with a reference to
 * that slice per call, so nothing is allocated per request here (gRPC core
 * allocates the call's arena and the response).
 *
 * Timestamps (one completion per call means gRPC tells us nothing between
 * the send and the answer):
 *   start_ns      before the call is created
 *   send_end_ns   the call is created and its message in place, just before
 *                 grpc_call_start_batch (which starts writing it to the network)
 *   recv_start_ns the completion was taken from the queue
 *   end_ns        the response and the call were released (the "unmarshal" part)
 * With validation_data, the response is kept past end_ns and then compared
 * (flattened into the slot's buffer when it came in several slices), so
 * validating does not change what is timed; without it nothing is read. So "(un)marshal" = send + recv (the client's own work around the call; the
 * message itself was serialized before the run) and "response wait" = writing
 * the request, waiting, and reading the response, as perf_analyzer defines it. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpc/slice_buffer.h>
#include <grpc/support/time.h>

#include "clock.h"
#include "grpc_common.h"

#define CANCEL_WAIT_MS 2000

typedef struct slot {
    pa_slot base; /* first */
    pa_grpc_call_io io;
    size_t sent_len;
    size_t body_index;     /* which message this call sent: the validator's body */
    pa_body_buf flat, scratch; /* validation only: the response's bytes, decoded typed values */
    pa_request_times t;
} slot;

typedef struct grpc_engine {
    pa_engine base; /* first: the engine is used through a pa_engine pointer */
    grpc_completion_queue *cq;
    grpc_channel **channels;
    unsigned n_channels;
    unsigned next_channel;
    grpc_slice method;
    grpc_slice *messages;
    size_t n_messages;
    pa_grpc_seq_fields *seq_fields; /* sequences: where each message's fields are */
    long request_timeout_ms;
    const pa_validator *validator;
    int response_format;
    int grpc_inited;
    char where[300];
} grpc_engine;

static void release_call(slot *s) {
    if (s->io.recv) {
        grpc_byte_buffer_destroy(s->io.recv);
        s->io.recv = NULL;
    }
    if (s->io.call) {
        grpc_call_unref(s->io.call);
        s->io.call = NULL;
    }
    grpc_slice_unref(s->io.details);
    s->io.details = grpc_empty_slice();
}

static void fail_start(grpc_engine *e, slot *s, const char *what) {
    char msg[PA_ERROR_MESSAGE_LEN];
    snprintf(msg, sizeof(msg), "%s %.200s", what, e->where);
    release_call(s);
    pa_engine_request_failed(&e->base, &s->base, PA_ERR_TRANSPORT, -1, msg, 1);
}

static void start_request(pa_engine *base, pa_slot *ps) {
    grpc_engine *e = (grpc_engine *)base;
    slot *s = (slot *)ps;
    pa_seq_request q;
    if (pa_engine_next_step(base, ps, e->n_messages, e->where, &q) != 0)
        return;
    grpc_slice body = e->messages[q.body];
    s->body_index = q.body;
    grpc_channel *ch = e->channels[e->next_channel];
    if (++e->next_channel == e->n_channels)
        e->next_channel = 0;
    memset(&s->t, 0, sizeof(s->t));
    s->t.scheduled_ns = ps->scheduled_ns;
    s->t.start_ns = pa_now_ns();
    ps->active = 1;

    pa_grpc_fill_message(s->io.send, body, ps->seq >= 0 ? &e->seq_fields[q.body] : NULL, &q);
    s->sent_len = GRPC_SLICE_LENGTH(body);
    s->io.initial_md.count = 0; /* arrays keep their capacity from call to call */
    s->io.trailing_md.count = 0;
    s->io.recv = NULL;
    s->io.status = GRPC_STATUS_OK;

    gpr_timespec deadline = e->request_timeout_ms > 0
                                ? pa_grpc_after_ns((uint64_t)e->request_timeout_ms * 1000000ull)
                                : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    s->io.call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, e->cq, e->method, NULL, deadline, NULL);
    if (!s->io.call) {
        fail_start(e, s, "cannot create a gRPC call to");
        return;
    }
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->io.send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->io.initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->io.recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->io.trailing_md;
    ops[5].data.recv_status_on_client.status = &s->io.status;
    ops[5].data.recv_status_on_client.status_details = &s->io.details;
    s->t.send_end_ns = pa_now_ns();
    grpc_call_error rc = grpc_call_start_batch(s->io.call, ops, 6, s, NULL);
    if (rc != GRPC_CALL_OK)
        fail_start(e, s, "cannot start a gRPC call to");
}

/* 0 when the response matches the validation data of the slot's body; 1 with msg. */
static int invalid_response(grpc_engine *e, slot *s, grpc_byte_buffer *resp, char *msg, size_t msglen) {
    if (!pa_validator_expects(e->validator, s->body_index))
        return 0;
    if (!resp) {
        snprintf(msg, msglen, "%s: the response from %.200s has no message", PA_MISMATCH, e->where);
        return 1;
    }
    size_t len;
    const uint8_t *p = pa_grpc_message_bytes(resp, &s->flat, &len);
    if (!p) {
        snprintf(msg, msglen, "out of memory reading a response to validate it");
        return 1;
    }
    return pa_check_response(e->validator, e->response_format, s->body_index, p, len, &s->scratch, msg, msglen);
}

static void complete(grpc_engine *e, slot *s, int success) {
    s->t.recv_start_ns = pa_now_ns();
    size_t received = s->io.recv ? grpc_byte_buffer_length(s->io.recv) : 0;
    grpc_status_code status = success ? s->io.status : GRPC_STATUS_UNAVAILABLE;
    char msg[PA_ERROR_MESSAGE_LEN];
    if (status != GRPC_STATUS_OK)
        pa_grpc_status_message(status, s->io.details, e->where, msg, sizeof(msg));
    grpc_byte_buffer *resp = NULL;
    if (e->validator && status == GRPC_STATUS_OK) {
        resp = s->io.recv; /* kept for validation, after the end timestamp */
        s->io.recv = NULL;
    }
    release_call(s);
    s->t.end_ns = pa_now_ns();
    if (e->validator && status == GRPC_STATUS_OK) {
        int bad = invalid_response(e, s, resp, msg, sizeof(msg));
        if (resp)
            grpc_byte_buffer_destroy(resp);
        if (bad) {
            pa_engine_request_failed(&e->base, &s->base, PA_ERR_OTHER, -1, msg, 0); /* as in perf_analyzer */
            return;
        }
    }
    if (status == GRPC_STATUS_OK) {
        s->base.active = 0;
        pa_engine_end_step(&e->base, &s->base);
        pa_engine_record_ok(&e->base, &s->t, s->sent_len, received);
        pa_engine_slot_done(&e->base, &s->base);
        return;
    }
    /* no server: wait before trying again, as after a refused connect */
    pa_engine_request_failed(&e->base, &s->base, pa_grpc_error_kind(status), (int)status, msg,
                             status == GRPC_STATUS_UNAVAILABLE);
}

static pa_slot *new_slot(pa_engine *base) {
    (void)base;
    return pa_grpc_new_slot(sizeof(slot), offsetof(slot, io));
}

/* Calls still in flight when the loop ends are cancelled and their
 * completions collected (not recorded): a call must finish before it is freed. */
static void abandon_in_flight(grpc_engine *e) {
    unsigned active = 0;
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        if (s->base.active && s->io.call) {
            grpc_call_cancel(s->io.call, NULL);
            active++;
        }
    }
    while (active) {
        grpc_event ev = grpc_completion_queue_next(e->cq, pa_grpc_after_ns(CANCEL_WAIT_MS * 1000000ull), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            break;
        slot *s = ev.tag;
        release_call(s);
        s->base.active = 0;
        active--;
    }
}

static void on_complete(pa_engine *base, void *tag, int success) { complete((grpc_engine *)base, tag, success); }

static void *run(void *arg) {
    grpc_engine *e = arg;
    pa_grpc_loop(&e->base, e->cq, on_complete);
    abandon_in_flight(e);
    return NULL;
}

static void wake(pa_engine *base) { (void)base; /* the loop polls every MAX_WAIT_NS */ }

static void destroy(pa_engine *base) {
    grpc_engine *e = (grpc_engine *)base;
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        pa_grpc_io_free(&s->io);
        free(s->flat.data);
        free(s->scratch.data);
        free(s);
    }
    free(e->base.slots);
    pa_grpc_release(e->channels, e->n_channels, e->cq, e->messages, e->n_messages);
    free(e->seq_fields);
    if (e->grpc_inited) {
        grpc_slice_unref(e->method);
        grpc_shutdown();
    }
    free(e);
}

static const pa_engine_ops grpc_ops = {run, wake, destroy, new_slot, start_request};

pa_engine *pa_grpc_engine_create(const pa_grpc_config *cfg, char *err, size_t errlen) {
    if (!cfg->target || !*cfg->target || !cfg->method || cfg->n_messages == 0) {
        snprintf(err, errlen, "a target, a method and at least one request message are required");
        return NULL;
    }
    if (cfg->compression < PA_GRPC_COMPRESS_NONE || cfg->compression > PA_GRPC_COMPRESS_GZIP) {
        snprintf(err, errlen, "unknown gRPC compression algorithm %d", cfg->compression);
        return NULL;
    }
    unsigned n_channels = cfg->channels ? cfg->channels : 1;
    grpc_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory creating the gRPC engine");
        return NULL;
    }
    pa_engine_init(&e->base, &grpc_ops);
    grpc_init();
    e->grpc_inited = 1;
    e->method = grpc_slice_from_copied_string(cfg->method);
    snprintf(e->where, sizeof(e->where), "%s", cfg->target);
    e->request_timeout_ms = cfg->request_timeout_ms;
    e->validator = cfg->validator;
    e->response_format = cfg->response_format;
    e->cq = grpc_completion_queue_create_for_next(NULL);
    e->channels = calloc(n_channels, sizeof(*e->channels));
    e->messages = calloc(cfg->n_messages, sizeof(*e->messages));
    if (!e->cq || !e->channels || !e->messages)
        goto oom;
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

    e->n_channels = n_channels; /* destroy skips the NULL ones */
    if (pa_grpc_open_channels(cfg, e->channels, n_channels, err, errlen) != 0) {
        destroy(&e->base);
        return NULL;
    }
    return &e->base;
oom:
    snprintf(err, errlen, "out of memory creating the gRPC engine");
    destroy(&e->base);
    return NULL;
}
