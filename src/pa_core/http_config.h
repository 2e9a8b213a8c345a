/* The HTTP load both HTTP engines send: one URL, request bodies prepared
 * once by the caller (each with its header lines) and cycled through. */
#ifndef PA_HTTP_CONFIG_H
#define PA_HTTP_CONFIG_H

#include <stddef.h>

#include "engine.h"
#include "sequence.h"
#include "validate.h"

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
    long connect_timeout_ms;    /* 0: the transport's default */
    /* TLS for https:// (curl client; the native client speaks plain HTTP).
     * verify_peer 0|1, verify_host 0|1|2 as libcurl; NULL or "" strings
     * leave libcurl's defaults (system CA bundle, no client certificate). */
    long tls_verify_peer;
    long tls_verify_host;
    const char *tls_ca_file;
    const char *tls_cert_file;
    const char *tls_cert_type;  /* "PEM" or "DER" */
    const char *tls_key_file;
    const char *tls_key_type;   /* "PEM" or "DER" */
    const pa_validator *validator; /* NULL: responses are not validated; else outlives the engine */
    pa_sequencer *sequencer;    /* NULL: no sequences; else bodies are streams' steps, used by the engine thread */
} pa_http_config;

/* libcurl multi: HTTP and HTTPS. Returns NULL and fills err on failure. */
int pa_curl_global_init(void);
pa_engine *pa_curl_engine_create(const pa_http_config *cfg, char *err, size_t errlen);

/* Our own HTTP/1.1 client over epoll: plain http:// only, fewer system
 * calls per request than libcurl (one send, one recv, a shared epoll_wait). */
pa_engine *pa_http1_engine_create(const pa_http_config *cfg, char *err, size_t errlen);

#endif
