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
#include "sequence.h"
#include "window_stats.h"

#define PA_MAX_ERROR_MESSAGES 8
#define PA_ERROR_MESSAGE_LEN 320
#define PA_MAX_SLOTS 65536u
#define PA_RETRY_AFTER_TRANSPORT_ERROR_NS 10000000ull /* 10 ms */
#define PA_SPIN_MIN_NS 20000ull  /* open loop: busy-wait at least this close to a due time */
#define PA_SPIN_MAX_NS 100000ull /* ... at most this close, and at most a tenth of the mean gap */
#define PA_TIMER_WAIT_NS 5000000ull /* the longest wait while a backoff or the drain is pending */

typedef struct pa_engine pa_engine;

/* One request in flight at a time; a transport's slot embeds this first. */
typedef struct pa_slot {
    unsigned index;          /* position in the engine's slots */
    int active;              /* a request is in flight */
    int free_listed;         /* open loop: on the engine's free list */
    int idle_released;       /* open loop: its connection was let go while idle */
    uint64_t not_before_ns;  /* backoff after a transport error */
    uint64_t scheduled_ns;   /* open loop: send time of the request it carries */
    uint64_t responses;      /* periodic concurrency: responses since the ramp started */
    long seq;                /* sequences: the sequence of the request in flight, -1 none */
    uint64_t seq_id;         /* ... and its correlation ID (0 without sequences) */
} pa_slot;

/* Periodic concurrency: the engine thread raises its own target by `step`
 * each time every slot added by the last raise has had `period` responses,
 * until `end` slots have had theirs; end == 0 means off. */
typedef struct pa_periodic {
    unsigned end;
    unsigned step;
    uint64_t period;
} pa_periodic;

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

    /* Threads: an engine may lead others (pa_engine_add_member), each with its
     * own thread, slots and share of the load, all sharing the lead's budget,
     * counters, messages and window recorder. Fields marked (lead) are used
     * on the lead only; a member reaches them through `lead`. */
    pa_engine *lead;          /* self, unless a member of another engine's group */
    pa_engine **members;      /* (lead) the others */
    unsigned n_members;
    pthread_mutex_t messages_lock; /* (lead) between writers only; readers never take it */
    uint64_t restart_ns;      /* (lead) atomic: when the last budget reopened the open-loop schedules */

    unsigned target;    /* atomic: requests wanted in flight (this engine's share) */
    uint64_t budget;    /* (lead) atomic: requests still allowed to start; UINT64_MAX = no limit */
    unsigned budget_gen; /* (lead) atomic: bumped by each set_budget */
    unsigned in_flight; /* (lead) atomic */
    int stopping;       /* atomic */
    long drain_ms;      /* atomic, set before stopping */

    uint64_t completed; /* (lead) atomic */
    uint64_t failed;    /* (lead) atomic */
    size_t n_messages;  /* (lead) atomic; a message is written before it is counted */
    char messages[PA_MAX_ERROR_MESSAGES][PA_ERROR_MESSAGE_LEN];

    /* Load changes handed to the engine thread (taken only when load_gen moves). */
    pthread_mutex_t control;
    unsigned load_gen;       /* atomic */
    pa_schedule pending;     /* under control */
    unsigned pending_max_inflight;
    unsigned pending_stride, pending_offset;
    uint64_t pending_start_ns;
    pa_periodic pending_periodic;

    /* Engine-thread state. */
    int keep_records;        /* set before start: fill `records` */
    pa_record_log records;
    pa_response_log responses; /* streaming only: every response of each kept request */
    unsigned seen_gen;
    unsigned seen_budget_gen;
    pa_schedule schedule;    /* kind PA_LOAD_CLOSED: closed loop on `target` */
    unsigned max_inflight;   /* open loop cap on this engine's own requests, 0 = none */
    unsigned own_in_flight;  /* this engine's requests in flight (its thread only) */
    unsigned stride;         /* open loop: this engine sends every stride-th time of the schedule ... */
    unsigned offset;         /* ... starting with the offset-th (0-based) */
    pa_periodic periodic;
    unsigned ramp_lo;        /* periodic: first slot added by the last raise */
    unsigned ramp_waiting;   /* periodic: slots since ramp_lo still short of `period` responses */
    int ramp_done;           /* atomic; periodic: the last raise's slots all had their period */
    uint64_t spin_ns;        /* open loop: wake this long before a due time, then spin */
    uint64_t overshoot_ns;   /* moving average of how late timer waits return */
    int waiting_for_slot;    /* open loop: the due request is postponed */
    pa_slot **slots;
    unsigned n_slots;
    unsigned slots_cap;
    pa_slot **free_slots;    /* open loop: idle slots, a stack */
    unsigned n_free;
    unsigned free_low_water; /* open loop: the stack's lowest depth since the last idle scan */
    uint64_t next_idle_scan_ns;
    unsigned release_left;   /* open loop: connections the last idle scan lets go, not yet let go */
    unsigned release_bound;  /* ... found among free_slots[0, release_bound) */
    unsigned release_cursor; /* ... from this index up */
    uint64_t next_release_ns;
    /* Set by a transport at create (NULL: nothing to do): lets an idle slot's
     * connection go; the slot connects again when it next sends. */
    void (*release_idle)(pa_engine *e, pa_slot *s);
    unsigned filled_for;     /* target at the last fill */
    unsigned backing_off;    /* idle slots waiting out a backoff */
    uint64_t drain_deadline; /* 0 until stopping is seen */
    /* Sequences: set by the transport at create when its requests belong to
     * sequences. When the engine stops, the drain closes every sequence still
     * open (one more request each, flagged end) before it ends. pa_engine_end_step
     * sets `sequence_id` before each request is recorded; with keep_records,
     * each kept record's id goes to `sequence_ids`. */
    pa_sequencer *sequencer;
    uint64_t sequence_id;
    size_t next_body;        /* without sequences: the next request body, round robin */
    pa_id_log sequence_ids;
    uint64_t closing_ns;     /* when that closing began; requests started since are kept in no record */

    pa_recorder recorder;
};

void pa_engine_init(pa_engine *e, const pa_engine_ops *ops);
/* Before start: `member` (created like the lead, not started) runs on its own
 * thread as part of the lead's group; the lead's control calls fan out to it
 * and the lead destroys it. 0, or -1 when out of memory or already started. */
int pa_engine_add_member(pa_engine *lead, pa_engine *member);
/* Before start: keep a record of every request (for an export). */
void pa_engine_keep_records(pa_engine *e);
/* After stop: the records kept (NULL when none were asked for); the lead's
 * own only: use pa_engine_record_count / pa_engine_copy_records for a group. */
const pa_record_log *pa_engine_records(const pa_engine *e);
/* After stop, over the whole group: 0 and the count, -1 when no records were
 * asked for (or the engine runs), -2 when some were lost for want of memory. */
int pa_engine_record_count(const pa_engine *e, size_t *total);
/* Every engine's records, one engine after the other (room for the count). */
void pa_engine_copy_records(const pa_engine *e, pa_record *out);
/* After stop, over the whole group: like pa_engine_record_count, for the
 * response times kept by streaming engines (0 entries for the others). */
int pa_engine_response_count(const pa_engine *e, size_t *total);
/* Every engine's response times, request indices into pa_engine_copy_records' output. */
void pa_engine_copy_responses(const pa_engine *e, pa_response_time *out);

/* After stop, over the whole group: like pa_engine_record_count, for the
 * sequence ids of the records; -1 also when the engine sends no sequences. */
int pa_engine_sequence_id_count(const pa_engine *e, size_t *total);
/* Every record's sequence id, aligned with pa_engine_copy_records' output. */
void pa_engine_copy_sequence_ids(const pa_engine *e, uint64_t *out);

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
/* The same for one part of a schedule split over `parts` processes: this
 * engine's group sends the times part, part + parts, part + 2 * parts, ... */
int pa_engine_set_schedule_part(pa_engine *e, pa_schedule *schedule, unsigned max_inflight,
                                unsigned part, unsigned parts);
/* Periodic concurrency from now on: `start` slots, raised by the engine
 * thread as described at pa_periodic; once done, no request starts. */
int pa_engine_set_periodic(pa_engine *e, unsigned start, unsigned end, unsigned step, uint64_t period);
/* Periodic concurrency: the ramp reached its end (requests may still be in flight). */
int pa_engine_ramp_done(const pa_engine *e);
uint64_t pa_engine_swap(pa_engine *e, pa_window_stats *out);
uint64_t pa_engine_completed(const pa_engine *e);
uint64_t pa_engine_failed(const pa_engine *e);
unsigned pa_engine_in_flight(const pa_engine *e);
size_t pa_engine_error_messages(pa_engine *e, const char **msgs, size_t max);
/* Stops issuing, lets in-flight requests finish for up to drain_ms, then
 * abandons the rest and joins the thread. Safe to call twice. */
void pa_engine_stop(pa_engine *e, long drain_ms);
void pa_engine_destroy(pa_engine *e);

/* The engines of e's group: the lead is number 0. */
static inline unsigned pa_engine_group_size(const pa_engine *e) { return 1 + e->lead->n_members; }
static inline pa_engine *pa_engine_group_member(pa_engine *e, unsigned k) {
    return k ? e->lead->members[k - 1] : e->lead;
}

/* For the engine thread. */
static inline unsigned pa_engine_target(const pa_engine *e) {
    unsigned t = __atomic_load_n(&e->target, __ATOMIC_ACQUIRE);
    return t > PA_MAX_SLOTS ? PA_MAX_SLOTS : t;
}
static inline int pa_engine_stopping(const pa_engine *e) { return __atomic_load_n(&e->stopping, __ATOMIC_ACQUIRE); }
/* A request started at start_ns only to close a sequence after the run ended. */
static inline int pa_engine_closing_request(const pa_engine *e, uint64_t start_ns) {
    return e->closing_ns && start_ns >= e->closing_ns;
}
/* Once per turn of the engine loop: starts slots up to the target (new
 * level, ended backoffs) or runs the drain. 0 when the loop should end. */
int pa_engine_tick(pa_engine *e, uint64_t now_ns);
/* The transport's blocking wait (its epoll_wait, curl_multi_poll, completion
 * queue or poll), planned by the engine: block at most wait_ns. The plan
 * takes the transport's own limit max_ns (how often it must look at
 * something of its own), shortens it when a backoff or the drain needs the
 * loop soon, and, in an open loop, to the end of the sleep before the next
 * send is due (wake_at; the rest is spun by the next tick). */
typedef struct pa_wait {
    uint64_t wait_ns;
    uint64_t wake_at; /* 0: the wait does not end at a send's due time */
} pa_wait;
pa_wait pa_engine_wait_plan(pa_engine *e, uint64_t max_ns);
/* After the wait: `events` when it returned for something else than its
 * timeout. A sleep that ran out to wake_at tells how late this machine's
 * timers wake: the margin spun before a due time adapts to it. */
void pa_engine_wait_done(pa_engine *e, const pa_wait *w, int events);
/* After a request completed: the closed loop sends again at once, unless
 * the engine stops or the slot was retired by a lower target. */
void pa_engine_slot_done(pa_engine *e, pa_slot *s);
/* After a transport error: the slot waits before it sends again. */
void pa_engine_slot_backoff(pa_engine *e, pa_slot *s, uint64_t now_ns);

/* A request's life on the engine side (engine_request.c). In start_request:
 * which body slot s sends next, one of n_bodies: with sequences, the next
 * step of the slot's sequence (closed loop) or of the next free one (open
 * loop), its id and flags in *q and s->seq / s->seq_id; without, the bodies
 * round robin (q->body only). -1 when no sequence can take the request: it
 * is then already recorded as failed ("no sequence free for a request to
 * <where>", not a transport failure) and the slot backs off. */
int pa_engine_next_step(pa_engine *e, pa_slot *s, size_t n_bodies, const char *where, pa_seq_request *q);
/* The request's answer came (or it failed): its sequence may go on, and the
 * record that follows carries its correlation ID. Idempotent. */
void pa_engine_end_step(pa_engine *e, pa_slot *s);
/* A request that ended in an error: its step ends, it is recorded under
 * kind (and the gRPC status code grpc_code, -1 none) with msg, and the slot
 * either backs off (no server to talk to) or goes on at once. */
void pa_engine_request_failed(pa_engine *e, pa_slot *s, enum pa_error_kind kind, int grpc_code, const char *msg,
                              int backoff);
void pa_engine_add_message(pa_engine *e, const char *msg);
void pa_engine_record_ok(pa_engine *e, const pa_request_times *t, uint64_t sent, uint64_t received);
void pa_engine_record_error(pa_engine *e, enum pa_error_kind kind, const char *msg);
/* The same, and counted under a gRPC status code (PA_GRPC_CODES in window_stats.h; -1: none). */
void pa_engine_record_grpc_error(pa_engine *e, enum pa_error_kind kind, int grpc_code, const char *msg);
/* Streaming: a successful request that got `responses` responses, the first
 * at first_ns (its latency ends at the last non-empty one, t->end_ns). */
void pa_engine_record_stream_ok(pa_engine *e, const pa_request_times *t, uint64_t sent, uint64_t received,
                                uint64_t responses, uint64_t first_ns);
/* Streaming, when keep_records is on: the n response times of the request
 * about to be recorded by pa_engine_record_stream_ok (call it just before). */
void pa_engine_keep_responses(pa_engine *e, const uint64_t *times_ns, size_t n);
/* A complete HTTP answer: a 2xx counts as success, anything else as an
 * error by status class with "HTTP <status>: <start of the body>". */
void pa_engine_record_http(pa_engine *e, const pa_request_times *t, long status, uint64_t sent,
                           uint64_t received, const char *error_body);

#endif
