# HTTP transports: our own HTTP/1.1 client and libcurl multi.

from libc.string cimport memset

cdef extern from "http_config.h":
    ctypedef struct pa_http_body:
        const char *data
        size_t len
        const char *const *headers
        size_t n_headers
    ctypedef struct pa_http_config:
        const char *url
        const pa_http_body *bodies
        size_t n_bodies
        long request_timeout_ms
        long connect_timeout_ms
        long tls_verify_peer
        long tls_verify_host
        const char *tls_ca_file
        const char *tls_cert_file
        const char *tls_cert_type
        const char *tls_key_file
        const char *tls_key_type
        const pa_validator *validator
        pa_sequencer *sequencer
    int pa_curl_global_init()
    pa_engine *pa_curl_engine_create(const pa_http_config *cfg, char *err, size_t errlen)
    pa_engine *pa_http1_engine_create(const pa_http_config *cfg, char *err, size_t errlen)

if pa_curl_global_init() != 0:
    raise ImportError("libcurl global initialisation failed")

HTTP_CLIENTS = ("native", "curl")


cdef pa_engine *_http1_create(const void *cfg, char *err, size_t errlen) noexcept:
    return pa_http1_engine_create(<const pa_http_config *> cfg, err, errlen)


cdef pa_engine *_curl_create(const void *cfg, char *err, size_t errlen) noexcept:
    return pa_curl_engine_create(<const pa_http_config *> cfg, err, errlen)


cdef class HttpEngine(Engine):
    """Closed-loop HTTP load: N requests in flight on the engine thread.

    bodies: a list of (body bytes, ["Header: value", ...]) cycled through in order.
    client: "native" (our HTTP/1.1 client, plain http:// only) or "curl"
    (libcurl multi, also https://); "auto" picks native where it can.
    tls: for https://, a dict with verify_peer (default 1), verify_host
    (default 2), ca_file, cert_file, cert_type, key_file, key_type.
    threads: engine threads, each with its own connections and share of the
    load, sharing one budget, one set of counters and one window recorder.
    validator: a Validator with the expected outputs of each body, or None.
    sequencer: a Sequencer (sequence models: bodies are the streams' steps), or
    a list of one per thread (a sequencer's state belongs to its thread, so
    each must have its own ids and sequences), or None."""
    cdef readonly str url
    cdef readonly str client
    cdef readonly object validator  # kept alive: the C engine reads it
    cdef readonly object sequencer  # kept alive: the C engine drives it

    def __cinit__(self, str url, list bodies, long request_timeout_ms=0, long connect_timeout_ms=0,
                  str client="auto", dict tls=None, unsigned threads=1, Validator validator=None,
                  object sequencer=None):
        if client == "auto":
            client = "native" if url.startswith("http://") else "curl"
        if client not in HTTP_CLIENTS:
            raise ValueError(f"unknown HTTP client '{client}' (expected one of {', '.join(HTTP_CLIENTS)})")
        cdef pa_http_config cfg
        memset(&cfg, 0, sizeof(cfg))
        tls = dict(tls or {})
        tls_b = {k: (tls.get(k) or "").encode() for k in ("ca_file", "cert_file", "cert_type", "key_file",
                                                         "key_type")}
        cdef Py_ssize_t i, j, n = len(bodies)
        if n == 0:
            raise ValueError("at least one request body is required")
        cdef pa_http_body *cb = <pa_http_body *> malloc(n * sizeof(pa_http_body))
        if cb == NULL:
            raise MemoryError()
        keep = []  # holds the bytes objects alive while create() copies them
        cdef list hdrs
        cdef bytes bdata, h
        cdef const char **hp
        headers_ptrs = []
        try:
            for i in range(n):
                data, hdrs = bodies[i]
                bdata = bytes(data)
                enc = [hs.encode("latin-1") for hs in hdrs]
                keep.append(bdata)
                keep.extend(enc)
                hp = <const char **> malloc((len(enc) + 1) * sizeof(char *))
                if hp == NULL:
                    raise MemoryError()
                headers_ptrs.append(<size_t> hp)
                for j in range(len(enc)):
                    h = enc[j]
                    hp[j] = <const char *> h
                cb[i].data = <const char *> bdata
                cb[i].len = len(bdata)
                cb[i].headers = hp
                cb[i].n_headers = len(enc)
            url_b = url.encode()
            cfg.url = <const char *> url_b
            cfg.bodies = cb
            cfg.n_bodies = n
            cfg.request_timeout_ms = request_timeout_ms
            cfg.connect_timeout_ms = connect_timeout_ms
            cfg.tls_verify_peer = int(tls.get("verify_peer", 1))
            cfg.tls_verify_host = int(tls.get("verify_host", 2))
            cfg.tls_ca_file = <const char *> tls_b["ca_file"]
            cfg.tls_cert_file = <const char *> tls_b["cert_file"]
            cfg.tls_cert_type = <const char *> tls_b["cert_type"]
            cfg.tls_key_file = <const char *> tls_b["key_file"]
            cfg.tls_key_type = <const char *> tls_b["key_type"]
            cfg.validator = validator.v if validator is not None else NULL
            if validator is not None and validator.n_bodies != n:
                raise ValueError(f"the validator has {validator.n_bodies} bodies, the engine {n}")
            self.sequencer = _create_group(self, _http1_create if client == "native" else _curl_create, &cfg,
                                           &cfg.sequencer, sequencer, n, threads)
            self.url = url
            self.validator = validator
            self.keep = (validator, self.sequencer)
            self.client = client
        finally:
            for p in headers_ptrs:
                free(<void *> <size_t> p)
            free(cb)

