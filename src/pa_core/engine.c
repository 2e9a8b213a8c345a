#include "engine.h"

#include "clock.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pa_engine_init(pa_engine *e, const pa_engine_ops *ops) {
    memset(e, 0, offsetof(pa_engine, recorder));
    e->ops = ops;
    e->budget = UINT64_MAX;
    e->spin_ns = PA_SPIN_MIN_NS;
    pthread_mutex_init(&e->control, NULL);
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

void pa_engine_set_budget(pa_engine *e, uint64_t n) {
    __atomic_store_n(&e->budget, n, __ATOMIC_RELEASE);
    __atomic_fetch_add(&e->budget_gen, 1, __ATOMIC_RELEASE); /* idle slots may start again */
    e->ops->wake(e);
}

/* Takes one request from the budget and counts it in flight; 0 when the
 * budget is spent. Counting first means a reader that set the budget to 0
 * and then sees nothing in flight has really seen the last request. */
static int take_budget(pa_engine *e) {
    __atomic_fetch_add(&e->in_flight, 1, __ATOMIC_ACQ_REL);
    uint64_t b = __atomic_load_n(&e->budget, __ATOMIC_ACQUIRE);
    for (;;) {
        if (b == UINT64_MAX)
            return 1;
        if (b == 0) {
            __atomic_fetch_sub(&e->in_flight, 1, __ATOMIC_ACQ_REL);
            return 0;
        }
        if (__atomic_compare_exchange_n(&e->budget, &b, b - 1, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return 1;
    }
}

static void hand_over(pa_engine *e, pa_schedule *schedule, unsigned max_inflight) {
    pthread_mutex_lock(&e->control);
    pa_schedule_free(&e->pending);
    e->pending = *schedule;
    e->pending_max_inflight = max_inflight;
    __atomic_fetch_add(&e->load_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&e->control);
    e->ops->wake(e);
}

void pa_engine_set_concurrency(pa_engine *e, unsigned n) {
    pa_schedule closed;
    pa_schedule_init(&closed, PA_LOAD_CLOSED, 0, 0, NULL, 0);
    __atomic_store_n(&e->target, n, __ATOMIC_RELEASE);
    hand_over(e, &closed, 0);
}

int pa_engine_set_schedule(pa_engine *e, pa_schedule *schedule, unsigned max_inflight) {
    if (schedule->kind == PA_LOAD_CLOSED)
        return -1;
    __atomic_store_n(&e->target, 0, __ATOMIC_RELEASE);
    hand_over(e, schedule, max_inflight);
    memset(schedule, 0, sizeof(*schedule)); /* owned by the engine now */
    return 0;
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

void pa_engine_keep_records(pa_engine *e) { e->keep_records = 1; }

const pa_record_log *pa_engine_records(const pa_engine *e) {
    return e->keep_records && !e->thread_started ? &e->records : NULL;
}

static void keep_record(pa_engine *e, const pa_request_times *t, uint64_t status) {
    if (!e->keep_records)
        return;
    pa_record r = {t->scheduled_ns, t->start_ns, t->end_ns, status};
    pa_record_log_append(&e->records, &r);
}

void pa_engine_destroy(pa_engine *e) {
    if (!e)
        return;
    pa_engine_stop(e, 0);
    pa_record_log_free(&e->records);
    pa_schedule_free(&e->pending);
    pa_schedule_free(&e->schedule);
    free(e->free_slots);
    pthread_mutex_destroy(&e->control);
    e->ops->destroy(e);
}

/* Grows the slot table to n (allocation happens only when load grows;
 * the arrays double, so a growing open loop copies little). */
static unsigned grow_slots(pa_engine *e, unsigned n) {
    if (n > PA_MAX_SLOTS)
        n = PA_MAX_SLOTS;
    if (n <= e->n_slots)
        return e->n_slots;
    if (n > e->slots_cap) {
        unsigned cap = e->slots_cap ? e->slots_cap : 16;
        while (cap < n)
            cap *= 2;
        pa_slot **grown = realloc(e->slots, cap * sizeof(*grown));
        if (grown)
            e->slots = grown;
        pa_slot **free_grown = grown ? realloc(e->free_slots, cap * sizeof(*free_grown)) : NULL;
        if (!grown || !free_grown) {
            pa_engine_add_message(e, "out of memory: could not add a request slot");
            return e->n_slots;
        }
        e->free_slots = free_grown;
        e->slots_cap = cap;
    }
    while (e->n_slots < n) {
        pa_slot *s = e->ops->new_slot(e);
        if (!s) {
            pa_engine_add_message(e, "out of memory: could not add a request slot");
            break;
        }
        s->index = e->n_slots;
        e->slots[e->n_slots++] = s;
    }
    return e->n_slots;
}

static void fill_slots(pa_engine *e, uint64_t now) {
    unsigned target = grow_slots(e, pa_engine_target(e));
    if (target > pa_engine_target(e))
        target = pa_engine_target(e);
    e->filled_for = target;
    e->backing_off = 0;
    for (unsigned i = 0; i < target; i++) {
        pa_slot *s = e->slots[i];
        if (s->active)
            continue;
        if (s->not_before_ns > now)
            e->backing_off++;
        else if (take_budget(e))
            e->ops->start_request(e, s);
    }
}

static void push_free(pa_engine *e, pa_slot *s) {
    if (!s->free_listed) {
        s->free_listed = 1;
        e->free_slots[e->n_free++] = s;
    }
}

/* Takes the load the controller handed over, if it changed. */
static void take_load(pa_engine *e, uint64_t now) {
    unsigned gen = __atomic_load_n(&e->load_gen, __ATOMIC_ACQUIRE);
    if (gen == e->seen_gen)
        return;
    pthread_mutex_lock(&e->control);
    pa_schedule_free(&e->schedule);
    e->schedule = e->pending;
    memset(&e->pending, 0, sizeof(e->pending));
    e->max_inflight = e->pending_max_inflight;
    e->seen_gen = __atomic_load_n(&e->load_gen, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&e->control);
    e->waiting_for_slot = 0;
    e->n_free = 0;
    for (unsigned i = 0; i < e->n_slots; i++)
        e->slots[i]->free_listed = 0;
    if (e->schedule.kind == PA_LOAD_CLOSED) {
        e->filled_for = (unsigned)-1; /* refill for the new target */
        return;
    }
    for (unsigned i = 0; i < e->n_slots; i++)
        if (!e->slots[i]->active)
            push_free(e, e->slots[i]);
    pa_schedule_start(&e->schedule, now);
}

/* A slot for the due request: an idle one, a new one, or none (capped).
 * Backoff after errors is a closed-loop rule: here the schedule decides. */
static pa_slot *slot_for_due(pa_engine *e) {
    if (e->n_free) {
        pa_slot *s = e->free_slots[--e->n_free];
        s->free_listed = 0;
        return s;
    }
    if (e->max_inflight && pa_engine_in_flight(e) >= e->max_inflight)
        return NULL;
    unsigned before = e->n_slots;
    if (grow_slots(e, before + 1) == before)
        return NULL;
    return e->slots[before];
}

/* Open loop: sends every request that is due. Spins the last microseconds
 * before a due time so the send is not left to the timer's slack. */
static void dispatch_due(pa_engine *e, uint64_t now) {
    pa_schedule *sc = &e->schedule;
    if (sc->due_ns > now && sc->due_ns - now <= e->spin_ns)
        while ((now = pa_now_ns()) < sc->due_ns) {
        }
    while (sc->due_ns <= now) {
        pa_slot *s = slot_for_due(e);
        if (!s) {
            if (!e->waiting_for_slot) {
                e->waiting_for_slot = 1;
                int64_t token = pa_recorder_enter(&e->recorder);
                pa_stats_record_postponed(pa_recorder_buffer(&e->recorder, token));
                pa_recorder_exit(&e->recorder, token);
            }
            return;
        }
        e->waiting_for_slot = 0;
        if (!take_budget(e)) {
            push_free(e, s);
            return;
        }
        s->scheduled_ns = sc->due_ns;
        pa_schedule_advance(sc);
        e->ops->start_request(e, s);
        now = pa_now_ns();
    }
}

int pa_engine_tick(pa_engine *e, uint64_t now) {
    take_load(e, now);
    unsigned budget_gen = __atomic_load_n(&e->budget_gen, __ATOMIC_ACQUIRE);
    if (budget_gen != e->seen_budget_gen) {
        e->seen_budget_gen = budget_gen;
        e->filled_for = (unsigned)-1; /* refill: slots idled by a spent budget */
        if (e->schedule.kind != PA_LOAD_CLOSED)
            pa_schedule_start(&e->schedule, now); /* no burst for the time the budget was spent */
    }
    if (pa_engine_stopping(e)) {
        if (!e->drain_deadline)
            e->drain_deadline = now + (uint64_t)__atomic_load_n(&e->drain_ms, __ATOMIC_RELAXED) * 1000000ull;
        return pa_engine_in_flight(e) != 0 && now < e->drain_deadline;
    }
    if (e->schedule.kind != PA_LOAD_CLOSED)
        dispatch_due(e, now);
    else if (e->backing_off || e->filled_for != pa_engine_target(e))
        fill_slots(e, now);
    return 1;
}

uint64_t pa_engine_next_due_ns(const pa_engine *e) {
    if (e->schedule.kind == PA_LOAD_CLOSED || pa_engine_stopping(e) || e->waiting_for_slot ||
        __atomic_load_n(&e->budget, __ATOMIC_ACQUIRE) == 0)
        return 0;
    return e->schedule.due_ns;
}

uint64_t pa_engine_sleep_before_ns(const pa_engine *e, uint64_t due_ns, uint64_t now_ns) {
    return due_ns > now_ns + e->spin_ns ? due_ns - now_ns - e->spin_ns : 0;
}

void pa_engine_note_wakeup(pa_engine *e, uint64_t wanted_ns, uint64_t woke_ns) {
    uint64_t late = woke_ns > wanted_ns ? woke_ns - wanted_ns : 0;
    e->overshoot_ns = e->overshoot_ns - e->overshoot_ns / 8 + late / 8;
    /* Spinning costs a core: never more than a tenth of the time between sends. */
    uint64_t cap = pa_schedule_mean_gap_ns(&e->schedule) / 10;
    if (cap > PA_SPIN_MAX_NS)
        cap = PA_SPIN_MAX_NS;
    uint64_t spin = 2 * e->overshoot_ns + 5000;
    if (spin > cap)
        spin = cap;
    e->spin_ns = spin < PA_SPIN_MIN_NS ? PA_SPIN_MIN_NS : spin;
}

void pa_engine_slot_done(pa_engine *e, pa_slot *s) {
    s->scheduled_ns = 0;
    if (pa_engine_stopping(e))
        return;
    if (e->schedule.kind != PA_LOAD_CLOSED) {
        push_free(e, s);
        if (e->waiting_for_slot)
            dispatch_due(e, pa_now_ns());
    } else if (s->index < pa_engine_target(e) && take_budget(e)) {
        e->ops->start_request(e, s);
    }
}

void pa_engine_slot_backoff(pa_engine *e, pa_slot *s, uint64_t now) {
    s->not_before_ns = now + PA_RETRY_AFTER_TRANSPORT_ERROR_NS;
    s->scheduled_ns = 0;
    if (e->schedule.kind != PA_LOAD_CLOSED)
        push_free(e, s);
    else
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

/* in_flight drops last: once it reads 0, every request is in the stats. */
void pa_engine_record_ok(pa_engine *e, const pa_request_times *t, uint64_t sent, uint64_t received) {
    keep_record(e, t, 0);
    int64_t token = pa_recorder_enter(&e->recorder);
    pa_stats_record_ok(pa_recorder_buffer(&e->recorder, token), t, sent, received);
    pa_recorder_exit(&e->recorder, token);
    __atomic_fetch_add(&e->completed, 1, __ATOMIC_RELEASE);
    __atomic_fetch_sub(&e->in_flight, 1, __ATOMIC_ACQ_REL);
}

void pa_engine_record_stream_ok(pa_engine *e, const pa_request_times *t, uint64_t sent, uint64_t received,
                                uint64_t responses, uint64_t first_ns) {
    keep_record(e, t, 0);
    int64_t token = pa_recorder_enter(&e->recorder);
    pa_window_stats *s = pa_recorder_buffer(&e->recorder, token);
    pa_stats_record_ok(s, t, sent, received);
    uint64_t first = first_ns > t->start_ns ? first_ns - t->start_ns : 0;
    pa_stats_record_stream(s, responses, first);
    pa_recorder_exit(&e->recorder, token);
    __atomic_fetch_add(&e->completed, 1, __ATOMIC_RELEASE);
    __atomic_fetch_sub(&e->in_flight, 1, __ATOMIC_ACQ_REL);
}

void pa_engine_record_error(pa_engine *e, enum pa_error_kind kind, const char *msg) {
    int64_t token = pa_recorder_enter(&e->recorder);
    pa_stats_record_error(pa_recorder_buffer(&e->recorder, token), kind);
    pa_recorder_exit(&e->recorder, token);
    pa_engine_add_message(e, msg);
    __atomic_fetch_add(&e->failed, 1, __ATOMIC_RELEASE);
    __atomic_fetch_sub(&e->in_flight, 1, __ATOMIC_ACQ_REL);
}

void pa_engine_record_http(pa_engine *e, const pa_request_times *t, long status, uint64_t sent,
                           uint64_t received, const char *error_body) {
    if (status >= 200 && status < 300) {
        pa_engine_record_ok(e, t, sent, received);
        return;
    }
    char msg[PA_ERROR_MESSAGE_LEN];
    snprintf(msg, sizeof(msg), "HTTP %ld: %s", status, error_body && *error_body ? error_body : "(empty body)");
    enum pa_error_kind kind = status >= 500 ? PA_ERR_HTTP_5XX : status >= 400 ? PA_ERR_HTTP_4XX : PA_ERR_OTHER;
    pa_engine_record_error(e, kind, msg);
}
