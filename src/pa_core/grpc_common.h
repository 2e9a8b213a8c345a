/* What the unary and the streaming gRPC engines share (grpc_common.c). */
#ifndef PA_GRPC_COMMON_H
#define PA_GRPC_COMMON_H

#include <grpc/grpc.h>

#include "grpc_config.h"
#include "grpc_validate.h"
#include "grpc_sequence.h"

/* What a slot of either engine holds for its call (unary) or stream. */
typedef struct pa_grpc_call_io {
    grpc_call *call;        /* NULL when none */
    grpc_byte_buffer *send; /* refilled per request with references to the message's slices */
    grpc_byte_buffer *recv;
    grpc_metadata_array initial_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
} pa_grpc_call_io;

/* A zeroed slot of `size` bytes (pa_slot first) with its call io at
 * io_offset ready for a first call; NULL when out of memory. */
pa_slot *pa_grpc_new_slot(size_t size, size_t io_offset);
/* Frees what the io holds; its call, if any, must be finished. */
void pa_grpc_io_free(pa_grpc_call_io *io);

/* Opens n channels to cfg->target with the config's credentials and
 * compression, each on its own connection; 0, or -1 with err filled (the
 * channels opened so far are left in `channels` for the caller to destroy). */
int pa_grpc_open_channels(const pa_grpc_config *cfg, grpc_channel **channels, unsigned n, char *err, size_t errlen);
/* The engine loop's wait: the next completion, or a timeout when the loop
 * must turn (a send due, or at most 2 ms: control changes are seen by polling). */
grpc_event pa_grpc_next_event(pa_engine *e, grpc_completion_queue *cq);
/* Teardown both engines share: the channels (array freed), the completion
 * queue (shut down and drained), the pre-serialized messages (array freed).
 * NULL / 0 members are skipped, so a half-built engine can be released. */
void pa_grpc_release(grpc_channel **channels, unsigned n_channels, grpc_completion_queue *cq,
                     grpc_slice *messages, size_t n_messages);
/* The engine loop both engines run until the engine stops: a tick, then
 * the next completion handed to on_complete(engine, tag, success).
 * Timer slack 1 ns: open-loop sends wake on timers, and the default 50 us
 * slack would delay them. */
void pa_grpc_loop(pa_engine *e, grpc_completion_queue *cq, void (*on_complete)(pa_engine *, void *, int));
/* The bytes of a received message: its one slice when it is a single
 * uncompressed slice (valid while bb lives), else copied into buf (grown
 * once, then reused). NULL when it cannot be read (out of memory). */
const uint8_t *pa_grpc_message_bytes(grpc_byte_buffer *bb, pa_body_buf *buf, size_t *len);
/* Sequences: the fields of every message (an array, NULL when the engine
 * has no sequencer). NULL with err filled when a message lacks them. */
pa_grpc_seq_fields *pa_grpc_seq_fields_of(const pa_grpc_config *cfg, char *err, size_t errlen);
/* Which error kind a non-OK status counts as. */
enum pa_error_kind pa_grpc_error_kind(grpc_status_code code);
/* The message of a failed call: "gRPC <STATUS>: <details>", or "gRPC
 * <STATUS> from <where>" when the server gave no details. */
void pa_grpc_status_message(grpc_status_code status, grpc_slice details, const char *where, char *msg,
                            size_t msglen);
/* Refills a slot's send buffer with a reference to the message `body` (no
 * copy), or with sequences (f not NULL) its slices around q's patched fields. */
void pa_grpc_fill_message(grpc_byte_buffer *send, grpc_slice body, const pa_grpc_seq_fields *f,
                          const pa_seq_request *q);
/* A deadline ns from now. */
gpr_timespec pa_grpc_after_ns(uint64_t ns);

#endif
