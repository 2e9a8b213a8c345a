/* A strict protobuf wire-format reader: one field at a time, never reading
 * past the buffer it was given, with no allocation. Made for the few
 * response messages the engines inspect (KServe v2 and TF Serving), where a
 * malformed message must be reported, not trusted. */
#ifndef PA_PB_READER_H
#define PA_PB_READER_H

#include <stddef.h>
#include <stdint.h>

enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

typedef struct pb_reader {
    const uint8_t *p, *end;
    int error; /* set once malformed; every later read then fails */
} pb_reader;

typedef struct pb_field {
    uint32_t number;
    int wire;            /* PB_VARINT, PB_FIXED64, PB_LEN or PB_FIXED32 */
    uint64_t value;      /* varint and fixed values (little-endian decoded) */
    const uint8_t *data; /* the value's bytes inside the reader's buffer: PB_LEN's */
    size_t len;          /* payload, or the varint or fixed bytes as sent */
} pb_field;

void pb_reader_init(pb_reader *r, const void *data, size_t len);
/* 1: a field was read into f; 0: the message ended cleanly; -1: malformed
 * (truncated, a varint over 10 bytes, field number 0 or over 2^29-1, a group
 * or unknown wire type, a length past the end). */
int pb_next(pb_reader *r, pb_field *f);
/* One varint at *p (advanced); 0, or -1 when truncated or over 10 bytes. */
int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

#endif
