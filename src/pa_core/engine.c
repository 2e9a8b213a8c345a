#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pa_engine_init(pa_engine *e, const pa_engine_ops *ops) {
    memset(e, 0, sizeof(*e) - sizeof(e->recorder));
    e->ops = ops;
    pa_recorder_init(&e->recorder);
}

int pa_engine_start(pa_engine *e, char *err, size_t errlen) {
    if (e->thread_started) {
        snprintf(err, errlen, "the engine is already started");
        return -1;
    }
    int rc = pthread_create(&e->thread, NULL, e->ops->run, e);
    if (rc != 0) {
        snprintf(err, errlen, "could not start the engine thread: %s", strerror(rc));
        return -1;
    }
    e->thread_started = 1;
    return 0;
}

void pa_engine_set_concurrency(pa_engine *e, unsigned n) {
    __atomic_store_n(&e->target, n, __ATOMIC_RELEASE);
    e->ops->wake(e);
}

uint64_t pa_engine_swap(pa_engine *e, pa_window_stats *out) { return pa_recorder_swap(&e->recorder, out); }
uint64_t pa_engine_completed(const pa_engine *e) { return __atomic_load_n(&e->completed, __ATOMIC_ACQUIRE); }
uint64_t pa_engine_failed(const pa_engine *e) { return __atomic_load_n(&e->failed, __ATOMIC_ACQUIRE); }
unsigned pa_engine_in_flight(const pa_engine *e) { return __atomic_load_n(&e->in_flight, __ATOMIC_RELAXED); }

size_t pa_engine_error_messages(pa_engine *e, const char **msgs, size_t max) {
    size_t n = __atomic_load_n(&e->n_messages, __ATOMIC_ACQUIRE);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        msgs[i] = e->messages[i];
    return n;
}

void pa_engine_stop(pa_engine *e, long drain_ms) {
    if (!e->thread_started)
        return;
    __atomic_store_n(&e->drain_ms, drain_ms < 0 ? 0 : drain_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&e->stopping, 1, __ATOMIC_RELEASE);
    e->ops->wake(e);
    pthread_join(e->thread, NULL);
    e->thread_started = 0;
    __atomic_store_n(&e->in_flight, 0, __ATOMIC_RELAXED);
}

void pa_engine_destroy(pa_engine *e) {
    if (!e)
        return;
    pa_engine_stop(e, 0);
    e->ops->destroy(e);
}

static void fill_slots(pa_engine *e, uint64_t now) {
    unsigned target = pa_engine_target(e);
    if (target > e->n_slots) {
        pa_slot **grown = realloc(e->slots, target * sizeof(*grown));
        if (!grown)
            target = e->n_slots;
        else
            e->slots = grown;
        while (e->n_slots < target) {
            pa_slot *s = e->ops->new_slot(e);
            if (!s) {
                pa_engine_add_message(e, "out of memory: could not add a request slot");
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
        pa_slot *s = e->slots[i];
        if (s->active)
            continue;
        if (s->not_before_ns > now)
            e->backing_off++;
        else
            e->ops->start_request(e, s);
    }
}

int pa_engine_tick(pa_engine *e, uint64_t now) {
    if (pa_engine_stopping(e)) {
        if (!e->drain_deadline)
            e->drain_deadline = now + (uint64_t)__atomic_load_n(&e->drain_ms, __ATOMIC_RELAXED) * 1000000ull;
        return pa_engine_in_flight(e) != 0 && now < e->drain_deadline;
    }
    if (e->backing_off || e->filled_for != pa_engine_target(e))
        fill_slots(e, now);
    return 1;
}

void pa_engine_slot_done(pa_engine *e, pa_slot *s) {
    if (!pa_engine_stopping(e) && s->index < pa_engine_target(e))
        e->ops->start_request(e, s);
}

void pa_engine_slot_backoff(pa_engine *e, pa_slot *s, uint64_t now) {
    s->not_before_ns = now + PA_RETRY_AFTER_TRANSPORT_ERROR_NS;
    e->backing_off++;
}

void pa_engine_add_message(pa_engine *e, const char *msg) {
    size_t n = __atomic_load_n(&e->n_messages, __ATOMIC_RELAXED);
    if (n >= PA_MAX_ERROR_MESSAGES)
        return;
    for (size_t i = 0; i < n; i++)
        if (strcmp(e->messages[i], msg) == 0)
            return;
    snprintf(e->messages[n], PA_ERROR_MESSAGE_LEN, "%s", msg);
    __atomic_store_n(&e->n_messages, n + 1, __ATOMIC_RELEASE);
}

void pa_engine_request_started(pa_engine *e) { __atomic_fetch_add(&e->in_flight, 1, __ATOMIC_RELAXED); }

void pa_engine_record_ok(pa_engine *e, const pa_request_times *t, uint64_t sent, uint64_t received) {
    __atomic_fetch_sub(&e->in_flight, 1, __ATOMIC_RELAXED);
    int64_t token = pa_recorder_enter(&e->recorder);
    pa_stats_record_ok(pa_recorder_buffer(&e->recorder, token), t, sent, received);
    pa_recorder_exit(&e->recorder, token);
    __atomic_fetch_add(&e->completed, 1, __ATOMIC_RELEASE);
}

void pa_engine_record_error(pa_engine *e, enum pa_error_kind kind, const char *msg) {
    __atomic_fetch_sub(&e->in_flight, 1, __ATOMIC_RELAXED);
    int64_t token = pa_recorder_enter(&e->recorder);
    pa_stats_record_error(pa_recorder_buffer(&e->recorder, token), kind);
    pa_recorder_exit(&e->recorder, token);
    pa_engine_add_message(e, msg);
    __atomic_fetch_add(&e->failed, 1, __ATOMIC_RELEASE);
}

enum pa_error_kind pa_http_status_kind(long status) {
    return status >= 500 ? PA_ERR_HTTP_5XX : status >= 400 ? PA_ERR_HTTP_4XX : PA_ERR_OTHER;
}
