"""One self-contained HTML page per run: the settings, the results table, the
latency-vs-throughput plot (a PNG embedded as base64) and each level's full
report with the server breakdown. `--html-report PATH` during a run, or
`perfanalyzer report RESULTS.csv -o report.html` afterwards."""

from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from perfanalyzer.errors import GENERIC_ERROR, OPTION_ERROR, SUCCESS, PerfAnalyzerError
from perfanalyzer.output_files import write_text
from perfanalyzer.report.figures import LevelFigures
from perfanalyzer.safe_text import mask_userinfo
from perfanalyzer.settings import Settings

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f0f0f0; }
pre { background: #f7f7f7; padding: 0.8em; font-size: 0.85em; overflow-x: auto; }
.unstable { color: #b00; }
"""


def png_base64(level: str, rows: list[dict[str, str]], title: str, source: str) -> str:
    import matplotlib.pyplot as plt

    from perfanalyzer.report.plot import latency_figure

    fig = latency_figure(level, rows, title, source)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def rows_of(csv_text: str, source: str) -> tuple[str, list[str], list[dict[str, str]]]:
    """(level column, header, rows) of perf_analyzer-format CSV text."""
    reader = csv.DictReader(io.StringIO(csv_text))
    rows = list(reader)
    header = list(reader.fieldnames or [])
    level = next((c for c in ("Concurrency", "Request Rate") if c in header), None)
    if level is None or "Inferences/Second" not in header or not rows:
        raise PerfAnalyzerError(f"{source}: not a perf_analyzer CSV with result rows")
    return level, header, rows


def table(header: list[str], rows: list[dict[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(r.get(c) or '')}</td>" for c in header) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, csv_text: str, source: str, settings_text: str = "", details: Sequence[str] = ()) -> str:
    level, header, rows = rows_of(csv_text, source)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC from {html.escape(source)}.</p>"]
    if settings_text:
        parts.append(f"<h2>Settings</h2><pre>{html.escape(settings_text)}</pre>")
    parts.append("<h2>Results</h2>" + table(header, rows))
    if all(c in header for c in ("p50 latency", "p90 latency", "p99 latency")):
        png = png_base64(level, rows, "Latency vs throughput", source)
        parts.append("<h2>Latency vs throughput</h2>"
                     f"<img alt='latency vs throughput' src='data:image/png;base64,{png}'>")
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
    try:
        text = page(f"perfanalyzer: {settings.model_name}", csv_text, f"model {settings.model_name} at "
                    f"{mask_userinfo(settings.server_url)}", console.settings_block(settings), details)
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
