# The native HTTP client's response parser, fed arbitrary bytes by tests.
from libc.string cimport memset

cdef extern from "http1_parse.h":
    enum: PA_HTTP1_ERROR_BODY_LEN
    ctypedef struct pa_http1_parser:
        int state
        long status
        int chunked
        int64_t content_length
        uint64_t bytes_in
        int close_after
        size_t err_len
        char err_body[PA_HTTP1_ERROR_BODY_LEN]
        int keep_body
        pa_body_buf resp
        long json_len
        const char *why
    void pa_http1_begin(pa_http1_parser *p)
    int pa_http1_feed(pa_http1_parser *p, const char *data, size_t n, size_t *used)
    int pa_http1_feed_all(pa_http1_parser *p, const char *data, size_t n)
    int pa_http1_end_of_stream(pa_http1_parser *p)
    void pa_http1_release(pa_http1_parser *p)

HTTP1_ERROR, HTTP1_MORE, HTTP1_DONE = -1, 0, 1


cdef class Http1Parser:
    """One connection's response parser, as the native HTTP engine runs it:
    feed() takes bytes in any pieces and says DONE (with how many bytes the
    response took), MORE, or ERROR (with `why`)."""
    cdef pa_http1_parser p

    def __cinit__(self, bint keep_body=False):
        memset(&self.p, 0, sizeof(self.p))
        pa_http1_begin(&self.p)
        self.p.keep_body = keep_body

    def __dealloc__(self):
        pa_http1_release(&self.p)

    def begin(self) -> None:
        """Ready for the next response on the same connection."""
        pa_http1_begin(&self.p)

    def feed(self, bytes data) -> tuple:
        """(HTTP1_DONE/MORE/ERROR, bytes taken)."""
        cdef size_t used = 0
        cdef int rc = pa_http1_feed(&self.p, <const char *> data, len(data), &used)
        return rc, used

    def feed_all(self, bytes data) -> int:
        """As the engine feeds: bytes after a complete response are an error."""
        return pa_http1_feed_all(&self.p, <const char *> data, len(data))

    def end_of_stream(self) -> int:
        return pa_http1_end_of_stream(&self.p)

    @property
    def status(self) -> int:
        return self.p.status

    @property
    def content_length(self) -> int:
        return self.p.content_length

    @property
    def chunked(self) -> bool:
        return bool(self.p.chunked)

    @property
    def close_after(self) -> bool:
        return bool(self.p.close_after)

    @property
    def body_bytes(self) -> int:
        return self.p.bytes_in

    @property
    def body(self) -> bytes:
        """The body as kept for validation (keep_body=True)."""
        return self.p.resp.data[:self.p.resp.len] if self.p.resp.len else b""

    @property
    def error_body(self) -> bytes:
        return self.p.err_body[:self.p.err_len]

    @property
    def json_len(self) -> int:
        return self.p.json_len

    @property
    def why(self):
        return self.p.why.decode() if self.p.why != NULL else None
