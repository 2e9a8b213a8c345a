"""The CLI against an HTTP server that lies or breaks (fake_servers.py):
control-plane answers with wrong types, garbage, truncated, oversized or
never-sent bodies, and infer answers likewise. Each case: the exit code, one
stderr line, no traceback, and what is (not) on disk."""

from __future__ import annotations

import json
import os

import pytest

from .fake_servers import MODEL, Answer, FakeHttpServer, json_answer
from .faults import COUNTED, FAST, one_line, run

BASE = f"/v2/models/{MODEL}"
INPUT = [{"name": "INPUT0", "datatype": "INT32", "shape": [16]}]
ESC_ERROR = "no model \x1b[2J\x1b]0;pwned\x07 here"


def meta(**changes: object) -> Answer:
    doc = {"name": MODEL, "versions": ["1"], "platform": "fake", "inputs": INPUT,
           "outputs": [{"name": "OUTPUT0", "datatype": "INT32", "shape": [16]}]}
    return json_answer({**doc, **changes})


CONTROL_PLANE = {
    "shape-a": ({BASE: meta(inputs=[{"name": "INPUT0", "datatype": "INT32", "shape": ["a"]}])},
                "inputs[0].shape[0] is 'a', not an integer"),
    "no-input-name": ({BASE: meta(inputs=[{"datatype": "INT32", "shape": [16]}])},
                      "inputs[0].name is missing"),
    "inputs-not-a-list": ({BASE: meta(inputs="INPUT0")}, "inputs is 'INPUT0', not a list of objects"),
    "max-batch-size-abc": ({f"{BASE}/config": json_answer({"max_batch_size": "abc"})},
                           "max_batch_size is 'abc', not an integer"),
    "stats-count-x": ({f"{BASE}/stats": json_answer({"model_stats": [
        {"name": MODEL, "version": "1", "inference_stats": {"success": {"count": "x"}}}]})},
        "inference_stats.success.count is 'x', not a count"),
    "stats-not-a-list": ({f"{BASE}/stats": json_answer({"model_stats": 7})}, "model_stats is 7, not a list"),
    "garbage-instead-of-http": ({BASE: Answer(raw=b"\x00\xff\xfegarbage\r\n\r\n", close=True)},
                                "cannot reach the server at http://127.0.0.1:"),
    "truncated-body": ({BASE: Answer(body=b'{"name": "m"', content_length=1000, close=True)},
                       "cannot reach the server"),
    # A call that has a name says which one failed.
    "close-after-headers": ({f"{BASE}/config": Answer(content_length=100, close=True)},
                            "reading the config of model 'm' failed on the server at http://127.0.0.1:"),
    "lying-size-2^62": ({BASE: Answer(body=b"{}", content_length=1 << 62, close=True)}, "cannot reach the server"),
    "oversized-body": ({f"{BASE}/config": Answer(body=b"{", filler=80 << 20)}, "with more than 64 MiB"),
    "not-json": ({f"{BASE}/config": Answer(body=b"<html><title>502 Bad Gateway</title></html>")},
                 "502 Bad Gateway"),
    "deeply-nested-json": ({f"{BASE}/config": Answer(body=b"[" * 100000)}, "reading the config"),
    "error-with-escapes": ({BASE: json_answer({"error": ESC_ERROR}, 404)},
                           "no model \\x1b[2J\\x1b]0;pwned\\x07 here"),
    "health-500-html": ({"/v2/health/live": Answer(status=500, body=b"\x1b[31mdown")},
                        "is not live: HTTP 500: \\x1b[31mdown"),
}


@pytest.mark.parametrize("case", CONTROL_PLANE)
def test_control_plane_faults(case, tmp_path):
    routes, needle = CONTROL_PLANE[case]
    csv = tmp_path / "out.csv"
    with FakeHttpServer(routes) as server:
        r = run("-m", MODEL, "-u", server.url, *FAST, "-f", str(csv))
    one_line(r, 99, needle)
    assert not csv.exists()


def test_control_plane_that_never_answers_ends_on_its_timeout():
    with FakeHttpServer({"/v2/health/live": Answer(never=True)}) as server:
        r = run("-m", MODEL, "-u", server.url, *FAST, timeout=120)
    one_line(r, 99, "cannot reach the server", "timed out")


def test_password_in_the_url_is_never_shown(tmp_path):
    with FakeHttpServer({BASE: json_answer({"error": "unknown model"}, 404)}) as server:
        r = run("-m", MODEL, "-u", f"http://user:S3cret@{server.url}", *FAST)
    line = one_line(r, 99, f"http://***@{server.url}")
    assert "S3cret" not in line and "user" not in line


def test_password_stays_out_of_a_successful_run_and_its_files(tmp_path):
    csv, export, report = tmp_path / "out.csv", tmp_path / "export.json", tmp_path / "report.html"
    with FakeHttpServer() as server:
        # The native client does not speak userinfo; curl sends it as basic auth.
        r = run("-m", MODEL, "-u", f"http://user:S3cret@{server.url}", "--http-client", "curl", *COUNTED,
                "-f", str(csv), "--profile-export-file", str(export), "--html-report", str(report),
                # nothing listens on port 9: the metrics warning names the URL
                "--collect-metrics", "--metrics-url", "http://user:S3cret@127.0.0.1:9/metrics")
    assert r.code == 0, r.stderr
    assert "cannot read server metrics from http://***@127.0.0.1:9/metrics" in r.stderr
    for text in (r.stdout, r.stderr, csv.read_text(), export.read_text(), report.read_text()):
        assert "S3cret" not in text


@pytest.mark.parametrize("client", ["native", "curl"])
def test_header_injection_is_refused_before_any_request(client):
    with FakeHttpServer() as server:
        r = run("-m", MODEL, "-u", server.url, "--http-client", client, *FAST, "-H", "X-A: 1\r\nX-Injected: yes")
        assert server.received == []
    one_line(r, 3, "-H 'X-A: 1\\x0d\\x0aX-Injected: yes'", "control character")


@pytest.mark.parametrize("client", ["native", "curl"])
def test_a_valid_header_reaches_the_control_plane_and_every_infer_request(client):
    with FakeHttpServer() as server:
        r = run("-m", MODEL, "-u", server.url, "--http-client", client, *COUNTED, "-H", "X-Trace-Id: abc123")
        received = list(server.received)
    assert r.code == 0, r.stderr
    infer = [q for q in received if q.path.endswith("/infer")]
    control = [q for q in received if not q.path.endswith("/infer")]
    assert infer and control
    for q in received:
        assert b"\r\nX-Trace-Id: abc123\r\n" in q.head + b"\r\n", q.head
        assert b"X-Injected" not in q.head


def test_csv_through_a_symlink_writes_the_target(tmp_path):
    target = tmp_path / "results" / "real.csv"
    target.parent.mkdir()
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with FakeHttpServer() as server:
        r = run("-m", MODEL, "-u", server.url, *COUNTED, "-f", str(link))
    assert r.code == 0, r.stderr
    assert link.is_symlink()
    assert target.read_text().startswith("Concurrency,Inferences/Second,")


def test_csv_to_dev_stdout_is_written_to_the_stream():
    with FakeHttpServer() as server:
        r = run("-m", MODEL, "-u", server.url, *COUNTED, "-f", "/dev/stdout")
    assert r.code == 0, r.stderr
    assert "\nConcurrency,Inferences/Second," in r.stdout
    assert os.path.islink("/dev/stdout") or not os.path.isfile("/dev/stdout")


def test_unwritable_export_is_refused_before_any_load(tmp_path):
    csv = tmp_path / "out.csv"
    with FakeHttpServer() as server:
        r = run("-m", MODEL, "-u", server.url, *FAST, "-f", str(csv), "--profile-export-file", "/sys/export.json")
        infer = [p for p in server.paths() if p.endswith("/infer")]
    one_line(r, 3, "--profile-export-file /sys/export.json: cannot write in directory /sys")
    assert infer == [] and not csv.exists()


# ---------------------------------------------------------------- data plane

def infer_with_binary_output(size: int, sent: int = 64) -> Answer:
    header = json.dumps({"model_name": MODEL, "outputs": [{"name": "OUTPUT0", "datatype": "INT32", "shape": [16],
                                                           "parameters": {"binary_data_size": size}}]}).encode()
    return Answer(body=header + bytes(sent), headers=(("Content-Type", "application/octet-stream"),
                                                      ("Inference-Header-Content-Length", str(len(header)))))


DATA_PLANE = {
    # Raw control bytes in the body: the engine quotes the body's text in its message.
    "error-with-escapes": (Answer(status=500, body=b"model failed \x1b[2J\x1b]0;pwned\x07 \x9b"),
                           "model failed \\x1b[2J\\x1b]0;pwned\\x07"),
    "garbage-instead-of-http": (Answer(raw=b"\x00\xffnot http at all\r\n\r\n", close=True), "requests failed"),
    "close-after-headers": (Answer(content_length=100, close=True), "requests failed"),
    "truncated-body": (Answer(body=b'{"outputs"', content_length=1000, close=True), "requests failed"),
    "never-answers": (Answer(never=True), "requests failed"),
}


@pytest.mark.parametrize("case", DATA_PLANE)
def test_data_plane_faults(case, tmp_path):
    answer, needle = DATA_PLANE[case]
    csv = tmp_path / "out.csv"
    with FakeHttpServer({f"{BASE}/infer": answer}) as server:
        r = run("-m", MODEL, "-u", server.url, *FAST, "--request-timeout", "300", "-f", str(csv))
    one_line(r, 99, needle)
    assert not csv.exists()  # no level was measured


def test_infer_with_a_lying_content_length_fails_its_requests():
    with FakeHttpServer({f"{BASE}/infer": Answer(body=b"{}", content_length=1 << 62)}) as server:
        r = run("-m", MODEL, "-u", server.url, *FAST, "--request-timeout", "300")
    one_line(r, 99, "requests failed")


def test_request_count_against_a_server_that_never_answers_ends():
    # --request-timeout fails each request, and a failed request counts toward the window.
    with FakeHttpServer({f"{BASE}/infer": Answer(never=True)}) as server:
        r = run("-m", MODEL, "-u", server.url, "--request-count", "5", "--request-timeout", "300", timeout=30)
    one_line(r, 99, "requests failed")


@pytest.mark.parametrize("size", [2**63 - 1, 2**63 - 8, 2**40, 65])
def test_validation_against_a_lying_binary_data_size(size, tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"data": [{"INPUT0": list(range(16))}],
                                "validation_data": [{"OUTPUT0": list(range(16))}]}))
    with FakeHttpServer({f"{BASE}/infer": infer_with_binary_output(size)}) as server:
        r = run("-m", MODEL, "-u", server.url, *FAST, "--input-data", str(data))
    one_line(r, 99)
