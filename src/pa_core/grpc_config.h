/* The gRPC load: unary calls of one method, request messages serialized once
 * by the caller and cycled through, spread over K channels. */
#ifndef PA_GRPC_CONFIG_H
#define PA_GRPC_CONFIG_H

#include <stddef.h>

#include "engine.h"
#include "validate.h"
#include "sequence.h"

typedef struct pa_grpc_message {
    const char *data; /* the serialized protobuf message */
    size_t len;
} pa_grpc_message;

enum pa_grpc_compression { PA_GRPC_COMPRESS_NONE = 0, PA_GRPC_COMPRESS_DEFLATE = 1, PA_GRPC_COMPRESS_GZIP = 2 };

typedef struct pa_grpc_config {
    const char *target;               /* host:port */
    const char *method;               /* "/package.Service/Method" */
    const pa_grpc_message *messages;  /* copied by create */
    size_t n_messages;
    unsigned channels;                /* calls go round-robin over this many channels (connections) */
    int compression;                  /* enum pa_grpc_compression: the channel's default algorithm */
    long request_timeout_ms;          /* 0: none; else the call's deadline */
    /* TLS: use_ssl with optional PEM contents (NULL: gRPC's default roots; no client certificate). */
    int use_ssl;
    const char *root_certs;
    const char *private_key;
    const char *cert_chain;
    /* NULL: responses are not read; else every OK response is validated (outlives the engine) */
    const pa_validator *validator;
    int response_format; /* enum pa_response_format (grpc_validate.h): what the responses are */
    /* Sequences: the messages carry sequence parameters (see grpc_sequence.h)
     * and this sequencer (engine thread's, NULL: none) picks each request's. */
    pa_sequencer *sequencer;
} pa_grpc_config;

/* Returns NULL and fills err on failure. */
pa_engine *pa_grpc_engine_create(const pa_grpc_config *cfg, char *err, size_t errlen);
/* Bidirectional streaming (ModelStreamInfer): one stream per slot, one request
 * in flight on it; a request ends with the response flagged final
 * ("triton_final_response", which the messages must ask for). request_timeout_ms
 * is not supported (a deadline would end the stream). */
pa_engine *pa_grpc_stream_engine_create(const pa_grpc_config *cfg, char *err, size_t errlen);

/* "UNAVAILABLE" for 14, ...; "UNKNOWN_CODE" outside the known range. */
const char *pa_grpc_status_name(int code);

#endif
