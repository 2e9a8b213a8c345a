#include "engine.h"

#include "clock.h"
#include "open_loop.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pa_engine_init(pa_engine *e, const pa_engine_ops *ops) {
    memset(e, 0, offsetof(pa_engine, recorder));
    e->ops = ops;
    e->lead = e;
    e->budget = UINT64_MAX;
    e->spin_ns = PA_SPIN_MIN_NS;
    e->stride = 1;
    pthread_mutex_init(&e->control, NULL);
    pthread_mutex_init(&e->messages_lock, NULL);
    pa_recorder_init(&e->recorder);
}

int pa_engine_add_member(pa_engine *lead, pa_engine *member) {
    if (lead->lead != lead || member == lead || member->thread_started || lead->thread_started)
        return -1;
    pa_engine **grown = realloc(lead->members, (lead->n_members + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    lead->members = grown;
    lead->members[lead->n_members++] = member;
    member->lead = lead;
    member->keep_records = lead->keep_records;
    return 0;
}

/* Member k's part of n when n is spread as evenly as possible over g. */
static unsigned share(unsigned n, unsigned k, unsigned g) { return n / g + (k < n % g); }

static int start_one(pa_engine *e, char *err, size_t errlen) {
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

int pa_engine_start(pa_engine *e, char *err, size_t errlen) {
    for (unsigned k = 0; k < pa_engine_group_size(e); k++)
        if (start_one(pa_engine_group_member(e, k), err, errlen) != 0)
            return -1; /* the ones started stop with the group */
    return 0;
}

void pa_engine_set_budget(pa_engine *e, uint64_t n) {
    pa_engine *lead = e->lead;
    __atomic_store_n(&lead->budget, n, __ATOMIC_RELEASE);
    __atomic_store_n(&lead->restart_ns, pa_now_ns(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&lead->budget_gen, 1, __ATOMIC_RELEASE); /* idle slots may start again */
    for (unsigned k = 0; k < pa_engine_group_size(e); k++)
        pa_engine_group_member(e, k)->ops->wake(pa_engine_group_member(e, k));
}

/* Takes one request from the group's budget and counts it in flight; 0 when
 * the budget is spent. Counting first means a reader that set the budget to
 * 0 and then sees nothing in flight has really seen the last request. */
int pa_engine_take_budget(pa_engine *e) {
    pa_engine *lead = e->lead;
    __atomic_fetch_add(&lead->in_flight, 1, __ATOMIC_ACQ_REL);
    uint64_t b = __atomic_load_n(&lead->budget, __ATOMIC_ACQUIRE);
    for (;;) {
        if (b == UINT64_MAX)
            break;
        if (b == 0) {
            __atomic_fetch_sub(&lead->in_flight, 1, __ATOMIC_ACQ_REL);
            return 0;
        }
        if (__atomic_compare_exchange_n(&lead->budget, &b, b - 1, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            break;
    }
    e->own_in_flight++;
    return 1;
}

typedef struct load {
    unsigned max_inflight;
    const pa_periodic *periodic;
    unsigned stride, offset;
    uint64_t start_ns;
} load;

static void hand_over(pa_engine *e, pa_schedule *schedule, const load *l) {
    static const pa_periodic off = {0, 0, 0};
    pthread_mutex_lock(&e->control);
    pa_schedule_free(&e->pending);
    e->pending = *schedule;
    e->pending_max_inflight = l->max_inflight;
    e->pending_periodic = l->periodic ? *l->periodic : off;
    e->pending_stride = l->stride ? l->stride : 1;
    e->pending_offset = l->offset;
    e->pending_start_ns = l->start_ns;
    __atomic_fetch_add(&e->load_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&e->control);
    e->ops->wake(e);
}

static void set_concurrency_one(pa_engine *e, unsigned n, const pa_periodic *periodic) {
    pa_schedule closed;
    pa_schedule_init(&closed, PA_LOAD_CLOSED, 0, 0, NULL, 0);
    load l = {0, periodic, 1, 0, 0};
    __atomic_store_n(&e->target, n, __ATOMIC_RELEASE);
    hand_over(e, &closed, &l);
}

void pa_engine_set_concurrency(pa_engine *e, unsigned n) {
    unsigned g = pa_engine_group_size(e);
    for (unsigned k = 0; k < g; k++)
        set_concurrency_one(pa_engine_group_member(e, k), share(n, k, g), NULL);
}

int pa_engine_set_periodic(pa_engine *e, unsigned start, unsigned end, unsigned step, uint64_t period) {
    if (start == 0 || end < start || end > PA_MAX_SLOTS || step == 0 || period == 0)
        return -1;
    pa_periodic p = {end, step, period};
    pa_engine *lead = e->lead;
    /* The ramp counts every slot's responses in one place: the lead's thread. */
    for (unsigned k = 1; k < pa_engine_group_size(e); k++)
        set_concurrency_one(pa_engine_group_member(e, k), 0, NULL);
    __atomic_store_n(&lead->ramp_done, 0, __ATOMIC_RELEASE);
    set_concurrency_one(lead, start, &p);
    return 0;
}

int pa_engine_ramp_done(const pa_engine *e) { return __atomic_load_n(&e->lead->ramp_done, __ATOMIC_ACQUIRE); }

int pa_engine_set_schedule(pa_engine *e, pa_schedule *schedule, unsigned max_inflight) {
    return pa_engine_set_schedule_part(e, schedule, max_inflight, 0, 1);
}

int pa_engine_set_schedule_part(pa_engine *e, pa_schedule *schedule, unsigned max_inflight,
                                unsigned part, unsigned parts) {
    if (schedule->kind == PA_LOAD_CLOSED || parts == 0 || part >= parts)
        return -1;
    /* Engine k sends the schedule's times k, k + g, k + 2g, ...: together
     * exactly the one schedule. With a cap below the group size, only as many
     * engines as the cap send, so that each has a cap of at least one. Part p
     * of `parts` (one client process of several) takes the times p, p + parts,
     * ...: its engine k then sends p + parts * k every parts * g times. */
    unsigned g = pa_engine_group_size(e);
    if (max_inflight && max_inflight < g)
        g = max_inflight;
    uint64_t start = pa_now_ns();
    for (unsigned k = 0; k < pa_engine_group_size(e); k++) {
        pa_engine *m = pa_engine_group_member(e, k);
        if (k >= g) {
            set_concurrency_one(m, 0, NULL);
            continue;
        }
        pa_schedule copy = *schedule;
        if (k + 1 < g && schedule->intervals_ns) {
            copy.intervals_ns = malloc(schedule->n_intervals * sizeof(uint64_t));
            if (!copy.intervals_ns)
                return -1;
            memcpy(copy.intervals_ns, schedule->intervals_ns, schedule->n_intervals * sizeof(uint64_t));
        }
        load l = {max_inflight ? share(max_inflight, k, g) : 0, NULL, g * parts, part + parts * k, start};
        __atomic_store_n(&m->target, 0, __ATOMIC_RELEASE);
        hand_over(m, &copy, &l); /* the last one takes the caller's intervals */
    }
    memset(schedule, 0, sizeof(*schedule)); /* owned by the engines now */
    return 0;
}

uint64_t pa_engine_swap(pa_engine *e, pa_window_stats *out) { return pa_recorder_swap(&e->lead->recorder, out); }
uint64_t pa_engine_completed(const pa_engine *e) { return __atomic_load_n(&e->lead->completed, __ATOMIC_ACQUIRE); }
uint64_t pa_engine_failed(const pa_engine *e) { return __atomic_load_n(&e->lead->failed, __ATOMIC_ACQUIRE); }
unsigned pa_engine_in_flight(const pa_engine *e) { return __atomic_load_n(&e->lead->in_flight, __ATOMIC_RELAXED); }

size_t pa_engine_error_messages(pa_engine *e, const char **msgs, size_t max) {
    pa_engine *lead = e->lead;
    size_t n = __atomic_load_n(&lead->n_messages, __ATOMIC_ACQUIRE);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        msgs[i] = lead->messages[i];
    return n;
}

/* Every engine of the group drains at once, then each thread is joined. */
void pa_engine_stop(pa_engine *e, long drain_ms) {
    unsigned g = pa_engine_group_size(e);
    for (unsigned k = 0; k < g; k++) {
        pa_engine *m = pa_engine_group_member(e, k);
        if (!m->thread_started)
            continue;
        __atomic_store_n(&m->drain_ms, drain_ms < 0 ? 0 : drain_ms, __ATOMIC_RELAXED);
        __atomic_store_n(&m->stopping, 1, __ATOMIC_RELEASE);
        m->ops->wake(m);
    }
    for (unsigned k = 0; k < g; k++) {
        pa_engine *m = pa_engine_group_member(e, k);
        if (!m->thread_started)
            continue;
        pthread_join(m->thread, NULL);
        m->thread_started = 0;
        m->own_in_flight = 0;
    }
    __atomic_store_n(&e->lead->in_flight, 0, __ATOMIC_RELAXED);
}

void pa_engine_keep_records(pa_engine *e) {
    for (unsigned k = 0; k < pa_engine_group_size(e); k++)
        pa_engine_group_member(e, k)->keep_records = 1;
}

void pa_engine_keep_responses(pa_engine *e, const uint64_t *times_ns, size_t n) {
    if (!e->keep_records)
        return;
    /* the index the request's record gets when pa_engine_record_stream_ok appends it */
    for (size_t i = 0; i < n; i++)
        pa_response_log_append(&e->responses, e->records.total, times_ns[i]);
}

static void keep_record(pa_engine *e, const pa_request_times *t, uint64_t status) {
    if (!e->keep_records || pa_engine_closing_request(e, t->start_ns))
        return;
    pa_record r = {t->scheduled_ns, t->start_ns, t->end_ns, status};
    pa_record_log_append(&e->records, &r);
    if (e->sequencer)
        pa_id_log_append(&e->sequence_ids, e->sequence_id);
}

void pa_engine_destroy(pa_engine *e) {
    if (!e)
        return;
    pa_engine_stop(e, 0);
    if (e->lead == e) {
        for (unsigned k = 0; k < e->n_members; k++) {
            /* Stopped with the group above. On its own from here, so that its
             * stop does not walk the group, whose members before it are freed. */
            e->members[k]->lead = e->members[k];
            pa_engine_destroy(e->members[k]);
        }
        free(e->members);
        e->members = NULL;
        e->n_members = 0;
    }
    pa_record_log_free(&e->records);
    pa_response_log_free(&e->responses);
    pa_id_log_free(&e->sequence_ids);
    pa_schedule_free(&e->pending);
    pa_schedule_free(&e->schedule);
    free(e->free_slots);
    pthread_mutex_destroy(&e->control);
    pthread_mutex_destroy(&e->messages_lock);
    e->ops->destroy(e);
}

/* Grows the slot table to n (allocation happens only when load grows;
 * the arrays double, so a growing open loop copies little). */
unsigned pa_engine_grow_slots(pa_engine *e, unsigned n) {
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
        s->seq = -1;
        e->slots[e->n_slots++] = s;
    }
    return e->n_slots;
}

static void fill_slots(pa_engine *e, uint64_t now) {
    unsigned target = pa_engine_grow_slots(e, pa_engine_target(e));
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
        else if (pa_engine_take_budget(e))
            e->ops->start_request(e, s);
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
    e->periodic = e->pending_periodic;
    e->stride = e->pending_stride ? e->pending_stride : 1;
    e->offset = e->pending_offset;
    uint64_t start_ns = e->pending_start_ns ? e->pending_start_ns : now;
    e->seen_gen = __atomic_load_n(&e->load_gen, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&e->control);
    e->waiting_for_slot = 0;
    e->n_free = 0;
    for (unsigned i = 0; i < e->n_slots; i++)
        e->slots[i]->free_listed = 0;
    if (e->schedule.kind == PA_LOAD_CLOSED) {
        e->filled_for = (unsigned)-1; /* refill for the new target */
        if (e->periodic.end) {
            for (unsigned i = 0; i < e->n_slots; i++)
                e->slots[i]->responses = 0;
            e->ramp_lo = 0;
            e->ramp_waiting = pa_engine_target(e);
        }
        return;
    }
    for (unsigned i = 0; i < e->n_slots; i++)
        if (!e->slots[i]->active)
            pa_open_loop_push_free(e, e->slots[i]);
    pa_open_loop_start(e, start_ns); /* the group's engines share one start */
}

/* The drain of a stop: sequences close. No sequence starts from now on; each
 * one still open gets its end request on an idle slot (closed loop: its own)
 * once its earlier requests are answered. Outside every window and budget. */
static void close_sequences(pa_engine *e, uint64_t now) {
    if (!e->closing_ns) {
        e->closing_ns = now;
        pa_seq_close(e->sequencer);
        e->n_free = 0; /* the open loop's free list is not used from here on */
        for (unsigned i = 0; i < e->n_slots; i++)
            e->slots[i]->free_listed = 0;
    }
    int closed = e->schedule.kind == PA_LOAD_CLOSED;
    for (unsigned i = 0; i < e->n_slots && pa_seq_open(e->sequencer); i++) {
        pa_slot *s = e->slots[i];
        if (s->active || s->not_before_ns > now)
            continue;
        if (!pa_seq_close_ready(e->sequencer, closed ? (long)i : -1)) {
            if (closed)
                continue;
            break; /* open loop: no sequence can take a request now */
        }
        __atomic_fetch_add(&e->lead->in_flight, 1, __ATOMIC_ACQ_REL);
        e->own_in_flight++;
        s->scheduled_ns = 0;
        e->ops->start_request(e, s);
    }
}

int pa_engine_tick(pa_engine *e, uint64_t now) {
    take_load(e, now);
    unsigned budget_gen = __atomic_load_n(&e->lead->budget_gen, __ATOMIC_ACQUIRE);
    if (budget_gen != e->seen_budget_gen) {
        e->seen_budget_gen = budget_gen;
        e->filled_for = (unsigned)-1; /* refill: slots idled by a spent budget */
        /* No burst for the time the budget was spent; the group restarts together. */
        uint64_t restart = __atomic_load_n(&e->lead->restart_ns, __ATOMIC_ACQUIRE);
        if (e->schedule.kind != PA_LOAD_CLOSED)
            pa_open_loop_start(e, restart ? restart : now);
    }
    if (pa_engine_stopping(e)) {
        if (!e->drain_deadline)
            e->drain_deadline = now + (uint64_t)__atomic_load_n(&e->drain_ms, __ATOMIC_RELAXED) * 1000000ull;
        if (now >= e->drain_deadline)
            return 0;
        if (e->sequencer)
            close_sequences(e, now);
        return e->own_in_flight != 0 || (e->sequencer && pa_seq_open(e->sequencer));
    }
    if (e->schedule.kind != PA_LOAD_CLOSED) {
        pa_open_loop_dispatch(e, now);
        pa_open_loop_release_idle(e, now);
    } else if (e->backing_off || e->filled_for != pa_engine_target(e))
        fill_slots(e, now);
    return 1;
}

/* Periodic concurrency: counts a response of slot s; raises the target when
 * the last raise's slots all had their period. 0 once the ramp is done. */
static int ramp_response(pa_engine *e, pa_slot *s) {
    if (__atomic_load_n(&e->ramp_done, __ATOMIC_ACQUIRE))
        return 0;
    if (s->index >= pa_engine_target(e)) /* left over from an earlier load: not part of the ramp */
        return 1;
    if (++s->responses != e->periodic.period || s->index < e->ramp_lo || --e->ramp_waiting != 0)
        return 1;
    unsigned target = pa_engine_target(e);
    if (target >= e->periodic.end) {
        /* The budget closes too, so no idle or backed-off slot starts again. */
        __atomic_store_n(&e->lead->budget, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&e->ramp_done, 1, __ATOMIC_RELEASE);
        return 0;
    }
    unsigned next = target + e->periodic.step > e->periodic.end ? e->periodic.end : target + e->periodic.step;
    e->ramp_lo = target;
    e->ramp_waiting = next - target;
    __atomic_store_n(&e->target, next, __ATOMIC_RELEASE); /* the next tick fills the new slots */
    return 1;
}

void pa_engine_slot_done(pa_engine *e, pa_slot *s) {
    s->scheduled_ns = 0;
    if (pa_engine_stopping(e))
        return;
    if (e->schedule.kind != PA_LOAD_CLOSED) {
        pa_open_loop_push_free(e, s);
        if (e->waiting_for_slot)
            pa_open_loop_dispatch(e, pa_now_ns());
    } else if (e->periodic.end && !ramp_response(e, s)) {
        return;
    } else if (s->index < pa_engine_target(e) && pa_engine_take_budget(e)) {
        e->ops->start_request(e, s);
    }
}

void pa_engine_slot_backoff(pa_engine *e, pa_slot *s, uint64_t now) {
    s->not_before_ns = now + PA_RETRY_AFTER_TRANSPORT_ERROR_NS;
    s->scheduled_ns = 0;
    if (e->schedule.kind != PA_LOAD_CLOSED)
        pa_open_loop_push_free(e, s);
    else
        e->backing_off++;
}

/* Errors are rare: the group's writers take a lock; the reader never does
 * (it reads only messages already counted). */
void pa_engine_add_message(pa_engine *e, const char *msg) {
    pa_engine *lead = e->lead;
    pthread_mutex_lock(&lead->messages_lock);
    size_t n = __atomic_load_n(&lead->n_messages, __ATOMIC_RELAXED);
    int known = n >= PA_MAX_ERROR_MESSAGES;
    for (size_t i = 0; i < n && !known; i++)
        known = strcmp(lead->messages[i], msg) == 0;
    if (!known) {
        snprintf(lead->messages[n], PA_ERROR_MESSAGE_LEN, "%s", msg);
        __atomic_store_n(&lead->n_messages, n + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&lead->messages_lock);
}

/* A request that leaves without reaching the stats: the closing requests
 * of a stop's drain are outside every window, count and message. */
static void leave_unrecorded(pa_engine *e) {
    e->own_in_flight--;
    __atomic_fetch_sub(&e->lead->in_flight, 1, __ATOMIC_ACQ_REL);
}

/* in_flight drops last: once it reads 0, every request is in the stats. */
void pa_engine_record_ok(pa_engine *e, const pa_request_times *t, uint64_t sent, uint64_t received) {
    pa_engine *lead = e->lead;
    if (pa_engine_closing_request(e, t->start_ns)) {
        leave_unrecorded(e);
        return;
    }
    keep_record(e, t, 0);
    int64_t token = pa_recorder_enter(&lead->recorder);
    pa_stats_record_ok(pa_recorder_buffer(&lead->recorder, token), t, sent, received);
    pa_recorder_exit(&lead->recorder, token);
    __atomic_fetch_add(&lead->completed, 1, __ATOMIC_RELEASE);
    e->own_in_flight--;
    __atomic_fetch_sub(&lead->in_flight, 1, __ATOMIC_ACQ_REL);
}

void pa_engine_record_stream_ok(pa_engine *e, const pa_request_times *t, uint64_t sent, uint64_t received,
                                uint64_t responses, uint64_t first_ns) {
    pa_engine *lead = e->lead;
    if (pa_engine_closing_request(e, t->start_ns)) {
        leave_unrecorded(e);
        return;
    }
    keep_record(e, t, 0);
    int64_t token = pa_recorder_enter(&lead->recorder);
    pa_window_stats *s = pa_recorder_buffer(&lead->recorder, token);
    pa_stats_record_ok(s, t, sent, received);
    uint64_t first = first_ns > t->start_ns ? first_ns - t->start_ns : 0;
    pa_stats_record_stream(s, responses, first);
    pa_recorder_exit(&lead->recorder, token);
    __atomic_fetch_add(&lead->completed, 1, __ATOMIC_RELEASE);
    e->own_in_flight--;
    __atomic_fetch_sub(&lead->in_flight, 1, __ATOMIC_ACQ_REL);
}

void pa_engine_record_error(pa_engine *e, enum pa_error_kind kind, const char *msg) {
    pa_engine_record_grpc_error(e, kind, -1, msg);
}

/* An error carries no start time: once the closing began, every failure is
 * left out (what was in flight at the stop is past the last window too). */
void pa_engine_record_grpc_error(pa_engine *e, enum pa_error_kind kind, int grpc_code, const char *msg) {
    pa_engine *lead = e->lead;
    if (e->closing_ns) {
        leave_unrecorded(e);
        return;
    }
    int64_t token = pa_recorder_enter(&lead->recorder);
    pa_window_stats *s = pa_recorder_buffer(&lead->recorder, token);
    pa_stats_record_error(s, kind);
    pa_stats_record_grpc_code(s, grpc_code); /* in the same window as the error itself */
    pa_recorder_exit(&lead->recorder, token);
    pa_engine_add_message(e, msg);
    __atomic_fetch_add(&lead->failed, 1, __ATOMIC_RELEASE);
    e->own_in_flight--;
    __atomic_fetch_sub(&lead->in_flight, 1, __ATOMIC_ACQ_REL);
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
