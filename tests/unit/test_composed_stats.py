"""Server statistics of composed models (ensemble steps, BLS calls) and the
stats version choice, on statistics recorded from a real Triton: between the
two readings, 7 requests went to ensemble_add_sub (add_sub -> pass_through)
and 4 to bls_add_sub (which calls add_sub and pass_through itself)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from perfanalyzer import cli
from perfanalyzer.composing import composing_map, ensemble_steps, parse_bls_models
from perfanalyzer.errors import OptionError, ServerError
from perfanalyzer.report import console, csv_writer
from perfanalyzer.report.figures import server_figures
from perfanalyzer.server_stats import ServerStats, StatsQuery

DATA = Path(__file__).parent / "data"
START = json.loads((DATA / "triton_stats_composed_start.json").read_text())
END = json.loads((DATA / "triton_stats_composed_end.json").read_text())

# What Triton's /config returns for the example ensemble (the fields read).
CONFIGS: dict[str, dict[str, Any]] = {
    "ensemble_add_sub": {"name": "ensemble_add_sub", "platform": "ensemble", "ensemble_scheduling": {"step": [
        {"model_name": "add_sub", "model_version": -1}, {"model_name": "pass_through", "model_version": 1}]}},
    "add_sub": {"name": "add_sub", "backend": "python", "platform": ""},
    "pass_through": {"name": "pass_through", "backend": "python", "platform": ""},
    "bls_add_sub": {"name": "bls_add_sub", "backend": "python", "platform": ""},
}


def config_of(name: str, version: str) -> dict[str, Any]:
    if name not in CONFIGS:
        raise ServerError(f"model '{name}' is not available on the server")
    return CONFIGS[name]


def entry(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    (e,) = [e for e in snapshot["model_stats"] if e["name"] == name]
    return e


def raw_delta(name: str, section: str) -> tuple[int, int]:
    a, b = entry(START, name)["inference_stats"][section], entry(END, name)["inference_stats"][section]
    return b["count"] - a["count"], b["ns"] - a["ns"]


class Reader:
    """Hands out the recorded readings in order and logs what was asked."""

    def __init__(self, *readings: dict[str, Any]) -> None:
        self.readings = list(readings)
        self.asked: list[tuple[str, str]] = []

    def __call__(self, model: str, version: str) -> dict[str, Any]:
        self.asked.append((model, version))
        return self.readings.pop(0)


def ensemble_delta() -> tuple[ServerStats, Reader]:
    composing = composing_map(config_of, "ensemble_add_sub", "")
    reader = Reader(START, END)
    q = StatsQuery(reader, "ensemble_add_sub", "", composing)
    start = q.read()
    return q.read() - start, reader


def test_ensemble_steps_from_config():
    assert ensemble_steps(CONFIGS["ensemble_add_sub"]) == (("add_sub", ""), ("pass_through", "1"))
    assert ensemble_steps(CONFIGS["add_sub"]) == ()
    assert composing_map(config_of, "ensemble_add_sub", "") == {
        "ensemble_add_sub": (("add_sub", ""), ("pass_through", "1"))}
    assert composing_map(config_of, "add_sub", "") == {}


def test_ensemble_delta_from_the_all_models_statistics():
    d, reader = ensemble_delta()
    assert reader.asked == [("", ""), ("", "")]  # every model, not just the ensemble
    assert d.success_count == 7 and d.inference_count == 7
    assert [(n, v) for n, v, _ in d.composing] == [("add_sub", "1"), ("pass_through", "1")]
    by_name = {n: s for n, _, s in d.composing}
    # The composing models also served bls_add_sub's 4 calls: 11 each.
    assert by_name["add_sub"].success_count == raw_delta("add_sub", "success")[0] == 11
    assert by_name["pass_through"].queue_ns == raw_delta("pass_through", "queue")[1]


def test_overhead_is_the_ensemble_average_minus_composing_queue_and_compute():
    d, _ = ensemble_delta()
    queue = compute = 0
    for name in ("add_sub", "pass_through"):
        qc, qns = raw_delta(name, "queue")
        queue += qns // (qc * 1000)
        c = [raw_delta(name, s) for s in ("compute_input", "compute_infer", "compute_output")]
        compute += sum(ns for _, ns in c) // (c[0][0] * 1000)
    sc, sns = raw_delta("ensemble_add_sub", "success")
    assert (d.composed_queue_us, d.composed_compute_us) == (queue, compute)
    assert d.composed_overhead_us == max(0, sns // (sc * 1000) - queue - compute)


def test_console_prints_composing_models_indented():
    d, _ = ensemble_delta()
    f = server_figures(d)
    a = {n: server_figures(s) for n, _, s in d.composing}
    lines = console.server_lines(f, 1)
    assert lines[:6] == [
        "    Inference count: 7",
        "    Execution count: 7",
        "    Successful request count: 7",
        f"    Avg request latency: {f['avg_request']} usec (overhead {d.composed_overhead_us} usec + queue "
        f"{d.composed_queue_us} usec + compute {d.composed_compute_us} usec)",
        "",
        "  Composing models: ",
    ]
    p = a["pass_through"]
    assert lines[6:] == [
        "  add_sub, version: 1",
        "      Inference count: 11",
        "      Execution count: 11",
        "      Successful request count: 11",
        lines[10],
        "",
        "  pass_through, version: 1",
        "      Inference count: 11",
        "      Execution count: 11",
        "      Successful request count: 11",
        f"      Avg request latency: {p['avg_request']} usec (overhead {p['overhead']} usec + queue {p['queue']} "
        f"usec + compute input {p['compute_input']} usec + compute infer {p['compute_infer']} usec + compute "
        f"output {p['compute_output']} usec)",
    ]
    assert lines[10].startswith("      Avg request latency: ") and "compute input" in lines[10]


def test_composing_model_without_requests_prints_its_count():
    s = ServerStats(success_count=3, success_ns=3000, composing=(("a", "1", ServerStats()),))
    assert console.server_lines(server_figures(s), 1)[-2:] == ["  a, version: 1", "      Request count: 0"]


def test_csv_keeps_the_ensembles_own_counters():
    # perf_analyzer's -f file: the ensemble's own queue/compute, not the composing sums.
    d, _ = ensemble_delta()
    f = server_figures(d)
    qc, qns = raw_delta("ensemble_add_sub", "queue")
    assert f["queue"] == qns // (qc * 1000)
    assert csv_writer.header(-1, False)[4] == "Server Queue"


def test_windows_merge_composing_models_too():
    d, _ = ensemble_delta()
    two = d + d
    assert two.success_count == 14
    assert [(n, v, s.success_count) for n, v, s in two.composing] == [("add_sub", "1", 22), ("pass_through", "1", 22)]
    assert (two - d) == d
    # A composing model seen in one window only still adds up.
    other = ServerStats(composing=(("z", "2", ServerStats(success_count=5)),))
    assert [n for n, _, _ in (d + other).composing] == ["add_sub", "pass_through", "z"]


def test_bls_composing_models():
    bls = parse_bls_models("add_sub,pass_through:1")
    composing = composing_map(config_of, "bls_add_sub", "", bls)
    assert composing == {"bls_add_sub": (("add_sub", ""), ("pass_through", "1"))}
    reader = Reader(START, END)
    q = StatsQuery(reader, "bls_add_sub", "", composing)
    start = q.read()
    d = q.read() - start
    assert d.success_count == 4
    assert [(n, v, s.success_count) for n, v, s in d.composing] == [("add_sub", "1", 11), ("pass_through", "1", 11)]


def test_parse_bls_models():
    assert parse_bls_models("a:3,b") == (("a", "3"), ("b", ""))
    assert parse_bls_models(" a , a ") == (("a", ""),)
    assert cli.parse_args(["-m", "m", "--bls-composing-models", "a:3,b"]).bls_composing_models == (
        ("a", "3"), ("b", ""))
    with pytest.raises(OptionError, match="expected name"):
        parse_bls_models("a,,b")
    with pytest.raises(OptionError, match="a:x: the version must be a number"):
        parse_bls_models("a:x")


def test_bls_composing_model_errors():
    with pytest.raises(OptionError, match="'bls_add_sub' is the profiled model itself"):
        composing_map(config_of, "bls_add_sub", "", (("bls_add_sub", ""),))
    with pytest.raises(ServerError, match="^--bls-composing-models nope:2: model 'nope' is not available"):
        composing_map(config_of, "bls_add_sub", "", (("nope", "2"),))


def test_nested_ensemble_sums_through_its_steps():
    configs = dict(CONFIGS, outer={"platform": "ensemble", "ensemble_scheduling": {"step": [
        {"model_name": "ensemble_add_sub", "model_version": -1}, {"model_name": "add_sub", "model_version": -1}]}})
    composing = composing_map(lambda n, v: configs[n], "outer", "")
    assert composing["outer"] == (("ensemble_add_sub", ""), ("add_sub", ""))
    assert composing["ensemble_add_sub"] == (("add_sub", ""), ("pass_through", "1"))
    inner = ServerStats(composing=(("a", "1", ServerStats(queue_count=2, queue_ns=4000, compute_input_count=2,
                                                          compute_infer_ns=10_000)),))
    outer = ServerStats(success_count=1, success_ns=50_000,
                        composing=(("e", "1", inner), ("b", "1", ServerStats(queue_count=1, queue_ns=3000))))
    assert (outer.composed_queue_us, outer.composed_compute_us, outer.composed_overhead_us) == (5, 5, 40)


# -- the stats version when -x is not given: perf_analyzer's rule -----------------


def versions(moved: dict[str, int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Readings of identity versions 1..3; `moved` adds requests to some."""
    base = entry(START, "identity")
    start = {"model_stats": []}
    for v in ("1", "2", "3"):
        e = copy.deepcopy(base)
        e["version"] = v
        start["model_stats"].append(e)
    end = copy.deepcopy(start)
    for e in end["model_stats"]:
        n = moved.get(e["version"], 0)
        for section in ("success", "queue", "compute_input", "compute_infer", "compute_output"):
            e["inference_stats"][section]["count"] += n
            e["inference_stats"][section]["ns"] += n * 1000
    return start, end


def delta_for(version: str, moved: dict[str, int]) -> tuple[ServerStats, list[str]]:
    warnings: list[str] = []
    q = StatsQuery(Reader(*versions(moved)), "identity", version, warn=warnings.append)
    start = q.read()
    return q.read() - start, warnings


def test_version_whose_queue_moved_is_used():
    d, warnings = delta_for("", {"2": 5})
    assert d.success_count == 5 and warnings == []


def test_several_versions_moved_takes_the_highest_and_warns_once():
    d, warnings = delta_for("", {"1": 4, "3": 6})
    assert d.success_count == 6
    assert len(warnings) == 1 and "Multiple versions of model identity" in warnings[0]


def test_no_version_moved_falls_back_to_the_highest():
    d, _ = delta_for("", {})
    assert d == ServerStats()


def test_explicit_version():
    assert delta_for("1", {"1": 4, "3": 6})[0].success_count == 4
    with pytest.raises(ServerError, match="no statistics for model 'identity' version 7"):
        delta_for("7", {})


# -- layout against perf_analyzer 2.40's own output ------------------------------
# tests/unit/data/pa240_{ensemble,bls}.log: the C++ perf_analyzer 2.40 on the
# example models (`perf_analyzer -m ensemble_add_sub -u HOST:PORT -p 1000 -s 50`,
# and `-m bls_add_sub --bls-composing-models add_sub,pass_through:1`).

LEAF = re.compile(r"Avg request latency: (\d+) usec \(overhead (\d+) usec \+ queue (\d+) usec \+ compute input (\d+) "
                  r"usec \+ compute infer (\d+) usec \+ compute output (\d+) usec\)")
TOP = re.compile(r"Avg request latency: (\d+) usec \(overhead (\d+) usec \+ queue (\d+) usec \+ compute (\d+) usec\)")


def figures_from_pa(block: list[str]) -> dict[str, Any]:
    """perf_analyzer's printed server integers as our server figures."""
    def counts(lines: list[str]) -> dict[str, Any]:
        vals = [int(line.rsplit(": ", 1)[1]) for line in lines]
        return {"inference_count": vals[0], "execution_count": vals[1], "success_count": vals[2], "uses_cache": 0}

    top = dict(counts(block[0:3]))
    m = TOP.search(block[3])
    top.update(avg_request=int(m[1]), composed_overhead=int(m[2]), composed_queue=int(m[3]),
               composed_compute=int(m[4]), composing=[])
    i = 6
    while i < len(block):
        name, version = block[i].strip().split(", version: ")
        c = dict(counts(block[i + 1:i + 4]), name=name, version=version)
        m = LEAF.search(block[i + 4])
        c.update(zip(("avg_request", "overhead", "queue", "compute_input", "compute_infer", "compute_output"),
                     map(int, m.groups()), strict=True))
        top["composing"].append(c)
        i += 6  # name, 3 counts, latency, blank
    return top


@pytest.mark.parametrize("log", ["pa240_ensemble.log", "pa240_bls.log"])
def test_server_block_matches_perf_analyzer_text(log: str):
    text = (DATA / log).read_text()
    block = text.split("  Server: \n", 1)[1].split("\nInferences/Second vs.", 1)[0].rstrip("\n").split("\n")
    assert block[5] == "  Composing models: "
    ours = console.server_lines(figures_from_pa(block), 1)
    assert ours == block


def test_an_ensemble_reaching_a_sequence_model_is_one() -> None:
    """The server wants correlation IDs on an ensemble whose steps (at any
    depth) include a model with sequence_batching."""
    from perfanalyzer.composing import reaches_sequence_model

    configs = {
        "seq": {"sequence_batching": {}},
        "plain": {"backend": "python"},
        "inner": {"platform": "ensemble", "ensemble_scheduling": {"step": [{"model_name": "seq"}]}},
        "outer": {"platform": "ensemble", "ensemble_scheduling": {"step": [{"model_name": "plain"},
                                                                          {"model_name": "inner"}]}},
        "flat": {"platform": "ensemble", "ensemble_scheduling": {"step": [{"model_name": "plain"}]}},
    }
    asked: list[str] = []

    def config_of(name: str, version: str) -> dict:
        asked.append(name)
        return configs[name]

    assert reaches_sequence_model(config_of, "outer", "")
    assert reaches_sequence_model(config_of, "seq", "")
    assert not reaches_sequence_model(config_of, "flat", "")
    assert not reaches_sequence_model(config_of, "plain", "")
