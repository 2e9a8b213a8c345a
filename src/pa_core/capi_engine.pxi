# Triton in-process: the server loaded from libtritonserver.so at run time,
# and the engine that drives its asynchronous inference API.

from libc.stdint cimport uint32_t

cdef extern from "capi_config.h":
    ctypedef struct pa_capi_server:
        pass
    ctypedef struct pa_capi_server_options:
        const char *library
        const char *model_repository
        const char *backend_directory
        int verbose
        int startup_timeout_s
    ctypedef struct pa_capi_input:
        const char *name
        const char *datatype
        const int64_t *shape
        size_t n_dims
        const void *data
        size_t len
    ctypedef struct pa_capi_request:
        const pa_capi_input *inputs
        size_t n_inputs
    ctypedef struct pa_capi_config:
        pa_capi_server *server
        const char *model
        int64_t version
        const pa_capi_request *requests
        size_t n_requests
        long request_timeout_ms
        pa_sequencer *sequencer
        int fresh_requests
    enum pa_capi_document:
        PA_CAPI_METADATA
        PA_CAPI_CONFIG
        PA_CAPI_STATISTICS
    pa_capi_server *pa_capi_server_create(const pa_capi_server_options *o, char *err, size_t errlen) nogil
    int pa_capi_server_load_model(pa_capi_server *s, const char *model, int64_t version, char *err,
                                  size_t errlen) nogil
    char *pa_capi_server_json(pa_capi_server *s, pa_capi_document what, const char *model, int64_t version,
                              char *err, size_t errlen) nogil
    void pa_capi_server_api_version(const pa_capi_server *s, uint32_t *major, uint32_t *minor)
    int pa_capi_server_destroy(pa_capi_server *s, char *err, size_t errlen) nogil
    pa_engine *pa_capi_engine_create(const pa_capi_config *cfg, char *err, size_t errlen)


cdef class CapiServer:
    """A Triton server inside this process (explicit model control).

    Raises RuntimeError with the library's or the server's own message."""
    cdef pa_capi_server *s
    cdef readonly str library

    def __cinit__(self, str library, str model_repository, str backend_directory, bint verbose=False,
                  int startup_timeout_s=120):
        cdef char err[1024]
        cdef pa_capi_server_options o
        lib_b, repo_b, backends_b = library.encode(), model_repository.encode(), backend_directory.encode()
        o.library = lib_b
        o.model_repository = repo_b
        o.backend_directory = backends_b
        o.verbose = verbose
        o.startup_timeout_s = startup_timeout_s
        with nogil:
            self.s = pa_capi_server_create(&o, err, sizeof(err))
        if self.s == NULL:
            raise RuntimeError(err.decode(errors="replace"))
        self.library = library

    cdef pa_capi_server *_live(self) except NULL:
        if self.s == NULL:
            raise RuntimeError("the in-process server is stopped")
        return self.s

    @property
    def api_version(self) -> tuple:
        cdef uint32_t major, minor
        pa_capi_server_api_version(self._live(), &major, &minor)
        return major, minor

    def load_model(self, str model, long long version=-1) -> None:
        cdef char err[1024]
        cdef pa_capi_server *s = self._live()
        cdef int rc
        model_b = model.encode()
        cdef const char *m = model_b
        with nogil:
            rc = pa_capi_server_load_model(s, m, version, err, sizeof(err))
        if rc != 0:
            raise RuntimeError(err.decode(errors="replace"))

    def _json(self, pa_capi_document what, str model, long long version) -> str:
        cdef char err[1024]
        cdef pa_capi_server *s = self._live()
        cdef char *out
        model_b = model.encode()
        cdef const char *m = model_b
        with nogil:
            out = pa_capi_server_json(s, what, m, version, err, sizeof(err))
        if out == NULL:
            raise RuntimeError(err.decode(errors="replace"))
        try:
            return out.decode("utf-8", errors="replace")
        finally:
            free(out)

    def metadata(self, str model, long long version=-1) -> str:
        return self._json(PA_CAPI_METADATA, model, version)

    def config(self, str model, long long version=-1) -> str:
        return self._json(PA_CAPI_CONFIG, model, version)

    def statistics(self, str model, long long version=-1) -> str:
        return self._json(PA_CAPI_STATISTICS, model, version)

    def close(self) -> None:
        """Stops the server: models unload, backend processes exit. Engines
        created on it must be closed first. RuntimeError with Triton's message
        when the server did not stop within its exit timeout."""
        cdef char err[1024]
        cdef int rc = 0
        if self.s != NULL:
            with nogil:
                rc = pa_capi_server_destroy(self.s, err, sizeof(err))
            self.s = NULL
        if rc != 0:
            raise RuntimeError(err.decode(errors="replace"))

    def __dealloc__(self):
        if self.s != NULL:
            with nogil:
                pa_capi_server_destroy(self.s, NULL, 0)
            self.s = NULL


cdef pa_engine *_capi_create(const void *cfg, char *err, size_t errlen) noexcept:
    return pa_capi_engine_create(<const pa_capi_config *> cfg, err, errlen)


cdef class CapiEngine(Engine):
    """Load on a model of an in-process server.

    requests: a list of requests, cycled through in order; each request is a
    list of (name, datatype, shape, bytes) inputs, copied once into the engine.
    sequencer: a Sequencer (sequence models: requests are the streams' steps,
    sent with their correlation IDs and start/end flags), a list of one per
    thread, or None.
    threads: engine threads, each with its own copy of the requests, response
    allocator and share of the load, sharing one budget, counters and window
    recorder.
    fresh_requests: a new Triton request object per send (ensembles and
    sequence models; see capi_config.h)."""
    cdef readonly CapiServer server
    cdef readonly object sequencer  # kept alive: the C engine drives it

    def __cinit__(self, CapiServer server, str model, list requests, long long version=-1,
                  long request_timeout_ms=0, object sequencer=None, unsigned threads=1,
                  bint fresh_requests=False):
        cdef pa_capi_config cfg
        cdef Py_ssize_t i, j, k, n = len(requests), total = 0
        if n == 0:
            raise ValueError("at least one request is required")
        for r in requests:
            total += len(r)
        cdef pa_capi_request *creqs = <pa_capi_request *> malloc(n * sizeof(pa_capi_request))
        cdef pa_capi_input *cins = <pa_capi_input *> malloc((total if total else 1) * sizeof(pa_capi_input))
        cdef int64_t *dims
        keep = []  # the encoded names and bytes stay alive while create() copies them
        dim_ptrs = []
        if creqs == NULL or cins == NULL:
            free(creqs)
            free(cins)
            raise MemoryError()
        try:
            k = 0
            for i in range(n):
                creqs[i].inputs = &cins[k]
                creqs[i].n_inputs = len(requests[i])
                for name, datatype, shape, data in requests[i]:
                    name_b, dtype_b, data_b = name.encode(), datatype.encode(), bytes(data)
                    keep.extend((name_b, dtype_b, data_b))
                    dims = <int64_t *> malloc((len(shape) or 1) * sizeof(int64_t))
                    if dims == NULL:
                        raise MemoryError()
                    dim_ptrs.append(<size_t> dims)
                    for j in range(len(shape)):
                        dims[j] = shape[j]
                    cins[k].name = <const char *> name_b
                    cins[k].datatype = <const char *> dtype_b
                    cins[k].shape = dims
                    cins[k].n_dims = len(shape)
                    cins[k].data = <const char *> data_b
                    cins[k].len = len(data_b)
                    k += 1
            model_b = model.encode()
            cfg.server = server._live()
            cfg.model = model_b
            cfg.version = version
            cfg.requests = creqs
            cfg.n_requests = n
            cfg.request_timeout_ms = request_timeout_ms
            cfg.fresh_requests = fresh_requests
            self.sequencer = _create_group(self, _capi_create, &cfg, &cfg.sequencer, sequencer, n, threads,
                                           " requests")
            self.server = server
            self.keep = (server, self.sequencer)
        finally:
            for p in dim_ptrs:
                free(<void *> <size_t> p)
            free(cins)
            free(creqs)
