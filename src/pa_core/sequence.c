/* Sequence state machine, see sequence.h. */
#define _GNU_SOURCE
#include "sequence.h"

#include <stdlib.h>
#include <string.h>

typedef struct seq_state {
    int live;           /* has an id; 0 until the first request and after the last */
    unsigned busy;      /* its requests in flight (open loop, not serial: may be several) */
    uint64_t id;
    unsigned stream;
    unsigned step;
    unsigned length;
} seq_state;

struct pa_sequencer {
    pa_seq_config cfg;
    size_t *stream_len;
    size_t *stream_first; /* body index of each stream's step 0 */
    seq_state *seqs;
    unsigned n_seqs;
    uint64_t started;
    uint64_t next_id;     /* ids handed out, skipped ones included */
    unsigned next_stream;
    unsigned rr;          /* open loop: the next sequence to try */
    uint64_t rng;
    unsigned open;        /* live sequences */
    int closing;          /* pa_seq_close was called */
};

pa_sequencer *pa_seq_create(const pa_seq_config *cfg) {
    if (!cfg || cfg->id_range == 0 || cfg->n_streams == 0)
        return NULL;
    pa_sequencer *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->cfg = *cfg;
    if (q->cfg.id_stride == 0)
        q->cfg.id_stride = 1;
    q->stream_len = malloc(cfg->n_streams * sizeof(size_t));
    q->stream_first = malloc(cfg->n_streams * sizeof(size_t));
    if (!q->stream_len || !q->stream_first) {
        pa_seq_destroy(q);
        return NULL;
    }
    size_t first = 0;
    for (size_t i = 0; i < cfg->n_streams; i++) {
        q->stream_len[i] = cfg->stream_len[i] ? cfg->stream_len[i] : 1;
        q->stream_first[i] = first;
        first += q->stream_len[i];
    }
    q->cfg.stream_len = q->stream_len;
    q->rng = cfg->seed ? cfg->seed : 0x9E3779B97F4A7C15ull;
    if (cfg->n_sequences) {
        q->seqs = calloc(cfg->n_sequences, sizeof(seq_state));
        if (!q->seqs) {
            pa_seq_destroy(q);
            return NULL;
        }
        q->n_seqs = cfg->n_sequences;
    }
    return q;
}

void pa_seq_destroy(pa_sequencer *q) {
    if (!q)
        return;
    free(q->stream_len);
    free(q->stream_first);
    free(q->seqs);
    free(q);
}

static uint64_t next_random(pa_sequencer *q) { /* xorshift64* */
    q->rng ^= q->rng >> 12;
    q->rng ^= q->rng << 25;
    q->rng ^= q->rng >> 27;
    return q->rng * 2685821657736338717ull;
}

/* Whether a sequence holds `id`: running, or its last request (the END)
 * still unanswered. O(sequences), once per new sequence, never per request. */
static int id_in_use(const pa_sequencer *q, uint64_t id) {
    for (unsigned i = 0; i < q->n_seqs; i++)
        if ((q->seqs[i].live || q->seqs[i].busy) && q->seqs[i].id == id)
            return 1;
    return 0;
}

/* The caller keeps id_start + id_stride * (id_range - 1) within uint64. */
static uint64_t next_id(pa_sequencer *q) {
    return q->cfg.id_start + q->cfg.id_stride * (q->next_id++ % q->cfg.id_range);
}

static void begin(pa_sequencer *q, seq_state *s) {
    /* Ids go round the range; one still held by a running sequence is
     * skipped (perf_analyzer hands it out again, and the server then sees two
     * sequences interleaved under one ID). The range holds at least as many
     * ids as there are sequences, so a free one comes within n_seqs tries. */
    uint64_t id = next_id(q);
    for (unsigned tries = 0; tries < q->n_seqs && id_in_use(q, id); tries++)
        id = next_id(q);
    s->live = 1;
    q->open++;
    s->id = id;
    q->started++;
    s->stream = q->next_stream;
    q->next_stream = (unsigned)((q->next_stream + 1) % q->cfg.n_streams);
    s->step = 0;
    if (q->cfg.length == 0) {
        s->length = (unsigned)q->stream_len[s->stream];
    } else {
        /* perf_analyzer: uniform within +/- variation of the base length, at least 1 */
        double u = (double)(next_random(q) >> 11) / 9007199254740992.0; /* [0, 1) */
        double len = q->cfg.length * (1.0 + q->cfg.variation * (2.0 * u - 1.0));
        s->length = len < 1.0 ? 1u : (unsigned)(len + 0.5);
    }
}

static int grow(pa_sequencer *q, unsigned need) {
    if (need <= q->n_seqs)
        return 0;
    unsigned cap = q->n_seqs ? q->n_seqs : 16;
    while (cap < need)
        cap *= 2;
    seq_state *grown = realloc(q->seqs, cap * sizeof(seq_state));
    if (!grown)
        return -1;
    memset(grown + q->n_seqs, 0, (cap - q->n_seqs) * sizeof(seq_state));
    q->seqs = grown;
    q->n_seqs = cap;
    return 0;
}

/* Closing: the sequence that slot `slot` (or, slot < 0, any) may end now. */
static long closing_pick(const pa_sequencer *q, long slot) {
    if (slot >= 0)
        return (unsigned long)slot < q->n_seqs && q->seqs[slot].live && !q->seqs[slot].busy ? slot : -1;
    for (unsigned i = 0, k = q->rr; i < q->n_seqs; i++, k = (k + 1) % q->n_seqs)
        if (q->seqs[k].live && !q->seqs[k].busy)
            return k;
    return -1;
}

int pa_seq_next(pa_sequencer *q, long slot, pa_seq_request *out) {
    unsigned k;
    if (q->closing) {
        long pick = closing_pick(q, slot);
        if (pick < 0)
            return -1;
        k = (unsigned)pick;
        q->rr = (k + 1) % q->n_seqs;
    } else if (slot >= 0) {
        if (grow(q, (unsigned)slot + 1) != 0)
            return -1;
        k = (unsigned)slot;
    } else {
        unsigned tries = 0;
        k = q->rr;
        while (q->cfg.serial && q->seqs[k].busy) {
            if (++tries == q->n_seqs)
                return -1;
            k = (k + 1) % q->n_seqs;
        }
        q->rr = (k + 1) % q->n_seqs;
    }
    seq_state *s = &q->seqs[k];
    if (!s->live)
        begin(q, s);
    out->seq = k;
    out->id = s->id;
    out->step = s->step;
    out->body = q->stream_first[s->stream] + s->step % q->stream_len[s->stream];
    out->start = s->step == 0;
    out->end = q->closing || s->step + 1 >= s->length;
    s->busy++;
    if (++s->step >= s->length || q->closing) {
        s->live = 0; /* the next request of this slot starts a new sequence */
        q->open--;
    }
    return 0;
}

void pa_seq_done(pa_sequencer *q, unsigned seq) {
    if (seq < q->n_seqs && q->seqs[seq].busy)
        q->seqs[seq].busy--;
}

uint64_t pa_seq_started(const pa_sequencer *q) { return q->started; }

void pa_seq_close(pa_sequencer *q) { q->closing = 1; }
int pa_seq_closing(const pa_sequencer *q) { return q->closing; }
int pa_seq_close_ready(const pa_sequencer *q, long slot) { return q->closing && closing_pick(q, slot) >= 0; }
unsigned pa_seq_open(const pa_sequencer *q) { return q->open; }

static int value_at(const char *body, size_t len, const char *key, size_t width, size_t *off) {
    const char *p = memmem(body, len, key, strlen(key));
    if (!p)
        return -1;
    *off = (size_t)(p - body) + strlen(key);
    return *off + width <= len ? 0 : -1;
}

int pa_seq_find_fields(const char *body, size_t len, pa_seq_fields *f) {
    if (value_at(body, len, "\"sequence_id\":", PA_SEQ_ID_WIDTH, &f->id) != 0 ||
        value_at(body, len, "\"sequence_start\":", 5, &f->start) != 0 ||
        value_at(body, len, "\"sequence_end\":", 5, &f->end) != 0)
        return -1;
    return 0;
}

void pa_seq_patch(char *body, const pa_seq_fields *f, const pa_seq_request *r) {
    char *p = body + f->id + PA_SEQ_ID_WIDTH;
    uint64_t id = r->id;
    do {
        *--p = (char)('0' + id % 10);
        id /= 10;
    } while (id && p > body + f->id);
    while (p > body + f->id)
        *--p = ' ';
    memcpy(body + f->start, r->start ? "true " : "false", 5);
    memcpy(body + f->end, r->end ? "true " : "false", 5);
}

int pa_seq_copy_patched(char **buf, size_t *cap, const char *src, size_t len, const pa_seq_fields *f,
                        const pa_seq_request *r) {
    if (len > *cap) {
        char *grown = realloc(*buf, len);
        if (!grown)
            return -1;
        *buf = grown;
        *cap = len;
    }
    memcpy(*buf, src, len);
    pa_seq_patch(*buf, f, r);
    return 0;
}
