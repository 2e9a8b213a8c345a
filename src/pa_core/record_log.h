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

typedef struct pa_record_chunk {
    struct pa_record_chunk *next;
    size_t used;
    pa_record records[PA_RECORDS_PER_CHUNK];
} pa_record_chunk;

typedef struct pa_record_log {
    pa_record_chunk *head, *tail;
    size_t total;
    int out_of_memory; /* records were dropped: the export says so */
} pa_record_log;

void pa_record_log_append(pa_record_log *log, const pa_record *r);
/* Copies every record, oldest first, into out (room for log->total). */
void pa_record_log_copy(const pa_record_log *log, pa_record *out);
void pa_record_log_free(pa_record_log *log);

#endif
