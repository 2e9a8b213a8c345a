#include "record_log.h"

#include <stdlib.h>
#include <string.h>

void pa_record_log_append(pa_record_log *log, const pa_record *r) {
    if (!log->tail || log->tail->used == PA_RECORDS_PER_CHUNK) {
        pa_record_chunk *c = malloc(sizeof(*c));
        if (!c) {
            log->out_of_memory = 1;
            return;
        }
        c->next = NULL;
        c->used = 0;
        if (log->tail)
            log->tail->next = c;
        else
            log->head = c;
        log->tail = c;
    }
    log->tail->records[log->tail->used++] = *r;
    log->total++;
}

void pa_record_log_copy(const pa_record_log *log, pa_record *out) {
    for (const pa_record_chunk *c = log->head; c; c = c->next) {
        memcpy(out, c->records, c->used * sizeof(pa_record));
        out += c->used;
    }
}

void pa_record_log_free(pa_record_log *log) {
    pa_record_chunk *c = log->head;
    while (c) {
        pa_record_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(log, 0, sizeof(*log));
}
