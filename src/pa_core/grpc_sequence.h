/* Sequences over gRPC: where a serialized ModelInferRequest carries its
 * sequence parameters, and how each request gets its own id and flags with
 * no allocation and no copy of the tensors.
 *
 * The caller serializes every request with parameters
 *   sequence_id    = int64_param, a value whose varint takes 10 bytes (-1)
 *   sequence_start = bool_param false, sequence_end = bool_param false
 * (a oneof member is serialized even when false, so each flag is one byte).
 * Protobuf parsers accept over-long varints, so any id is written in those
 * same 10 bytes, zero-padded: the message keeps its length and its layout. */
#ifndef PA_GRPC_SEQUENCE_H
#define PA_GRPC_SEQUENCE_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/slice.h>
#include <grpc/slice_buffer.h>

#include "sequence.h"

#define PA_GRPC_SEQ_ID_WIDTH 10

typedef struct pa_grpc_seq_fields {
    size_t id;    /* offset of sequence_id's 10-byte varint */
    size_t start; /* offset of sequence_start's 1-byte varint */
    size_t end;   /* offset of sequence_end's 1-byte varint */
} pa_grpc_seq_fields;

/* Finds the fields in a serialized ModelInferRequest: 0, or -1 with err
 * saying what is missing or malformed. */
int pa_grpc_seq_find(const uint8_t *msg, size_t len, pa_grpc_seq_fields *f, char *err, size_t errlen);
/* Writes the request's id and flags into msg in place. */
void pa_grpc_seq_patch(uint8_t *msg, const pa_grpc_seq_fields *f, const pa_seq_request *r);
/* Fills sb (reset first) with msg as r patches it: the unchanged stretches
 * are references to msg, the patched bytes inlined slices of their own, so
 * the shared message is never written and nothing is allocated. */
void pa_grpc_seq_fill(grpc_slice_buffer *sb, grpc_slice msg, const pa_grpc_seq_fields *f, const pa_seq_request *r);
/* For tests: the bytes pa_grpc_seq_fill sends (len of them, into out),
 * and how many slices they took. */
size_t pa_grpc_seq_render(const uint8_t *msg, size_t len, const pa_grpc_seq_fields *f, const pa_seq_request *r,
                          uint8_t *out);

#endif
