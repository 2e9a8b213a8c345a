#include "http_engine.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define PA_MAX_SLOTS 65536u
#define PA_RETRY_AFTER_TRANSPORT_ERROR_NS 10000000ull /* 10 ms */
#define PA_ERROR_BODY_LEN 256

typedef struct body {
    char *data;
    size_t len;
    struct curl_slist *headers;
} body;

typedef struct slot {
    pa_http_engine *eng;
    unsigned index;     /* position in eng->slots */
    CURL *easy;
    const body *body;
    pa_request_times t;
    long status;        /* from the status line, 0 until seen */
    uint64_t bytes_in;
    int active;         /* added to the multi handle */
    uint64_t not_before_ns; /* backoff after a transport error */
    size_t err_len;
    char err_body[PA_ERROR_BODY_LEN];
    char curl_err[CURL_ERROR_SIZE];
} slot;

struct pa_http_engine {
    char *url;
    body *bodies;
    size_t n_bodies;
    size_t next_body;
    long request_timeout_ms;
    long connect_timeout_ms;

    CURLM *multi;
    pthread_t thread;
    int thread_started;

    slot **slots;       /* grown by the engine thread only */
    unsigned n_slots;
    unsigned target;    /* atomic: wanted in flight */
    unsigned filled_for;/* target at the last fill_slots */
    unsigned backing_off; /* slots idle after a transport error */
    unsigned in_flight; /* atomic */
    int stopping;       /* atomic */
    long drain_ms;      /* atomic, set with stopping */

    uint64_t completed; /* atomic */
    uint64_t failed;    /* atomic */
    size_t n_messages;  /* atomic; messages are written before publication */
    char messages[PA_MAX_ERROR_MESSAGES][PA_ERROR_MESSAGE_LEN];

    pa_recorder recorder;
};

int pa_http_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1; }

static void set_err(char *err, size_t errlen, const char *msg, const char *detail) {
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
}

pa_http_engine *pa_http_engine_create(const pa_http_config *cfg, char *err, size_t errlen) {
    if (!cfg->url || cfg->n_bodies == 0) {
        set_err(err, errlen, "an URL and at least one request body are required", NULL);
        return NULL;
    }
    pa_http_engine *e = calloc(1, sizeof(*e));
    if (!e)
        goto oom;
    pa_recorder_init(&e->recorder);
    e->request_timeout_ms = cfg->request_timeout_ms;
    e->connect_timeout_ms = cfg->connect_timeout_ms;
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
    return e;
oom:
    set_err(err, errlen, "out of memory creating the HTTP engine", NULL);
    pa_http_engine_destroy(e);
    return NULL;
}

static void add_message(pa_http_engine *e, const char *msg) {
    size_t n = __atomic_load_n(&e->n_messages, __ATOMIC_RELAXED);
    if (n >= PA_MAX_ERROR_MESSAGES)
        return;
    for (size_t i = 0; i < n; i++)
        if (strcmp(e->messages[i], msg) == 0)
            return;
    snprintf(e->messages[n], PA_ERROR_MESSAGE_LEN, "%s", msg);
    __atomic_store_n(&e->n_messages, n + 1, __ATOMIC_RELEASE);
}

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
    /* Status line "HTTP/x.y NNN ..."; interim 1xx answers are skipped. */
    if (n > 12 && memcmp(buf, "HTTP/", 5) == 0) {
        const char *sp = memchr(buf, ' ', n);
        if (sp && sp + 4 <= buf + n)
            s->status = strtol(sp + 1, NULL, 10);
    }
    return n;
}

static size_t on_write(char *buf, size_t size, size_t nmemb, void *userdata) {
    slot *s = userdata;
    size_t n = size * nmemb;
    s->bytes_in += n;
    if ((s->status < 200 || s->status >= 300) && s->err_len < PA_ERROR_BODY_LEN - 1) {
        size_t room = PA_ERROR_BODY_LEN - 1 - s->err_len;
        size_t c = n < room ? n : room;
        memcpy(s->err_body + s->err_len, buf, c);
        s->err_len += c;
        s->err_body[s->err_len] = '\0';
    }
    return n;
}

static slot *new_slot(pa_http_engine *e) {
    slot *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->eng = e;
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
    if (e->request_timeout_ms > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, e->request_timeout_ms);
    if (e->connect_timeout_ms > 0)
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->connect_timeout_ms);
    return s;
}

static int start_request(pa_http_engine *e, slot *s) {
    const body *b = &e->bodies[e->next_body];
    if (++e->next_body == e->n_bodies)
        e->next_body = 0;
    if (s->body != b) {
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, b->data);
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, b->headers);
        s->body = b;
    }
    s->status = 0;
    s->bytes_in = 0;
    s->err_len = 0;
    s->curl_err[0] = '\0';
    memset(&s->t, 0, sizeof(s->t));
    s->t.start_ns = pa_now_ns();
    if (curl_multi_add_handle(e->multi, s->easy) != CURLM_OK)
        return -1;
    s->active = 1;
    __atomic_fetch_add(&e->in_flight, 1, __ATOMIC_RELAXED);
    return 0;
}

static void finish_request(pa_http_engine *e, slot *s, CURLcode result) {
    s->t.end_ns = pa_now_ns();
    curl_multi_remove_handle(e->multi, s->easy);
    s->active = 0;
    __atomic_fetch_sub(&e->in_flight, 1, __ATOMIC_RELAXED);

    int64_t token = pa_recorder_enter(&e->recorder);
    pa_window_stats *w = pa_recorder_buffer(&e->recorder, token);
    int ok = 0;
    char msg[PA_ERROR_MESSAGE_LEN];
    if (result != CURLE_OK) {
        pa_stats_record_error(w, PA_ERR_TRANSPORT);
        snprintf(msg, sizeof(msg), "%s", s->curl_err[0] ? s->curl_err : curl_easy_strerror(result));
        s->not_before_ns = s->t.end_ns + PA_RETRY_AFTER_TRANSPORT_ERROR_NS;
    } else if (s->status >= 200 && s->status < 300) {
        pa_stats_record_ok(w, &s->t, s->body->len, s->bytes_in);
        ok = 1;
    } else {
        pa_stats_record_error(w, s->status >= 500 ? PA_ERR_HTTP_5XX : s->status >= 400 ? PA_ERR_HTTP_4XX : PA_ERR_OTHER);
        snprintf(msg, sizeof(msg), "HTTP %ld: %s", s->status, s->err_len ? s->err_body : "(empty body)");
    }
    pa_recorder_exit(&e->recorder, token);
    if (ok) {
        __atomic_fetch_add(&e->completed, 1, __ATOMIC_RELEASE);
    } else {
        add_message(e, msg);
        __atomic_fetch_add(&e->failed, 1, __ATOMIC_RELEASE);
    }
}

/* Brings the number of busy slots up to the target. */
static void fill_slots(pa_http_engine *e, uint64_t now) {
    unsigned target = __atomic_load_n(&e->target, __ATOMIC_ACQUIRE);
    if (target > PA_MAX_SLOTS)
        target = PA_MAX_SLOTS;
    if (target > e->n_slots) {
        slot **grown = realloc(e->slots, target * sizeof(*grown));
        if (!grown)
            target = e->n_slots;
        else
            e->slots = grown;
        while (e->n_slots < target) {
            slot *s = new_slot(e);
            if (!s) {
                add_message(e, "out of memory: could not add a request slot");
                target = e->n_slots;
                break;
            }
            s->index = e->n_slots;
            e->slots[e->n_slots++] = s;
        }
    }
    e->filled_for = target;
    e->backing_off = 0;
    for (unsigned i = 0; i < target; i++) {
        slot *s = e->slots[i];
        if (s->active)
            continue;
        if (s->not_before_ns > now)
            e->backing_off++;
        else if (start_request(e, s) != 0)
            add_message(e, "curl_multi_add_handle failed");
    }
}

static void *engine_main(void *arg) {
    pa_http_engine *e = arg;
    int running = 0;
    uint64_t drain_deadline = 0;
    for (;;) {
        int stopping = __atomic_load_n(&e->stopping, __ATOMIC_ACQUIRE);
        uint64_t now = pa_now_ns();
        if (stopping) {
            if (!drain_deadline)
                drain_deadline = now + (uint64_t)__atomic_load_n(&e->drain_ms, __ATOMIC_RELAXED) * 1000000ull;
            if (__atomic_load_n(&e->in_flight, __ATOMIC_RELAXED) == 0 || now >= drain_deadline)
                break;
        } else if (e->backing_off || e->filled_for != __atomic_load_n(&e->target, __ATOMIC_ACQUIRE)) {
            fill_slots(e, now);
        }
        curl_multi_perform(e->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(e->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            slot *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode rc = m->data.result;
            finish_request(e, s, rc);
            /* Closed loop: the slot sends again at once unless it was retired. */
            if (__atomic_load_n(&e->stopping, __ATOMIC_ACQUIRE))
                continue;
            if (rc != CURLE_OK)
                e->backing_off++;
            else if (s->index < __atomic_load_n(&e->target, __ATOMIC_ACQUIRE) && start_request(e, s) != 0)
                add_message(e, "curl_multi_add_handle failed");
        }
        curl_multi_poll(e->multi, NULL, 0, 20, NULL);
    }
    for (unsigned i = 0; i < e->n_slots; i++) {
        if (e->slots[i]->active) {
            curl_multi_remove_handle(e->multi, e->slots[i]->easy);
            e->slots[i]->active = 0;
        }
    }
    __atomic_store_n(&e->in_flight, 0, __ATOMIC_RELAXED);
    return NULL;
}

int pa_http_engine_start(pa_http_engine *e, char *err, size_t errlen) {
    if (e->thread_started) {
        set_err(err, errlen, "the engine is already started", NULL);
        return -1;
    }
    int rc = pthread_create(&e->thread, NULL, engine_main, e);
    if (rc != 0) {
        set_err(err, errlen, "could not start the engine thread", strerror(rc));
        return -1;
    }
    e->thread_started = 1;
    return 0;
}

void pa_http_engine_set_concurrency(pa_http_engine *e, unsigned n) {
    __atomic_store_n(&e->target, n, __ATOMIC_RELEASE);
    if (e->multi)
        curl_multi_wakeup(e->multi);
}

uint64_t pa_http_engine_swap(pa_http_engine *e, pa_window_stats *out) { return pa_recorder_swap(&e->recorder, out); }

uint64_t pa_http_engine_completed(pa_http_engine *e) { return __atomic_load_n(&e->completed, __ATOMIC_ACQUIRE); }
uint64_t pa_http_engine_failed(pa_http_engine *e) { return __atomic_load_n(&e->failed, __ATOMIC_ACQUIRE); }
unsigned pa_http_engine_in_flight(pa_http_engine *e) { return __atomic_load_n(&e->in_flight, __ATOMIC_RELAXED); }

size_t pa_http_engine_error_messages(pa_http_engine *e, const char **msgs, size_t max) {
    size_t n = __atomic_load_n(&e->n_messages, __ATOMIC_ACQUIRE);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        msgs[i] = e->messages[i];
    return n;
}

void pa_http_engine_stop(pa_http_engine *e, long drain_ms) {
    if (!e || !e->thread_started)
        return;
    __atomic_store_n(&e->drain_ms, drain_ms < 0 ? 0 : drain_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&e->stopping, 1, __ATOMIC_RELEASE);
    curl_multi_wakeup(e->multi);
    pthread_join(e->thread, NULL);
    e->thread_started = 0;
}

void pa_http_engine_destroy(pa_http_engine *e) {
    if (!e)
        return;
    pa_http_engine_stop(e, 0);
    for (unsigned i = 0; i < e->n_slots; i++) {
        curl_easy_cleanup(e->slots[i]->easy);
        free(e->slots[i]);
    }
    free(e->slots);
    if (e->multi)
        curl_multi_cleanup(e->multi);
    if (e->bodies) {
        for (size_t i = 0; i < e->n_bodies; i++) {
            free(e->bodies[i].data);
            curl_slist_free_all(e->bodies[i].headers);
        }
        free(e->bodies);
    }
    free(e->url);
    free(e);
}
