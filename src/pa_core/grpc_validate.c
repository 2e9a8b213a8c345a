/* Output validation of KServe v2 and TF Serving protobuf responses, see grpc_validate.h.
 *
 * Field numbers, from the public protocol definitions:
 *   inference.ModelInferResponse   (Triton / KServe v2 grpc_service.proto)
 *     5 outputs: InferOutputTensor {1 name, 2 datatype, 3 shape, 4 parameters, 5 contents}
 *     6 raw_output_contents: repeated bytes, one per output, in the same order
 *   tensorflow.serving.PredictResponse (tensorflow_serving/apis/predict.proto)
 *     1 outputs: map<string, TensorProto> (entries {1 key, 2 value}), 2 model_spec
 *   tensorflow.TensorProto (tensorflow/core/framework/tensor.proto)
 *     1 dtype, 2 tensor_shape {2 dim {1 size}}, 4 tensor_content, 5 float_val,
 *     6 double_val, 7 int_val, 8 string_val, 10 int64_val, 11 bool_val,
 *     13 half_val, 16 uint32_val, 17 uint64_val */
#include "grpc_validate.h"

#include <stdio.h>
#include <string.h>

#include "pb_reader.h"

/* A single typed value is repeated to fill at most this many elements (8 MB
 * of 8-byte values): the shape comes from the server, and a scratch buffer
 * must not grow to whatever size a response names. Past it, the single
 * value is compared as it is (and reported as a count mismatch). */
#define MAX_BROADCAST (1ull << 20)

static int malformed(const char *what, char *msg, size_t msglen) {
    snprintf(msg, msglen, "malformed %s from the server: its outputs cannot be validated", what);
    return 1;
}

/* The next field numbered `number` (others skipped): 1, 0 at the end, -1 malformed. */
static int next_of(pb_reader *r, uint32_t number, pb_field *f) {
    int rc;
    while ((rc = pb_next(r, f)) == 1)
        if (f->number == number)
            return 1;
    return rc;
}

int pa_check_kserve_response(const pa_validator *v, size_t body, const uint8_t *p, size_t len, uint64_t *seen,
                             char *msg, size_t msglen) {
    static const char what[] = "ModelInferResponse";
    /* Two cursors in step: the i-th output goes with the i-th raw contents. */
    pb_reader outs, raws;
    pb_reader_init(&outs, p, len);
    pb_reader_init(&raws, p, len);
    pb_field fo, fr;
    int rc;
    while ((rc = next_of(&outs, 5, &fo)) == 1) {
        if (fo.wire != PB_LEN)
            return malformed(what, msg, msglen);
        const char *name = NULL, *datatype = NULL;
        size_t name_len = 0, datatype_len = 0;
        pb_reader t;
        pb_field ft;
        pb_reader_init(&t, fo.data, fo.len);
        while ((rc = pb_next(&t, &ft)) == 1) {
            if ((ft.number == 1 || ft.number == 2) && ft.wire != PB_LEN)
                return malformed(what, msg, msglen);
            if (ft.number == 1) {
                name = (const char *)ft.data;
                name_len = ft.len;
            } else if (ft.number == 2) {
                datatype = (const char *)ft.data;
                datatype_len = ft.len;
            }
        }
        if (rc < 0)
            return malformed(what, msg, msglen);
        int has_raw = next_of(&raws, 6, &fr);
        if (has_raw < 0 || (has_raw == 1 && fr.wire != PB_LEN))
            return malformed(what, msg, msglen);
        if (!name)
            continue; /* proto3 leaves out an empty name: no expected output has one */
        const char *data = has_raw == 1 ? (const char *)fr.data : NULL;
        if (pa_validator_check_tensor(v, body, name, name_len, datatype ? datatype : "", datatype_len, data,
                                      has_raw == 1 ? fr.len : 0, seen, msg, msglen))
            return 1;
    }
    /* the outputs cursor read every field to the end: the whole message is well-formed */
    return rc < 0 ? malformed(what, msg, msglen) : 0;
}

/* ---- TF Serving ---------------------------------------------------------- */

typedef struct tf_type {
    int dtype;
    const char *name;    /* the KServe datatype the validator knows it by */
    uint32_t field;      /* the typed repeated field holding its values */
    int wire;            /* that field's scalar wire type */
    size_t width;        /* bytes of one element in raw form; 0: BYTES */
} tf_type;

static const tf_type TF_TYPES[] = {
    {1, "FP32", 5, PB_FIXED32, 4},  {2, "FP64", 6, PB_FIXED64, 8},  {3, "INT32", 7, PB_VARINT, 4},
    {4, "UINT8", 7, PB_VARINT, 1},  {5, "INT16", 7, PB_VARINT, 2},  {6, "INT8", 7, PB_VARINT, 1},
    {7, "BYTES", 8, PB_LEN, 0},     {9, "INT64", 10, PB_VARINT, 8}, {10, "BOOL", 11, PB_VARINT, 1},
    {14, "BF16", 13, PB_VARINT, 2}, {17, "UINT16", 7, PB_VARINT, 2}, {19, "FP16", 13, PB_VARINT, 2},
    {22, "UINT32", 16, PB_VARINT, 4}, {23, "UINT64", 17, PB_VARINT, 8},
};

static const tf_type *tf_type_of(uint64_t dtype) {
    for (size_t i = 0; i < sizeof(TF_TYPES) / sizeof(TF_TYPES[0]); i++)
        if ((uint64_t)TF_TYPES[i].dtype == dtype)
            return &TF_TYPES[i];
    return NULL;
}

/* One element in raw little-endian form, the low `width` bytes of x. */
static void put_le(pa_body_buf *b, uint64_t x, size_t width) {
    uint8_t tmp[8];
    for (size_t i = 0; i < width; i++)
        tmp[i] = (uint8_t)(x >> (8 * i));
    pa_body_buf_append(b, (const char *)tmp, width);
}

/* Appends the values of one typed field occurrence (packed or not); -1 if malformed. */
static int append_values(const tf_type *tt, const pb_field *f, pa_body_buf *out, size_t *count) {
    if (tt->wire == PB_LEN) { /* string_val: never packed */
        if (f->wire != PB_LEN || f->len > UINT32_MAX)
            return -1;
        uint32_t n = (uint32_t)f->len;
        pa_body_buf_append(out, (const char *)&n, 4);
        pa_body_buf_append(out, (const char *)f->data, f->len);
        (*count)++;
        return 0;
    }
    if (f->wire == tt->wire) {
        put_le(out, f->value, tt->width);
        (*count)++;
        return 0;
    }
    if (f->wire != PB_LEN)
        return -1;
    const uint8_t *q = f->data, *end = f->data + f->len;
    while (q < end) {
        uint64_t x;
        if (tt->wire == PB_VARINT) {
            if (pb_varint(&q, end, &x) != 0)
                return -1;
        } else {
            size_t n = tt->wire == PB_FIXED64 ? 8 : 4;
            if ((size_t)(end - q) < n)
                return -1;
            x = 0;
            for (size_t i = n; i-- > 0;)
                x = (x << 8) | q[i];
            q += n;
        }
        put_le(out, x, tt->width);
        (*count)++;
    }
    return 0;
}

/* Elements the shape holds; 0 when it has none or an unknown (-1) dimension. */
static int shape_elements(const uint8_t *p, size_t len, uint64_t *elements) {
    pb_reader r, d;
    pb_field f, g;
    uint64_t total = 1;
    pb_reader_init(&r, p, len);
    int rc;
    while ((rc = next_of(&r, 2, &f)) == 1) {
        if (f.wire != PB_LEN)
            return -1;
        uint64_t size = 0;
        pb_reader_init(&d, f.data, f.len);
        while ((rc = next_of(&d, 1, &g)) == 1) {
            if (g.wire != PB_VARINT)
                return -1;
            size = g.value;
        }
        if (rc < 0)
            return -1;
        if ((int64_t)size < 0 || (size && total > MAX_BROADCAST / size))
            total = 0; /* unknown, or more than a response could mean: no broadcast */
        else
            total *= size;
    }
    *elements = total;
    return rc;
}

static int check_tf_tensor(const pa_validator *v, size_t body, const char *name, size_t name_len,
                           const uint8_t *p, size_t len, pa_body_buf *scratch, uint64_t *seen, char *msg,
                           size_t msglen) {
    static const char what[] = "PredictResponse";
    pb_reader r;
    pb_field f;
    uint64_t dtype = 0, elements = 0;
    const uint8_t *content = NULL;
    size_t content_len = 0;
    int rc;
    pb_reader_init(&r, p, len);
    while ((rc = pb_next(&r, &f)) == 1) {
        if (f.number == 1) {
            if (f.wire != PB_VARINT)
                return malformed(what, msg, msglen);
            dtype = f.value;
        } else if (f.number == 2) {
            if (f.wire != PB_LEN || shape_elements(f.data, f.len, &elements) < 0)
                return malformed(what, msg, msglen);
        } else if (f.number == 4) {
            if (f.wire != PB_LEN)
                return malformed(what, msg, msglen);
            content = f.data;
            content_len = f.len;
        }
    }
    if (rc < 0)
        return malformed(what, msg, msglen);
    const tf_type *tt = tf_type_of(dtype);
    char other[32];
    if (!tt) {
        int n = snprintf(other, sizeof(other), "TF dtype %llu", (unsigned long long)dtype);
        return pa_validator_check_tensor(v, body, name, name_len, other, (size_t)n, "", 0, seen, msg, msglen);
    }
    if (content && tt->width) /* raw little-endian, as the validator holds it */
        return pa_validator_check_tensor(v, body, name, name_len, tt->name, strlen(tt->name),
                                         (const char *)content, content_len, seen, msg, msglen);
    scratch->len = 0;
    scratch->overflow = 0;
    size_t count = 0;
    pb_reader_init(&r, p, len);
    while ((rc = next_of(&r, tt->field, &f)) == 1)
        if (append_values(tt, &f, scratch, &count) != 0)
            return malformed(what, msg, msglen);
    if (rc < 0)
        return malformed(what, msg, msglen);
    /* TensorProto: a single value stands for every element of the shape */
    if (count == 1 && elements > 1 && tt->width && !scratch->overflow) {
        char one[8];
        memcpy(one, scratch->data, tt->width);
        for (uint64_t i = 1; i < elements && !scratch->overflow; i++)
            pa_body_buf_append(scratch, one, tt->width);
    }
    if (scratch->overflow) {
        snprintf(msg, msglen, "out of memory reading output '%.*s' of a response", (int)(name_len > 64 ? 64 : name_len),
                 name);
        return 1;
    }
    return pa_validator_check_tensor(v, body, name, name_len, tt->name, strlen(tt->name),
                                     scratch->data ? scratch->data : "", scratch->len, seen, msg, msglen);
}

int pa_check_tf_predict_response(const pa_validator *v, size_t body, const uint8_t *p, size_t len,
                                 pa_body_buf *scratch, uint64_t *seen, char *msg, size_t msglen) {
    static const char what[] = "PredictResponse";
    pb_reader r, e;
    pb_field f, g;
    int rc;
    pb_reader_init(&r, p, len);
    while ((rc = pb_next(&r, &f)) == 1) {
        if (f.number != 1)
            continue;
        if (f.wire != PB_LEN)
            return malformed(what, msg, msglen);
        const char *key = "";
        size_t key_len = 0;
        const uint8_t *value = NULL;
        size_t value_len = 0;
        pb_reader_init(&e, f.data, f.len);
        while ((rc = pb_next(&e, &g)) == 1) {
            if ((g.number == 1 || g.number == 2) && g.wire != PB_LEN)
                return malformed(what, msg, msglen);
            if (g.number == 1) {
                key = (const char *)g.data;
                key_len = g.len;
            } else if (g.number == 2) {
                value = g.data;
                value_len = g.len;
            }
        }
        if (rc < 0)
            return malformed(what, msg, msglen);
        /* an entry without a value is an empty TensorProto (dtype 0) */
        if (check_tf_tensor(v, body, key, key_len, value ? value : (const uint8_t *)"", value_len, scratch, seen,
                            msg, msglen))
            return 1;
    }
    return rc < 0 ? malformed(what, msg, msglen) : 0;
}

int pa_check_response(const pa_validator *v, int format, size_t body, const uint8_t *p, size_t len,
                      pa_body_buf *scratch, char *msg, size_t msglen) {
    if (!pa_validator_expects(v, body))
        return 0;
    uint64_t seen = 0;
    int bad = format == PA_RESPONSE_TF_PREDICT
                  ? pa_check_tf_predict_response(v, body, p, len, scratch, &seen, msg, msglen)
                  : pa_check_kserve_response(v, body, p, len, &seen, msg, msglen);
    return bad || pa_validator_check_seen(v, body, seen, msg, msglen);
}
