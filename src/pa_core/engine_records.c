/* What the engines of a group kept for an export, read after the stop. */
#include "engine.h"

const pa_record_log *pa_engine_records(const pa_engine *e) {
    return e->keep_records && !e->thread_started ? &e->records : NULL;
}

int pa_engine_record_count(const pa_engine *e, size_t *total) {
    *total = 0;
    for (unsigned k = 0; k < pa_engine_group_size(e); k++) {
        const pa_record_log *log = pa_engine_records(pa_engine_group_member((pa_engine *)e, k));
        if (!log)
            return -1;
        if (log->out_of_memory)
            return -2;
        *total += log->total;
    }
    return 0;
}

void pa_engine_copy_records(const pa_engine *e, pa_record *out) {
    for (unsigned k = 0; k < pa_engine_group_size(e); k++) {
        const pa_record_log *log = &pa_engine_group_member((pa_engine *)e, k)->records;
        pa_record_log_copy(log, out);
        out += log->total;
    }
}

int pa_engine_response_count(const pa_engine *e, size_t *total) {
    *total = 0;
    for (unsigned k = 0; k < pa_engine_group_size(e); k++) {
        pa_engine *m = pa_engine_group_member((pa_engine *)e, k);
        if (!pa_engine_records(m))
            return -1;
        if (m->responses.out_of_memory)
            return -2;
        *total += m->responses.total;
    }
    return 0;
}

void pa_engine_copy_responses(const pa_engine *e, pa_response_time *out) {
    uint64_t offset = 0;
    for (unsigned k = 0; k < pa_engine_group_size(e); k++) {
        pa_engine *m = pa_engine_group_member((pa_engine *)e, k);
        pa_response_log_copy(&m->responses, out, offset);
        out += m->responses.total;
        offset += m->records.total;
    }
}

int pa_engine_sequence_id_count(const pa_engine *e, size_t *total) {
    *total = 0;
    for (unsigned k = 0; k < pa_engine_group_size(e); k++) {
        pa_engine *m = pa_engine_group_member((pa_engine *)e, k);
        if (!pa_engine_records(m) || !m->sequencer)
            return -1;
        if (m->sequence_ids.out_of_memory || m->records.out_of_memory)
            return -2;
        *total += m->sequence_ids.total;
    }
    return 0;
}

void pa_engine_copy_sequence_ids(const pa_engine *e, uint64_t *out) {
    for (unsigned k = 0; k < pa_engine_group_size(e); k++) {
        const pa_id_log *log = &pa_engine_group_member((pa_engine *)e, k)->sequence_ids;
        pa_id_log_copy(log, out);
        out += log->total;
    }
}
