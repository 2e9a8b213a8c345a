/* Log-linear latency histogram (HdrHistogram-like) over nanosecond values.
 *
 * Values below 2048 ns get one bucket each; above, every power of two is cut
 * into 1024 equal buckets, so a bucket's width is at most 1/1024 of its lower
 * bound (< 0.1 % relative error; the reported midpoint is within 0.05 %).
 * The range reaches 2^40 ns (about 18 minutes); larger values are clamped
 * into the last bucket and the exact maximum is kept separately.
 *
 * Counters are updated with relaxed atomic adds, so several threads may
 * record into one histogram; two histograms merge by adding counts. */
#ifndef PA_HISTOGRAM_H
#define PA_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define PA_HIST_SUB_BITS 10                     /* 1024 buckets per octave */
#define PA_HIST_SUB_COUNT (1u << PA_HIST_SUB_BITS)
#define PA_HIST_MAX_BITS 40                     /* values up to 2^40 ns */
#define PA_HIST_BUCKETS (2u * PA_HIST_SUB_COUNT + (PA_HIST_MAX_BITS - PA_HIST_SUB_BITS - 1) * PA_HIST_SUB_COUNT)

typedef struct pa_hist {
    uint64_t total;
    uint64_t min;  /* exact, UINT64_MAX when empty */
    uint64_t max;  /* exact */
    uint64_t counts[PA_HIST_BUCKETS];
} pa_hist;

void pa_hist_reset(pa_hist *h);
void pa_hist_record(pa_hist *h, uint64_t value_ns);
void pa_hist_record_n(pa_hist *h, uint64_t value_ns, uint64_t n);
void pa_hist_merge(pa_hist *dst, const pa_hist *src);

/* Bucket index of a value and the [lo, hi) range of values a bucket holds. */
size_t pa_hist_index(uint64_t value_ns);
void pa_hist_bucket_range(size_t index, uint64_t *lo, uint64_t *hi);

/* Value of the element of 0-based rank `rank` in sorted order: the midpoint
 * of its bucket, clamped to the exact [min, max]. 0 when empty. */
uint64_t pa_hist_value_at_rank(const pa_hist *h, uint64_t rank);

/* perf_analyzer's nearest-rank percentile: rank = floor(p/100*(n-1) + 0.5). */
uint64_t pa_hist_percentile(const pa_hist *h, double percent);

#endif
