/* HTTP/1.1 response parser, see http1_parse.h. */
#define _GNU_SOURCE
#include "http1_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void pa_http1_begin(pa_http1_parser *p) {
    p->state = PA_HTTP1_HEAD;
    p->head_len = 0;
    p->line_len = 0;
    p->trailer_len = 0;
    p->status = 0;
    p->chunked = 0;
    p->content_length = -1;
    p->remaining = 0;
    p->bytes_in = 0;
    p->close_after = 0;
    p->err_len = 0;
    p->resp.len = 0;
    p->resp.overflow = 0;
    p->json_len = -1;
    p->why = NULL;
}

void pa_http1_release(pa_http1_parser *p) {
    free(p->head);
    free(p->resp.data);
    p->head = NULL;
    p->resp.data = NULL;
    p->head_cap = p->resp.cap = 0;
}

static int failed(pa_http1_parser *p, const char *why) {
    p->state = PA_HTTP1_FAILED;
    p->why = why;
    return PA_HTTP1_ERROR;
}

/* A decimal number of at most 18 digits (below 10^18, under
 * PA_HTTP1_MAX_LENGTH): anything longer, signed or empty is -1. */
static int64_t decimal(const char *v, size_t n) {
    if (n == 0 || n > 18)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* The trimmed value of header line `name: value` (name without the colon,
 * any case), or NULL when the line is another header. */
static const char *header_value(const char *line, size_t n, const char *name, size_t *vlen) {
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return NULL;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *vlen = (size_t)(end - v);
    return v;
}

/* Whether a comma-separated header value holds `token` (lowercase), any case. */
static int has_token(const char *v, size_t n, const char *token) {
    size_t k = strlen(token);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(v + i, token, k) == 0)
            return 1;
    return 0;
}

/* The status line and the headers we act on, from p->head (which ends with
 * the blank line). 0, or -1 with p->why. */
static int parse_head(pa_http1_parser *p) {
    const char *h = p->head, *end = p->head + p->head_len;
    /* "HTTP/1.x NNN": the digits are checked, not trusted to strtol */
    if (p->head_len < 14 || memcmp(h, "HTTP/1.", 7) != 0 || (h[7] != '0' && h[7] != '1') || h[8] != ' ')
        return failed(p, "no HTTP/1.x status line");
    if (h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9' ||
        (h[12] != ' ' && h[12] != '\r'))
        return failed(p, "bad status code");
    p->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    int http10 = h[7] == '0', keep_alive = 0;
    const char *line = memchr(h, '\n', p->head_len);
    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            break;
        size_t n = (size_t)(eol - line), vn;
        const char *v;
        if ((v = header_value(line, n, "content-length", &vn))) {
            int64_t length = decimal(v, vn);
            if (length < 0)
                return failed(p, "Content-Length is not a number below 10^18");
            if (p->content_length >= 0 && p->content_length != length)
                return failed(p, "two different Content-Length headers");
            p->content_length = length;
        } else if ((v = header_value(line, n, "transfer-encoding", &vn))) {
            p->chunked = has_token(v, vn, "chunked");
        } else if (p->keep_body && (v = header_value(line, n, "inference-header-content-length", &vn))) {
            int64_t length = decimal(v, vn);
            p->json_len = length < 0 ? -2 : (long)length;
        } else if ((v = header_value(line, n, "connection", &vn))) {
            if (has_token(v, vn, "close"))
                p->close_after = 1;
            if (has_token(v, vn, "keep-alive"))
                keep_alive = 1;
        }
        line = eol;
    }
    if (http10 && !keep_alive)
        p->close_after = 1;
    if (p->status == 204 || p->status == 304 || p->status < 200) {
        p->state = PA_HTTP1_COMPLETE;
    } else if (p->chunked) {
        p->state = PA_HTTP1_CHUNK_SIZE;
    } else if (p->content_length >= 0) {
        p->remaining = (uint64_t)p->content_length;
        p->state = p->remaining ? PA_HTTP1_BODY_LENGTH : PA_HTTP1_COMPLETE;
    } else {
        p->state = PA_HTTP1_BODY_UNTIL_CLOSE;
        p->close_after = 1;
    }
    return 0;
}

/* A chunk-size line: hex digits (leading zeros aside, at most 15: under
 * 2^60), then optional extensions, then the line end. -1 if not that. */
static int chunk_size(const char *s, size_t n, uint64_t *out) {
    size_t i = 0, digits = 0;
    uint64_t x = 0;
    for (; i < n; i++) {
        int d = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
                : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
                : s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
                                             : -1;
        if (d < 0)
            break;
        if ((x || d) && ++digits > 15)
            return -1;
        x = x * 16 + (uint64_t)d;
    }
    if (i == 0)
        return -1;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] != ';' && s[i] != '\r' && s[i] != '\n')
        return -1;
    *out = x;
    return 0;
}

static int empty_line(const char *s, size_t n) { return (n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r'); }

static void keep_error_body(pa_http1_parser *p, const char *data, size_t n) {
    if ((p->status >= 200 && p->status < 300) || p->err_len >= PA_HTTP1_ERROR_BODY_LEN - 1)
        return;
    size_t c = PA_HTTP1_ERROR_BODY_LEN - 1 - p->err_len;
    if (n < c)
        c = n;
    memcpy(p->err_body + p->err_len, data, c);
    p->err_len += c;
    p->err_body[p->err_len] = '\0';
}

/* Body bytes: the error text's start, the kept body, the count. 0, or -1. */
static int take_body(pa_http1_parser *p, const char *data, size_t c) {
    keep_error_body(p, data, c);
    if (p->keep_body) {
        pa_body_buf_append(&p->resp, data, c);
        if (p->resp.overflow)
            return failed(p, "out of memory for the response body");
    }
    p->bytes_in += c;
    return 0;
}

/* Header bytes up to and including the blank line: how many were taken. */
static int take_head(pa_http1_parser *p, const char *data, size_t n, size_t *took) {
    /* Find the blank line across the previous tail and the new data, so
     * body bytes never go through `head`. */
    size_t take = n, hk = p->head_len < 3 ? p->head_len : 3, dk = n < 3 ? n : 3;
    char edge[6];
    if (hk)
        memcpy(edge, p->head + p->head_len - hk, hk);
    memcpy(edge + hk, data, dk);
    const char *blank = memmem(edge, hk + dk, "\r\n\r\n", 4);
    int found = blank != NULL;
    if (found) {
        take = (size_t)(blank - edge) + 4 - hk;
    } else if ((blank = memmem(data, n, "\r\n\r\n", 4)) != NULL) {
        take = (size_t)(blank - data) + 4;
        found = 1;
    }
    if (take > PA_HTTP1_HEAD_MAX - p->head_len)
        return failed(p, "headers longer than 64 KiB");
    if (p->head_len + take > p->head_cap) {
        size_t cap = p->head_cap ? p->head_cap : 1024;
        while (cap < p->head_len + take)
            cap *= 2;
        char *grown = realloc(p->head, cap);
        if (!grown)
            return failed(p, "out of memory for the headers");
        p->head = grown;
        p->head_cap = cap;
    }
    memcpy(p->head + p->head_len, data, take);
    p->head_len += take;
    *took = take;
    return found;
}

/* A chunk-size, chunk-end or trailer line, which may come in pieces. */
static int take_line(pa_http1_parser *p, const char *data, size_t n, size_t *took) {
    const char *nl = memchr(data, '\n', n);
    size_t take = nl ? (size_t)(nl - data) + 1 : n;
    *took = take;
    if (p->state == PA_HTTP1_TRAILER) {
        p->trailer_len += take;
        if (p->trailer_len > PA_HTTP1_HEAD_MAX)
            return failed(p, "trailers longer than 64 KiB");
    }
    if (p->line_len + take >= sizeof(p->line)) {
        if (p->state != PA_HTTP1_TRAILER)
            return failed(p, p->state == PA_HTTP1_CHUNK_SIZE ? "chunk size line too long" : "no line end after a chunk");
        p->line_len = sizeof(p->line) - 1; /* a long trailer line: skipped, never empty */
    } else {
        memcpy(p->line + p->line_len, data, take);
        p->line_len += take;
    }
    if (!nl)
        return 0;
    size_t len = p->line_len;
    p->line_len = 0;
    if (p->state == PA_HTTP1_CHUNK_DATA_END) {
        if (!empty_line(p->line, len))
            return failed(p, "no line end after a chunk");
        p->state = PA_HTTP1_CHUNK_SIZE;
    } else if (p->state == PA_HTTP1_TRAILER) {
        if (empty_line(p->line, len))
            p->state = PA_HTTP1_COMPLETE;
    } else {
        if (chunk_size(p->line, len, &p->remaining) != 0)
            return failed(p, "chunk size is not a hex number below 2^60");
        p->state = p->remaining ? PA_HTTP1_CHUNK_DATA : PA_HTTP1_TRAILER;
    }
    return 0;
}

int pa_http1_feed(pa_http1_parser *p, const char *data, size_t n, size_t *used) {
    const char *start = data;
    *used = 0;
    if (p->state == PA_HTTP1_FAILED)
        return PA_HTTP1_ERROR;
    while (n > 0 && p->state != PA_HTTP1_COMPLETE) {
        size_t took = n;
        switch (p->state) {
        case PA_HTTP1_HEAD: {
            int found = take_head(p, data, n, &took);
            if (found < 0)
                return PA_HTTP1_ERROR;
            if (found) {
                if (parse_head(p) != 0)
                    return PA_HTTP1_ERROR;
                if (p->status < 200) { /* interim answer: the real one follows */
                    int keep = p->keep_body;
                    pa_http1_begin(p);
                    p->keep_body = keep;
                }
            }
            break;
        }
        case PA_HTTP1_BODY_LENGTH:
        case PA_HTTP1_CHUNK_DATA:
            if (took > p->remaining)
                took = (size_t)p->remaining;
            if (take_body(p, data, took) != 0)
                return PA_HTTP1_ERROR;
            p->remaining -= took;
            if (p->remaining == 0)
                p->state = p->state == PA_HTTP1_BODY_LENGTH ? PA_HTTP1_COMPLETE : PA_HTTP1_CHUNK_DATA_END;
            break;
        case PA_HTTP1_BODY_UNTIL_CLOSE:
            if (take_body(p, data, n) != 0)
                return PA_HTTP1_ERROR;
            break;
        case PA_HTTP1_CHUNK_SIZE:
        case PA_HTTP1_CHUNK_DATA_END:
        case PA_HTTP1_TRAILER:
            if (take_line(p, data, n, &took) != 0)
                return PA_HTTP1_ERROR;
            break;
        case PA_HTTP1_COMPLETE:
        case PA_HTTP1_FAILED:
            return PA_HTTP1_ERROR; /* not reached: the loop stops before */
        }
        data += took;
        n -= took;
    }
    *used = (size_t)(data - start);
    return p->state == PA_HTTP1_COMPLETE ? PA_HTTP1_DONE : PA_HTTP1_MORE;
}

int pa_http1_feed_all(pa_http1_parser *p, const char *data, size_t n) {
    size_t used;
    int rc = pa_http1_feed(p, data, n, &used);
    if (rc == PA_HTTP1_DONE && used < n)
        return failed(p, "bytes after the end of the response");
    return rc;
}

int pa_http1_end_of_stream(pa_http1_parser *p) {
    if (p->state == PA_HTTP1_BODY_UNTIL_CLOSE)
        p->state = PA_HTTP1_COMPLETE;
    if (p->state == PA_HTTP1_COMPLETE)
        return PA_HTTP1_DONE;
    if (p->state != PA_HTTP1_FAILED)
        p->why = "connection closed before the response was complete";
    return PA_HTTP1_ERROR;
}

int64_t pa_http1_content_length(const char *line, size_t n) {
    size_t vn;
    const char *v = header_value(line, n, "content-length", &vn);
    if (!v)
        return -1;
    int64_t length = decimal(v, vn);
    return length < 0 ? -2 : length;
}
