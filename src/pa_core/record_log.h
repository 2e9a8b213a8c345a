/* Optional per-request log for --profile-export-file: fixed-size chunks,
 * allocated only when an export was asked for, appended by the engine thread
 * and read only after the engine stopped. Memory grows with the run only
 * when the user asked for every request. */
#ifndef PA_RECORD_LOG_H
#define PA_RECORD_LOG_H

#include <stddef.h>
#include <stdint.h>

#define PA_RECORDS_PER_CHUNK 16384

typedef struct pa_record {
    uint64_t scheduled_ns; /* 0 in closed loop */
    uint64_t start_ns;
    uint64_t end_ns;
    uint64_t status;       /* 0: success (only successes are kept for now) */
} pa_record;

/* The link both logs' chunks start with: one append/free for both. */
typedef struct pa_chunk_link {
    struct pa_chunk_link *next;
    size_t used;
} pa_chunk_link;

typedef struct pa_record_chunk {
    pa_chunk_link link; /* first */
    pa_record records[PA_RECORDS_PER_CHUNK];
} pa_record_chunk;

typedef struct pa_record_log {
    pa_chunk_link *head, *tail; /* of pa_record_chunk */
    size_t total;
    int out_of_memory; /* records were dropped: the export says so */
} pa_record_log;

void pa_record_log_append(pa_record_log *log, const pa_record *r);
/* Copies every record, oldest first, into out (room for log->total). */
void pa_record_log_copy(const pa_record_log *log, pa_record *out);
void pa_record_log_free(pa_record_log *log);

/* Every response's arrival, for requests that get several (streaming,
 * decoupled models): `request` is the index of the request's pa_record in
 * the same engine's record log. A request's responses are appended together,
 * in arrival order, just before its record. */
#define PA_RESPONSES_PER_CHUNK 16384

typedef struct pa_response_time {
    uint64_t request;
    uint64_t ns;
} pa_response_time;

typedef struct pa_response_chunk {
    pa_chunk_link link; /* first */
    pa_response_time times[PA_RESPONSES_PER_CHUNK];
} pa_response_chunk;

typedef struct pa_response_log {
    pa_chunk_link *head, *tail; /* of pa_response_chunk */
    size_t total;
    int out_of_memory;
} pa_response_log;

void pa_response_log_append(pa_response_log *log, uint64_t request, uint64_t ns);
/* Copies every entry, oldest first, into out (room for log->total), adding
 * `request_offset` to each request index (engines of a group are concatenated). */
void pa_response_log_copy(const pa_response_log *log, pa_response_time *out, uint64_t request_offset);
void pa_response_log_free(pa_response_log *log);

/* Sequences: each kept record's correlation ID, in the records' order (one
 * per record, appended with it), kept only by engines that send sequences. */
#define PA_IDS_PER_CHUNK 16384

typedef struct pa_id_chunk {
    pa_chunk_link link; /* first */
    uint64_t ids[PA_IDS_PER_CHUNK];
} pa_id_chunk;

typedef struct pa_id_log {
    pa_chunk_link *head, *tail; /* of pa_id_chunk */
    size_t total;
    int out_of_memory;
} pa_id_log;

void pa_id_log_append(pa_id_log *log, uint64_t id);
void pa_id_log_copy(const pa_id_log *log, uint64_t *out);
void pa_id_log_free(pa_id_log *log);

#endif
