#include "histogram.h"

#include <string.h>

void pa_hist_reset(pa_hist *h) {
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

size_t pa_hist_index(uint64_t v) {
    if (v < 2 * PA_HIST_SUB_COUNT)
        return (size_t)v;
    if (v >> PA_HIST_MAX_BITS)
        return PA_HIST_BUCKETS - 1;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);     /* >= SUB_BITS + 1 */
    unsigned shift = msb - PA_HIST_SUB_BITS;                 /* v >> shift in [1024, 2047] */
    return (size_t)shift * PA_HIST_SUB_COUNT + (size_t)(v >> shift);
}

void pa_hist_bucket_range(size_t index, uint64_t *lo, uint64_t *hi) {
    if (index < 2 * PA_HIST_SUB_COUNT) {
        *lo = index;
        *hi = index + 1;
        return;
    }
    /* index = shift*1024 + mantissa with mantissa in [1024, 2047] */
    size_t shift = index / PA_HIST_SUB_COUNT - 1;
    uint64_t mantissa = (uint64_t)(index - shift * PA_HIST_SUB_COUNT);
    *lo = mantissa << shift;
    *hi = (mantissa + 1) << shift;
}

static inline void atomic_min_u64(uint64_t *p, uint64_t v) {
    uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v < cur && !__atomic_compare_exchange_n(p, &cur, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

static inline void atomic_max_u64(uint64_t *p, uint64_t v) {
    uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v > cur && !__atomic_compare_exchange_n(p, &cur, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

void pa_hist_record_n(pa_hist *h, uint64_t v, uint64_t n) {
    __atomic_fetch_add(&h->counts[pa_hist_index(v)], n, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->total, n, __ATOMIC_RELAXED);
    atomic_min_u64(&h->min, v);
    atomic_max_u64(&h->max, v);
}

void pa_hist_record(pa_hist *h, uint64_t v) { pa_hist_record_n(h, v, 1); }

void pa_hist_merge(pa_hist *dst, const pa_hist *src) {
    if (src->total == 0)
        return;
    for (size_t i = 0; i < PA_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t pa_hist_value_at_rank(const pa_hist *h, uint64_t rank) {
    if (h->total == 0)
        return 0;
    if (rank >= h->total)
        rank = h->total - 1;
    if (rank == 0)
        return h->min;
    if (rank == h->total - 1)
        return h->max;
    uint64_t seen = 0;
    for (size_t i = 0; i < PA_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen > rank) {
            uint64_t lo, hi;
            pa_hist_bucket_range(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo - 1) / 2;
            if (mid < h->min)
                mid = h->min;
            if (mid > h->max)
                mid = h->max;
            return mid;
        }
    }
    return h->max;
}

uint64_t pa_hist_percentile(const pa_hist *h, double percent) {
    if (h->total == 0)
        return 0;
    double r = percent / 100.0 * (double)(h->total - 1) + 0.5;
    return pa_hist_value_at_rank(h, (uint64_t)r);
}
