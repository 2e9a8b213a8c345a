/* Triton in-process through its C API: the server (libtritonserver.so loaded
 * at run time, never linked) and an engine that drives ServerInferAsync. */
#ifndef PA_CAPI_CONFIG_H
#define PA_CAPI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct pa_capi_server pa_capi_server;

typedef struct pa_capi_server_options {
    const char *library;          /* path of libtritonserver.so */
    const char *model_repository;
    const char *backend_directory;
    int verbose;                  /* 0: the server logs nothing; 1: info, warnings and errors */
    int startup_timeout_s;
} pa_capi_server_options;

/* One input of one request: its bytes stay owned by the engine. */
typedef struct pa_capi_input {
    const char *name;
    const char *datatype; /* "FP32", "BYTES", ... */
    const int64_t *shape;
    size_t n_dims;
    const void *data;
    size_t len;
} pa_capi_input;

typedef struct pa_capi_request {
    const pa_capi_input *inputs;
    size_t n_inputs;
} pa_capi_request;

typedef struct pa_capi_config {
    pa_capi_server *server; /* must outlive the engine */
    const char *model;
    int64_t version;        /* -1: the server's choice */
    const pa_capi_request *requests;
    size_t n_requests;
    long request_timeout_ms;
    pa_sequencer *sequencer; /* sequence models: requests are the streams' steps; NULL otherwise */
    /* A fresh request object per send, deleted once Triton releases it. For
     * ensembles and sequence models: their schedulers add a release callback
     * to the request at every send, and Triton before 2.63 (25.10) keeps
     * them all on a reused object (an ensemble's in-flight count then wraps
     * below zero and the server cannot stop; a sequence model's releases
     * slow down as they pile up). */
    int fresh_requests;
} pa_capi_config;

/* Loads the library, checks its API version, starts the server and waits
 * until it is live and ready. NULL with a message in err otherwise. */
pa_capi_server *pa_capi_server_create(const pa_capi_server_options *o, char *err, size_t errlen);
/* Loads one model (explicit model control); the server's own message on failure. */
int pa_capi_server_load_model(pa_capi_server *s, const char *model, int64_t version, char *err, size_t errlen);

enum pa_capi_document { PA_CAPI_METADATA, PA_CAPI_CONFIG, PA_CAPI_STATISTICS };
/* The model's metadata, config or statistics as JSON (the HTTP endpoints'
 * structure); malloc'ed, NULL with a message in err on failure. */
char *pa_capi_server_json(pa_capi_server *s, enum pa_capi_document what, const char *model, int64_t version,
                          char *err, size_t errlen);
/* The library's API version, as read at load time. */
void pa_capi_server_api_version(const pa_capi_server *s, uint32_t *major, uint32_t *minor);
/* Stops the server; -1 with Triton's message in err (when given) if it did
 * not stop within its exit timeout. */
int pa_capi_server_destroy(pa_capi_server *s, char *err, size_t errlen);

pa_engine *pa_capi_engine_create(const pa_capi_config *cfg, char *err, size_t errlen);

#endif
