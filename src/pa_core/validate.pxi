# Output validation (validation_data): expected output bytes per request body, checked in C.

cdef extern from "validate.h":
    ctypedef struct pa_validator:
        pass
    pa_validator *pa_validator_create(size_t n_bodies)
    void pa_validator_destroy(pa_validator *v)
    int pa_validator_add_output(pa_validator *v, size_t body, const char *name, const char *datatype,
                                const void *data, size_t len, size_t rows)
    int pa_validator_set_steps(pa_validator *v, size_t body, const long *steps, size_t rows, long stream)
    int pa_validator_check_output(const pa_validator *v, size_t body, const char *name, size_t name_len,
                                  const char *data, size_t len, char *msg, size_t msglen)
    int pa_validator_check_http(const pa_validator *v, size_t body, const char *resp, size_t resp_len,
                                long json_len, char *msg, size_t msglen)


cdef class Validator:
    """Expected outputs of each request body (index = position in the engine's
    bodies). An engine given a Validator compares every successful response
    and counts a mismatch as a failed request with perf_analyzer's message."""
    cdef pa_validator *v
    cdef readonly size_t n_bodies

    def __cinit__(self, size_t n_bodies):
        self.v = pa_validator_create(n_bodies)
        if self.v == NULL:
            raise MemoryError()
        self.n_bodies = n_bodies

    def __dealloc__(self):
        pa_validator_destroy(self.v)
        self.v = NULL

    def add_output(self, size_t body, str name, str datatype, bytes data, size_t rows=1) -> None:
        """Body `body` must return exactly `data` (raw little-endian; BYTES length-prefixed) for `name`."""
        nb, db = name.encode(), datatype.encode()
        if pa_validator_add_output(self.v, body, nb, db, <const char *> data, len(data), rows) != 0:
            raise ValueError(f"cannot add expected output '{name}' for body {body}")

    def set_steps(self, size_t body, steps, long stream=0) -> None:
        """The data steps of each batch row of body `body` (named in mismatch messages)."""
        cdef Py_ssize_t n = len(steps), i
        cdef long *arr = <long *> malloc(max(n, 1) * sizeof(long))
        if arr == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                arr[i] = steps[i]
            if pa_validator_set_steps(self.v, body, arr, n, stream) != 0:
                raise ValueError(f"cannot set the steps of body {body}")
        finally:
            free(arr)

    def check_output(self, size_t body, str name, bytes data):
        """None when `data` matches (or the output is not expected), else the mismatch message."""
        cdef char msg[PA_ERROR_MESSAGE_LEN]
        nb = name.encode()
        if pa_validator_check_output(self.v, body, nb, len(nb), <const char *> data, len(data), msg, sizeof(msg)):
            return msg.decode(errors="replace")
        return None

    def check_http(self, size_t body, bytes response, long json_len=-1):
        """None when an HTTP response body (JSON header of json_len bytes + binary outputs) matches.
        json_len -1: no Inference-Header-Content-Length (all JSON); -2: one that is not a number."""
        cdef char msg[PA_ERROR_MESSAGE_LEN]
        if pa_validator_check_http(self.v, body, <const char *> response, len(response), json_len, msg, sizeof(msg)):
            return msg.decode(errors="replace")
        return None
