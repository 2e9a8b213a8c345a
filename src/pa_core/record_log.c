#include "record_log.h"

#include <stdlib.h>
#include <string.h>

/* The chunk with room for one more entry: the tail, or a new chunk of
 * `size` bytes linked after it; NULL when out of memory. */
static pa_chunk_link *room(pa_chunk_link **head, pa_chunk_link **tail, size_t per_chunk, size_t size) {
    if (*tail && (*tail)->used < per_chunk)
        return *tail;
    pa_chunk_link *c = malloc(size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->used = 0;
    if (*tail)
        (*tail)->next = c;
    else
        *head = c;
    *tail = c;
    return c;
}

static void free_chunks(pa_chunk_link *c) {
    while (c) {
        pa_chunk_link *next = c->next;
        free(c);
        c = next;
    }
}

void pa_record_log_append(pa_record_log *log, const pa_record *r) {
    pa_record_chunk *c = (pa_record_chunk *)room(&log->head, &log->tail, PA_RECORDS_PER_CHUNK,
                                                 sizeof(pa_record_chunk));
    if (!c) {
        log->out_of_memory = 1;
        return;
    }
    c->records[c->link.used++] = *r;
    log->total++;
}

void pa_record_log_copy(const pa_record_log *log, pa_record *out) {
    for (const pa_chunk_link *l = log->head; l; l = l->next) {
        const pa_record_chunk *c = (const pa_record_chunk *)l;
        memcpy(out, c->records, c->link.used * sizeof(pa_record));
        out += c->link.used;
    }
}

void pa_record_log_free(pa_record_log *log) {
    free_chunks(log->head);
    memset(log, 0, sizeof(*log));
}

void pa_response_log_append(pa_response_log *log, uint64_t request, uint64_t ns) {
    pa_response_chunk *c = (pa_response_chunk *)room(&log->head, &log->tail, PA_RESPONSES_PER_CHUNK,
                                                     sizeof(pa_response_chunk));
    if (!c) {
        log->out_of_memory = 1;
        return;
    }
    pa_response_time *t = &c->times[c->link.used++];
    t->request = request;
    t->ns = ns;
    log->total++;
}

void pa_response_log_copy(const pa_response_log *log, pa_response_time *out, uint64_t request_offset) {
    for (const pa_chunk_link *l = log->head; l; l = l->next) {
        const pa_response_chunk *c = (const pa_response_chunk *)l;
        for (size_t i = 0; i < c->link.used; i++) {
            out->request = c->times[i].request + request_offset;
            out->ns = c->times[i].ns;
            out++;
        }
    }
}

void pa_response_log_free(pa_response_log *log) {
    free_chunks(log->head);
    memset(log, 0, sizeof(*log));
}

void pa_id_log_append(pa_id_log *log, uint64_t id) {
    pa_id_chunk *c = (pa_id_chunk *)room(&log->head, &log->tail, PA_IDS_PER_CHUNK, sizeof(pa_id_chunk));
    if (!c) {
        log->out_of_memory = 1;
        return;
    }
    c->ids[c->link.used++] = id;
    log->total++;
}

void pa_id_log_copy(const pa_id_log *log, uint64_t *out) {
    for (const pa_chunk_link *l = log->head; l; l = l->next) {
        const pa_id_chunk *c = (const pa_id_chunk *)l;
        memcpy(out, c->ids, c->link.used * sizeof(uint64_t));
        out += c->link.used;
    }
}

void pa_id_log_free(pa_id_log *log) {
    free_chunks(log->head);
    memset(log, 0, sizeof(*log));
}
