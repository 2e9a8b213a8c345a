"""--json against a real Triton: the document of a run validates against the
shipped schema, lists the levels in load order, holds the CSV's figures, is
stdout's only content with `--json -`, and is what the Python API's
to_dict() returns; a file that cannot be written costs one line and nothing else."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from perfanalyzer.report import summary
from perfanalyzer.report.figures import fmt_rate
from triton_launcher import TritonServer

from .fault_runs import Cli, one_error_line
from .helpers import cli

REPO_ROOT = Path(__file__).resolve().parents[2]
SHORT = ("-p", "300", "-s", "100", "-r", "20")
VALIDATOR = jsonschema.Draft202012Validator(summary.schema())


def test_json_file_with_the_csv(triton: TritonServer, tmp_path: Path) -> None:
    out_json, out_csv = tmp_path / "run.json", tmp_path / "run.csv"
    run = cli("-m", "identity", "-u", triton.http_url, "--concurrency-range", "1:3", *SHORT,
              "--percentile", "95", "--json", str(out_json), "-f", str(out_csv))
    assert run.code == 0, run.stderr
    assert "Request concurrency: 3" in run.stdout  # the report stays on stdout
    doc = json.loads(out_json.read_text())
    VALIDATOR.validate(doc)
    assert (doc["status"], doc["exit_code"], doc["model"]) == ("ok", 0, "identity")
    assert doc["settings"]["percentile"] == 95 and doc["settings"]["server_url"] == triton.http_url
    assert [lv["value"] for lv in doc["levels"]] == [1, 2, 3]
    for lv in doc["levels"]:
        p = lv["percentiles_us"]
        assert list(p) == ["50", "90", "95", "99", "99.9"] and p["50"] <= p["99"] <= p["99.9"]
        assert lv["stabilizing_latency_us"] == p["95"] and lv["server"]["success_count"] > 0
    # The CSV prints the same figures.
    rows = {r["Concurrency"]: r for r in csv.DictReader(out_csv.open())}
    for lv in doc["levels"]:
        row = rows[str(lv["value"])]
        assert row["Inferences/Second"] == fmt_rate(lv["throughput"])
        assert int(row["p95 latency"]) == lv["percentiles_us"]["95"]
        assert int(row["Server Queue"]) == lv["server"]["queue"]
        assert int(row["Network+Server Send/Recv"]) == lv["network_us"]


def test_json_on_stdout_is_stdouts_only_content(triton: TritonServer) -> None:
    run = cli("-m", "identity", "-u", triton.http_url, "--request-rate-range", "100:200:100", *SHORT,
              "--json", "-")
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)  # nothing else on stdout
    VALIDATOR.validate(doc)
    assert "Request Rate: 200 inference requests per seconds" in run.stderr  # the report went to stderr
    assert [lv["value"] for lv in doc["levels"]] == [100.0, 200.0]
    for lv in doc["levels"]:
        o = lv["open_loop"]
        assert lv["mode"] == "request_rate" and lv["client_overhead_pct"] is None
        assert o["scheduled"] >= lv["request_count"] > 0 and o["send_rate"] > 0
        assert o["response_percentiles_us"]["99.9"] >= o["response_percentiles_us"]["50"]


def test_streaming_and_ensemble_figures(triton: TritonServer, tmp_path: Path) -> None:
    """What only some runs have, from real ones: a decoupled model's stream
    and an ensemble's composing models."""
    stream_json, ensemble_json = tmp_path / "stream.json", tmp_path / "ensemble.json"
    run = cli("-m", "repeat_4", "-i", "grpc", "--streaming", "-u", triton.grpc_url, *SHORT, "--json", str(stream_json))
    assert run.code == 0, run.stderr
    doc = json.loads(stream_json.read_text())
    VALIDATOR.validate(doc)
    (level,) = doc["levels"]
    st = level["stream"]
    assert st["response_throughput"] == pytest.approx(4 * level["throughput"], rel=1e-6)
    assert st["first_response_percentiles_us"]["50"] <= level["percentiles_us"]["50"]
    run = cli("-m", "ensemble_add_sub", "-u", triton.http_url, *SHORT, "--json", str(ensemble_json))
    assert run.code == 0, run.stderr
    doc = json.loads(ensemble_json.read_text())
    VALIDATOR.validate(doc)
    server = doc["levels"][0]["server"]
    assert sorted(c["name"] for c in server["composing"]) == ["add_sub", "pass_through"]
    assert f"Avg request latency: {server['avg_request']} usec (overhead {server['composed_overhead']} usec" \
        in run.stdout


def test_python_api_to_dict_is_the_file(triton: TritonServer, tmp_path: Path) -> None:
    import perfanalyzer

    out_json = tmp_path / "api.json"
    result = perfanalyzer.profile("identity", url=triton.http_url, concurrency=range(1, 3), measurement_interval_ms=300,
                                  stability_percentage=100, max_trials=20, json_file=str(out_json))
    doc = json.loads(out_json.read_text())
    VALIDATOR.validate(doc)
    assert result.to_dict() == doc
    assert [lv.value for lv in result.levels] == [lv["value"] for lv in doc["levels"]] == [1, 2]
    assert result.levels[1].percentiles_us[99.9] == doc["levels"][1]["percentiles_us"]["99.9"]


def test_documented_example_runs(triton: TritonServer) -> None:
    """The command in docs/json.md, run by a shell as a user would."""
    text = (REPO_ROOT / "docs" / "json.md").read_text()
    command = re.search(r"```sh\n(.*?)```", text, re.S).group(1).replace("localhost:8000", triton.http_url)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    assert shutil.which("perfanalyzer", path=env["PATH"])
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2"], proc.stdout
    assert all(re.fullmatch(r"\d+ \d+ infer/sec, p99\.9 \d+ usec", line) for line in lines), proc.stdout


def test_json_that_cannot_be_written_still_writes_the_rest(triton: TritonServer, tmp_path: Path) -> None:
    """Its directory goes away mid-run: one line naming the file, exit code
    99, and the CSV and the HTML report are written all the same."""
    gone = tmp_path / "gone"
    gone.mkdir()
    out_csv, page = tmp_path / "run.csv", tmp_path / "run.html"
    run = Cli("-m", "identity", "-u", triton.http_url, "--concurrency-range", "1:2", *SHORT,
              "--json", str(gone / "run.json"), "-f", str(out_csv), "--html-report", str(page))
    run.wait_for("Request concurrency: 1")
    gone.rmdir()
    code, _, stderr = run.finish()
    assert code == 99, stderr
    assert one_error_line(stderr) == (f"error: --json {gone}/run.json: cannot write the summary: "
                                      f"No such file or directory")
    assert [r[0] for r in csv.reader(out_csv.open())] == ["Concurrency", "1", "2"]
    assert "<td>2</td>" in page.read_text()
