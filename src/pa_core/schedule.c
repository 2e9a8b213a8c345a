#include "schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int pa_schedule_init(pa_schedule *s, enum pa_load_kind kind, double rate, uint64_t seed,
                     const uint64_t *intervals_ns, size_t n_intervals) {
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->rate = rate;
    s->rng = seed;
    if ((kind == PA_LOAD_CONSTANT || kind == PA_LOAD_POISSON) && !(rate > 0 && isfinite(rate)))
        return -1;
    if (kind == PA_LOAD_INTERVALS) {
        uint64_t sum = 0;
        for (size_t i = 0; i < n_intervals; i++)
            sum += intervals_ns[i];
        if (n_intervals == 0 || sum == 0)
            return -1;
        s->intervals_ns = malloc(n_intervals * sizeof(uint64_t));
        if (!s->intervals_ns)
            return -1;
        memcpy(s->intervals_ns, intervals_ns, n_intervals * sizeof(uint64_t));
        s->n_intervals = n_intervals;
    }
    return 0;
}

void pa_schedule_start(pa_schedule *s, uint64_t now_ns) {
    s->start_ns = now_ns;
    s->due_ns = now_ns;
    s->count = 0;
    s->next_interval = 0;
}

void pa_schedule_advance(pa_schedule *s) {
    s->count++;
    switch (s->kind) {
    case PA_LOAD_CONSTANT:
        /* From the start each time, so rounding never accumulates into drift. */
        s->due_ns = s->start_ns + (uint64_t)llround((double)s->count * 1e9 / s->rate);
        break;
    case PA_LOAD_POISSON: {
        double u = (double)(splitmix64(&s->rng) >> 11) * 0x1.0p-53; /* [0, 1) */
        s->due_ns += (uint64_t)llround(-log1p(-u) / s->rate * 1e9);
        break;
    }
    case PA_LOAD_INTERVALS:
        s->due_ns += s->intervals_ns[s->next_interval];
        if (++s->next_interval == s->n_intervals)
            s->next_interval = 0;
        break;
    case PA_LOAD_CLOSED:
        break;
    }
}

void pa_schedule_free(pa_schedule *s) {
    free(s->intervals_ns);
    s->intervals_ns = NULL;
}

uint64_t pa_schedule_mean_gap_ns(const pa_schedule *s) {
    if (s->kind == PA_LOAD_CONSTANT || s->kind == PA_LOAD_POISSON)
        return (uint64_t)(1e9 / s->rate);
    if (s->kind == PA_LOAD_INTERVALS) {
        uint64_t sum = 0;
        for (size_t i = 0; i < s->n_intervals; i++)
            sum += s->intervals_ns[i];
        return sum / s->n_intervals;
    }
    return 0;
}
