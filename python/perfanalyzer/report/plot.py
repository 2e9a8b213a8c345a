"""`perfanalyzer plot RESULTS.csv`: latency against throughput across levels
(an export JSON goes to export_plot)."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfanalyzer.errors import GENERIC_ERROR, OPTION_ERROR, SUCCESS, PerfAnalyzerError

LATENCY_COLUMNS = ("p50 latency", "p90 latency", "p99 latency")


def read_csv(path: Path) -> tuple[str, list[dict[str, str]]]:
    """(level column name, rows) of a perf_analyzer-format CSV."""
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as e:
        raise PerfAnalyzerError(f"{path}: cannot read: {e.strerror}") from None
    if not rows:
        raise PerfAnalyzerError(f"{path}: no result rows")
    level = next((c for c in ("Concurrency", "Request Rate") if c in rows[0]), None)
    missing = [c for c in ("Inferences/Second", *LATENCY_COLUMNS) if c not in rows[0]]
    if level is None or missing:
        raise PerfAnalyzerError(f"{path}: not a perf_analyzer CSV (missing {', '.join(missing) or 'level column'})")
    return level, rows


def latency_figure(level: str, rows: list[dict[str, str]], title: str, source: str = "") -> Any:
    """p50/p90/p99 latency against throughput, one point per level (a matplotlib Figure)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    try:
        rows = sorted(rows, key=lambda r: float(r[level]))
        x = [float(r["Inferences/Second"]) for r in rows]
        fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
        for col in LATENCY_COLUMNS:
            ax.plot(x, [int(r[col]) / 1000 for r in rows], marker="o", label=col.split()[0])
    except ValueError as e:
        raise PerfAnalyzerError(f"{source}: malformed number: {e}") from None
    for r, xv in zip(rows, x, strict=True):
        ax.annotate(f"{level.lower()} {r[level]}", (xv, int(r["p99 latency"]) / 1000), textcoords="offset points",
                    xytext=(4, 6), fontsize=8)
    ax.set_xlabel("throughput (infer/sec)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    return fig


def plot_csv(path: Path, out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    level, rows = read_csv(path)
    fig = latency_figure(level, rows, f"Latency vs throughput: {path.name}", str(path))
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{path.stem}_latency_vs_throughput.png"
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="perfanalyzer plot",
                                 description="Plot a perf_analyzer-format CSV, or a --profile-export-file JSON.")
    ap.add_argument("csv", type=Path, help="results written with -f (latency vs throughput), or an export .json "
                    "(throughput over time, latency histogram per level)")
    ap.add_argument("-o", "--output-dir", type=Path, default=None,
                    help="where the PNGs go (default: beside the input)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return OPTION_ERROR if e.code else SUCCESS
    out_dir = args.output_dir or args.csv.parent
    try:
        if args.csv.suffix.lower() == ".json":
            from perfanalyzer.report.export_plot import plot_export

            written = plot_export(args.csv, out_dir)
        else:
            written = [plot_csv(args.csv, out_dir)]
    except ImportError:
        print("error: plotting needs matplotlib: pip install 'perfanalyzer[plot]'", file=sys.stderr)
        return GENERIC_ERROR
    except PerfAnalyzerError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    for out in written:
        print(f"wrote {out}")
    return SUCCESS
