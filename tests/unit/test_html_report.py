"""The HTML report a person reads: levels in load order, units in the column
headers, a settings table, columns empty for every level left out, a page
that fits a 1280 px window. The page is parsed, not matched as a string."""

from __future__ import annotations

import base64
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from perfanalyzer.metrics import LevelMetrics, aggregate, parse
from perfanalyzer.report import csv_writer, html
from perfanalyzer.report.figures import LevelFigures
from perfanalyzer.report.html_settings import settings_rows
from perfanalyzer.settings import Range, RateRange, Settings

pytest.importorskip("matplotlib")

DATA = Path(__file__).parent / "data"
CPU_ONLY = LevelMetrics({}, {}, {}, {}, cpu_utilization=0.5, cpu_memory_used_bytes=10, samples=3)
SERVER = {"inference_count": 50, "execution_count": 50, "success_count": 50, "avg_request": 700, "overhead": 70,
          "queue": 100, "compute_input": 10, "compute_infer": 500, "compute_output": 20, "uses_cache": 0,
          "cache_hit": 0, "cache_miss": 0}


def level(value: float, throughput: float, stable: bool = True, metrics: LevelMetrics | None = None,
          server: dict | None = SERVER, mode: str = "concurrency") -> LevelFigures:
    return LevelFigures(mode=mode, value=value, stable=stable, request_count=50, throughput=throughput,
                        avg_us=1000 * int(value), std_us=10,
                        percentiles_us={50: 900 * int(value), 90: 1100 * int(value), 95: 1200 * int(value),
                                        99: 1500 * int(value)},
                        stabilizing_us=1000, send_us=20, recv_us=30,
                        server=None if server is None else dict(server), metrics=metrics)


class Tables(HTMLParser):
    """Every table of a page: its class, header cells and body rows (text)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._row_class = ""
        self._in_head = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"class": a.get("class", ""), "head": [], "rows": [], "row_classes": []})
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row, self._row_class = [], a.get("class", "")
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            t = self.tables[-1]
            if self._in_head:
                t["head"] = self._row
            else:
                t["rows"].append(self._row)
                t["row_classes"].append(self._row_class)
            self._row = None
        elif tag == "thead":
            self._in_head = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def of(self, cls: str) -> dict:
        return next(t for t in self.tables if t["class"] == cls)


def run_page(tmp_path: Path, settings: Settings, levels: list[LevelFigures]) -> str:
    out = tmp_path / "run.html"
    html.write_run(str(out), settings, levels)
    return out.read_text()


def test_levels_in_load_order_although_the_csv_is_sorted_by_throughput(tmp_path: Path) -> None:
    # Saturated: concurrency 8 brings less throughput than 4.
    levels = [level(1, 100.0), level(2, 190.0), level(4, 260.0), level(8, 240.0)]
    csv_text = csv_writer.render(levels, -1)
    assert [r.split(",")[0] for r in csv_text.splitlines()[1:]] == ["1", "2", "8", "4"]
    results = Tables(html.page("t", csv_text, "src")).of("results")
    assert [r[0] for r in results["rows"]] == ["1", "2", "4", "8"]
    assert [r[1] for r in results["rows"]] == ["100", "190", "260", "240"]


def test_request_rate_levels_in_numeric_order(tmp_path: Path) -> None:
    levels = [level(v, t, mode="request_rate") for v, t in ((100.5, 90.0), (20, 20.0), (3, 3.0))]
    results = Tables(html.page("t", csv_writer.render(levels, -1), "src")).of("results")
    assert [r[0] for r in results["rows"]] == ["3", "20", "100.5"]
    assert results["head"][0] == "Request Rate (req/sec)"


def test_units_in_the_column_headers() -> None:
    page = html.page("t", csv_writer.render([level(1, 100.0)], 95, verbose=True), "src")
    head = Tables(page).of("results")["head"]
    assert head[:3] == ["Concurrency (requests in flight)", "Inferences/Second (infer/sec)", "Client Send (usec)"]
    assert "p95 latency (usec)" in head and "p99 latency (usec)" in head
    assert "Network+Server Send/Recv (usec)" in head and "response wait (usec)" in head
    assert all(re.search(r"\(.+\)$", h) for h in head), head  # every column has its unit


def test_settings_table_of_a_run(tmp_path: Path) -> None:
    s = Settings(model_name="resnet", url="http://user:secret@h:8000", concurrency_range=Range(1, 8, 2),
                 measurement_interval_ms=500, latency_threshold_ms=40, percentile=95, batch_size=4,
                 load_modes=("concurrency",))
    settings = dict(Tables(run_page(tmp_path, s, [level(1, 100.0)])).of("settings")["rows"])
    assert settings["Model"] == "resnet"
    assert settings["Server"] == "http://***@h:8000"  # no password in a page people pass around
    assert settings["Service kind"] == "Triton over HTTP"
    assert settings["Load"] == "concurrency 1 to 8, step 2"
    assert settings["Batch size"] == "4"
    assert settings["Measurement"].startswith("windows of 500 msec; stable when the last 3 agree within 10%")
    assert settings["Stabilizing on"] == "p95 latency"
    assert settings["Latency limit"] == "40 msec"


def test_settings_rows_of_the_rate_modes() -> None:
    rows = dict(settings_rows(Settings(model_name="m", load_modes=("request_rate",), request_distribution="poisson",
                                       seed=7, request_rate_range=RateRange(10.0, 0.0, 5.0), max_inflight=3,
                                       latency_threshold_ms=0)))
    assert rows["Load"] == ("request rate 10 to the latency limit, step 5, poisson arrivals (seed 7), "
                            "at most 3 in flight")
    assert rows["Latency limit"] == "none"
    one = dict(settings_rows(Settings(model_name="m", concurrency_range=Range(4, 4, 1), request_count=300)))
    assert one["Load"] == "concurrency 4" and one["Measurement"] == "one window of 300 requests per level"


def test_gpu_columns_of_a_cpu_server_are_hidden(tmp_path: Path) -> None:
    s = Settings(model_name="m", collect_metrics=True, verbose_csv=True)
    page = run_page(tmp_path, s, [level(1, 100.0, metrics=CPU_ONLY), level(2, 150.0, metrics=CPU_ONLY)])
    head = Tables(page).of("results")["head"]
    assert not [h for h in head if "GPU" in h], head
    assert "Avg latency (usec)" in head  # the verbose columns that have values stay
    assert re.search(r"Not shown \(empty for every level, or not measured\): Avg GPU Utilization, "
                     r"Avg GPU Power Usage, Max GPU Memory Usage, Total GPU Memory\.", page)


def test_gpu_columns_of_a_gpu_server_are_shown(tmp_path: Path) -> None:
    gpu = aggregate([parse((DATA / "triton_metrics_gpu_0.txt").read_text())])
    s = Settings(model_name="m", collect_metrics=True, verbose_csv=True)
    results = Tables(run_page(tmp_path, s, [level(1, 100.0, metrics=gpu)])).of("results")
    assert "Avg GPU Utilization (0-1, per GPU)" in results["head"]
    assert "Total GPU Memory (bytes, per GPU)" in results["head"]
    assert "Not shown" not in run_page(tmp_path, s, [level(1, 100.0, metrics=gpu)])


def test_server_columns_hidden_when_the_server_gives_no_statistics(tmp_path: Path) -> None:
    s = Settings(model_name="m", service_kind="torchserve")
    page = run_page(tmp_path, s, [level(1, 100.0, server=None)])
    head = Tables(page).of("results")["head"]
    assert not [h for h in head if h.startswith("Server ")], head
    assert "Client Send (usec)" in head and "Network+Server Send/Recv (usec)" in head
    # with statistics the same columns are there, zeros included
    with_stats = Tables(run_page(tmp_path, s, [level(1, 100.0, server=dict(SERVER, queue=0))])).of("results")["head"]
    assert "Server Queue (usec)" in with_stats and "Server Compute Infer (usec)" in with_stats


def test_unstable_level_is_marked_in_the_table(tmp_path: Path) -> None:
    page = run_page(tmp_path, Settings(model_name="m", concurrency_range=Range(1, 2, 1)),
                    [level(1, 100.0), level(2, 150.0, stable=False)])
    results = Tables(page).of("results")
    assert results["row_classes"] == ["", "unstable"]
    assert [r[0] for r in results["rows"]] == ["1", "2 (UNSTABLE)"]


def _png_size(page: str) -> tuple[int, int]:
    png = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", page).group(1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])  # the IHDR chunk's width and height


def test_page_fits_a_1280_px_window() -> None:
    many = [level(v, 100.0 * v) for v in range(1, 5)]
    page = html.page("t", csv_writer.render(many, 95, verbose=True, metrics=True), "src")
    style = re.search(r"<style>(.*)</style>", page, re.S).group(1)
    body_width = int(re.search(r"body \{[^}]*max-width: (\d+)px", style).group(1))
    assert body_width <= 1280 - 2 * 16  # room for the window's margins and scroll bar
    assert re.search(r"\.scroll \{[^}]*overflow-x: auto", style)
    assert re.search(r"img \{[^}]*max-width: 100%", style)
    # every table scrolls in its own box rather than widening the page
    assert page.count("<table") == page.count("<div class='scroll'><table")
    width, _ = _png_size(page)
    assert width <= body_width


def test_text_is_escaped() -> None:
    page = html.page("<t>", csv_writer.render([level(1, 100.0)], -1), "a<b", [("Model", "<m>")],
                     ["Request concurrency: 1 <b>"])
    assert "<t>" not in page and "&lt;t&gt;" in page and "&lt;m&gt;" in page
    assert "Request concurrency: 1 &lt;b&gt;" in page
