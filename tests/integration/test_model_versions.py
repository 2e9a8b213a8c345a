"""Which version's statistics are reported when -x is not given, with two
versions of a model loaded: perf_analyzer's rule (the version whose queue
count grew; the highest, with a warning, when several did)."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from perfanalyzer.runner import profile
from perfanalyzer.settings import Range, Settings
from triton_launcher import TritonServer

from .helpers import serving


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory, model_repository: Path) -> Iterator[TritonServer]:
    """identity with versions 1 and 2 both loaded; requests without a
    version go to 2 (the server's choice: the highest)."""
    repo = tmp_path_factory.mktemp("versions") / "models"
    src = model_repository / "identity"
    for v in ("1", "2"):
        shutil.copytree(src / "1", repo / "identity" / v)
    config = (src / "config.pbtxt").read_text()
    (repo / "identity" / "config.pbtxt").write_text(config + "\nversion_policy: { all { } }\n")
    server = TritonServer(repo)
    yield from serving(server)


def _infer_v1(url: str, stop: threading.Event, sent: list[int]) -> None:
    body = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 16],
                                   "data": [0.0] * 16}]}).encode()
    while not stop.is_set():
        req = urllib.request.Request(f"http://{url}/v2/models/identity/versions/1/infer", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
        sent[0] += 1


def run(server: TritonServer, version: str, background_v1: bool, capsys) -> tuple[object, list[str], int]:
    """Profiles identity (optionally with requests to version 1 running
    alongside); returns the merged measurement, the warnings on stderr and
    how many background requests were sent."""
    s = Settings(model_name="identity", model_version=version, url=server.http_url, concurrency_range=Range(1, 1, 1),
                 request_count=300).validate()
    stop, sent = threading.Event(), [0]
    t = threading.Thread(target=_infer_v1, args=(server.http_url, stop, sent), daemon=True)
    capsys.readouterr()
    if background_v1:
        t.start()
    try:
        result = profile(s)
    finally:
        stop.set()
        if background_v1:
            t.join(timeout=15)
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    warnings = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
    return level.merged, warnings, sent[0]


def agree(m, served: int) -> bool:
    skew_s = sum(m.server_skew_ns) / 1e9 + 0.002
    return abs(m.request_count - served) <= 2 + m.throughput * skew_s + 1


def test_unversioned_run_reports_the_version_it_loaded(two_versions, capsys) -> None:
    m, warnings, _ = run(two_versions, "", False, capsys)
    assert agree(m, m.server.success_count) and warnings == []


def test_other_traffic_on_version_1_is_not_counted(two_versions, capsys) -> None:
    # Summing every version would add the background requests to ours.
    m, warnings, sent = run(two_versions, "", True, capsys)
    assert sent > 20
    assert agree(m, m.server.success_count), (m.request_count, m.server.success_count, sent)
    assert len(warnings) == 1 and "Multiple versions of model identity" in warnings[0]


def test_explicit_version_1(two_versions, capsys) -> None:
    m, warnings, _ = run(two_versions, "1", False, capsys)
    assert agree(m, m.server.success_count) and warnings == []
