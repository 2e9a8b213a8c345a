"""The native HTTP client's response parser, fed bytes directly: normal
answers in every split, chunked bodies, kept-alive connections carrying one
answer after another, and what lying or garbled servers send. Every length
read from the peer is checked: a bad answer is ERROR with a reason."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from perfanalyzer import _core
from perfanalyzer._core import HTTP1_DONE, HTTP1_ERROR, HTTP1_MORE

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\nhello world"
CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n1;ext=1\r\n \r\n000005\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n")
ERROR_500 = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 16\r\n\r\n{\"error\":\"boom\"}"
UNTIL_CLOSE = b"HTTP/1.0 200 OK\r\n\r\nall of it"


def parse(data: bytes, keep_body: bool = True) -> _core.Http1Parser:
    p = _core.Http1Parser(keep_body)
    rc, used = p.feed(data)
    assert (rc, used) == (HTTP1_DONE, len(data)), (rc, used, p.why)
    return p


def test_content_length_answer() -> None:
    p = parse(OK)
    assert p.status == 200 and p.content_length == 11 and not p.chunked and not p.close_after
    assert p.body == b"hello world" and p.body_bytes == 11 and p.error_body == b""


def test_chunked_answer_with_extensions_leading_zeros_and_trailers() -> None:
    p = parse(CHUNKED)
    assert p.chunked and p.body == b"hello world" and p.body_bytes == 11


def test_error_answer_keeps_its_text_and_close_ends_a_body() -> None:
    p = parse(ERROR_500, keep_body=False)
    assert p.status == 500 and p.error_body == b'{"error":"boom"}' and p.body == b""
    p = _core.Http1Parser(True)
    assert p.feed(UNTIL_CLOSE) == (HTTP1_MORE, len(UNTIL_CLOSE))
    assert p.end_of_stream() == HTTP1_DONE and p.body == b"all of it" and p.close_after


def test_interim_answers_are_skipped_and_empty_bodies_end_at_the_head() -> None:
    p = parse(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
    assert p.status == 200 and p.body == b"hello world"
    for head in (b"HTTP/1.1 204 No Content\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"):
        assert parse(head).body_bytes == 0


def test_connection_headers() -> None:
    assert parse(b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").close_after
    assert parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").close_after
    assert not parse(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").close_after


def test_inference_header_length_is_read_when_validating() -> None:
    head = b"HTTP/1.1 200 OK\r\nInference-Header-Content-Length: 7\r\nContent-Length: 9\r\n\r\n{\"a\":1}\0\0"
    assert parse(head).json_len == 7
    assert parse(head, keep_body=False).json_len == -1
    bad = head.replace(b": 7", b": 99999999999999999999")
    assert parse(bad).json_len == -2  # left for the validation to report


def test_every_split_gives_the_same_answer() -> None:
    for answer in (OK, CHUNKED, ERROR_500, b"HTTP/1.1 100 Continue\r\n\r\n" + CHUNKED):
        whole = parse(answer)
        for cut in range(1, len(answer)):
            p = _core.Http1Parser(True)
            assert p.feed(answer[:cut]) == (HTTP1_MORE, cut), cut
            assert p.feed(answer[cut:]) == (HTTP1_DONE, len(answer) - cut), cut
            assert (p.status, p.body, p.error_body) == (whole.status, whole.body, whole.error_body), cut


def test_byte_by_byte() -> None:
    p = _core.Http1Parser(True)
    for i in range(len(CHUNKED) - 1):
        assert p.feed(CHUNKED[i:i + 1]) == (HTTP1_MORE, 1), i
    assert p.feed(CHUNKED[-1:]) == (HTTP1_DONE, 1) and p.body == b"hello world"


def test_kept_alive_answers_one_after_another() -> None:
    stream = OK + CHUNKED + ERROR_500 + OK
    p = _core.Http1Parser(True)
    seen = []
    while stream:
        rc, used = p.feed(stream)
        assert rc == HTTP1_DONE, p.why
        seen.append((p.status, p.body or p.error_body))
        stream = stream[used:]
        p.begin()
    assert seen == [(200, b"hello world"), (200, b"hello world"), (500, b'{"error":"boom"}'),
                    (200, b"hello world")]
    # the engine has one request in flight: anything after its answer is an error
    p = _core.Http1Parser()
    assert p.feed_all(OK + b"HTTP") == HTTP1_ERROR and "after the end" in p.why


def error_of(data: bytes) -> str:
    p = _core.Http1Parser(True)
    rc, _ = p.feed(data)
    assert rc == HTTP1_ERROR, (rc, data)
    assert p.feed(b"more") == (HTTP1_ERROR, 0)  # stays failed
    return p.why


def test_lying_content_lengths_are_refused() -> None:
    # Before the parser checked them, 2^64 and -1 both became 2^64-1 (strtoull),
    # and the client waited for a body that never comes.
    for value in (b"18446744073709551616", b"-1", b"9" * 40, b"12abc", b"", b"0x10", b"+5"):
        why = error_of(b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n")
        assert "Content-Length" in why, value
    why = error_of(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
    assert "two different Content-Length" in why


def test_lying_chunk_sizes_are_refused() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for size in (b"10000000000000000", b"ffffffffffffffffff", b"-1", b"zz", b"", b"5 x"):
        assert "chunk size" in error_of(head + size + b"\r\n"), size
    assert "chunk size line too long" in error_of(head + b"0" * 100)
    assert "no line end after a chunk" in error_of(head + b"2\r\nabXY\r\n")


def test_garbled_heads_are_refused() -> None:
    assert "status line" in error_of(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    assert "status line" in error_of(b"HTTP/2 200\r\n\r\n")
    assert "status code" in error_of(b"HTTP/1.1 2x0 OK\r\n\r\n")
    assert "status code" in error_of(b"HTTP/1.1 99999999999999999999 OK\r\n\r\n")
    assert "headers longer" in error_of(b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * 70000)
    p = _core.Http1Parser()
    p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
    assert p.end_of_stream() == HTTP1_ERROR and "closed before" in p.why


def test_endless_trailers_are_refused() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    p = _core.Http1Parser()
    assert p.feed(head + b"X-Long: " + b"a" * 500 + b"\r\n") == (HTTP1_MORE, len(head) + 510)
    assert p.feed(b"\r\n")[0] == HTTP1_DONE  # a long trailer line is skipped, not taken for the end
    assert "trailers longer" in error_of(head + (b"X: y\r\n" * 20000))


pieces = st.sampled_from([
    b"HTTP/1.1 ", b"HTTP/1.0 ", b"200 OK\r\n", b"100 Continue\r\n", b"500 x\r\n", b"204\r\n", b"\r\n",
    b"Content-Length: ", b"Transfer-Encoding: chunked\r\n", b"Connection: close\r\n",
    b"Inference-Header-Content-Length: ", b"0", b"5", b"18446744073709551616", b"-1", b"ffffffffffffffff",
    b"9" * 30, b"\r\n", b"\n", b";", b"hello", b"\0", b"\xff", b" ",
])


@settings(max_examples=500, deadline=None)
@given(st.lists(pieces, max_size=40), st.binary(max_size=40), st.integers(1, 64), st.booleans())
def test_garbage_in_any_split_never_crashes(parts: list[bytes], tail: bytes, step: int, keep: bool) -> None:
    data = b"".join(parts) + tail
    whole = _core.Http1Parser(keep)
    rc_whole, used_whole = whole.feed(data)
    split = _core.Http1Parser(keep)
    rc, used = HTTP1_MORE, 0
    for i in range(0, len(data), step):
        rc, took = split.feed(data[i:i + step])
        used += took
        if rc != HTTP1_MORE:
            break
    # the same answer however the bytes arrive
    assert rc == rc_whole and (rc != HTTP1_DONE or used == used_whole)
    if rc == HTTP1_DONE:
        assert (split.status, split.body_bytes, split.body) == (whole.status, whole.body_bytes, whole.body)
        assert 100 <= whole.status <= 599 and whole.body_bytes <= len(data)
    if rc == HTTP1_ERROR:
        assert whole.why == split.why and whole.why
