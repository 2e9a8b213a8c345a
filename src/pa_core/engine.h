/* What every load engine shares, whatever its transport: the target
 * concurrency, the stop/drain protocol, the engine thread, the window
 * recorder, the monotonic counters and the first distinct error messages.
 * A transport embeds pa_engine as its first member and supplies the ops. */
#ifndef PA_ENGINE_H
#define PA_ENGINE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "record_log.h"
#include "schedule.h"
#include "window_stats.h"

#define PA_MAX_ERROR_MESSAGES 8
#define PA_ERROR_MESSAGE_LEN 320
#define PA_MAX_SLOTS 65536u
#define PA_RETRY_AFTER_TRANSPORT_ERROR_NS 10000000ull /* 10 ms */
#define PA_SPIN_MIN_NS 20000ull  /* open loop: busy-wait at least this close to a due time */
#define PA_SPIN_MAX_NS 100000ull /* ... at most this close, and at most a tenth of the mean gap */

typedef struct pa_engine pa_engine;

/* One request in flight at a time; a transport's slot embeds this first. */
typedef struct pa_slot {
    unsigned index;          /* position in the engine's slots */
    int active;              /* a request is in flight */
    int free_listed;         /* open loop: on the engine's free list */
    uint64_t not_before_ns;  /* backoff after a transport error */
    uint64_t scheduled_ns;   /* open loop: send time of the request it carries */
} pa_slot;

typedef struct pa_engine_ops {
    void *(*run)(void *engine);                     /* the engine thread's body */
    void (*wake)(pa_engine *e);                     /* interrupt the thread's wait; any thread */
    void (*destroy)(pa_engine *e);                  /* free everything; thread joined */
    pa_slot *(*new_slot)(pa_engine *e);             /* NULL when out of memory */
    void (*start_request)(pa_engine *e, pa_slot *s); /* counted in flight already; sends it, or records why not */
} pa_engine_ops;

struct pa_engine {
    const pa_engine_ops *ops;
    pthread_t thread;
    int thread_started;

    unsigned target;    /* atomic: requests wanted in flight */
    uint64_t budget;    /* atomic: requests still allowed to start; UINT64_MAX = no limit */
    unsigned budget_gen; /* atomic: bumped by each set_budget */
    unsigned in_flight; /* atomic */
    int stopping;       /* atomic */
    long drain_ms;      /* atomic, set before stopping */

    uint64_t completed; /* atomic */
    uint64_t failed;    /* atomic */
    size_t n_messages;  /* atomic; a message is written before it is counted */
    char messages[PA_MAX_ERROR_MESSAGES][PA_ERROR_MESSAGE_LEN];

    /* Load changes handed to the engine thread (taken only when load_gen moves). */
    pthread_mutex_t control;
    unsigned load_gen;       /* atomic */
    pa_schedule pending;     /* under control */
    unsigned pending_max_inflight;

    /* Engine-thread state. */
    int keep_records;        /* set before start: fill `records` */
    pa_record_log records;
    unsigned seen_gen;
    unsigned seen_budget_gen;
    pa_schedule schedule;    /* kind PA_LOAD_CLOSED: closed loop on `target` */
    unsigned max_inflight;   /* open loop cap, 0 = none */
    uint64_t spin_ns;        /* open loop: wake this long before a due time, then spin */
    uint64_t overshoot_ns;   /* moving average of how late timer waits return */
    int waiting_for_slot;    /* open loop: the due request is postponed */
    pa_slot **slots;
    unsigned n_slots;
    unsigned slots_cap;
    pa_slot **free_slots;    /* open loop: idle slots, a stack */
    unsigned n_free;
    unsigned filled_for;     /* target at the last fill */
    unsigned backing_off;    /* idle slots waiting out a backoff */
    uint64_t drain_deadline; /* 0 until stopping is seen */

    pa_recorder recorder;
};

void pa_engine_init(pa_engine *e, const pa_engine_ops *ops);
/* Before start: keep a record of every request (for an export). */
void pa_engine_keep_records(pa_engine *e);
/* After stop: the records kept (NULL when none were asked for). */
const pa_record_log *pa_engine_records(const pa_engine *e);

/* Control, from any thread. */
int pa_engine_start(pa_engine *e, char *err, size_t errlen);
/* At most n more requests will be started (UINT64_MAX: no limit); for
 * windows of an exact request count and for warm-up. */
void pa_engine_set_budget(pa_engine *e, uint64_t n);
/* Closed loop: n requests in flight. */
void pa_engine_set_concurrency(pa_engine *e, unsigned n);
/* Open loop from now on: sends at the schedule's times (the schedule is
 * moved into the engine); max_inflight caps requests in flight (0: none). */
int pa_engine_set_schedule(pa_engine *e, pa_schedule *schedule, unsigned max_inflight);
uint64_t pa_engine_swap(pa_engine *e, pa_window_stats *out);
uint64_t pa_engine_completed(const pa_engine *e);
uint64_t pa_engine_failed(const pa_engine *e);
unsigned pa_engine_in_flight(const pa_engine *e);
size_t pa_engine_error_messages(pa_engine *e, const char **msgs, size_t max);
/* Stops issuing, lets in-flight requests finish for up to drain_ms, then
 * abandons the rest and joins the thread. Safe to call twice. */
void pa_engine_stop(pa_engine *e, long drain_ms);
void pa_engine_destroy(pa_engine *e);

/* For the engine thread. */
static inline unsigned pa_engine_target(const pa_engine *e) {
    unsigned t = __atomic_load_n(&e->target, __ATOMIC_ACQUIRE);
    return t > PA_MAX_SLOTS ? PA_MAX_SLOTS : t;
}
static inline int pa_engine_stopping(const pa_engine *e) { return __atomic_load_n(&e->stopping, __ATOMIC_ACQUIRE); }
/* Once per turn of the engine loop: starts slots up to the target (new
 * level, ended backoffs) or runs the drain. 0 when the loop should end. */
int pa_engine_tick(pa_engine *e, uint64_t now_ns);
/* Whether the loop must wake up by itself soon (backoff or drain pending). */
static inline int pa_engine_needs_timer(const pa_engine *e) { return e->backing_off || e->drain_deadline; }
/* Open loop: when the next request is due, 0 when no timer is needed. */
uint64_t pa_engine_next_due_ns(const pa_engine *e);
/* Open loop: how long to sleep before `due` (the rest is spun), and what the
 * transport saw when the sleep ended: the margin adapts to this machine's
 * timer wake-up latency. */
uint64_t pa_engine_sleep_before_ns(const pa_engine *e, uint64_t due_ns, uint64_t now_ns);
void pa_engine_note_wakeup(pa_engine *e, uint64_t wanted_ns, uint64_t woke_ns);
/* After a request completed: the closed loop sends again at once, unless
 * the engine stops or the slot was retired by a lower target. */
void pa_engine_slot_done(pa_engine *e, pa_slot *s);
/* After a transport error: the slot waits before it sends again. */
void pa_engine_slot_backoff(pa_engine *e, pa_slot *s, uint64_t now_ns);
void pa_engine_add_message(pa_engine *e, const char *msg);
void pa_engine_record_ok(pa_engine *e, const pa_request_times *t, uint64_t sent, uint64_t received);
void pa_engine_record_error(pa_engine *e, enum pa_error_kind kind, const char *msg);
/* Streaming: a successful request that got `responses` responses, the first
 * at first_ns (its latency ends at the last non-empty one, t->end_ns). */
void pa_engine_record_stream_ok(pa_engine *e, const pa_request_times *t, uint64_t sent, uint64_t received,
                                uint64_t responses, uint64_t first_ns);
/* A complete HTTP answer: a 2xx counts as success, anything else as an
 * error by status class with "HTTP <status>: <start of the body>". */
void pa_engine_record_http(pa_engine *e, const pa_request_times *t, long status, uint64_t sent,
                           uint64_t received, const char *error_body);

#endif
