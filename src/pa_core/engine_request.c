/* What the engine decides for each request a transport sends: which body it
 * carries (a sequence's next step, or the bodies round robin) and how a
 * failed one is recorded. The transports only move the bytes. */
#include <stdio.h>

#include "clock.h"
#include "engine.h"

int pa_engine_next_step(pa_engine *e, pa_slot *s, size_t n_bodies, const char *where, pa_seq_request *q) {
    if (!e->sequencer) {
        q->body = e->next_body;
        if (++e->next_body >= n_bodies)
            e->next_body = 0;
        return 0;
    }
    /* Closed loop: slot i carries sequence i; open loop: any free sequence. */
    long which = e->schedule.kind == PA_LOAD_CLOSED ? (long)s->index : -1;
    if (pa_seq_next(e->sequencer, which, q) != 0) {
        char msg[PA_ERROR_MESSAGE_LEN];
        snprintf(msg, sizeof(msg), "no sequence free for a request to %s", where);
        pa_engine_request_failed(e, s, PA_ERR_OTHER, -1, msg, 1);
        return -1;
    }
    s->seq = q->seq;
    s->seq_id = q->id;
    return 0;
}

void pa_engine_end_step(pa_engine *e, pa_slot *s) {
    if (s->seq >= 0)
        pa_seq_done(e->sequencer, (unsigned)s->seq);
    s->seq = -1;
    e->sequence_id = s->seq_id; /* for the export's record; 0 without sequences */
}

void pa_engine_request_failed(pa_engine *e, pa_slot *s, enum pa_error_kind kind, int grpc_code, const char *msg,
                              int backoff) {
    s->active = 0;
    pa_engine_end_step(e, s);
    pa_engine_record_grpc_error(e, kind, grpc_code, msg);
    if (backoff)
        pa_engine_slot_backoff(e, s, pa_now_ns());
    else
        pa_engine_slot_done(e, s);
}
