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

void pa_response_log_append(pa_response_log *log, uint64_t request, uint64_t ns) {
    if (!log->tail || log->tail->used == PA_RESPONSES_PER_CHUNK) {
        pa_response_chunk *c = malloc(sizeof(*c));
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
    pa_response_time *t = &log->tail->times[log->tail->used++];
    t->request = request;
    t->ns = ns;
    log->total++;
}

void pa_response_log_copy(const pa_response_log *log, pa_response_time *out, uint64_t request_offset) {
    for (const pa_response_chunk *c = log->head; c; c = c->next)
        for (size_t i = 0; i < c->used; i++) {
            out->request = c->times[i].request + request_offset;
            out->ns = c->times[i].ns;
            out++;
        }
}

void pa_response_log_free(pa_response_log *log) {
    pa_response_chunk *c = log->head;
    while (c) {
        pa_response_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(log, 0, sizeof(*log));
}
