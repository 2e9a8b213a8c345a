/* Runs every parser of what a server sends on generated inputs, built with
 * AddressSanitizer and UndefinedBehaviorSanitizer (`make sanitize`): any
 * read past a buffer, overflow or wrap stops the run with a report.
 *
 * Inputs are well-formed answers mutated by a seeded generator (byte flips,
 * cuts, repeated or deleted stretches, random bytes, and inserted corner
 * cases: sizes of 2^63 and 2^64, long digit runs, over-long varints, line
 * ends), plus pure garbage; the same seed gives the same inputs. Each input
 * lives in a buffer of exactly its size, so reading one byte past it is
 * caught.
 *
 *   fuzz_parsers [inputs per parser, default 1000000] [seed, default 1] */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc_sequence.h"
#include "grpc_validate.h"
#include "http1_parse.h"
#include "pb_reader.h"
#include "validate.h"

#define MAX_INPUT 4096
#define MSG_LEN 320

static uint64_t rng_state;

static uint64_t rnd(void) { /* xorshift64*: deterministic per seed */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

#define TOKEN(s) {(const uint8_t *)(s), sizeof(s) - 1}
static const struct token {
    const uint8_t *bytes;
    size_t len;
} TOKENS[] = {
    TOKEN("18446744073709551616"), TOKEN("18446744073709551615"), TOKEN("9223372036854775807"),
    TOKEN("9223372036854775808"), TOKEN("99999999999999999999999999999999999999"), TOKEN("-1"), TOKEN("0"),
    TOKEN("ffffffffffffffff"), TOKEN("10000000000000000"), TOKEN("7fffffffffffffff"), TOKEN("\r\n"),
    TOKEN("\r\n\r\n"), TOKEN("\n"), TOKEN(";"), TOKEN(":"), TOKEN(","), TOKEN("\""), TOKEN("}"),
    TOKEN("\"binary_data_size\":"), TOKEN("\"name\":\"OUT\""), TOKEN("\"name\":\"X\""), TOKEN("\"name\""),
    TOKEN("Content-Length: "), TOKEN("Transfer-Encoding: chunked\r\n"), TOKEN("HTTP/1.1 100 Continue\r\n\r\n"),
    TOKEN("Inference-Header-Content-Length: "), TOKEN("Connection: close\r\n"),
    TOKEN("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"),     /* varint 2^63 */
    TOKEN("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),     /* varint 2^64-1 */
    TOKEN("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), /* 11 bytes: not a varint */
    TOKEN("\xff\xff\xff\xff\x0f"), TOKEN("\x2a"), TOKEN("\x32"), TOKEN("\x0a"), TOKEN("\x12"), TOKEN("\x22"),
    TOKEN("\x0a\xff\xff\xff\xff\x07"), TOKEN("\x00\x00\x00\x00"), TOKEN("\xff\xff\xff\xff"),
};

/* One generated input from `seed` into out (at most MAX_INPUT bytes). */
static size_t generate(uint8_t *out, const uint8_t *seed, size_t n) {
    if (below(16) == 0) { /* garbage */
        size_t len = below(512);
        for (size_t i = 0; i < len; i++)
            out[i] = (uint8_t)rnd();
        return len;
    }
    memcpy(out, seed, n);
    for (size_t ops = 1 + below(4); ops-- > 0;) {
        size_t at = below(n + 1);
        switch (below(7)) {
        case 0: /* a byte */
            if (n)
                out[below(n)] = (uint8_t)rnd();
            break;
        case 1:
        case 2: { /* a corner case, inserted or written over */
            const struct token *t = &TOKENS[below(sizeof(TOKENS) / sizeof(TOKENS[0]))];
            if (n + t->len > MAX_INPUT)
                break;
            if (below(2)) {
                memmove(out + at + t->len, out + at, n - at);
                n += t->len;
            } else if (at + t->len > n) {
                n = at + t->len;
            }
            memcpy(out + at, t->bytes, t->len);
            break;
        }
        case 3: /* cut */
            n = at;
            break;
        case 4: { /* a stretch deleted */
            size_t k = below(n - at + 1);
            memmove(out + at, out + at + k, n - at - k);
            n -= k;
            break;
        }
        case 5: { /* a stretch repeated */
            size_t k = below(n - at + 1);
            if (n + k <= MAX_INPUT) {
                memmove(out + at + k, out + at, n - at);
                n += k;
            }
            break;
        }
        default: /* a few random bytes */
            for (size_t k = below(8); k-- > 0 && n;)
                out[below(n)] = (uint8_t)rnd();
        }
    }
    return n;
}

/* ---- well-formed answers to start from ------------------------------------ */

typedef struct buf {
    uint8_t b[MAX_INPUT];
    size_t n;
} buf;

static void put(buf *o, const void *p, size_t n) {
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void varint(buf *o, uint64_t v) {
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        c |= v ? 0x80 : 0;
        put(o, &c, 1);
    } while (v);
}
static void field_bytes(buf *o, unsigned number, const void *p, size_t n) {
    varint(o, (uint64_t)number << 3 | PB_LEN);
    varint(o, n);
    put(o, p, n);
}
static void field_varint(buf *o, unsigned number, uint64_t v) {
    varint(o, (uint64_t)number << 3 | PB_VARINT);
    varint(o, v);
}
static void field_msg(buf *o, unsigned number, const buf *m) { field_bytes(o, number, m->b, m->n); }

static const float OUT_VALUES[4] = {1, 2, 3, 4};
static const uint8_t BYTES_OUT[] = {2, 0, 0, 0, 'a', 'b', 1, 0, 0, 0, 'c'};

static const char *const HTTP_SEEDS[] = {
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\nhello world",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;x=1\r\n \r\n5\r\nworld\r\n0\r\nT: t\r\n\r\n",
    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{\"error\":\"boom\"}",
    "HTTP/1.0 200 OK\r\n\r\nuntil the close",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nInference-Header-Content-Length: 7\r\nContent-Length: 9\r\n\r\n"
    "{\"a\":1}\1\2",
};

static size_t http_seed(int which, uint8_t *out) {
    size_t n = strlen(HTTP_SEEDS[which]);
    memcpy(out, HTTP_SEEDS[which], n);
    return n;
}

static size_t json_seed(int which, uint8_t *out, long *json_len) {
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"X\",\"datatype\":\"INT32\",\"shape\":[1],"
                     "\"parameters\":{\"binary_data_size\":4}},{\"name\":\"%s\",\"datatype\":\"%s\",\"shape\":[4],"
                     "\"parameters\":{\"binary_data_size\":%zu}}]}",
                     which ? "S" : "OUT", which ? "BYTES" : "FP32", which ? sizeof(BYTES_OUT) : sizeof(OUT_VALUES));
    memcpy(out, head, (size_t)n);
    memcpy(out + n, "\7\0\0\0", 4);
    if (which)
        memcpy(out + n + 4, BYTES_OUT, sizeof(BYTES_OUT));
    else
        memcpy(out + n + 4, OUT_VALUES, sizeof(OUT_VALUES));
    *json_len = n;
    return (size_t)n + 4 + (which ? sizeof(BYTES_OUT) : sizeof(OUT_VALUES));
}

static void kserve_seed(buf *o) {
    buf t = {.n = 0}, shape = {.n = 0};
    o->n = 0;
    field_bytes(o, 1, "m", 1);
    varint(&shape, 4);
    field_bytes(&t, 1, "OUT", 3);
    field_bytes(&t, 2, "FP32", 4);
    field_msg(&t, 3, &shape);
    field_msg(o, 5, &t);
    t.n = 0;
    field_bytes(&t, 1, "S", 1);
    field_bytes(&t, 2, "BYTES", 5);
    field_msg(o, 5, &t);
    field_bytes(o, 6, OUT_VALUES, sizeof(OUT_VALUES));
    field_bytes(o, 6, BYTES_OUT, sizeof(BYTES_OUT));
}

static void tf_seed(buf *o, int packed) {
    buf tensor = {.n = 0}, shape = {.n = 0}, dim = {.n = 0}, entry = {.n = 0}, vals = {.n = 0};
    o->n = 0;
    field_varint(&tensor, 1, 1); /* DT_FLOAT */
    field_varint(&dim, 1, packed ? 4 : 1000);
    field_msg(&shape, 2, &dim);
    field_msg(&tensor, 2, &shape);
    if (packed) {
        put(&vals, OUT_VALUES, sizeof(OUT_VALUES));
        field_msg(&tensor, 5, &vals);
    } else { /* one value broadcast over the shape */
        varint(&tensor, 5u << 3 | PB_FIXED32);
        put(&tensor, OUT_VALUES, 4);
    }
    field_bytes(&entry, 1, "OUT", 3);
    field_msg(&entry, 2, &tensor);
    field_msg(o, 1, &entry);
}

static void seq_param(buf *o, const char *key, unsigned field, const uint8_t *v, size_t n) {
    buf entry = {.n = 0}, value = {.n = 0};
    varint(&value, (uint64_t)field << 3 | PB_VARINT);
    put(&value, v, n);
    field_bytes(&entry, 1, key, strlen(key));
    field_msg(&entry, 2, &value);
    field_msg(o, 4, &entry);
}

static void seq_seed(buf *o) {
    static const uint8_t id[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, zero = 0;
    o->n = 0;
    field_bytes(o, 1, "m", 1);
    seq_param(o, "sequence_id", 2, id, sizeof(id));
    seq_param(o, "sequence_start", 1, &zero, 1);
    seq_param(o, "sequence_end", 1, &zero, 1);
    field_bytes(o, 7, "raw-input", 9);
}

/* ---- the parsers on one input ------------------------------------------- */

static volatile uint64_t sink; /* keeps results alive */

static void run_http(pa_http1_parser *p, const uint8_t *in, size_t n) {
    pa_http1_begin(p);
    p->keep_body = (int)below(2);
    size_t pos = 0;
    int rc = PA_HTTP1_MORE;
    while (pos < n && rc == PA_HTTP1_MORE) {
        size_t piece = 1 + below(below(4) ? 64 : n - pos), used = 0;
        if (piece > n - pos)
            piece = n - pos;
        rc = pa_http1_feed(p, (const char *)in + pos, piece, &used);
        if (used > piece || (rc == PA_HTTP1_MORE && used != piece))
            abort();
        pos += used;
        if (rc == PA_HTTP1_DONE && pos < n) { /* kept alive: the next answer */
            pa_http1_begin(p);
            rc = PA_HTTP1_MORE;
        }
    }
    if (rc == PA_HTTP1_MORE)
        rc = pa_http1_end_of_stream(p);
    if (p->bytes_in > n || (rc == PA_HTTP1_DONE && (p->status < 100 || p->status > 599)))
        abort();
    sink += (uint64_t)rc + p->bytes_in + (uint64_t)p->status;
}

static void run_validate(const pa_validator *v, const uint8_t *in, size_t n, long json_len) {
    char msg[MSG_LEN];
    switch (below(4)) { /* the header's length: as sent, absent, bad, or anything */
    case 0:
        json_len = -1;
        break;
    case 1:
        json_len = -2;
        break;
    case 2:
        json_len = (long)below(n + 8);
        break;
    }
    sink += (uint64_t)pa_validator_check_http(v, 0, (const char *)in, n, json_len, msg, sizeof(msg));
    const char *l = (const char *)in;
    sink += (uint64_t)pa_inference_header_length(l, n) + (uint64_t)pa_http1_content_length(l, n);
}

static void run_pb(const pa_validator *v, pa_body_buf *scratch, const uint8_t *in, size_t n, int format) {
    char msg[MSG_LEN];
    pb_reader r;
    pb_field f;
    pb_reader_init(&r, in, n);
    int rc;
    while ((rc = pb_next(&r, &f)) == 1) {
        if (f.wire == PB_LEN && (f.data < in || f.data + f.len > in + n))
            abort();
        sink += f.value + f.len;
    }
    sink += (uint64_t)pa_check_response(v, format, 0, in, n, scratch, msg, sizeof(msg));
}

static void run_seq(const uint8_t *in, size_t n) {
    char err[200];
    pa_grpc_seq_fields f;
    if (pa_grpc_seq_find(in, n, &f, err, sizeof(err)) != 0)
        return;
    if (f.id + PA_GRPC_SEQ_ID_WIDTH > n || f.start >= n || f.end >= n)
        abort();
    uint8_t *copy = malloc(n);
    memcpy(copy, in, n);
    pa_seq_request q = {.id = rnd(), .start = 1, .end = 1};
    pa_grpc_seq_patch(copy, &f, &q);
    free(copy);
}

/* ---- driver --------------------------------------------------------------- */

enum { HTTP, VALIDATE, KSERVE, TF, SEQ, N_PARSERS };
static const char *const NAMES[N_PARSERS] = {"http1_parse (HTTP/1.1 responses)", "validate (HTTP JSON + binary)",
                                             "pb_reader + grpc_validate (KServe)",
                                             "pb_reader + grpc_validate (TF Serving)", "grpc_sequence"};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    unsigned long long count = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    rng_state = (argc > 2 ? strtoull(argv[2], NULL, 10) : 1) * 0x9e3779b97f4a7c15ull | 1;

    pa_validator *v = pa_validator_create(1);
    long steps[1] = {0};
    if (!v || pa_validator_add_output(v, 0, "OUT", "FP32", OUT_VALUES, sizeof(OUT_VALUES), 1) != 0 ||
        pa_validator_add_output(v, 0, "S", "BYTES", BYTES_OUT, sizeof(BYTES_OUT), 1) != 0 ||
        pa_validator_set_steps(v, 0, steps, 1, 0) != 0) {
        fprintf(stderr, "cannot set up the validator\n");
        return 1;
    }
    pa_http1_parser http;
    memset(&http, 0, sizeof(http));
    pa_body_buf scratch = {0};
    static uint8_t seed[MAX_INPUT], gen[MAX_INPUT];
    buf pb;
    double total = 0;
    unsigned long long all = 0;
    printf("%llu inputs per parser, ASan + UBSan\n", count);
    for (int which = 0; which < N_PARSERS; which++) {
        double t0 = now_s();
        for (unsigned long long i = 0; i < count; i++) {
            size_t n = 0;
            long json_len = -1;
            switch (which) {
            case HTTP:
                n = http_seed((int)below(sizeof(HTTP_SEEDS) / sizeof(HTTP_SEEDS[0])), seed);
                break;
            case VALIDATE:
                n = json_seed((int)below(2), seed, &json_len);
                break;
            case KSERVE:
            case TF:
            case SEQ:
                if (which == KSERVE)
                    kserve_seed(&pb);
                else if (which == TF)
                    tf_seed(&pb, (int)below(2));
                else
                    seq_seed(&pb);
                memcpy(seed, pb.b, pb.n);
                n = pb.n;
                break;
            }
            n = generate(gen, seed, n);
            uint8_t *in = malloc(n ? n : 1); /* exactly its size: ASan sees a byte past it */
            memcpy(in, gen, n);
            switch (which) {
            case HTTP:
                run_http(&http, in, n);
                break;
            case VALIDATE:
                run_validate(v, in, n, json_len);
                break;
            case KSERVE:
                run_pb(v, &scratch, in, n, PA_RESPONSE_KSERVE);
                break;
            case TF:
                run_pb(v, &scratch, in, n, PA_RESPONSE_TF_PREDICT);
                break;
            case SEQ:
                run_seq(in, n);
                break;
            }
            free(in);
        }
        double dt = now_s() - t0;
        total += dt;
        all += count;
        printf("  %-40s %llu inputs in %.1f s\n", NAMES[which], count, dt);
    }
    printf("all parsers: %llu inputs in %.1f s, no sanitizer report\n", all, total);
    pa_http1_release(&http);
    free(scratch.data);
    pa_validator_destroy(v);
    return 0;
}
