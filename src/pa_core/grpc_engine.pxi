# gRPC transport: unary calls on the gRPC C core.

from libc.stdint cimport uint8_t

cdef extern from "grpc_config.h":
    ctypedef struct pa_grpc_message:
        const char *data
        size_t len
    ctypedef struct pa_grpc_config:
        const char *target
        const char *method
        const pa_grpc_message *messages
        size_t n_messages
        unsigned channels
        int compression
        long request_timeout_ms
        int use_ssl
        const char *root_certs
        const char *private_key
        const char *cert_chain
        const pa_validator *validator
        int response_format
        pa_sequencer *sequencer
    pa_engine *pa_grpc_engine_create(const pa_grpc_config *cfg, char *err, size_t errlen)
    pa_engine *pa_grpc_stream_engine_create(const pa_grpc_config *cfg, char *err, size_t errlen)
    const char *pa_grpc_status_name(int code)

cdef extern from "grpc_sequence.h":
    ctypedef struct pa_grpc_seq_fields:
        size_t id
        size_t start
        size_t end
    int pa_grpc_seq_find(const uint8_t *msg, size_t len, pa_grpc_seq_fields *f, char *err, size_t errlen)
    void pa_grpc_seq_patch(uint8_t *msg, const pa_grpc_seq_fields *f, const pa_seq_request *r)
    size_t pa_grpc_seq_render(const uint8_t *msg, size_t len, const pa_grpc_seq_fields *f, const pa_seq_request *r,
                              uint8_t *out)

GRPC_COMPRESSION = ("none", "deflate", "gzip")  # position = the C enum's value
GRPC_INFER_METHOD = "/inference.GRPCInferenceService/ModelInfer"
GRPC_STREAM_METHOD = "/inference.GRPCInferenceService/ModelStreamInfer"


cdef pa_engine *_grpc_unary_create(const void *cfg, char *err, size_t errlen) noexcept:
    return pa_grpc_engine_create(<const pa_grpc_config *> cfg, err, errlen)


cdef pa_engine *_grpc_stream_create(const void *cfg, char *err, size_t errlen) noexcept:
    return pa_grpc_stream_engine_create(<const pa_grpc_config *> cfg, err, errlen)


def grpc_status_name(int code) -> str:
    return pa_grpc_status_name(code).decode()


def grpc_sequence_fields(bytes message) -> tuple:
    """Where a serialized ModelInferRequest's sequence_id, sequence_start and
    sequence_end values are (byte offsets); ValueError says what is wrong."""
    cdef pa_grpc_seq_fields f
    cdef char err[256]
    if pa_grpc_seq_find(<const uint8_t *> message, len(message), &f, err, sizeof(err)) != 0:
        raise ValueError(err.decode(errors="replace"))
    return (f.id, f.start, f.end)


def grpc_sequence_message(bytes message, uint64_t id, bint start, bint end, bint in_place=False) -> tuple:
    """For tests: (the message as the gRPC engines send it for that sequence
    step, how many slices it went out in); in_place patches a copy instead."""
    cdef pa_grpc_seq_fields f
    cdef pa_seq_request r
    cdef char err[256]
    if pa_grpc_seq_find(<const uint8_t *> message, len(message), &f, err, sizeof(err)) != 0:
        raise ValueError(err.decode(errors="replace"))
    r.id = id
    r.start = start
    r.end = end
    out = bytearray(message)
    cdef uint8_t *o = <uint8_t *> (<char *> out)
    if in_place:
        pa_grpc_seq_patch(o, &f, &r)
        return bytes(out), 1
    n = pa_grpc_seq_render(<const uint8_t *> message, len(message), &f, &r, o)
    return bytes(out), n


cdef class GrpcEngine(Engine):
    """gRPC load: N calls in flight on the engine thread.

    streaming: one bidirectional ModelStreamInfer stream per slot instead of
    unary calls; the messages must ask for the final-response flag.
    messages: serialized request messages (bytes) cycled through in order;
    channels: calls go round-robin over this many channels (connections),
    each engine thread its own;
    threads: engine threads, each with its own channels, completion queue and
    share of the load, sharing one budget, counters and window recorder;
    root_certs / private_key / cert_chain: PEM contents (bytes) when use_ssl;
    sequencer: a Sequencer (sequence models: messages are the streams' steps,
    each with the sequence parameters of services/triton_grpc.py), a list of
    one per thread, or None;
    validator: a Validator with the expected outputs of each message, or None;
    response_format: what the responses are, "kserve" (ModelInferResponse) or
    "tf_predict" (TF Serving's PredictResponse), for the validator."""
    cdef readonly str target
    cdef readonly object validator  # kept alive: the C engine reads it
    cdef readonly unsigned channels

    cdef readonly bint streaming
    cdef readonly object sequencer  # kept alive: the C engine drives it

    def __cinit__(self, str target, list messages, str method="", unsigned channels=1,
                  str compression="none", long request_timeout_ms=0, bint use_ssl=False,
                  bytes root_certs=None, bytes private_key=None, bytes cert_chain=None, bint streaming=False,
                  object sequencer=None, Validator validator=None, str response_format="kserve",
                  unsigned threads=1):
        if compression not in GRPC_COMPRESSION:
            raise ValueError(f"unknown gRPC compression '{compression}' (expected one of {', '.join(GRPC_COMPRESSION)})")
        cdef pa_grpc_config cfg
        cdef Py_ssize_t i, n = len(messages)
        if n == 0:
            raise ValueError("at least one request message is required")
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(f"unknown response format '{response_format}' (expected one of "
                             f"{', '.join(RESPONSE_FORMATS)})")
        if validator is not None and validator.n_bodies != n:
            raise ValueError(f"the validator has {validator.n_bodies} bodies, the engine {n}")
        cdef pa_grpc_message *cm = <pa_grpc_message *> malloc(n * sizeof(pa_grpc_message))
        if cm == NULL:
            raise MemoryError()
        keep = []  # holds the bytes alive while create() copies them
        cdef bytes b
        try:
            for i in range(n):
                b = bytes(messages[i])
                keep.append(b)
                cm[i].data = <const char *> b
                cm[i].len = len(b)
            target_b = target.encode()
            method_b = (method or (GRPC_STREAM_METHOD if streaming else GRPC_INFER_METHOD)).encode()
            cfg.target = <const char *> target_b
            cfg.method = <const char *> method_b
            cfg.messages = cm
            cfg.n_messages = n
            cfg.channels = channels
            cfg.compression = GRPC_COMPRESSION.index(compression)
            cfg.request_timeout_ms = request_timeout_ms
            cfg.use_ssl = use_ssl
            cfg.root_certs = <const char *> root_certs if root_certs is not None else NULL
            cfg.private_key = <const char *> private_key if private_key is not None else NULL
            cfg.cert_chain = <const char *> cert_chain if cert_chain is not None else NULL
            cfg.validator = validator.v if validator is not None else NULL
            cfg.response_format = RESPONSE_FORMATS.index(response_format)
            self.sequencer = _create_group(self, _grpc_stream_create if streaming else _grpc_unary_create, &cfg,
                                           &cfg.sequencer, sequencer, n, threads, " messages")
            self.target = target
            self.channels = channels if channels else 1
            self.streaming = streaming
            self.validator = validator
            self.keep = (validator, self.sequencer)
        finally:
            free(cm)
