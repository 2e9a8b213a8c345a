/* What the unary and the streaming gRPC engines share: channels, the
 * completion-queue loop and its wait, the status taxonomy, message bytes. */
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
#define FINE_LEAD_NS (FINE_WAIT_NS - 500000ull)
#define DRAIN_MAX 256u /* completions taken per turn of the loop, at most */

const char *pa_grpc_status_name(int code) {
    /* the stats' table, less its last entry (not a status code) */
    return code >= 0 && code < PA_GRPC_CODES ? pa_grpc_code_name(code) : "UNKNOWN_CODE";
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

void pa_grpc_status_message(grpc_status_code status, grpc_slice details, const char *where, char *msg,
                            size_t msglen) {
    size_t n = GRPC_SLICE_LENGTH(details);
    if (n > 256)
        n = 256;
    if (n)
        snprintf(msg, msglen, "gRPC %s: %.*s", pa_grpc_status_name(status), (int)n,
                 (const char *)GRPC_SLICE_START_PTR(details));
    else
        snprintf(msg, msglen, "gRPC %s from %s", pa_grpc_status_name(status), where);
}

void pa_grpc_fill_message(grpc_byte_buffer *send, grpc_slice body, const pa_grpc_seq_fields *f,
                          const pa_seq_request *q) {
    /* gRPC takes the slices of a sent message: put new references in. */
    if (f) {
        pa_grpc_seq_fill(&send->data.raw.slice_buffer, body, f, q);
    } else {
        grpc_slice_buffer_reset_and_unref(&send->data.raw.slice_buffer);
        grpc_slice_buffer_add(&send->data.raw.slice_buffer, grpc_slice_ref(body));
    }
}

pa_slot *pa_grpc_new_slot(size_t size, size_t io_offset) {
    pa_slot *s = calloc(1, size);
    if (!s)
        return NULL;
    pa_grpc_call_io *io = (pa_grpc_call_io *)((char *)s + io_offset);
    io->send = grpc_raw_byte_buffer_create(NULL, 0);
    if (!io->send) {
        free(s);
        return NULL;
    }
    grpc_metadata_array_init(&io->initial_md);
    grpc_metadata_array_init(&io->trailing_md);
    io->details = grpc_empty_slice();
    return s;
}

void pa_grpc_io_free(pa_grpc_call_io *io) {
    if (io->recv)
        grpc_byte_buffer_destroy(io->recv);
    if (io->call)
        grpc_call_unref(io->call);
    if (io->send)
        grpc_byte_buffer_destroy(io->send);
    grpc_slice_unref(io->details);
    grpc_metadata_array_destroy(&io->initial_md);
    grpc_metadata_array_destroy(&io->trailing_md);
}

gpr_timespec pa_grpc_after_ns(uint64_t ns) {
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos((int64_t)ns, GPR_TIMESPAN));
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

grpc_event pa_grpc_next_event(pa_engine *e, grpc_completion_queue *cq) {
    /* Planned over the longest wait plus the fine wait's lead, so that a due
     * time this wait could overrun is known. */
    pa_wait w = pa_engine_wait_plan(e, MAX_WAIT_NS + FINE_LEAD_NS);
    if (w.wake_at && w.wait_ns < FINE_WAIT_NS) {
        for (;;) {
            grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
            if (ev.type != GRPC_QUEUE_TIMEOUT)
                return ev; /* completions are not held back by a coming send */
            uint64_t now = pa_now_ns();
            if (now >= w.wake_at) {
                pa_engine_wait_done(e, &w, 0);
                return ev;
            }
            uint64_t step = w.wake_at - now < FINE_STEP_NS ? w.wake_at - now : FINE_STEP_NS;
            struct timespec ts = {0, (long)step};
            nanosleep(&ts, NULL);
        }
    }
    /* wake with the fine wait still ahead */
    uint64_t wait_ns = w.wake_at ? w.wait_ns - FINE_LEAD_NS : MAX_WAIT_NS;
    return grpc_completion_queue_next(cq, pa_grpc_after_ns(wait_ns), NULL);
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
