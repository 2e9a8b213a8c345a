/* The HTTP/1.1 response parser of the native HTTP client, on its own so it
 * can be fed arbitrary bytes by tests and a sanitizer build.
 *
 * Bytes arrive in whatever pieces recv() returns; the parser keeps only the
 * header block (bounded) and the few things the engine acts on: the status,
 * the body's framing (Content-Length, chunked, or until the close), whether
 * the connection closes after the answer, the start of an error body, and,
 * when validating, the whole body and its Inference-Header-Content-Length.
 * Every length read from the peer is checked before it is used: a lying or
 * garbled answer is an error with a reason, never a wild read or a wrap. */
#ifndef PA_HTTP1_PARSE_H
#define PA_HTTP1_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "validate.h"

#define PA_HTTP1_HEAD_MAX 65536      /* status line and headers */
#define PA_HTTP1_ERROR_BODY_LEN 256  /* kept of a non-2xx body, for the message */
/* Content-Length and chunk sizes above this are refused: far more than any
 * answer, and sums of a few of them cannot wrap a 64-bit counter. */
#define PA_HTTP1_MAX_LENGTH (1ull << 60)

enum pa_http1_result { PA_HTTP1_ERROR = -1, PA_HTTP1_MORE = 0, PA_HTTP1_DONE = 1 };

enum pa_http1_state {
    PA_HTTP1_HEAD,
    PA_HTTP1_BODY_LENGTH,
    PA_HTTP1_CHUNK_SIZE,
    PA_HTTP1_CHUNK_DATA,
    PA_HTTP1_CHUNK_DATA_END,
    PA_HTTP1_TRAILER,
    PA_HTTP1_BODY_UNTIL_CLOSE,
    PA_HTTP1_COMPLETE,
    PA_HTTP1_FAILED,
};

typedef struct pa_http1_parser {
    enum pa_http1_state state;
    char *head; /* header bytes until the blank line; grows once, reused */
    size_t head_len, head_cap;
    char line[64]; /* chunk-size / trailer line being read */
    size_t line_len;
    size_t trailer_len;
    long status;
    int chunked;
    int64_t content_length; /* -1: absent */
    uint64_t remaining;     /* body or chunk bytes still expected */
    uint64_t bytes_in;      /* body bytes received */
    int close_after;        /* "Connection: close", HTTP/1.0, or a body until the close */
    size_t err_len;
    char err_body[PA_HTTP1_ERROR_BODY_LEN];
    int keep_body;          /* set by the owner: collect the body in `resp` */
    pa_body_buf resp;
    long json_len;          /* Inference-Header-Content-Length: -1 absent, -2 not a usable number */
    const char *why;        /* after PA_HTTP1_ERROR: what was wrong */
} pa_http1_parser;

/* Ready for the next response on the connection (buffers are kept). */
void pa_http1_begin(pa_http1_parser *p);
/* Feeds n bytes: PA_HTTP1_DONE when the response is complete (*used says
 * how many bytes it took; the rest belongs to the next response), MORE when
 * every byte was taken and more are needed, ERROR with p->why set. */
int pa_http1_feed(pa_http1_parser *p, const char *data, size_t n, size_t *used);
/* As pa_http1_feed, for a connection with one request in flight: bytes
 * after the complete response are an error. */
int pa_http1_feed_all(pa_http1_parser *p, const char *data, size_t n);
/* The peer closed the connection: DONE when that ends the body (no framing
 * was given), else ERROR with p->why set. */
int pa_http1_end_of_stream(pa_http1_parser *p);
void pa_http1_release(pa_http1_parser *p);
/* For a client that parses its own headers (libcurl's callback): the value
 * of a "Content-Length:" header line (CRLF included or not), -1 when the
 * line is another header, -2 when the value is not one this parser takes. */
int64_t pa_http1_content_length(const char *line, size_t n);

#endif
