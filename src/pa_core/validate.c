/* Output validation against validation_data, see validate.h. */
#define _GNU_SOURCE
#include "validate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct expected_output {
    char *name;
    char datatype[16];
    size_t elem_size; /* 0: BYTES, 4-byte length-prefixed elements */
    unsigned char *data;
    size_t len;
    size_t rows;
} expected_output;

typedef struct expected_body {
    expected_output *outputs;
    size_t n_outputs;
    long *steps; /* data step of each batch row */
    size_t rows;
    long stream;
} expected_body;

struct pa_validator {
    expected_body *bodies;
    size_t n_bodies;
};

pa_validator *pa_validator_create(size_t n_bodies) {
    pa_validator *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->bodies = calloc(n_bodies ? n_bodies : 1, sizeof(expected_body));
    if (!v->bodies) {
        free(v);
        return NULL;
    }
    v->n_bodies = n_bodies;
    return v;
}

void pa_validator_destroy(pa_validator *v) {
    if (!v)
        return;
    for (size_t i = 0; i < v->n_bodies; i++) {
        expected_body *b = &v->bodies[i];
        for (size_t k = 0; k < b->n_outputs; k++) {
            free(b->outputs[k].name);
            free(b->outputs[k].data);
        }
        free(b->outputs);
        free(b->steps);
    }
    free(v->bodies);
    free(v);
}

static size_t elem_size(const char *dt) {
    if (!strcmp(dt, "BOOL") || !strcmp(dt, "INT8") || !strcmp(dt, "UINT8"))
        return 1;
    if (!strcmp(dt, "INT16") || !strcmp(dt, "UINT16") || !strcmp(dt, "FP16") || !strcmp(dt, "BF16"))
        return 2;
    if (!strcmp(dt, "INT32") || !strcmp(dt, "UINT32") || !strcmp(dt, "FP32"))
        return 4;
    if (!strcmp(dt, "INT64") || !strcmp(dt, "UINT64") || !strcmp(dt, "FP64"))
        return 8;
    return 0;
}

int pa_validator_add_output(pa_validator *v, size_t body, const char *name, const char *datatype,
                            const void *data, size_t len, size_t rows) {
    if (!v || body >= v->n_bodies || !name || !datatype || strlen(datatype) >= 16 || rows == 0)
        return -1;
    expected_body *b = &v->bodies[body];
    expected_output *grown = realloc(b->outputs, (b->n_outputs + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    b->outputs = grown;
    expected_output *o = &b->outputs[b->n_outputs];
    memset(o, 0, sizeof(*o));
    o->name = strdup(name);
    o->data = malloc(len ? len : 1);
    if (!o->name || !o->data) {
        free(o->name);
        free(o->data);
        return -1;
    }
    memcpy(o->data, data, len);
    o->len = len;
    o->rows = rows;
    snprintf(o->datatype, sizeof(o->datatype), "%s", datatype);
    o->elem_size = elem_size(datatype);
    b->n_outputs++;
    return 0;
}

int pa_validator_set_steps(pa_validator *v, size_t body, const long *steps, size_t rows, long stream) {
    if (!v || body >= v->n_bodies || rows == 0)
        return -1;
    expected_body *b = &v->bodies[body];
    long *copy = malloc(rows * sizeof(long));
    if (!copy)
        return -1;
    memcpy(copy, steps, rows * sizeof(long));
    free(b->steps);
    b->steps = copy;
    b->rows = rows;
    b->stream = stream;
    return 0;
}

/* One element as text: numbers for the common types, hex otherwise. */
static void format_elem(const expected_output *o, const unsigned char *p, size_t n, char *out, size_t outlen) {
    const char *dt = o->datatype;
    if (o->elem_size == 0) {
        snprintf(out, outlen, "\"%.*s\"%s", (int)(n < 40 ? n : 40), (const char *)p, n > 40 ? "..." : "");
        return;
    }
    union { float f; double d; int64_t i; uint64_t u; } x;
    if (!strcmp(dt, "FP32")) {
        memcpy(&x.f, p, 4);
        snprintf(out, outlen, "%.9g", (double)x.f);
    } else if (!strcmp(dt, "FP64")) {
        memcpy(&x.d, p, 8);
        snprintf(out, outlen, "%.17g", x.d);
    } else if (!strcmp(dt, "BOOL")) {
        snprintf(out, outlen, "%s", p[0] ? "true" : "false");
    } else if (dt[0] == 'I' || dt[0] == 'U') {
        uint64_t u = 0;
        memcpy(&u, p, o->elem_size); /* little-endian host */
        if (dt[0] == 'I' && o->elem_size < 8 && (u >> (o->elem_size * 8 - 1)) & 1)
            u |= ~0ull << (o->elem_size * 8); /* sign-extend */
        if (dt[0] == 'I')
            snprintf(out, outlen, "%lld", (long long)(int64_t)u);
        else
            snprintf(out, outlen, "%llu", (unsigned long long)u);
    } else {
        int w = snprintf(out, outlen, "0x");
        for (size_t i = o->elem_size; i-- > 0 && (size_t)w + 3 < outlen;)
            w += snprintf(out + w, outlen - (size_t)w, "%02x", p[i]);
    }
}

static void where(const expected_body *b, const expected_output *o, size_t elem, size_t total, char *out,
                  size_t outlen) {
    size_t per_row = o->rows ? (total + o->rows - 1) / o->rows : total;
    size_t row = per_row ? elem / per_row : 0;
    long step = (b->steps && row < b->rows) ? b->steps[row] : (long)row;
    if (b->stream > 0)
        snprintf(out, outlen, "stream %ld, step %ld", b->stream, step);
    else
        snprintf(out, outlen, "step %ld", step);
}

/* Elements of a BYTES tensor: count, and pointer/length of element i. */
static size_t bytes_count(const unsigned char *p, size_t len) {
    size_t n = 0, pos = 0;
    while (pos + 4 <= len) {
        uint32_t l;
        memcpy(&l, p + pos, 4);
        if (pos + 4 + l > len)
            break;
        pos += 4 + l;
        n++;
    }
    return n;
}

static int compare(const expected_body *b, const expected_output *o, const unsigned char *got, size_t got_len,
                   char *msg, size_t msglen) {
    if (got_len == o->len && memcmp(got, o->data, got_len) == 0)
        return 0;
    char at[64], ev[64] = "", gv[64] = "";
    if (o->elem_size) {
        size_t es = o->elem_size, n_exp = o->len / es, n_got = got_len / es, n = n_exp < n_got ? n_exp : n_got;
        size_t i = 0;
        while (i < n && memcmp(o->data + i * es, got + i * es, es) == 0)
            i++;
        if (i < n) {
            where(b, o, i, n_exp, at, sizeof(at));
            format_elem(o, o->data + i * es, es, ev, sizeof(ev));
            format_elem(o, got + i * es, es, gv, sizeof(gv));
            size_t per_row = o->rows ? n_exp / o->rows : n_exp;
            snprintf(msg, msglen, "%s: %s, output '%s', element %zu: expected %s, got %s", PA_MISMATCH, at, o->name,
                     per_row ? i % per_row : i, ev, gv);
        } else {
            where(b, o, 0, n_exp, at, sizeof(at));
            snprintf(msg, msglen, "%s: %s, output '%s': expected %zu elements, got %zu", PA_MISMATCH, at, o->name,
                     n_exp, n_got);
        }
        return 1;
    }
    size_t n_exp = bytes_count(o->data, o->len), n_got = bytes_count(got, got_len);
    size_t pe = 0, pg = 0, i = 0;
    for (; i < n_exp && i < n_got; i++) {
        uint32_t le, lg;
        memcpy(&le, o->data + pe, 4);
        memcpy(&lg, got + pg, 4);
        if (le != lg || memcmp(o->data + pe + 4, got + pg + 4, le) != 0) {
            where(b, o, i, n_exp, at, sizeof(at));
            format_elem(o, o->data + pe + 4, le, ev, sizeof(ev));
            format_elem(o, got + pg + 4, lg, gv, sizeof(gv));
            size_t per_row = o->rows ? n_exp / o->rows : n_exp;
            snprintf(msg, msglen, "%s: %s, output '%s', element %zu: expected %s, got %s", PA_MISMATCH, at, o->name,
                     per_row ? i % per_row : i, ev, gv);
            return 1;
        }
        pe += 4 + le;
        pg += 4 + lg;
    }
    where(b, o, 0, n_exp, at, sizeof(at));
    snprintf(msg, msglen, "%s: %s, output '%s': expected %zu elements, got %zu", PA_MISMATCH, at, o->name, n_exp,
             n_got);
    return 1;
}

int pa_validator_check_output(const pa_validator *v, size_t body, const char *name, size_t name_len,
                              const char *data, size_t len, char *msg, size_t msglen) {
    if (!v || body >= v->n_bodies)
        return 0;
    const expected_body *b = &v->bodies[body];
    for (size_t k = 0; k < b->n_outputs; k++) {
        const expected_output *o = &b->outputs[k];
        if (strlen(o->name) == name_len && memcmp(o->name, name, name_len) == 0)
            return compare(b, o, (const unsigned char *)data, len, msg, msglen);
    }
    return 0;
}

static const char *find(const char *p, const char *end, const char *needle) {
    return memmem(p, (size_t)(end - p), needle, strlen(needle));
}

/* The unsigned integer after `"key":` (optional spaces): -1 if none, -2
 * when it has more than 18 digits (no size of a response has; reading more
 * would overflow). */
static long long number_after(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == ':'))
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    long long n = 0;
    for (int digits = 0; p < end && *p >= '0' && *p <= '9'; digits++) {
        if (digits == 18)
            return -2;
        n = n * 10 + (*p++ - '0');
    }
    return n;
}

/* A name from the response, for a message: at most 64 printable characters. */
static void printable(const char *s, size_t n, char *out, size_t outlen) {
    size_t k = 0;
    for (size_t i = 0; i < n && i < 64 && k + 1 < outlen; i++)
        out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[k] = '\0';
}

int pa_validator_check_http(const pa_validator *v, size_t body, const char *resp, size_t resp_len, long json_len,
                            char *msg, size_t msglen) {
    if (!v || body >= v->n_bodies || v->bodies[body].n_outputs == 0)
        return 0;
    const expected_body *b = &v->bodies[body];
    if (json_len < -1 || (json_len >= 0 && (size_t)json_len > resp_len)) {
        snprintf(msg, msglen, "malformed response: its Inference-Header-Content-Length is not a size within "
                 "its %zu bytes", resp_len);
        return 1;
    }
    size_t json = json_len >= 0 ? (size_t)json_len : resp_len;
    const char *end = resp + json;
    const char *p = find(resp, end, "\"outputs\"");
    size_t offset = json; /* where the next binary output starts; never past resp_len */
    uint64_t seen = 0; /* bit k: expected output k was found (first 64) */
    int bad = 0;
    while (p && !bad) {
        const char *nm = find(p, end, "\"name\"");
        if (!nm)
            break;
        nm += 6;
        while (nm < end && (*nm == ' ' || *nm == ':'))
            nm++;
        if (nm >= end || *nm != '"')
            break;
        const char *name = nm + 1, *name_end = memchr(name, '"', (size_t)(end - name));
        if (!name_end)
            break;
        const char *next = find(name_end, end, "\"name\"");
        const char *obj_end = next ? next : end;
        const char *sz = find(name_end, obj_end, "\"binary_data_size\"");
        long long size = sz ? number_after(sz + 18, obj_end) : -1;
        size_t name_len = (size_t)(name_end - name);
        /* Every declared size is checked against what is left, expected
         * output or not: the offsets of the later ones depend on it. */
        if (size == -2 || (size > 0 && (unsigned long long)size > resp_len - offset)) {
            char shown[72];
            printable(name, name_len, shown, sizeof(shown));
            snprintf(msg, msglen, "malformed response: output '%s': the response is shorter than its "
                     "binary_data_size (%zu bytes left)", shown, resp_len - offset);
            return 1;
        }
        for (size_t k = 0; k < b->n_outputs; k++) {
            const expected_output *o = &b->outputs[k];
            if (strlen(o->name) != name_len || memcmp(o->name, name, name_len) != 0)
                continue;
            if (k < 64)
                seen |= 1ull << k;
            if (size < 0) {
                snprintf(msg, msglen, "%s: output '%s' is not binary data in the response; validation needs "
                         "--output-tensor-format binary", PA_MISMATCH, o->name);
                return 1;
            }
            bad = compare(b, o, (const unsigned char *)resp + offset, (size_t)size, msg, msglen);
        }
        if (size > 0)
            offset += (size_t)size;
        p = next;
    }
    if (bad)
        return 1;
    return pa_validator_check_seen(v, body, seen, msg, msglen);
}

size_t pa_validator_expects(const pa_validator *v, size_t body) {
    return v && body < v->n_bodies ? v->bodies[body].n_outputs : 0;
}

int pa_validator_check_tensor(const pa_validator *v, size_t body, const char *name, size_t name_len,
                              const char *datatype, size_t datatype_len, const char *data, size_t len,
                              uint64_t *seen, char *msg, size_t msglen) {
    if (!v || body >= v->n_bodies)
        return 0;
    const expected_body *b = &v->bodies[body];
    for (size_t k = 0; k < b->n_outputs; k++) {
        const expected_output *o = &b->outputs[k];
        if (strlen(o->name) != name_len || memcmp(o->name, name, name_len) != 0)
            continue;
        if (seen && k < 64)
            *seen |= 1ull << k;
        if (!data) {
            char at[64];
            where(b, o, 0, 1, at, sizeof(at));
            snprintf(msg, msglen, "%s: %s, output '%s' has no raw contents in the response", PA_MISMATCH, at,
                     o->name);
            return 1;
        }
        if (datatype && (strlen(o->datatype) != datatype_len || memcmp(o->datatype, datatype, datatype_len) != 0)) {
            char at[64];
            where(b, o, 0, 1, at, sizeof(at));
            snprintf(msg, msglen, "%s: %s, output '%s': expected datatype %s, got %.*s", PA_MISMATCH, at, o->name,
                     o->datatype, (int)(datatype_len > 32 ? 32 : datatype_len), datatype);
            return 1;
        }
        return compare(b, o, (const unsigned char *)data, len, msg, msglen);
    }
    return 0;
}

int pa_validator_check_seen(const pa_validator *v, size_t body, uint64_t seen, char *msg, size_t msglen) {
    if (!v || body >= v->n_bodies)
        return 0;
    const expected_body *b = &v->bodies[body];
    for (size_t k = 0; k < b->n_outputs && k < 64; k++) {
        if (!(seen & (1ull << k))) {
            char at[64];
            where(b, &b->outputs[k], 0, 1, at, sizeof(at));
            snprintf(msg, msglen, "%s: %s, output '%s' is missing from the response", PA_MISMATCH, at,
                     b->outputs[k].name);
            return 1;
        }
    }
    return 0;
}

void pa_body_buf_append(pa_body_buf *b, const char *data, size_t n) {
    if (b->overflow || n == 0)
        return;
    if (n > SIZE_MAX / 4 - b->len) { /* doubling below would wrap */
        b->overflow = 1;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->overflow = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

long pa_inference_header_length(const char *line, size_t n) {
    static const char key[] = "inference-header-content-length:";
    size_t k = sizeof(key) - 1;
    if (n <= k || strncasecmp(line, key, k) != 0)
        return -1;
    const char *p = line + k, *end = line + n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (p == end || end - p > 18)
        return -2;
    long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -2;
        v = v * 10 + (*p - '0');
    }
    return v;
}
