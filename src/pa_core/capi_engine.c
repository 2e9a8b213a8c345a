/* Load on the in-process Triton server: each slot owns one inference request
 * object, sent with ServerInferAsync and reused once Triton hands it back
 * (or, for ensembles and sequence models, deleted and made anew: see
 * fresh_requests in capi_config.h).
 *
 * Completions arrive on Triton's threads (response callback, request
 * release callback). The callbacks only timestamp, keep the outcome in the
 * slot and push the slot onto a lock-free stack; the engine thread takes
 * the whole stack, records into the window recorder and sends again, so
 * recording and the slot tables stay single-threaded, as in the HTTP
 * engines. An eventfd wakes the engine thread, written only by the push
 * that finds the stack empty. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "capi_api.h"
#include "clock.h"

#define ARENA_ALIGN 64
#define DESTROY_WAIT_MS 30000

typedef struct in_tensor {
    char *name;
    TRITONSERVER_DataType datatype;
    int64_t *shape;
    size_t n_dims;
    void *data; /* kept for the engine's life: requests point into it */
    size_t len;
} in_tensor;

typedef struct request_data {
    in_tensor *inputs;
    size_t n_inputs;
    uint64_t bytes;
} request_data;

typedef struct capi_engine capi_engine;

typedef struct cslot {
    pa_slot base; /* first */
    capi_engine *e;
    TRITONSERVER_InferenceRequest *req;
    size_t attached; /* index of the request data the request carries; SIZE_MAX: none */
    pa_request_times t;
    uint64_t bytes_in;
    unsigned pending; /* atomic: callbacks still due (final response, release) */
    int failed;
    char message[PA_ERROR_MESSAGE_LEN];
    /* Output buffers: one arena per slot, grown on the engine thread when
     * a response needed more, so steady state allocates nothing. */
    char *arena;
    size_t arena_cap, arena_used, arena_need;
    struct cslot *next; /* completion stack */
} cslot;

struct capi_engine {
    pa_engine base; /* first */
    pa_capi_server *server;
    const pa_triton_api *api;
    char *model;
    int64_t version;
    request_data *requests;
    size_t n_requests;
    uint64_t timeout_us;
    int fresh_requests; /* delete each request object once released (see capi_config.h) */
    TRITONSERVER_ResponseAllocator *allocator;
    cslot *done;          /* atomic: completion stack */
    unsigned outstanding; /* atomic: requests Triton still holds */
    int wakefd;
};

static void wake_fd(int fd) {
    uint64_t one = 1;
    if (write(fd, &one, sizeof(one)) < 0) { /* saturated counter: already awake */
    }
}

static void push_done(capi_engine *e, cslot *s) {
    cslot *head = __atomic_load_n(&e->done, __ATOMIC_ACQUIRE);
    do {
        s->next = head;
    } while (!__atomic_compare_exchange_n(&e->done, &head, s, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    if (!head)
        wake_fd(e->wakefd);
}

/* One of the two callbacks a request waits for; the last one hands it over. */
static void part_done(cslot *s) {
    capi_engine *e = s->e;
    if (__atomic_sub_fetch(&s->pending, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    push_done(e, s);
    __atomic_fetch_sub(&e->outstanding, 1, __ATOMIC_RELEASE); /* last touch of the engine */
}

static TRITONSERVER_Error *alloc_output(TRITONSERVER_ResponseAllocator *allocator, const char *tensor_name,
                                        size_t byte_size, TRITONSERVER_MemoryType memory_type,
                                        int64_t memory_type_id, void *userp, void **buffer, void **buffer_userp,
                                        TRITONSERVER_MemoryType *actual_memory_type,
                                        int64_t *actual_memory_type_id) {
    (void)allocator, (void)tensor_name, (void)memory_type, (void)memory_type_id;
    cslot *s = userp;
    *actual_memory_type = PA_TRITON_MEMORY_CPU;
    *actual_memory_type_id = 0;
    *buffer_userp = NULL;
    *buffer = NULL;
    if (byte_size == 0)
        return NULL;
    size_t need = (byte_size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    s->bytes_in += byte_size;
    s->arena_need += need;
    if (s->arena_used + need <= s->arena_cap) {
        *buffer = s->arena + s->arena_used;
        s->arena_used += need;
        return NULL;
    }
    /* First response of this size: a one-off buffer; the arena grows before the next send. */
    *buffer = malloc(byte_size);
    *buffer_userp = *buffer;
    return NULL; /* a NULL buffer for a non-empty tensor fails the response with Triton's message */
}

static TRITONSERVER_Error *release_output(TRITONSERVER_ResponseAllocator *allocator, void *buffer,
                                          void *buffer_userp, size_t byte_size, TRITONSERVER_MemoryType memory_type,
                                          int64_t memory_type_id) {
    (void)allocator, (void)buffer, (void)byte_size, (void)memory_type, (void)memory_type_id;
    free(buffer_userp); /* NULL for arena buffers */
    return NULL;
}

static void on_response(TRITONSERVER_InferenceResponse *response, const uint32_t flags, void *userp) {
    cslot *s = userp;
    const pa_triton_api *api = s->e->api;
    if (response) {
        uint64_t now = pa_now_ns();
        if (!s->t.recv_start_ns)
            s->t.recv_start_ns = now;
        s->t.end_ns = now;
        TRITONSERVER_Error *err = api->InferenceResponseError(response);
        if (err && !s->failed) { /* owned by the response */
            const char *msg = api->ErrorMessage(err);
            snprintf(s->message, sizeof(s->message), "model '%s': %s", s->e->model, msg && *msg ? msg : "error");
            s->failed = 1;
        }
        TRITONSERVER_Error *de = api->InferenceResponseDelete(response);
        if (de)
            api->ErrorDelete(de);
    }
    if (flags & PA_TRITON_RESPONSE_COMPLETE_FINAL) {
        if (!s->t.end_ns)
            s->t.end_ns = s->t.recv_start_ns = pa_now_ns();
        part_done(s);
    }
}

static void on_release(TRITONSERVER_InferenceRequest *request, const uint32_t flags, void *userp) {
    (void)request;
    if (flags & PA_TRITON_REQUEST_RELEASE_ALL)
        part_done(userp);
}

static void drop_request(capi_engine *e, cslot *s) {
    if (s->req) {
        TRITONSERVER_Error *de = e->api->InferenceRequestDelete(s->req);
        if (de)
            e->api->ErrorDelete(de);
    }
    s->req = NULL;
    s->attached = SIZE_MAX;
}

/* Creates the slot's request object when it has none, and re-points its
 * inputs only when the slot's next request data differs from what it carries. */
static TRITONSERVER_Error *prepare(capi_engine *e, cslot *s, size_t index, const char **what) {
    const pa_triton_api *api = e->api;
    TRITONSERVER_Error *err = NULL;
    if (!s->req) {
        *what = "creating an inference request";
        err = api->InferenceRequestNew(&s->req, e->server->server, e->model, e->version);
        if (err) {
            s->req = NULL;
            return err;
        }
        err = api->InferenceRequestSetReleaseCallback(s->req, on_release, s);
        if (!err)
            err = api->InferenceRequestSetResponseCallback(s->req, e->allocator, s, on_response, s);
        if (!err && e->timeout_us)
            err = api->InferenceRequestSetTimeoutMicroseconds(s->req, e->timeout_us);
        if (err)
            return err;
    }
    if (s->attached == index)
        return NULL;
    *what = "setting the request inputs";
    if (s->attached != SIZE_MAX && (err = api->InferenceRequestRemoveAllInputs(s->req)) != NULL)
        return err;
    s->attached = SIZE_MAX;
    const request_data *d = &e->requests[index];
    for (size_t i = 0; i < d->n_inputs; i++) {
        const in_tensor *t = &d->inputs[i];
        err = api->InferenceRequestAddInput(s->req, t->name, t->datatype, t->shape, t->n_dims);
        if (!err)
            err = api->InferenceRequestAppendInputData(s->req, t->name, t->data, t->len, PA_TRITON_MEMORY_CPU, 0);
        if (err)
            return err;
    }
    s->attached = index;
    return NULL;
}

/* Sequence models: the request's correlation ID and start/end flags, set on
 * every send (the request object is reused across sequences). */
static TRITONSERVER_Error *set_sequence(capi_engine *e, cslot *s, const pa_seq_request *q, const char **what) {
    *what = "setting the sequence of the request";
    TRITONSERVER_Error *err = e->api->InferenceRequestSetCorrelationId(s->req, q->id);
    if (err)
        return err;
    uint32_t flags = (q->start ? PA_TRITON_REQUEST_FLAG_SEQUENCE_START : 0u) |
                     (q->end ? PA_TRITON_REQUEST_FLAG_SEQUENCE_END : 0u);
    return e->api->InferenceRequestSetFlags(s->req, flags);
}

static void grow_arena(cslot *s) {
    if (s->arena_need <= s->arena_cap)
        return;
    char *grown = realloc(s->arena, s->arena_need);
    if (grown) {
        s->arena = grown;
        s->arena_cap = s->arena_need;
    }
}

static void start_request(pa_engine *base, pa_slot *ps) {
    capi_engine *e = (capi_engine *)base;
    cslot *s = (cslot *)ps;
    pa_seq_request q;
    if (pa_engine_next_step(base, ps, e->n_requests, "the in-process server", &q) != 0)
        return;
    size_t index = q.body;
    grow_arena(s);
    s->arena_used = 0;
    s->arena_need = 0;
    s->bytes_in = 0;
    s->failed = 0;
    memset(&s->t, 0, sizeof(s->t));
    s->t.scheduled_ns = ps->scheduled_ns;
    s->t.start_ns = pa_now_ns();
    const char *what = "sending";
    TRITONSERVER_Error *err = prepare(e, s, index, &what);
    if (!err && ps->seq >= 0)
        err = set_sequence(e, s, &q, &what);
    if (!err) {
        ps->active = 1;
        __atomic_store_n(&s->pending, 2, __ATOMIC_RELAXED);
        __atomic_fetch_add(&e->outstanding, 1, __ATOMIC_ACQ_REL);
        err = e->api->ServerInferAsync(e->server->server, s->req, NULL);
        if (!err) {
            uint64_t now = pa_now_ns();
            /* The callbacks may have run already; they never write send_end_ns. */
            s->t.send_end_ns = now;
            return;
        }
        __atomic_fetch_sub(&e->outstanding, 1, __ATOMIC_ACQ_REL); /* still ours: no callback will come */
        ps->active = 0;
        what = "sending the inference request";
    }
    char msg[PA_ERROR_MESSAGE_LEN];
    pa_capi_take_error(e->api, err, what, msg, sizeof(msg));
    drop_request(e, s); /* a fresh object next time: this one's state is unknown */
    pa_engine_request_failed(&e->base, ps, PA_ERR_OTHER, -1, msg, 1);
}

/* Records every completion handed over since the last call, oldest first. */
static void take_completions(capi_engine *e) {
    cslot *list = __atomic_exchange_n(&e->done, NULL, __ATOMIC_ACQ_REL), *prev = NULL;
    while (list) { /* the stack is newest first */
        cslot *next = list->next;
        list->next = prev;
        prev = list;
        list = next;
    }
    for (cslot *s = prev; s;) {
        cslot *next = s->next;
        s->base.active = 0;
        if (s->t.send_end_ns > s->t.end_ns || !s->t.send_end_ns)
            s->t.send_end_ns = s->t.end_ns; /* answered before InferAsync returned */
        if (s->failed) {
            if (e->fresh_requests)
                drop_request(e, s); /* released by Triton: ours to delete */
            pa_engine_request_failed(&e->base, &s->base, PA_ERR_OTHER, -1, s->message, 0);
        } else {
            pa_engine_end_step(&e->base, &s->base);
            pa_engine_record_ok(&e->base, &s->t, e->requests[s->attached].bytes, s->bytes_in);
            if (e->fresh_requests)
                drop_request(e, s);
            pa_engine_slot_done(&e->base, &s->base);
        }
        s = next;
    }
}

static void *run(void *arg) {
    capi_engine *e = arg;
    struct pollfd pfd = {.fd = e->wakefd, .events = POLLIN};
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* open-loop sends wake on timers */
    for (;;) {
        uint64_t now = pa_now_ns();
        if (!pa_engine_tick(&e->base, now))
            break;
        pa_wait w = pa_engine_wait_plan(&e->base, 1000000000ull);
        int n = 1;
        if (!__atomic_load_n(&e->done, __ATOMIC_ACQUIRE)) {
            struct timespec ts = {(time_t)(w.wait_ns / 1000000000ull), (long)(w.wait_ns % 1000000000ull)};
            n = ppoll(&pfd, 1, &ts, NULL);
        }
        pa_engine_wait_done(&e->base, &w, n != 0);
        if (n > 0) {
            uint64_t v;
            if (read(e->wakefd, &v, sizeof(v)) < 0) { /* EAGAIN: a push without a write */
            }
        }
        take_completions(e); /* after the read: a push that follows it writes again */
    }
    return NULL;
}

static void wake(pa_engine *base) { wake_fd(((capi_engine *)base)->wakefd); }

static pa_slot *new_slot(pa_engine *base) {
    cslot *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->e = (capi_engine *)base;
    s->attached = SIZE_MAX;
    return &s->base;
}

static void free_requests(capi_engine *e) {
    for (size_t i = 0; i < e->n_requests; i++) {
        request_data *d = &e->requests[i];
        for (size_t j = 0; j < d->n_inputs; j++) {
            free(d->inputs[j].name);
            free(d->inputs[j].shape);
            free(d->inputs[j].data);
        }
        free(d->inputs);
    }
    free(e->requests);
}

static void destroy(pa_engine *base) {
    capi_engine *e = (capi_engine *)base;
    /* Triton may still hold requests that pointed at slots and buffers:
     * wait for them; if it never answers, leak rather than free under it. */
    for (int waited = 0; __atomic_load_n(&e->outstanding, __ATOMIC_ACQUIRE) != 0; waited++) {
        if (waited >= DESTROY_WAIT_MS)
            return;
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    for (unsigned i = 0; i < e->base.n_slots; i++) {
        cslot *s = (cslot *)e->base.slots[i];
        drop_request(e, s);
        free(s->arena);
        free(s);
    }
    free(e->base.slots);
    if (e->allocator) {
        TRITONSERVER_Error *de = e->api->ResponseAllocatorDelete(e->allocator);
        if (de)
            e->api->ErrorDelete(de);
    }
    free_requests(e);
    free(e->model);
    if (e->wakefd >= 0)
        close(e->wakefd);
    free(e);
}

static const pa_engine_ops capi_ops = {run, wake, destroy, new_slot, start_request};

static int copy_request(capi_engine *e, request_data *d, const pa_capi_request *r, char *err, size_t errlen) {
    d->inputs = calloc(r->n_inputs ? r->n_inputs : 1, sizeof(in_tensor));
    if (!d->inputs)
        goto oom;
    d->n_inputs = r->n_inputs;
    for (size_t j = 0; j < r->n_inputs; j++) {
        const pa_capi_input *in = &r->inputs[j];
        in_tensor *t = &d->inputs[j];
        t->datatype = e->api->StringToDataType(in->datatype);
        if (t->datatype == PA_TRITON_TYPE_INVALID) {
            snprintf(err, errlen, "input '%s': data type %s is unknown to the Triton server", in->name,
                     in->datatype);
            return -1;
        }
        t->name = strdup(in->name);
        t->shape = malloc((in->n_dims ? in->n_dims : 1) * sizeof(int64_t));
        t->data = malloc(in->len ? in->len : 1);
        if (!t->name || !t->shape || !t->data)
            goto oom;
        memcpy(t->shape, in->shape, in->n_dims * sizeof(int64_t));
        t->n_dims = in->n_dims;
        memcpy(t->data, in->data, in->len);
        t->len = in->len;
        d->bytes += in->len;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory copying the request data");
    return -1;
}

pa_engine *pa_capi_engine_create(const pa_capi_config *cfg, char *err, size_t errlen) {
    if (!cfg->server || !cfg->model || cfg->n_requests == 0) {
        snprintf(err, errlen, "a server, a model and at least one request are required");
        return NULL;
    }
    capi_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory creating the C API engine");
        return NULL;
    }
    pa_engine_init(&e->base, &capi_ops);
    e->server = cfg->server;
    e->api = &cfg->server->api;
    e->version = cfg->version;
    e->timeout_us = cfg->request_timeout_ms > 0 ? (uint64_t)cfg->request_timeout_ms * 1000u : 0;
    e->model = strdup(cfg->model);
    e->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e->requests = calloc(cfg->n_requests, sizeof(request_data));
    if (!e->model || e->wakefd < 0 || !e->requests) {
        snprintf(err, errlen, "cannot create the C API engine: %s", strerror(errno ? errno : ENOMEM));
        destroy(&e->base);
        return NULL;
    }
    e->n_requests = cfg->n_requests;
    e->base.sequencer = cfg->sequencer;
    e->fresh_requests = cfg->fresh_requests;
    for (size_t i = 0; i < cfg->n_requests; i++)
        if (copy_request(e, &e->requests[i], &cfg->requests[i], err, errlen) != 0) {
            destroy(&e->base);
            return NULL;
        }
    TRITONSERVER_Error *te = e->api->ResponseAllocatorNew(&e->allocator, alloc_output, release_output, NULL);
    if (te) {
        e->allocator = NULL;
        pa_capi_take_error(e->api, te, "creating the response allocator", err, errlen);
        destroy(&e->base);
        return NULL;
    }
    return &e->base;
}
