# WindowStats as compact bytes, for windows measured in another process (one
# client of a distributed run): the counters verbatim, each histogram as its
# non-empty buckets only. The header names the layout, so that bytes from a
# build with another struct or bucket layout are refused, never misread.

import struct as _struct

STATS_WIRE_MAGIC = b"PAWS"
STATS_WIRE_VERSION = 1
_WIRE_HEAD = _struct.Struct("<4sHHIII")   # magic, version, histograms, struct size, buckets, counters size
_WIRE_HIST = _struct.Struct("<QQQI")      # total, min, max, non-empty buckets
_WIRE_HISTS = 4                           # latency, response_latency, lag, first_response


cdef size_t _counters_size():
    cdef pa_window_stats s
    return <size_t> (<char *> &s.latency - <char *> &s)


cdef pa_hist *_wire_hist(pa_window_stats *s, int k) noexcept:
    if k == 0:
        return &s.latency
    if k == 1:
        return &s.response_latency
    if k == 2:
        return &s.lag
    return &s.first_response


def stats_to_bytes(WindowStats w) -> bytes:
    """The window as compact bytes (stats_from_bytes reads them back)."""
    cdef size_t head = _counters_size()
    cdef pa_hist *h
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] counts = np.empty(PA_HIST_BUCKETS, dtype=np.uint64)
    parts = [_WIRE_HEAD.pack(STATS_WIRE_MAGIC, STATS_WIRE_VERSION, _WIRE_HISTS, sizeof(pa_window_stats),
                             PA_HIST_BUCKETS, head),
             (<char *> w.s)[:head]]
    for k in range(_WIRE_HISTS):
        h = _wire_hist(w.s, k)
        memcpy(counts.data, h.counts, PA_HIST_BUCKETS * sizeof(uint64_t))
        index = np.flatnonzero(counts).astype("<u4")
        parts.append(_WIRE_HIST.pack(h.total, h.min, h.max, index.shape[0]))
        parts.append(index.tobytes())
        parts.append(counts[index].astype("<u8").tobytes())
    return b"".join(parts)


def stats_from_bytes(data) -> WindowStats:
    """A WindowStats from stats_to_bytes's bytes; ValueError (one line) for
    bytes of another format version or build, or cut short."""
    cdef const unsigned char[:] view = data
    cdef WindowStats w = WindowStats()
    cdef pa_hist *h
    cdef size_t head = _counters_size()
    cdef size_t n = view.shape[0]
    cdef size_t pos
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] counts = np.zeros(PA_HIST_BUCKETS, dtype=np.uint64)
    if n < <size_t> _WIRE_HEAD.size:
        raise ValueError(f"window statistics of {n} bytes: too short for the header")
    magic, version, hists, size, buckets, counters = _WIRE_HEAD.unpack_from(data, 0)
    if magic != STATS_WIRE_MAGIC or version != STATS_WIRE_VERSION:
        raise ValueError(f"window statistics in format {magic!r} v{version}, this build reads "
                         f"{STATS_WIRE_MAGIC!r} v{STATS_WIRE_VERSION}: install the same perfanalyzer everywhere")
    if hists != _WIRE_HISTS or size != sizeof(pa_window_stats) or buckets != PA_HIST_BUCKETS or counters != head:
        raise ValueError(f"window statistics from another build (struct {size} bytes, {buckets} buckets; this "
                         f"build: {sizeof(pa_window_stats)}, {PA_HIST_BUCKETS}): install the same perfanalyzer "
                         "everywhere")
    pos = _WIRE_HEAD.size
    if n < pos + head:
        raise ValueError(f"window statistics cut short at {n} bytes")
    memcpy(<char *> w.s, &view[pos], head)
    pos += head
    for k in range(_WIRE_HISTS):
        if n < pos + <size_t> _WIRE_HIST.size:
            raise ValueError(f"window statistics cut short at {n} bytes")
        total, lo, hi, nnz = _WIRE_HIST.unpack_from(data, pos)
        pos += _WIRE_HIST.size
        if nnz > PA_HIST_BUCKETS or n < pos + nnz * 12:
            raise ValueError(f"window statistics cut short at {n} bytes")
        index = np.frombuffer(data, dtype="<u4", count=nnz, offset=pos)
        pos += nnz * 4
        values = np.frombuffer(data, dtype="<u8", count=nnz, offset=pos)
        pos += nnz * 8
        if nnz and index.max() >= PA_HIST_BUCKETS:
            raise ValueError("window statistics name a histogram bucket past the last")
        counts[:] = 0
        counts[index] = values
        h = _wire_hist(w.s, k)
        h.total, h.min, h.max = total, lo, hi
        memcpy(h.counts, counts.data, PA_HIST_BUCKETS * sizeof(uint64_t))
    if pos != n:
        raise ValueError(f"window statistics of {n} bytes, {n - pos} past the end")
    return w
