/* Strict protobuf wire-format reader, see pb_reader.h. */
#include "pb_reader.h"

#include <string.h>

#define PB_MAX_FIELD ((1u << 29) - 1)

void pb_reader_init(pb_reader *r, const void *data, size_t len) {
    r->p = data;
    r->end = r->p + (data ? len : 0);
    r->error = 0;
}

int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    const uint8_t *q = *p;
    for (int i = 0; i < 10; i++) {
        if (q >= end)
            return -1;
        uint8_t b = *q++;
        /* the 10th byte holds bit 63 only: anything more is not a uint64 */
        if (i == 9 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *p = q;
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int fail(pb_reader *r) {
    r->error = 1;
    r->p = r->end;
    return -1;
}

static uint64_t le(const uint8_t *p, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

int pb_next(pb_reader *r, pb_field *f) {
    if (r->error)
        return -1;
    if (r->p >= r->end)
        return 0;
    uint64_t key;
    if (pb_varint(&r->p, r->end, &key) != 0 || (key >> 3) == 0 || (key >> 3) > PB_MAX_FIELD)
        return fail(r);
    memset(f, 0, sizeof(*f));
    f->number = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    size_t left = (size_t)(r->end - r->p);
    switch (f->wire) {
    case PB_VARINT:
        f->data = r->p;
        if (pb_varint(&r->p, r->end, &f->value) != 0)
            return fail(r);
        f->len = (size_t)(r->p - f->data);
        return 1;
    case PB_FIXED64:
    case PB_FIXED32: {
        int n = f->wire == PB_FIXED64 ? 8 : 4;
        if (left < (size_t)n)
            return fail(r);
        f->value = le(r->p, n);
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    }
    case PB_LEN: {
        uint64_t n;
        if (pb_varint(&r->p, r->end, &n) != 0 || n > (uint64_t)(r->end - r->p))
            return fail(r);
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    }
    default: /* groups (3, 4) are long deprecated; 6 and 7 do not exist */
        return fail(r);
    }
}
