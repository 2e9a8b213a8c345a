/* Sequence fields of a serialized ModelInferRequest, see grpc_sequence.h.
 *
 * ModelInferRequest {4: map<string, InferParameter> parameters, ...}; a map
 * entry is {1: key, 2: value}; InferParameter {1: bool_param, 2: int64_param, ...}. */
#include "grpc_sequence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_common.h"
#include "pb_reader.h"

enum { SEQ_ID, SEQ_START, SEQ_END, SEQ_FIELDS };
static const char *const NAMES[SEQ_FIELDS] = {"sequence_id", "sequence_start", "sequence_end"};

typedef struct found {
    int seen[SEQ_FIELDS];
    size_t at[SEQ_FIELDS];
} found;

/* The value's oneof member (the last one wins, as in protobuf): its field
 * number, and when it is a varint, its bytes (else width 0).
 * 0, or -1 when malformed. */
static int parameter_value(const uint8_t *p, size_t len, unsigned *field, const uint8_t **at, size_t *width) {
    pb_reader r;
    pb_field f;
    int rc;
    *field = 0;
    pb_reader_init(&r, p, len);
    while ((rc = pb_next(&r, &f)) == 1) {
        *field = f.number;
        *width = f.wire == PB_VARINT ? f.len : 0;
        *at = f.data;
    }
    return rc;
}

/* One parameters entry: records it when it is one of ours. */
static int parameter(const uint8_t *msg, const uint8_t *p, size_t len, found *fd, char *err, size_t errlen) {
    const uint8_t *key = NULL, *value = NULL;
    size_t key_len = 0, value_len = 0;
    int have_value = 0, rc;
    pb_reader r;
    pb_field f;
    pb_reader_init(&r, p, len);
    while ((rc = pb_next(&r, &f)) == 1) {
        if (f.number == 1 && f.wire == PB_LEN) {
            key = f.data;
            key_len = f.len;
        } else if (f.number == 2 && f.wire == PB_LEN) {
            value = f.data;
            value_len = f.len;
            have_value = 1;
        }
    }
    if (rc < 0)
        return -1;
    int which = -1;
    for (int k = 0; k < SEQ_FIELDS && which < 0; k++)
        if (key && key_len == strlen(NAMES[k]) && memcmp(key, NAMES[k], key_len) == 0)
            which = k;
    if (which < 0)
        return 0;
    if (fd->seen[which]) {
        snprintf(err, errlen, "parameter '%s' appears twice", NAMES[which]);
        return -2;
    }
    unsigned field = 0;
    const uint8_t *at = NULL;
    size_t width = 0;
    if (have_value && parameter_value(value, value_len, &field, &at, &width) != 0)
        return -1;
    if (which == SEQ_ID && (field != 2 || width != PA_GRPC_SEQ_ID_WIDTH)) {
        snprintf(err, errlen, "parameter 'sequence_id' is not an int64_param written in %d bytes",
                 PA_GRPC_SEQ_ID_WIDTH);
        return -2;
    }
    if (which != SEQ_ID && (field != 1 || width != 1)) {
        snprintf(err, errlen, "parameter '%s' is not a bool_param", NAMES[which]);
        return -2;
    }
    fd->seen[which] = 1;
    fd->at[which] = (size_t)(at - msg);
    return 0;
}

int pa_grpc_seq_find(const uint8_t *msg, size_t len, pa_grpc_seq_fields *f, char *err, size_t errlen) {
    found fd;
    memset(&fd, 0, sizeof(fd));
    pb_reader r;
    pb_field field;
    pb_reader_init(&r, msg, len);
    for (;;) {
        size_t field_at = (size_t)(r.p - msg);
        int rc = pb_next(&r, &field);
        if (rc == 0)
            break;
        if (rc < 0) {
            snprintf(err, errlen, "not a valid protobuf message (field at byte %zu of %zu)", field_at, len);
            return -1;
        }
        if (field.number != 4 || field.wire != PB_LEN)
            continue;
        rc = parameter(msg, field.data, field.len, &fd, err, errlen);
        if (rc == -1) {
            snprintf(err, errlen, "not a valid protobuf message (parameters entry at byte %zu of %zu)", field_at, len);
            return -1;
        }
        if (rc != 0)
            return -1;
    }
    for (int k = 0; k < SEQ_FIELDS; k++)
        if (!fd.seen[k]) {
            snprintf(err, errlen, "no '%s' parameter", NAMES[k]);
            return -1;
        }
    f->id = fd.at[SEQ_ID];
    f->start = fd.at[SEQ_START];
    f->end = fd.at[SEQ_END];
    return 0;
}

/* Any uint64 in 10 varint bytes: 9 with the continuation bit, then bit 63. */
static void id_bytes(uint64_t id, uint8_t out[PA_GRPC_SEQ_ID_WIDTH]) {
    for (int i = 0; i < PA_GRPC_SEQ_ID_WIDTH - 1; i++)
        out[i] = (uint8_t)(((id >> (7 * i)) & 0x7f) | 0x80);
    out[PA_GRPC_SEQ_ID_WIDTH - 1] = (uint8_t)(id >> 63);
}

void pa_grpc_seq_patch(uint8_t *msg, const pa_grpc_seq_fields *f, const pa_seq_request *r) {
    id_bytes(r->id, msg + f->id);
    msg[f->start] = r->start ? 1 : 0;
    msg[f->end] = r->end ? 1 : 0;
}

static grpc_slice inlined(const uint8_t *bytes, size_t n) {
    grpc_slice s;
    s.refcount = NULL; /* an inlined slice: held by value, nothing allocated */
    s.data.inlined.length = (uint8_t)n;
    memcpy(s.data.inlined.bytes, bytes, n);
    return s;
}

void pa_grpc_seq_fill(grpc_slice_buffer *sb, grpc_slice msg, const pa_grpc_seq_fields *f, const pa_seq_request *r) {
    uint8_t id[PA_GRPC_SEQ_ID_WIDTH], start = r->start ? 1 : 0, end = r->end ? 1 : 0;
    id_bytes(r->id, id);
    struct piece {
        size_t at, n;
        const uint8_t *bytes;
    } pieces[SEQ_FIELDS] = {{f->id, PA_GRPC_SEQ_ID_WIDTH, id}, {f->start, 1, &start}, {f->end, 1, &end}};
    for (int i = 1; i < SEQ_FIELDS; i++) /* in message order */
        for (int k = i; k > 0 && pieces[k].at < pieces[k - 1].at; k--) {
            struct piece t = pieces[k];
            pieces[k] = pieces[k - 1];
            pieces[k - 1] = t;
        }
    grpc_slice_buffer_reset_and_unref(sb);
    size_t pos = 0, len = GRPC_SLICE_LENGTH(msg);
    for (int i = 0; i < SEQ_FIELDS; i++) {
        if (pieces[i].at > pos)
            grpc_slice_buffer_add(sb, grpc_slice_sub(msg, pos, pieces[i].at));
        grpc_slice_buffer_add(sb, inlined(pieces[i].bytes, pieces[i].n));
        pos = pieces[i].at + pieces[i].n;
    }
    if (pos < len)
        grpc_slice_buffer_add(sb, grpc_slice_sub(msg, pos, len));
}

size_t pa_grpc_seq_render(const uint8_t *msg, size_t len, const pa_grpc_seq_fields *f, const pa_seq_request *r,
                          uint8_t *out) {
    grpc_slice shared = grpc_slice_from_copied_buffer((const char *)msg, len);
    grpc_slice_buffer sb;
    grpc_slice_buffer_init(&sb);
    pa_grpc_seq_fill(&sb, shared, f, r);
    size_t n = sb.count;
    for (size_t i = 0; i < sb.count; i++) {
        memcpy(out, GRPC_SLICE_START_PTR(sb.slices[i]), GRPC_SLICE_LENGTH(sb.slices[i]));
        out += GRPC_SLICE_LENGTH(sb.slices[i]);
    }
    grpc_slice_buffer_destroy(&sb);
    grpc_slice_unref(shared);
    return n;
}

pa_grpc_seq_fields *pa_grpc_seq_fields_of(const pa_grpc_config *cfg, char *err, size_t errlen) {
    pa_grpc_seq_fields *f = calloc(cfg->n_messages, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory creating the gRPC engine");
        return NULL;
    }
    char why[200];
    for (size_t i = 0; i < cfg->n_messages; i++)
        if (pa_grpc_seq_find((const uint8_t *)cfg->messages[i].data, cfg->messages[i].len, &f[i], why,
                             sizeof(why)) != 0) {
            snprintf(err, errlen, "request message %zu has no sequence fields to patch: %s", i, why);
            free(f);
            return NULL;
        }
    return f;
}
