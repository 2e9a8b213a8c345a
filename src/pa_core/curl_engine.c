/* Closed-loop HTTP(S) load over libcurl multi: one engine thread keeps N
 * requests in flight, each slot sending its next request as soon as the
 * previous one completes, on kept-alive connections. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "http1_parse.h"
#include "http_config.h"

#define PA_ERROR_BODY_LEN 256

typedef struct body {
    char *data;
    size_t len;
    struct curl_slist *headers;
    pa_seq_fields seq; /* sequences: where the patchable fields are */
} body;

typedef struct curl_engine curl_engine;

typedef struct slot {
    pa_slot base;       /* first: index, active, backoff */
    CURL *easy;
    const body *body;
    pa_request_times t;
    long status;        /* from the status line, 0 until seen */
    uint64_t bytes_in;
    size_t err_len;
    char err_body[PA_ERROR_BODY_LEN];
    char curl_err[CURL_ERROR_SIZE];
    const char *malformed; /* a header we refused, ending the transfer: why */
    int keep_body;      /* validation on: the body is collected in `resp` */
    pa_body_buf resp;
    long json_len;      /* Inference-Header-Content-Length, -1 when absent */
    char *own;          /* sequences: this slot's patched copy of the body (libcurl sends it from here) */
    size_t own_cap;
} slot;

struct curl_engine {
    pa_engine base; /* first: the engine is used through a pa_engine pointer */
    char *url;
    body *bodies;
    size_t n_bodies;
    long request_timeout_ms;
    long connect_timeout_ms;
    long tls_verify_peer;
    long tls_verify_host;
    char *tls[5]; /* CA file, cert file, cert type, key file, key type; NULL: unset */
    const pa_validator *validator;

    CURLM *multi;
};

int pa_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1; }

/* The body goes out with the headers in one send (CURLOPT_POSTFIELDS); the
 * progress callback tells when the last byte was handed to the socket. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal;
    (void)dlnow;
    slot *s = userdata;
    if (!s->t.send_end_ns && ulnow >= ultotal && ultotal > 0)
        s->t.send_end_ns = pa_now_ns();
    return 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
    slot *s = userdata;
    size_t n = size * nitems;
    if (!s->t.recv_start_ns)
        s->t.recv_start_ns = pa_now_ns();
    /* Status line "HTTP/x.y NNN ..."; a later one (after a 1xx) overrides. */
    if (n > 12 && memcmp(buf, "HTTP/", 5) == 0) {
        const char *sp = memchr(buf, ' ', n);
        if (sp && sp + 4 <= buf + n && sp[1] >= '1' && sp[1] <= '5' && sp[2] >= '0' && sp[2] <= '9' &&
            sp[3] >= '0' && sp[3] <= '9') /* three digits, read here: strtol would run on */
            s->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    }
    /* libcurl would wait for a Content-Length it cannot hold: refuse it here */
    if (pa_http1_content_length(buf, n) == -2) {
        s->malformed = "Content-Length is not a number below 10^18";
        return 0; /* aborts the transfer */
    }
    long json_len = pa_inference_header_length(buf, n);
    if (json_len != -1) /* -2, not a number, is reported by the validation */
        s->json_len = json_len;
    return n;
}

static size_t on_write(char *buf, size_t size, size_t nmemb, void *userdata) {
    slot *s = userdata;
    size_t n = size * nmemb;
    s->bytes_in += n;
    if (s->keep_body)
        pa_body_buf_append(&s->resp, buf, n);
    if ((s->status < 200 || s->status >= 300) && s->err_len < PA_ERROR_BODY_LEN - 1) {
        size_t room = PA_ERROR_BODY_LEN - 1 - s->err_len;
        size_t c = n < room ? n : room;
        memcpy(s->err_body + s->err_len, buf, c);
        s->err_len += c;
        s->err_body[s->err_len] = '\0';
    }
    return n;
}

static pa_slot *new_slot(pa_engine *base) {
    curl_engine *e = (curl_engine *)base;
    slot *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->keep_body = e->validator != NULL;
    s->easy = curl_easy_init();
    if (!s->easy) {
        free(s);
        return NULL;
    }
    CURL *c = s->easy;
    curl_easy_setopt(c, CURLOPT_PRIVATE, s);
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->curl_err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    /* libcurl's connection pool keeps what an open-loop stall opened; a
     * connection idle this long is closed when the pool is next pruned. */
    curl_easy_setopt(c, CURLOPT_MAXAGE_CONN, 2L);
    if (e->request_timeout_ms > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, e->request_timeout_ms);
    if (e->connect_timeout_ms > 0)
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, e->tls_verify_peer);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, e->tls_verify_host);
    static const CURLoption tls_opts[5] = {CURLOPT_CAINFO, CURLOPT_SSLCERT, CURLOPT_SSLCERTTYPE, CURLOPT_SSLKEY,
                                           CURLOPT_SSLKEYTYPE};
    for (int i = 0; i < 5; i++)
        if (e->tls[i])
            curl_easy_setopt(c, tls_opts[i], e->tls[i]);
    return &s->base;
}

/* libcurl sends the body from `data` (with sequences, the slot's patched
 * copy, which stays untouched until the transfer ends). */
static void set_body(slot *s, const body *b, const char *data) {
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, data);
    if (!s->body || s->body->headers != b->headers)
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, b->headers);
    s->body = b;
}

static void start_request(pa_engine *base, pa_slot *ps) {
    curl_engine *e = (curl_engine *)base;
    slot *s = (slot *)ps;
    pa_seq_request q;
    if (pa_engine_next_step(base, ps, e->n_bodies, e->url, &q) != 0)
        return;
    const body *b = &e->bodies[q.body];
    if (ps->seq >= 0) {
        if (pa_seq_copy_patched(&s->own, &s->own_cap, b->data, b->len, &b->seq, &q) != 0) {
            char msg[PA_ERROR_MESSAGE_LEN];
            snprintf(msg, sizeof(msg), "out of memory for a sequence's request to %s", e->url);
            pa_engine_request_failed(base, ps, PA_ERR_OTHER, -1, msg, 1); /* not a transport failure */
            return;
        }
        set_body(s, b, s->own);
    } else if (s->body != b) {
        set_body(s, b, b->data);
    }
    s->status = 0;
    s->bytes_in = 0;
    s->err_len = 0;
    s->resp.len = 0;
    s->json_len = -1;
    s->curl_err[0] = '\0';
    s->malformed = NULL;
    memset(&s->t, 0, sizeof(s->t));
    s->t.scheduled_ns = ps->scheduled_ns;
    s->t.start_ns = pa_now_ns();
    if (curl_multi_add_handle(e->multi, s->easy) != CURLM_OK) {
        pa_engine_request_failed(base, ps, PA_ERR_OTHER, -1, "curl_multi_add_handle failed", 1);
        return;
    }
    ps->active = 1;
}

static void finish_request(curl_engine *e, slot *s, CURLcode result) {
    s->t.end_ns = pa_now_ns();
    curl_multi_remove_handle(e->multi, s->easy);
    if (result != CURLE_OK) {
        char why[PA_ERROR_MESSAGE_LEN];
        if (s->malformed)
            snprintf(why, sizeof(why), "malformed HTTP response (%s) from %s", s->malformed, e->url);
        pa_engine_request_failed(&e->base, &s->base, PA_ERR_TRANSPORT,
                                 -1, s->malformed ? why : s->curl_err[0] ? s->curl_err : curl_easy_strerror(result), 1);
        return;
    }
    char msg[PA_ERROR_MESSAGE_LEN];
    if (e->validator && s->status >= 200 && s->status < 300 &&
        pa_validator_check_http(e->validator, (size_t)(s->body - e->bodies), s->resp.data, s->resp.len, s->json_len,
                                msg, sizeof(msg))) {
        pa_engine_request_failed(&e->base, &s->base, PA_ERR_OTHER, -1, msg, 0); /* as in perf_analyzer */
        return;
    }
    s->base.active = 0;
    pa_engine_end_step(&e->base, &s->base);
    pa_engine_record_http(&e->base, &s->t, s->status, s->body->len, s->bytes_in, s->err_len ? s->err_body : NULL);
    pa_engine_slot_done(&e->base, &s->base);
}

static void *run(void *arg) {
    curl_engine *e = arg;
    int running = 0;
    while (pa_engine_tick(&e->base, pa_now_ns())) {
        curl_multi_perform(e->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(e->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            slot *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            finish_request(e, s, m->data.result);
        }
        pa_wait w = pa_engine_wait_plan(&e->base, 20000000ull);
        int events = 0;
        curl_multi_poll(e->multi, NULL, 0, (int)(w.wait_ns / 1000000ull), &events);
        pa_engine_wait_done(&e->base, &w, events != 0);
    }
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        if (s->base.active) {
            curl_multi_remove_handle(e->multi, s->easy);
            s->base.active = 0;
            pa_engine_end_step(&e->base, &s->base);
        }
    }
    return NULL;
}

static void wake(pa_engine *base) {
    curl_engine *e = (curl_engine *)base;
    if (e->multi)
        curl_multi_wakeup(e->multi);
}

static void destroy(pa_engine *base) {
    curl_engine *e = (curl_engine *)base;
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        slot *s = (slot *)e->base.slots[i];
        curl_easy_cleanup(s->easy);
        free(s->resp.data);
        free(s->own);
        free(s);
    }
    free(e->base.slots);
    if (e->multi)
        curl_multi_cleanup(e->multi);
    if (e->bodies) {
        for (size_t i = 0; i < e->n_bodies; i++) {
            free(e->bodies[i].data);
            curl_slist_free_all(e->bodies[i].headers);
        }
        free(e->bodies);
    }
    for (int i = 0; i < 5; i++)
        free(e->tls[i]);
    free(e->url);
    free(e);
}

static const pa_engine_ops curl_ops = {run, wake, destroy, new_slot, start_request};

pa_engine *pa_curl_engine_create(const pa_http_config *cfg, char *err, size_t errlen) {
    if (!cfg->url || cfg->n_bodies == 0) {
        snprintf(err, errlen, "an URL and at least one request body are required");
        return NULL;
    }
    curl_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory creating the HTTP engine");
        return NULL;
    }
    pa_engine_init(&e->base, &curl_ops);
    e->request_timeout_ms = cfg->request_timeout_ms;
    e->connect_timeout_ms = cfg->connect_timeout_ms;
    e->tls_verify_peer = cfg->tls_verify_peer;
    e->tls_verify_host = cfg->tls_verify_host;
    const char *tls[5] = {cfg->tls_ca_file, cfg->tls_cert_file, cfg->tls_cert_type, cfg->tls_key_file,
                          cfg->tls_key_type};
    for (int i = 0; i < 5; i++)
        if (tls[i] && tls[i][0] && !(e->tls[i] = strdup(tls[i])))
            goto oom;
    e->validator = cfg->validator;
    e->base.sequencer = cfg->sequencer; /* the engine closes open sequences when it stops */
    e->url = strdup(cfg->url);
    e->bodies = calloc(cfg->n_bodies, sizeof(body));
    if (!e->url || !e->bodies)
        goto oom;
    e->n_bodies = cfg->n_bodies;
    for (size_t i = 0; i < cfg->n_bodies; i++) {
        const pa_http_body *src = &cfg->bodies[i];
        body *b = &e->bodies[i];
        b->data = malloc(src->len ? src->len : 1);
        if (!b->data)
            goto oom;
        memcpy(b->data, src->data, src->len);
        b->len = src->len;
        if (e->base.sequencer && pa_seq_find_fields(b->data, b->len, &b->seq) != 0) {
            snprintf(err, errlen, "request body %zu has no sequence_id/sequence_start/sequence_end fields", i);
            destroy(&e->base);
            return NULL;
        }
        for (size_t h = 0; h < src->n_headers; h++) {
            struct curl_slist *l = curl_slist_append(b->headers, src->headers[h]);
            if (!l)
                goto oom;
            b->headers = l;
        }
        /* libcurl would otherwise wait for "100 Continue" on larger bodies. */
        struct curl_slist *l = curl_slist_append(b->headers, "Expect:");
        if (!l)
            goto oom;
        b->headers = l;
    }
    e->multi = curl_multi_init();
    if (!e->multi)
        goto oom;
    return &e->base;
oom:
    snprintf(err, errlen, "out of memory creating the HTTP engine");
    destroy(&e->base);
    return NULL;
}
