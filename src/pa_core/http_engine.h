/* Closed-loop HTTP load over libcurl multi: one engine thread keeps N
 * requests in flight, each slot sending its next request as soon as the
 * previous one completes, on kept-alive connections. Request bodies are
 * prepared by the caller once and cycled through; nothing is allocated per
 * request in steady state. */
#ifndef PA_HTTP_ENGINE_H
#define PA_HTTP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "window_stats.h"

#define PA_MAX_ERROR_MESSAGES 8
#define PA_ERROR_MESSAGE_LEN 320

typedef struct pa_http_body {
    const char *data;
    size_t len;
    const char *const *headers; /* "Name: value" lines */
    size_t n_headers;
} pa_http_body;

typedef struct pa_http_config {
    const char *url;            /* full URL, scheme included */
    const pa_http_body *bodies; /* copied by create */
    size_t n_bodies;
    long request_timeout_ms;    /* 0: none */
    long connect_timeout_ms;    /* 0: libcurl's default */
} pa_http_config;

typedef struct pa_http_engine pa_http_engine;

int pa_http_global_init(void);

/* Returns NULL and fills err on failure. */
pa_http_engine *pa_http_engine_create(const pa_http_config *cfg, char *err, size_t errlen);
/* Starts the engine thread with no request in flight. 0 on success. */
int pa_http_engine_start(pa_http_engine *e, char *err, size_t errlen);
/* Target number of requests in flight; takes effect at once (more) or as
 * requests complete (fewer). */
void pa_http_engine_set_concurrency(pa_http_engine *e, unsigned n);
/* Ends the current window: see pa_recorder_swap. */
uint64_t pa_http_engine_swap(pa_http_engine *e, pa_window_stats *out);
/* Monotonic counters since start, readable at any time without stopping. */
uint64_t pa_http_engine_completed(pa_http_engine *e);
uint64_t pa_http_engine_failed(pa_http_engine *e);
unsigned pa_http_engine_in_flight(pa_http_engine *e);
/* The first distinct error messages seen (at most PA_MAX_ERROR_MESSAGES). */
size_t pa_http_engine_error_messages(pa_http_engine *e, const char **msgs, size_t max);
/* Stops issuing, lets in-flight requests finish for up to drain_ms, then
 * abandons the rest and joins the thread. Safe to call twice. */
void pa_http_engine_stop(pa_http_engine *e, long drain_ms);
void pa_http_engine_destroy(pa_http_engine *e);

#endif
