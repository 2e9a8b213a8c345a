"""A distributed run on a real two-node Ray cluster (both nodes on loopback)
against a real Triton: exact counts over 2 and 3 workers, the server agrees,
and a worker killed mid-sweep ends the run with the levels measured so far."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

ray = pytest.importorskip("ray")
from perfanalyzer.report import summary  # noqa: E402
from perfanalyzer.runner import profile  # noqa: E402
from perfanalyzer.settings import Range, RateRange, Settings  # noqa: E402

from .helpers import cli  # noqa: E402

MB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False,
                                                      "object_store_memory": 100 * MB})
    c.add_node(num_cpus=2, object_store_memory=100 * MB)
    ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def server_successes(triton, model: str) -> int:
    with urllib.request.urlopen(f"http://{triton.http_url}/v2/models/{model}/stats", timeout=10) as r:
        stats = json.load(r)
    return sum(m["inference_stats"]["success"]["count"] for m in stats["model_stats"])


@pytest.mark.parametrize("workers,mode", [(2, "concurrency"), (3, "concurrency"), (3, "request_rate")])
def test_request_count_exact_over_workers(cluster, triton, workers: int, mode: str) -> None:
    before = server_successes(triton, "identity")
    s = Settings(model_name="identity", url=triton.http_url, load_modes=(mode,), request_count=301,
                 warmup_request_count=50, concurrency_range=Range(4, 4, 1),
                 request_rate_range=RateRange(1000.0, 1000.0, 1.0),
                 ray_address=cluster.address, ray_workers=workers).validate()
    lines: list[str] = []
    result = profile(s, lines.append)
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    assert level.merged.request_count == 301
    assert level.merged.server.success_count == 301
    assert server_successes(triton, "identity") - before == 301 + 50
    text = "\n".join(lines)
    assert f"{workers} client workers on 2 nodes" in text
    assert text.count("schedule lag p99") == workers


def test_windows_merge_and_server_agrees(cluster, triton, tmp_path: Path) -> None:
    s = Settings(model_name="identity", url=triton.http_url, concurrency_range=Range(3, 3, 1),
                 measurement_interval_ms=300, stability_percentage=100, max_trials=6,
                 json_file=str(tmp_path / "d.json"), ray_address=cluster.address, ray_workers=2).validate()
    lines: list[str] = []
    result = profile(s, lines.append)
    assert result.exit_code == 0, result.sweep.message
    (level,) = result.sweep.levels
    assert level.merged.request_count > 0
    # The server's counters are read once per merged window, at the driver: the same requests, give or take
    # those that finished in the gap between the client's boundary and that read.
    assert level.merged.server.success_count == pytest.approx(level.merged.request_count, rel=0.05)
    assert "window boundary skew between workers" in "\n".join(lines)
    # --json: each worker's figures, as the report printed them.
    doc = json.loads((tmp_path / "d.json").read_text())
    jsonschema.Draft202012Validator(summary.schema()).validate(doc)
    assert [w["worker"] for w in doc["workers"]] == [0, 1]
    assert sum(w["requests"] for w in doc["workers"]) >= level.merged.request_count
    for w in doc["workers"]:
        assert f"  {w['where']}: {w['requests']} requests, CPU {w['cpu_pct']:.0f} % of a core" in "\n".join(lines)


def test_worker_killed_mid_sweep(cluster, triton, tmp_path: Path, capsys) -> None:
    csv = tmp_path / "out.csv"
    s = Settings(model_name="identity", url=triton.http_url, concurrency_range=Range(1, 4, 1),
                 measurement_interval_ms=200, stability_percentage=100, max_trials=5, filename=str(csv),
                 ray_address=cluster.address, ray_workers=2).validate()

    def kill_in_level_2(level: float, index: int, m: object) -> None:
        if level == 2 and index == 1:
            ray.kill(ray.get_actor("perfanalyzer-client-1"))

    result = profile(s, on_window=kill_in_level_2)
    assert result.exit_code == 99
    err = capsys.readouterr().err
    assert "client worker 1 on node" in err and "died mid-run" in err
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("Concurrency") and [r.split(",")[0] for r in rows[1:]] == ["1"]


def test_cli_with_a_private_local_ray(triton, tmp_path: Path) -> None:
    """--ray-address local: Ray started for the run and stopped after it; the CSV as from one process."""
    csv = tmp_path / "local.csv"
    r = cli("-m", "identity", "-u", triton.http_url, "--ray-address", "local", "--ray-workers", "2",
            "--request-count", "200", "--concurrency-range", "2:3", "-f", str(csv), timeout=180)
    assert r.code == 0, r.stderr
    assert "2 client workers on 1 node" in r.stdout
    # Rows are in ascending throughput (as perf_analyzer writes them), not in load order.
    assert sorted(row.split(",")[0] for row in csv.read_text().splitlines()[1:]) == ["2", "3"]


def test_node_lost_mid_sweep(cluster, triton, tmp_path: Path, capsys) -> None:
    """Last in the module: it removes the second node (and adds a fresh one back)."""
    csv = tmp_path / "out.csv"
    s = Settings(model_name="identity", url=triton.http_url, concurrency_range=Range(2, 4, 2),
                 measurement_interval_ms=200, stability_percentage=100, max_trials=5, filename=str(csv),
                 ray_address=cluster.address, ray_workers=2).validate()
    lost: list[str] = []

    def remove_a_node_in_level_2(level: float, index: int, m: object) -> None:
        if level == 4 and index == 1 and not lost:
            for k in (0, 1):
                where = ray.get(ray.get_actor(f"perfanalyzer-client-{k}").node.remote())
                for node in cluster.worker_nodes:
                    if node.node_id.startswith(where.split("(")[1][:8]):
                        lost.append(f"client worker {k} on node {where}")
                        cluster.remove_node(node)
                        return

    try:
        result = profile(s, on_window=remove_a_node_in_level_2)
    finally:
        cluster.add_node(num_cpus=2, object_store_memory=100 * MB)
    assert lost, "no worker was placed on the second node"
    assert result.exit_code == 99
    err = capsys.readouterr().err
    assert f"{lost[0]} died mid-run" in err
    assert [r.split(",")[0] for r in csv.read_text().splitlines()[1:]] == ["2"]
