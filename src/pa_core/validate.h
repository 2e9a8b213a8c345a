/* Output validation (validation_data): the expected output bytes of each
 * request body, decoded once up front, compared against responses in C, so
 * that validating costs no Python call and no allocation per request.
 * Transport-neutral: a transport hands each output's bytes to
 * pa_validator_check_output; HTTP bodies go through pa_validator_check_http. */
#ifndef PA_VALIDATE_H
#define PA_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pa_validator pa_validator;

/* perf_analyzer's words, first in every mismatch message. */
#define PA_MISMATCH "Output doesn't match expected output"

pa_validator *pa_validator_create(size_t n_bodies);
void pa_validator_destroy(pa_validator *v);
/* Body `body` expects output `name` (KServe datatype) to be exactly `data`;
 * `rows` batch rows, whose data steps are `steps` (for messages). 0, or -1
 * when out of memory or arguments are wrong. */
int pa_validator_add_output(pa_validator *v, size_t body, const char *name, const char *datatype,
                            const void *data, size_t len, size_t rows);
int pa_validator_set_steps(pa_validator *v, size_t body, const long *steps, size_t rows, long stream);

/* 0 when the output matches or is not expected; 1 on a mismatch, `msg`
 * filled with the step, output name and first differing element. */
int pa_validator_check_output(const pa_validator *v, size_t body, const char *name, size_t name_len,
                              const char *data, size_t len, char *msg, size_t msglen);
/* A KServe v2 HTTP response: JSON header of json_len bytes (-1: no
 * Inference-Header-Content-Length, the whole body; -2: one that was not a
 * number), then the binary outputs in the header's order. Also 1 when an
 * expected output is missing or not sent as binary data, and when a size
 * the server declares does not fit the response. */
int pa_validator_check_http(const pa_validator *v, size_t body, const char *resp, size_t resp_len,
                            long json_len, char *msg, size_t msglen);

/* How many outputs body `body` expects (0: its responses need not be read). */
size_t pa_validator_expects(const pa_validator *v, size_t body);
/* One output tensor of a response, as the protobuf transports read them:
 * like pa_validator_check_output, and also 1 when `datatype` (not NULL)
 * differs from the expected one, or when `data` is NULL (the response has
 * the output, but not as raw bytes). Sets bit k of *seen for expected output k. */
int pa_validator_check_tensor(const pa_validator *v, size_t body, const char *name, size_t name_len,
                              const char *datatype, size_t datatype_len, const char *data, size_t len,
                              uint64_t *seen, char *msg, size_t msglen);
/* 1, naming the first expected output (of the first 64) whose bit is not in `seen`. */
int pa_validator_check_seen(const pa_validator *v, size_t body, uint64_t seen, char *msg, size_t msglen);

/* Collects a response body for validation: grows to the largest response
 * once, then is reused (no allocation in steady state). */
typedef struct pa_body_buf {
    char *data;
    size_t len, cap;
    int overflow; /* out of memory: the body is incomplete */
} pa_body_buf;
void pa_body_buf_append(pa_body_buf *b, const char *data, size_t n);
/* The value of an "Inference-Header-Content-Length:" header line, -1 when
 * the line is another header, -2 when the value is not a decimal number of
 * at most 18 digits. */
long pa_inference_header_length(const char *line, size_t n);

#endif
