/* Open-loop send times: constant rate, Poisson arrivals from a seed, or a
 * looped list of intervals. Times come from the schedule alone, never from
 * when earlier requests were actually sent, so a stalled client cannot make
 * the offered load smaller (the measured lag says how late it was). */
#ifndef PA_SCHEDULE_H
#define PA_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

enum pa_load_kind { PA_LOAD_CLOSED = 0, PA_LOAD_CONSTANT, PA_LOAD_POISSON, PA_LOAD_INTERVALS };

typedef struct pa_schedule {
    enum pa_load_kind kind;
    double rate;            /* requests per second (constant, poisson) */
    uint64_t rng;           /* splitmix64 state (poisson) */
    uint64_t *intervals_ns; /* owned copy (intervals) */
    size_t n_intervals;
    size_t next_interval;
    uint64_t count;         /* requests whose time was handed out */
    uint64_t start_ns;      /* send time of request 0 */
    uint64_t due_ns;        /* send time of the next request */
} pa_schedule;

/* 0, or -1 (bad rate, empty or zero-sum interval list, out of memory). */
int pa_schedule_init(pa_schedule *s, enum pa_load_kind kind, double rate, uint64_t seed,
                     const uint64_t *intervals_ns, size_t n_intervals);
void pa_schedule_start(pa_schedule *s, uint64_t now_ns);
/* Moves due_ns to the next request's send time. */
void pa_schedule_advance(pa_schedule *s);
void pa_schedule_free(pa_schedule *s);
/* Average time between sends (0 for a closed loop). */
uint64_t pa_schedule_mean_gap_ns(const pa_schedule *s);

#endif
