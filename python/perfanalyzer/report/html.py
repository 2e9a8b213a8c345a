"""One self-contained HTML page per run: the settings, the results table
(levels in load order, units in the headers, empty columns left out), the
latency plots (a PNG embedded as base64) and each level's full report with
the server breakdown. `--html-report PATH` during a run, or
`perfanalyzer report RESULTS.csv -o report.html` afterwards."""

from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import sys
from collections.abc import Collection, Sequence
from datetime import datetime, timezone
from pathlib import Path

from perfanalyzer.errors import GENERIC_ERROR, OPTION_ERROR, SUCCESS, PerfAnalyzerError
from perfanalyzer.output_files import write_text
from perfanalyzer.report.figures import LevelFigures
from perfanalyzer.report.html_settings import settings_rows
from perfanalyzer.safe_text import mask_userinfo
from perfanalyzer.settings import Settings

# Fits a 1280 px window: the page is at most 1240 px wide, a wide table
# scrolls inside its own box instead of widening the page, the plot shrinks.
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1em auto; padding: 0 1em; max-width: 1240px; color: #222; }
.scroll { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f0f0f0; vertical-align: bottom; }
th .unit { display: block; font-weight: normal; color: #666; }
table.settings th, table.settings td { text-align: left; }
img { max-width: 100%; height: auto; }
pre { background: #f7f7f7; padding: 0.8em; font-size: 0.85em; overflow-x: auto; }
.unstable { color: #b00; }
.note { color: #666; font-size: 0.9em; }
"""

# The unit of each perf_analyzer CSV column (every time column is whole usec).
UNITS = {
    "Concurrency": "requests in flight", "Request Rate": "req/sec", "Inferences/Second": "infer/sec",
    "Response Throughput": "responses/sec", "Avg GPU Utilization": "0-1, per GPU",
    "Avg GPU Power Usage": "W, per GPU", "Max GPU Memory Usage": "bytes, per GPU",
    "Total GPU Memory": "bytes, per GPU",
}
USEC_COLUMNS = ("Client Send", "Network+Server Send/Recv", "Server Queue", "Server Compute Input",
                "Server Compute Infer", "Server Compute Output", "Server Cache Hit", "Server Cache Miss",
                "Client Recv", "Avg latency", "request/response", "response wait")
SERVER_COLUMNS = ("Server Queue", "Server Compute Input", "Server Compute Infer", "Server Compute Output",
                  "Server Cache Hit", "Server Cache Miss")


def unit(column: str) -> str:
    if column in UNITS:
        return UNITS[column]
    if column in USEC_COLUMNS or column.endswith(" latency"):
        return "usec"
    return ""


def png_base64(level: str, rows: list[dict[str, str]], title: str, source: str,
               unstable: Collection[str] = ()) -> str:
    import matplotlib.pyplot as plt

    from perfanalyzer.report.plot import latency_figure

    fig = latency_figure(level, rows, title, source, unstable)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def rows_of(csv_text: str, source: str) -> tuple[str, list[str], list[dict[str, str]]]:
    """(level column, header, rows in load order) of perf_analyzer-format CSV
    text, whose rows come sorted by throughput."""
    reader = csv.DictReader(io.StringIO(csv_text))
    rows = list(reader)
    header = list(reader.fieldnames or [])
    level = next((c for c in ("Concurrency", "Request Rate") if c in header), None)
    if level is None or "Inferences/Second" not in header or not rows:
        raise PerfAnalyzerError(f"{source}: not a perf_analyzer CSV with result rows")
    try:
        rows.sort(key=lambda r: float(r[level]))
    except (TypeError, ValueError):
        raise PerfAnalyzerError(f"{source}: a {level} cell is not a number") from None
    return level, header, rows


def shown_columns(header: list[str], rows: list[dict[str, str]],
                  not_measured: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """(shown, hidden): a column empty for every level (the GPU metrics of a
    CPU-only server), or one the run did not measure, says nothing."""
    hidden = [c for c in header if c in not_measured or all(not (r.get(c) or "").strip() for r in rows)]
    return [c for c in header if c not in hidden], hidden


def table(header: list[str], rows: list[dict[str, str]], level: str = "", unstable: Collection[str] = ()) -> str:
    def th(c: str) -> str:
        u = unit(c)
        return f"<th>{html.escape(c)}" + (f" <span class='unit'>({html.escape(u)})</span>" if u else "") + "</th>"

    def tr(r: dict[str, str]) -> str:
        bad = bool(level) and r.get(level) in unstable
        cells = []
        for c in header:
            text = html.escape(r.get(c) or "")
            if bad and c == level:
                text += " <span class='unstable'>(UNSTABLE)</span>"
            cells.append(f"<td>{text}</td>")
        return ("<tr class='unstable'>" if bad else "<tr>") + "".join(cells) + "</tr>"

    head = "".join(th(c) for c in header)
    body = "".join(tr(r) for r in rows)
    return (f"<div class='scroll'><table class='results'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def settings_table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<div class='scroll'><table class='settings'><tbody>{body}</tbody></table></div>"


def page(title: str, csv_text: str, source: str, settings: Sequence[tuple[str, str]] = (),
         details: Sequence[str] = (), unstable: Collection[str] = (), not_measured: Collection[str] = ()) -> str:
    """The report: settings, results in load order (levels whose windows never
    agreed marked), the plot, then each level's console report."""
    level, header, rows = rows_of(csv_text, source)
    shown, hidden = shown_columns(header, rows, not_measured)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
             "<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC from {html.escape(source)}.</p>"]
    parts.append("<h2>Settings</h2>" + settings_table(settings or [("Results file", source)]))
    parts.append(f"<h2>Results</h2><p class='note'>One row per level, in load order ({html.escape(level)}).</p>"
                 + table(shown, rows, level, unstable))
    if hidden:
        parts.append(f"<p class='note'>Not shown (empty for every level, or not measured): "
                     f"{html.escape(', '.join(hidden))}.</p>")
    if all(c in header for c in ("p50 latency", "p90 latency", "p99 latency")):
        png = png_base64(level, rows, "Latency vs throughput", source, unstable)
        parts.append("<h2>Latency vs throughput</h2>"
                     f"<img alt='latency vs throughput and vs load' src='data:image/png;base64,{png}'>")
    if details:
        parts.append("<h2>Levels (client and server breakdown)</h2>")
        parts += [f"<pre>{html.escape(d)}</pre>" for d in details]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_run(path: str, settings: Settings, levels: Sequence[LevelFigures]) -> None:
    """--html-report: every printed level (an unstable one marked) in the table and the plot."""
    from perfanalyzer.report import console, csv_writer

    csv_text = csv_writer.render(levels, settings.percentile, settings.verbose_csv, settings.collect_metrics)
    details = [console.level_block(f, settings.percentile, verbose=True) for f in levels]
    unstable = {f.value_text for f in levels if not f.stable}
    # TorchServe and TF Serving give no server statistics: their zeros are not measurements.
    not_measured = SERVER_COLUMNS if all(f.server is None for f in levels) else ()
    try:
        text = page(f"perfanalyzer: {settings.model_name}", csv_text, f"model {settings.model_name} at "
                    f"{mask_userinfo(settings.server_url)}", settings_rows(settings), details, unstable,
                    not_measured)
    except ImportError:
        raise PerfAnalyzerError("--html-report: the report's plot needs matplotlib: "
                                "pip install 'perfanalyzer[plot]'") from None
    try:
        write_text(path, text)
    except OSError as e:
        raise PerfAnalyzerError(f"--html-report {path}: cannot write: {e.strerror}") from None


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="perfanalyzer report",
                                 description="Write a self-contained HTML report of a perf_analyzer-format CSV.")
    ap.add_argument("csv", type=Path, help="results written with -f")
    ap.add_argument("-o", "--output", type=Path, default=None, help="HTML file (default: beside the CSV, .html)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return OPTION_ERROR if e.code else SUCCESS
    out = args.output or args.csv.with_suffix(".html")
    try:
        try:
            text = args.csv.read_text()
        except OSError as e:
            raise PerfAnalyzerError(f"{args.csv}: cannot read: {e.strerror}") from None
        write_text(str(out), page(f"perfanalyzer: {args.csv.name}", text, str(args.csv)))
    except ImportError:
        print("error: the report's plot needs matplotlib: pip install 'perfanalyzer[plot]'", file=sys.stderr)
        return GENERIC_ERROR
    except PerfAnalyzerError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        print(f"error: {out}: cannot write: {e.strerror}", file=sys.stderr)
        return GENERIC_ERROR
    print(f"wrote {out}")
    return SUCCESS
