# Protobuf responses checked against validation_data (KServe v2, TF Serving), and the reader they use.
from libc.stdint cimport uint8_t, uint32_t

cdef extern from "pb_reader.h":
    ctypedef struct pb_reader:
        pass
    ctypedef struct pb_field:
        uint32_t number
        int wire
        uint64_t value
        const uint8_t *data
        size_t len
    void pb_reader_init(pb_reader *r, const void *data, size_t len)
    int pb_next(pb_reader *r, pb_field *f) nogil

cdef extern from "grpc_validate.h":
    ctypedef struct pa_body_buf:
        char *data
        size_t len, cap
        int overflow
    int pa_check_response(const pa_validator *v, int format, size_t body, const uint8_t *p, size_t len,
                          pa_body_buf *scratch, char *msg, size_t msglen)

RESPONSE_FORMATS = ("kserve", "tf_predict")  # position = enum pa_response_format


def pb_fields(bytes message) -> list:
    """The fields of one protobuf message as the engines' reader sees them:
    (number, wire type, value) with the bytes of length-delimited fields and
    the integer of the others. ValueError when the message is malformed."""
    cdef pb_reader r
    cdef pb_field f
    cdef int rc
    out = []
    pb_reader_init(&r, <const char *> message, len(message))
    while True:
        rc = pb_next(&r, &f)
        if rc == 0:
            return out
        if rc < 0:
            raise ValueError(f"malformed protobuf message after {len(out)} fields")
        if f.wire == 2:
            out.append((f.number, f.wire, (<const char *> f.data)[:f.len]))
        else:
            out.append((f.number, f.wire, f.value))


def check_grpc_response(Validator validator, size_t body, bytes response, str response_format="kserve"):
    """None when a serialized response (ModelInferResponse, or PredictResponse
    for "tf_predict") has every expected output of body `body`, else the
    message the engines count the request failed with."""
    if response_format not in RESPONSE_FORMATS:
        raise ValueError(f"unknown response format '{response_format}'")
    cdef char msg[PA_ERROR_MESSAGE_LEN]
    cdef pa_body_buf scratch
    scratch.data = NULL
    scratch.len = scratch.cap = 0
    scratch.overflow = 0
    try:
        if pa_check_response(validator.v, RESPONSE_FORMATS.index(response_format), body,
                             <const uint8_t *> <const char *> response, len(response), &scratch, msg, sizeof(msg)):
            return msg.decode(errors="replace")
        return None
    finally:
        free(scratch.data)
