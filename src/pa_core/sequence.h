/* Sequences for stateful models (sequence_batching): which sequence the next
 * request belongs to, its correlation ID, step and start/end flags, and the
 * patching of those into a pre-encoded request. Transport-neutral and used
 * only by the engine thread; no allocation once every slot has been seen.
 *
 * Closed loop: slot i carries sequence i, so a sequence's steps go out one
 * after another, each after the previous answer. Open loop: n_sequences
 * sequences take the scheduled requests round robin; serial ones only when
 * their previous request has been answered. */
#ifndef PA_SEQUENCE_H
#define PA_SEQUENCE_H

#include <stddef.h>
#include <stdint.h>

#define PA_SEQ_ID_WIDTH 20 /* a uint64 in decimal, space-padded on the left (valid JSON) */

typedef struct pa_seq_config {
    uint64_t id_start;        /* ids are id_start + id_stride * (n mod id_range), n = 0, 1, ..., */
    uint64_t id_range;        /* > 0; skipping ids in use */
    uint64_t id_stride;       /* 0 or 1: consecutive ids; g: thread k of g interleaves with the others */
    unsigned length;          /* base length, >= 1; 0: each stream's own length */
    double variation;         /* 0.2: lengths uniform in length * [0.8, 1.2] */
    const size_t *stream_len; /* steps of each data stream */
    size_t n_streams;
    unsigned n_sequences;     /* open loop: sequences in flight together */
    int serial;               /* open loop: one request per sequence at a time */
    uint64_t seed;
} pa_seq_config;

typedef struct pa_seq_request {
    unsigned seq;       /* which sequence (hand back to pa_seq_done) */
    size_t body;        /* index of the step's body: streams' steps back to back */
    uint64_t id;
    unsigned step;      /* 0-based step within the sequence */
    int start, end;
} pa_seq_request;

typedef struct pa_sequencer pa_sequencer;

pa_sequencer *pa_seq_create(const pa_seq_config *cfg);
void pa_seq_destroy(pa_sequencer *q);
/* The next request: closed loop on slot `slot`, or (slot < 0) open loop.
 * 0, or -1 when no sequence can take it (open loop, serial, all busy) or
 * out of memory. */
int pa_seq_next(pa_sequencer *q, long slot, pa_seq_request *out);
/* The request of sequence `seq` was answered (or failed). */
void pa_seq_done(pa_sequencer *q, unsigned seq);
/* How many sequences were started so far (for tests). */
uint64_t pa_seq_started(const pa_sequencer *q);

/* Closing, when a run ends (perf_analyzer's CompleteOngoingSequences): no
 * sequence starts any more; pa_seq_next gives each sequence still open one
 * last request, flagged end, once none of its requests is in flight, and -1
 * when the slot's sequence (closed loop) or every sequence (open loop) has
 * none to send now. */
void pa_seq_close(pa_sequencer *q);
int pa_seq_closing(const pa_sequencer *q);
/* Closing: whether pa_seq_next(q, slot) would give a request now. */
int pa_seq_close_ready(const pa_sequencer *q, long slot);
/* Sequences started and not yet given their end request. */
unsigned pa_seq_open(const pa_sequencer *q);

/* Where the patchable fields of an encoded body are: the JSON header holds
 * "sequence_id":<PA_SEQ_ID_WIDTH chars>, "sequence_start":false and
 * "sequence_end":false (5 chars each: `true ` or `false`). */
typedef struct pa_seq_fields {
    size_t id, start, end; /* offsets of the values */
} pa_seq_fields;
int pa_seq_find_fields(const char *body, size_t len, pa_seq_fields *f);
void pa_seq_patch(char *body, const pa_seq_fields *f, const pa_seq_request *r);
/* A step's own copy of an encoded request: the len bytes of src with r's id
 * and flags patched in, in *buf (grown once to the largest request, then
 * reused: the caller frees it). 0, or -1 when out of memory. */
int pa_seq_copy_patched(char **buf, size_t *cap, const char *src, size_t len, const pa_seq_fields *f,
                        const pa_seq_request *r);

#endif
