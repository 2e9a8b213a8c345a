# Sequences for stateful models: correlation IDs, steps and start/end flags, chosen in C per request.

cdef extern from "sequence.h":
    ctypedef struct pa_seq_config:
        uint64_t id_start
        uint64_t id_range
        uint64_t id_stride
        unsigned length
        double variation
        const size_t *stream_len
        size_t n_streams
        unsigned n_sequences
        int serial
        uint64_t seed
    ctypedef struct pa_seq_request:
        unsigned seq
        size_t body
        uint64_t id
        unsigned step
        int start
        int end
    ctypedef struct pa_sequencer:
        pass
    pa_sequencer *pa_seq_create(const pa_seq_config *cfg)
    void pa_seq_destroy(pa_sequencer *q)
    int pa_seq_next(pa_sequencer *q, long slot, pa_seq_request *out)
    void pa_seq_done(pa_sequencer *q, unsigned seq)
    uint64_t pa_seq_started(const pa_sequencer *q)
    void pa_seq_close(pa_sequencer *q)
    int pa_seq_close_ready(const pa_sequencer *q, long slot)
    unsigned pa_seq_open(const pa_sequencer *q)


cdef class Sequencer:
    """Which sequence each request belongs to. The engine's bodies are the
    streams' steps back to back (stream_lengths gives how many each has);
    length 0 plays each stream whole, else lengths vary by +/- variation.
    n_sequences > 0: open loop over that many sequences; 0: one per slot.
    Ids are id_start + id_stride * (n mod id_range): a stride g lets g
    sequencers (one per engine thread) share a range, interleaved."""
    cdef pa_sequencer *q
    cdef readonly size_t n_bodies
    cdef int in_use

    def __cinit__(self, stream_lengths, uint64_t id_start=1, uint64_t id_range=0xFFFFFFFF, unsigned length=0,
                  double variation=0.2, unsigned n_sequences=0, bint serial=False, uint64_t seed=0,
                  uint64_t id_stride=1):
        cdef Py_ssize_t n = len(stream_lengths), i
        if n == 0 or id_range == 0 or id_stride == 0:
            raise ValueError("a sequencer needs at least one stream, a non-empty id range and an id stride >= 1")
        if int(id_start) + int(id_stride) * (int(id_range) - 1) >= 2**64:
            raise ValueError("the last id of the range, id_start + id_stride * (id_range - 1), exceeds 2^64 - 1")
        cdef size_t *lens = <size_t *> malloc(n * sizeof(size_t))
        if lens == NULL:
            raise MemoryError()
        cdef pa_seq_config cfg
        try:
            for i in range(n):
                lens[i] = stream_lengths[i]
            cfg.id_start = id_start
            cfg.id_range = id_range
            cfg.id_stride = id_stride
            cfg.length = length
            cfg.variation = variation
            cfg.stream_len = lens
            cfg.n_streams = n
            cfg.n_sequences = n_sequences
            cfg.serial = serial
            cfg.seed = seed
            self.q = pa_seq_create(&cfg)
        finally:
            free(lens)
        if self.q == NULL:
            raise MemoryError()
        self.n_bodies = sum(stream_lengths)

    def __dealloc__(self):
        pa_seq_destroy(self.q)
        self.q = NULL

    cdef pa_sequencer *take(self) except NULL:
        """For an engine: a sequencer drives one engine only (its state is the engine thread's)."""
        if self.in_use:
            raise ValueError("this Sequencer is already used by an engine")
        self.in_use = 1
        return self.q

    def next(self, long slot=-1):
        """For tests (never on a sequencer an engine uses): the next request as
        (sequence, body, id, step, start, end), or None when none can take it."""
        cdef pa_seq_request r
        if self.in_use:
            raise ValueError("this Sequencer is used by an engine")
        if pa_seq_next(self.q, slot, &r) != 0:
            return None
        return (r.seq, r.body, r.id, r.step, bool(r.start), bool(r.end))

    def done(self, unsigned seq) -> None:
        if self.in_use:
            raise ValueError("this Sequencer is used by an engine")
        pa_seq_done(self.q, seq)

    @property
    def started(self) -> int:
        return pa_seq_started(self.q)

    def close(self) -> None:
        """For tests: as an engine does when its run ends; from then on next()
        gives each open sequence its last request (end flag) and starts none."""
        if self.in_use:
            raise ValueError("this Sequencer is used by an engine")
        pa_seq_close(self.q)

    def close_ready(self, long slot=-1) -> bool:
        return bool(pa_seq_close_ready(self.q, slot))

    @property
    def open(self) -> int:
        """Sequences started and not yet given their end request."""
        return pa_seq_open(self.q)
