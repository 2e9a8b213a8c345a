# Open-loop schedules: made from the load flags for an engine, and their send
# times as the engine steps through them (for tests and for a split over processes).

DISTRIBUTIONS = {"constant": PA_LOAD_CONSTANT, "poisson": PA_LOAD_POISSON}


cdef int _make_schedule(pa_schedule *out, str distribution, double rate, uint64_t seed, intervals_ns) except -1:
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] arr
    cdef int rc
    if intervals_ns is not None:
        arr = np.ascontiguousarray(intervals_ns, dtype=np.uint64)
        rc = pa_schedule_init(out, PA_LOAD_INTERVALS, 0, 0, <uint64_t *> arr.data, arr.shape[0])
        if rc != 0:
            raise ValueError("the interval list is empty or sums to zero")
        return 0
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown request distribution '{distribution}' (expected constant or poisson)")
    if pa_schedule_init(out, DISTRIBUTIONS[distribution], rate, seed, NULL, 0) != 0:
        raise ValueError(f"request rate must be a positive number, got {rate}")
    return 0


def schedule_times(uint64_t n, str distribution="constant", double rate=1.0, uint64_t seed=0,
                   intervals_ns=None, unsigned part=0, unsigned parts=1):
    """The first n send times (ns from the start) the engine would use; of
    part `part` of a schedule split over `parts` processes (times part,
    part + parts, ...), as the engine's open loop steps through them."""
    if parts == 0 or part >= parts:
        raise ValueError(f"part {part} of {parts}")
    cdef pa_schedule sc
    _make_schedule(&sc, distribution, rate, seed, intervals_ns)
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] out = np.empty(n, dtype=np.uint64)
    cdef uint64_t i
    cdef unsigned j
    pa_schedule_start(&sc, 0)
    for j in range(part):
        pa_schedule_advance(&sc)
    for i in range(n):
        out[i] = sc.due_ns
        for j in range(parts):
            pa_schedule_advance(&sc)
    pa_schedule_free(&sc)
    return out
