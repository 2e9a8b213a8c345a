# Engine threads, the same for every transport: the C engine is created once
# per thread from one configuration, and the engines after the first join the
# first's group (pa_engine_add_member): each has its own connections and
# thread, all share one budget, one set of counters and one window recorder.

# Creates one C engine of a transport from its configuration (a pa_*_config).
ctypedef pa_engine *(*engine_create_fn)(const void *cfg, char *err, size_t errlen) noexcept


def _thread_sequencers(sequencer, unsigned threads, Py_ssize_t n_bodies, str unit=""):
    """One Sequencer per engine thread, checked before any is taken."""
    if sequencer is None:
        return []
    seqs = list(sequencer) if isinstance(sequencer, (list, tuple)) else [sequencer]
    if len(seqs) != threads:
        raise ValueError(f"{threads} engine threads need as many sequencers, got {len(seqs)}")
    for q in seqs:
        if not isinstance(q, Sequencer):
            raise TypeError(f"sequencer: expected a Sequencer, got {type(q).__name__}")
        if (<Sequencer> q).n_bodies != n_bodies:
            raise ValueError(f"the sequencer has {(<Sequencer> q).n_bodies} bodies, the engine {n_bodies}{unit}")
    if len(set(map(id, seqs))) != len(seqs):
        raise ValueError("each engine thread needs a Sequencer of its own")
    return seqs


cdef object _create_group(Engine engine, engine_create_fn create, const void *cfg, pa_sequencer **cfg_sequencer,
                          object sequencer, Py_ssize_t n_bodies, unsigned threads, str unit=""):
    """Sets engine.e to a group of `threads` engines made by create(cfg); with
    a sequencer (one, or a list of one per thread), thread k's goes into
    *cfg_sequencer before its engine is made. Returns the sequencer(s) to keep
    alive; RuntimeError carries the transport's own message."""
    if threads < 1:
        raise ValueError("threads must be >= 1")
    seqs = _thread_sequencers(sequencer, threads, n_bodies, unit)
    cdef char err[512]
    cdef pa_engine *one
    cdef unsigned t
    for t in range(threads):
        cfg_sequencer[0] = (<Sequencer> seqs[t]).take() if seqs else NULL
        one = create(cfg, err, sizeof(err))
        if one == NULL:
            raise RuntimeError(err.decode(errors="replace"))  # members made so far go with the lead
        if t == 0:
            engine.e = one
        elif pa_engine_add_member(engine.e, one) != 0:
            pa_engine_destroy(one)
            raise MemoryError()
    engine.threads = threads
    return tuple(sequencer) if isinstance(sequencer, list) else sequencer
