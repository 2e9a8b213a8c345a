#include "open_loop.h"

#include "clock.h"

void pa_open_loop_push_free(pa_engine *e, pa_slot *s) {
    if (!s->free_listed) {
        s->free_listed = 1;
        e->free_slots[e->n_free++] = s;
    }
}

/* This engine's first send time is the offset-th of the schedule, its next
 * ones every stride-th after it. */
void pa_open_loop_start(pa_engine *e, uint64_t start_ns) {
    pa_schedule_start(&e->schedule, start_ns);
    for (unsigned i = 0; i < e->offset; i++)
        pa_schedule_advance(&e->schedule);
    e->free_low_water = e->n_free; /* nothing counts as idle before a full period */
    e->next_idle_scan_ns = start_ns + PA_IDLE_RELEASE_NS;
    e->release_left = 0;
}

static void advance_schedule(pa_engine *e) {
    for (unsigned i = 0; i < e->stride; i++)
        pa_schedule_advance(&e->schedule);
}

/* A slot for the due request: an idle one, a new one, or none (capped).
 * Backoff after errors is a closed-loop rule: here the schedule decides.
 * The free list is a stack, so the slots below its lowest point since the
 * last scan are exactly the ones nobody used in the meantime. */
static pa_slot *slot_for_due(pa_engine *e) {
    if (e->n_free) {
        pa_slot *s = e->free_slots[--e->n_free];
        if (e->n_free < e->free_low_water)
            e->free_low_water = e->n_free;
        s->free_listed = 0;
        s->idle_released = 0;
        return s;
    }
    if (e->max_inflight && e->own_in_flight >= e->max_inflight)
        return NULL;
    unsigned before = e->n_slots;
    if (pa_engine_grow_slots(e, before + 1) == before)
        return NULL;
    return e->slots[before];
}

/* Sends the requests that are due. Spins the last microseconds before a due
 * time so the send is not left to the timer's slack. A client behind its
 * schedule sends late (each request keeps its scheduled time, so the lag
 * and the delayed share say how late), PA_DISPATCH_BATCH at a time. */
void pa_open_loop_dispatch(pa_engine *e, uint64_t now) {
    pa_schedule *sc = &e->schedule;
    if (sc->due_ns > now && sc->due_ns - now <= e->spin_ns)
        while ((now = pa_now_ns()) < sc->due_ns) {
        }
    for (unsigned sent = 0; sc->due_ns <= now && sent < PA_DISPATCH_BATCH; sent++) {
        pa_slot *s = slot_for_due(e);
        if (!s) {
            if (!e->waiting_for_slot) {
                e->waiting_for_slot = 1;
                pa_recorder *r = &e->lead->recorder;
                int64_t token = pa_recorder_enter(r);
                pa_stats_record_postponed(pa_recorder_buffer(r, token));
                pa_recorder_exit(r, token);
            }
            return;
        }
        e->waiting_for_slot = 0;
        if (!pa_engine_take_budget(e)) {
            pa_open_loop_push_free(e, s);
            return;
        }
        s->scheduled_ns = sc->due_ns;
        advance_schedule(e);
        e->ops->start_request(e, s);
        now = pa_now_ns();
    }
}

/* When the next request is due, 0 when no timer is needed. */
static uint64_t next_due_ns(const pa_engine *e) {
    if (e->schedule.kind == PA_LOAD_CLOSED || pa_engine_stopping(e) || e->waiting_for_slot ||
        __atomic_load_n(&e->lead->budget, __ATOMIC_ACQUIRE) == 0)
        return 0;
    return e->schedule.due_ns;
}

/* Lets go of the picked connections: one per PA_IDLE_CLOSE_GAP_NS while
 * sends keep coming, the rest at once when none is due before the gap ends.
 * Only slots still untouched since the scan qualify: below both the scan's
 * idle depth and the stack's lowest point since. */
static void release_some(pa_engine *e, uint64_t now) {
    if (!e->release_left || now < e->next_release_ns)
        return;
    for (;;) {
        uint64_t due = next_due_ns(e);
        if (due && due <= now)
            return; /* behind: sending comes first */
        unsigned bound = e->release_bound < e->free_low_water ? e->release_bound : e->free_low_water;
        while (e->release_cursor < bound && e->free_slots[e->release_cursor]->idle_released)
            e->release_cursor++;
        if (e->release_cursor >= bound) {
            e->release_left = 0;
            return;
        }
        pa_slot *s = e->free_slots[e->release_cursor++];
        s->idle_released = 1;
        e->release_idle(e, s);
        e->release_left--;
        now = pa_now_ns();
        e->next_release_ns = now + PA_IDLE_CLOSE_GAP_NS;
        if (!e->release_left || (due && due < e->next_release_ns))
            return;
    }
}

/* Each period lets go half (rounded up) of the connections idle through it,
 * the least recently used first: the pool a stall grew shrinks
 * geometrically instead of all at once, so that stalls which recur every
 * few seconds (a busy server, a preempted client) find their connections
 * still open rather than paying a connect for each request again. */
void pa_open_loop_release_idle(pa_engine *e, uint64_t now) {
    if (now >= e->next_idle_scan_ns) {
        e->next_idle_scan_ns = now + PA_IDLE_RELEASE_NS;
        unsigned idle = e->free_low_water < e->n_free ? e->free_low_water : e->n_free;
        e->free_low_water = e->n_free;
        unsigned open = 0;
        for (unsigned i = 0; e->release_idle && i < idle; i++)
            open += !e->free_slots[i]->idle_released;
        e->release_left = (open + 1) / 2;
        e->release_bound = idle;
        e->release_cursor = 0;
    }
    release_some(e, now);
}

pa_wait pa_engine_wait_plan(pa_engine *e, uint64_t max_ns) {
    pa_wait w = {max_ns, 0};
    /* a backoff or the drain must be seen without an event to wake the loop */
    if ((e->backing_off || e->drain_deadline) && w.wait_ns > PA_TIMER_WAIT_NS)
        w.wait_ns = PA_TIMER_WAIT_NS;
    uint64_t due = next_due_ns(e);
    if (due) {
        uint64_t now = pa_now_ns();
        /* sleep until spin_ns before the due time; the tick spins the rest */
        uint64_t until = due > now + e->spin_ns ? due - now - e->spin_ns : 0;
        if (until <= w.wait_ns) {
            w.wait_ns = until;
            w.wake_at = now + until;
        }
    }
    return w;
}

void pa_engine_wait_done(pa_engine *e, const pa_wait *w, int events) {
    if (events || !w->wake_at || !w->wait_ns)
        return;
    uint64_t woke = pa_now_ns();
    uint64_t late = woke > w->wake_at ? woke - w->wake_at : 0;
    e->overshoot_ns = e->overshoot_ns - e->overshoot_ns / 8 + late / 8;
    /* Spinning costs a core: never more than a tenth of the time between sends. */
    uint64_t cap = pa_schedule_mean_gap_ns(&e->schedule) * e->stride / 10;
    if (cap > PA_SPIN_MAX_NS)
        cap = PA_SPIN_MAX_NS;
    uint64_t spin = 2 * e->overshoot_ns + 5000;
    if (spin > cap)
        spin = cap;
    e->spin_ns = spin < PA_SPIN_MIN_NS ? PA_SPIN_MIN_NS : spin;
}
