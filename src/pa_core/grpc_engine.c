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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/slice_buffer.h>
#include <grpc/support/time.h>

#include "clock.h"
#include "grpc_common.h"

/* The loop polls at least this often: gRPC's C API has no portable way to
 * interrupt another thread's grpc_completion_queue_next, so control changes
 * (new level, budget, stop) are seen within this time when nothing completes. */
#define MAX_WAIT_NS 2000000ull
/* The queue's timed wait rounds up to whole milliseconds: a send due sooner
 * than this is waited for in short sleeps between non-blocking looks. */
#define FINE_WAIT_NS 1500000ull
#define FINE_STEP_NS 200000ull
#define DRAIN_MAX 256u /* completions taken per turn of the loop, at most */
#define CANCEL_WAIT_MS 2000

typedef struct slot {
    pa_slot base; /* first */
    grpc_call *call;
    grpc_byte_buffer *send; /* refilled per call with a reference to the message slice */
    grpc_byte_buffer *recv;
    grpc_metadata_array initial_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
    size_t sent_len;
    size_t body_index;     /* which message this call sent: the validator's body */
    pa_body_buf flat, scratch; /* validation only: the response's bytes, decoded typed values */
    pa_request_times t;
    long seq; /* sequences: the sequence of the request in flight, -1 none */
    uint64_t seq_id; /* ... and its correlation ID */
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
    size_t next_message;
    pa_grpc_seq_fields *seq_fields; /* sequences: where each message's fields are */
    long request_timeout_ms;
    const pa_validator *validator;
    int response_format;
    int grpc_inited;
    char where[300];
} grpc_engine;

static const char *const STATUS_NAMES[] = {
    "OK",       "CANCELLED",           "UNKNOWN",            "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",        "DATA_LOSS",        "UNAUTHENTICATED",
};

const char *pa_grpc_status_name(int code) {
    if (code < 0 || code >= (int)(sizeof(STATUS_NAMES) / sizeof(STATUS_NAMES[0])))
        return "UNKNOWN_CODE";
    return STATUS_NAMES[code];
}

/* The caller's mistakes go with HTTP 4xx, the server's with 5xx, and no
 * answer at all (unreachable, cancelled, deadline) with transport errors. */
enum pa_error_kind pa_grpc_error_kind(grpc_status_code code) {
    switch (code) {
    case GRPC_STATUS_UNAVAILABLE:
    case GRPC_STATUS_CANCELLED:
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return PA_ERR_TRANSPORT;
    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_NOT_FOUND:
    case GRPC_STATUS_ALREADY_EXISTS:
    case GRPC_STATUS_PERMISSION_DENIED:
    case GRPC_STATUS_FAILED_PRECONDITION:
    case GRPC_STATUS_OUT_OF_RANGE:
    case GRPC_STATUS_UNAUTHENTICATED:
        return PA_ERR_HTTP_4XX;
    case GRPC_STATUS_UNKNOWN:
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
    case GRPC_STATUS_ABORTED:
    case GRPC_STATUS_UNIMPLEMENTED:
    case GRPC_STATUS_INTERNAL:
    case GRPC_STATUS_DATA_LOSS:
        return PA_ERR_HTTP_5XX;
    default:
        return PA_ERR_OTHER;
    }
}

static gpr_timespec after_ns(uint64_t ns) {
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos((int64_t)ns, GPR_TIMESPAN));
}

static void release_call(slot *s) {
    if (s->recv) {
        grpc_byte_buffer_destroy(s->recv);
        s->recv = NULL;
    }
    if (s->call) {
        grpc_call_unref(s->call);
        s->call = NULL;
    }
    grpc_slice_unref(s->details);
    s->details = grpc_empty_slice();
}

static void release_sequence(grpc_engine *e, slot *s) {
    if (s->seq >= 0)
        pa_seq_done(e->base.sequencer, (unsigned)s->seq);
    s->seq = -1;
}

static void fail_start(grpc_engine *e, slot *s, enum pa_error_kind kind, const char *what) {
    char msg[PA_ERROR_MESSAGE_LEN];
    snprintf(msg, sizeof(msg), "%s %s", what, e->where);
    release_call(s);
    release_sequence(e, s);
    s->base.active = 0;
    pa_engine_record_error(&e->base, kind, msg);
    pa_engine_slot_backoff(&e->base, &s->base, pa_now_ns());
}

static void start_request(pa_engine *base, pa_slot *ps) {
    grpc_engine *e = (grpc_engine *)base;
    slot *s = (slot *)ps;
    pa_seq_request q;
    grpc_slice body;
    if (e->base.sequencer) {
        long which = e->base.schedule.kind == PA_LOAD_CLOSED ? (long)ps->index : -1;
        if (pa_seq_next(e->base.sequencer, which, &q) != 0) {
            ps->active = 1; /* recorded as a failed request, which ends it */
            fail_start(e, s, PA_ERR_OTHER, "no sequence free for a request to"); /* not a transport failure */
            return;
        }
        s->seq = q.seq;
        s->seq_id = q.id;
        body = e->messages[q.body];
        s->body_index = q.body;
    } else {
        body = e->messages[e->next_message];
        s->body_index = e->next_message;
        if (++e->next_message == e->n_messages)
            e->next_message = 0;
    }
    grpc_channel *ch = e->channels[e->next_channel];
    if (++e->next_channel == e->n_channels)
        e->next_channel = 0;
    memset(&s->t, 0, sizeof(s->t));
    s->t.scheduled_ns = ps->scheduled_ns;
    s->t.start_ns = pa_now_ns();
    ps->active = 1;

    /* gRPC takes the slices of a sent message: put new references in. */
    if (s->seq >= 0) {
        pa_grpc_seq_fill(&s->send->data.raw.slice_buffer, body, &e->seq_fields[q.body], &q);
    } else {
        grpc_slice_buffer_reset_and_unref(&s->send->data.raw.slice_buffer);
        grpc_slice_buffer_add(&s->send->data.raw.slice_buffer, grpc_slice_ref(body));
    }
    s->sent_len = GRPC_SLICE_LENGTH(body);
    s->initial_md.count = 0; /* arrays keep their capacity from call to call */
    s->trailing_md.count = 0;
    s->recv = NULL;
    s->status = GRPC_STATUS_OK;

    gpr_timespec deadline = e->request_timeout_ms > 0 ? after_ns((uint64_t)e->request_timeout_ms * 1000000ull)
                                                      : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    s->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, e->cq, e->method, NULL, deadline, NULL);
    if (!s->call) {
        fail_start(e, s, PA_ERR_TRANSPORT, "cannot create a gRPC call to");
        return;
    }
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->trailing_md;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    s->t.send_end_ns = pa_now_ns();
    grpc_call_error rc = grpc_call_start_batch(s->call, ops, 6, s, NULL);
    if (rc != GRPC_CALL_OK)
        fail_start(e, s, PA_ERR_TRANSPORT, "cannot start a gRPC call to");
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
    size_t received = s->recv ? grpc_byte_buffer_length(s->recv) : 0;
    grpc_status_code status = success ? s->status : GRPC_STATUS_UNAVAILABLE;
    char msg[PA_ERROR_MESSAGE_LEN];
    if (status != GRPC_STATUS_OK) {
        size_t n = GRPC_SLICE_LENGTH(s->details);
        if (n > 256)
            n = 256;
        if (n)
            snprintf(msg, sizeof(msg), "gRPC %s: %.*s", pa_grpc_status_name(status), (int)n,
                     (const char *)GRPC_SLICE_START_PTR(s->details));
        else
            snprintf(msg, sizeof(msg), "gRPC %s from %s", pa_grpc_status_name(status), e->where);
    }
    grpc_byte_buffer *resp = NULL;
    if (e->validator && status == GRPC_STATUS_OK) {
        resp = s->recv; /* kept for validation, after the end timestamp */
        s->recv = NULL;
    }
    release_call(s);
    release_sequence(e, s);
    s->t.end_ns = pa_now_ns();
    s->base.active = 0;
    if (e->validator && status == GRPC_STATUS_OK) {
        int bad = invalid_response(e, s, resp, msg, sizeof(msg));
        if (resp)
            grpc_byte_buffer_destroy(resp);
        if (bad) {
            pa_engine_record_error(&e->base, PA_ERR_OTHER, msg); /* a failed request, as in perf_analyzer */
            pa_engine_slot_done(&e->base, &s->base);
            return;
        }
    }
    if (status == GRPC_STATUS_OK) {
        e->base.sequence_id = s->seq_id; /* for the export's record; 0 without sequences */
        pa_engine_record_ok(&e->base, &s->t, s->sent_len, received);
        pa_engine_slot_done(&e->base, &s->base);
        return;
    }
    pa_engine_record_grpc_error(&e->base, pa_grpc_error_kind(status), (int)status, msg);
    if (status == GRPC_STATUS_UNAVAILABLE) /* no server: wait before trying again, as after a refused connect */
        pa_engine_slot_backoff(&e->base, &s->base, pa_now_ns());
    else
        pa_engine_slot_done(&e->base, &s->base);
}

static pa_slot *new_slot(pa_engine *base) {
    (void)base;
    slot *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->send = grpc_raw_byte_buffer_create(NULL, 0);
    grpc_metadata_array_init(&s->initial_md);
    grpc_metadata_array_init(&s->trailing_md);
    s->details = grpc_empty_slice();
    s->seq = -1;
    return &s->base;
}

/* Calls still in flight when the loop ends are cancelled and their
 * completions collected (not recorded): a call must finish before it is freed. */
static void abandon_in_flight(grpc_engine *e) {
    unsigned active = 0;
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        if (s->base.active && s->call) {
            grpc_call_cancel(s->call, NULL);
            active++;
        }
    }
    while (active) {
        grpc_event ev = grpc_completion_queue_next(e->cq, after_ns(CANCEL_WAIT_MS * 1000000ull), NULL);
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

void pa_grpc_loop(pa_engine *e, grpc_completion_queue *cq, void (*on_complete)(pa_engine *, void *, int)) {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    for (;;) {
        if (!pa_engine_tick(e, pa_now_ns()))
            return;
        grpc_event ev = pa_grpc_next_event(e, cq);
        /* Every completion already queued is taken before the next sends: an
         * open loop behind its schedule sends a batch each turn, and one
         * completion per turn would leave the answers piling up. */
        for (unsigned k = 0; ev.type == GRPC_OP_COMPLETE; k++) {
            on_complete(e, ev.tag, ev.success);
            if (k + 1 == DRAIN_MAX)
                break;
            ev = grpc_completion_queue_next(cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
        }
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return;
    }
}

static void wake(pa_engine *base) { (void)base; /* the loop polls every MAX_WAIT_NS */ }

grpc_event pa_grpc_next_event(pa_engine *e, grpc_completion_queue *cq) {
    uint64_t wait_ns = MAX_WAIT_NS, due = pa_engine_next_due_ns(e);
    if (due) {
        uint64_t now = pa_now_ns();
        uint64_t until = pa_engine_sleep_before_ns(e, due, now);
        if (until < FINE_WAIT_NS) {
            uint64_t wake_at = now + until;
            for (;;) {
                grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
                if (ev.type != GRPC_QUEUE_TIMEOUT)
                    return ev; /* completions are not held back by a coming send */
                now = pa_now_ns();
                if (now >= wake_at) {
                    if (until)
                        pa_engine_note_wakeup(e, wake_at, now);
                    return ev;
                }
                uint64_t step = wake_at - now < FINE_STEP_NS ? wake_at - now : FINE_STEP_NS;
                struct timespec ts = {0, (long)step};
                nanosleep(&ts, NULL);
            }
        }
        if (until - (FINE_WAIT_NS - 500000ull) < wait_ns)
            wait_ns = until - (FINE_WAIT_NS - 500000ull); /* wake with the fine wait still ahead */
    }
    return grpc_completion_queue_next(cq, after_ns(wait_ns), NULL);
}

static void destroy(pa_engine *base) {
    grpc_engine *e = (grpc_engine *)base;
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        release_call(s);
        if (s->send)
            grpc_byte_buffer_destroy(s->send);
        grpc_metadata_array_destroy(&s->initial_md);
        grpc_metadata_array_destroy(&s->trailing_md);
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

static grpc_arg int_arg(char *key, int value) {
    grpc_arg a;
    memset(&a, 0, sizeof(a));
    a.type = GRPC_ARG_INTEGER;
    a.key = key;
    a.value.integer = value;
    return a;
}

static grpc_channel_credentials *credentials(const pa_grpc_config *cfg) {
    if (!cfg->use_ssl)
        return grpc_insecure_credentials_create();
    grpc_ssl_pem_key_cert_pair pair = {cfg->private_key, cfg->cert_chain};
    int mutual = cfg->private_key && cfg->cert_chain;
    return grpc_ssl_credentials_create(cfg->root_certs, mutual ? &pair : NULL, NULL, NULL);
}

static const pa_engine_ops grpc_ops = {run, wake, destroy, new_slot, start_request};

const uint8_t *pa_grpc_message_bytes(grpc_byte_buffer *bb, pa_body_buf *buf, size_t *len) {
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb))
        return NULL;
    grpc_slice *one = NULL;
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        bb->data.raw.slice_buffer.count == 1 && grpc_byte_buffer_reader_peek(&reader, &one)) {
        /* the slice belongs to bb, not to the reader */
        grpc_byte_buffer_reader_destroy(&reader);
        *len = GRPC_SLICE_LENGTH(*one);
        return GRPC_SLICE_START_PTR(*one);
    }
    buf->len = 0;
    buf->overflow = 0;
    grpc_slice piece;
    while (grpc_byte_buffer_reader_next(&reader, &piece)) {
        pa_body_buf_append(buf, (const char *)GRPC_SLICE_START_PTR(piece), GRPC_SLICE_LENGTH(piece));
        grpc_slice_unref(piece);
    }
    grpc_byte_buffer_reader_destroy(&reader);
    if (buf->overflow)
        return NULL;
    *len = buf->len;
    return buf->data ? (const uint8_t *)buf->data : (const uint8_t *)"";
}

void pa_grpc_release(grpc_channel **channels, unsigned n_channels, grpc_completion_queue *cq,
                     grpc_slice *messages, size_t n_messages) {
    for (unsigned i = 0; channels && i < n_channels; i++)
        if (channels[i])
            grpc_channel_destroy(channels[i]);
    free(channels);
    if (cq) {
        grpc_completion_queue_shutdown(cq);
        while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN) {
        }
        grpc_completion_queue_destroy(cq);
    }
    for (size_t i = 0; i < n_messages; i++)
        grpc_slice_unref(messages[i]);
    free(messages);
}

int pa_grpc_open_channels(const pa_grpc_config *cfg, grpc_channel **channels, unsigned n_channels, char *err,
                          size_t errlen) {
    grpc_arg args[8];
    size_t n_args = 0;
    args[n_args++] = int_arg((char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, -1);
    args[n_args++] = int_arg((char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1);
    /* Channels with equal arguments would share one subchannel (one TCP
     * connection): a local pool gives each channel its own. */
    args[n_args++] = int_arg((char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    /* Per-call work we never use: the retry filter (it keeps a copy of every
     * sent message for a possible replay) and channelz call counters. */
    args[n_args++] = int_arg((char *)GRPC_ARG_ENABLE_RETRIES, 0);
    args[n_args++] = int_arg((char *)GRPC_ARG_ENABLE_CHANNELZ, 0);
    if (cfg->compression != PA_GRPC_COMPRESS_NONE)
        args[n_args++] = int_arg((char *)GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM,
                                 cfg->compression == PA_GRPC_COMPRESS_GZIP ? GRPC_COMPRESS_GZIP : GRPC_COMPRESS_DEFLATE);
    grpc_channel_args channel_args = {n_args, args};
    for (unsigned i = 0; i < n_channels; i++) {
        grpc_channel_credentials *creds = credentials(cfg);
        if (!creds) {
            snprintf(err, errlen, "cannot create the gRPC %s credentials for %s", cfg->use_ssl ? "TLS" : "insecure",
                     cfg->target);
            return -1;
        }
        channels[i] = grpc_channel_create(cfg->target, creds, &channel_args);
        grpc_channel_credentials_release(creds);
        if (!channels[i]) {
            snprintf(err, errlen, "cannot create a gRPC channel to %s", cfg->target);
            return -1;
        }
        grpc_channel_check_connectivity_state(channels[i], 1); /* connect now, not on the first request */
    }
    return 0;
}

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
