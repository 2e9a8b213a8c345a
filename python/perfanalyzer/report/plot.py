"""`perfanalyzer plot RESULTS.csv`: latency against throughput, and against
the load level, across levels (an export JSON goes to export_plot)."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Collection, Sequence
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


UNSTABLE_LABEL = "unstable level (windows never agreed)"


def latency_figure(level: str, rows: list[dict[str, str]], title: str, source: str = "",
                   unstable: Collection[str] = ()) -> Any:
    """Two panels, one point per level: p50/p90/p99 latency against throughput,
    and the same latencies against the load level. Levels in `unstable`
    (their level cells) get a red cross and a legend entry on both.

    Why two panels: once the server saturates, more load brings no more
    throughput (often a little less), so later levels pile up at the same x or
    step back left. A line through them in load order folds back over itself
    and reads like a curve with two latencies per throughput. The left panel
    therefore shows points only, each labelled with its level; the right
    panel, against the load the run set (which only grows), is where the
    points are joined and where saturation shows as the latency climbing."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    try:
        rows = sorted(rows, key=lambda r: float(r[level]))
        load = [float(r[level]) for r in rows]
        x = [float(r["Inferences/Second"]) for r in rows]
        lat = {col: [int(r[col]) / 1000 for r in rows] for col in LATENCY_COLUMNS}
    except ValueError as e:
        raise PerfAnalyzerError(f"{source}: malformed number: {e}") from None
    bad = [i for i, r in enumerate(rows) if r[level] in unstable]
    fig, (by_rate, by_load) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=100)
    for col in LATENCY_COLUMNS:
        name = col.split()[0]
        points = by_rate.plot(x, lat[col], marker="o", linestyle="none", label=name)[0]
        by_load.plot(load, lat[col], marker="o", color=points.get_color(), label=name)
    for ax, xs in ((by_rate, x), (by_load, load)):
        if bad:
            # over every percentile's point of the level, so it cannot be missed
            ax.plot([xs[i] for i in bad for _ in LATENCY_COLUMNS],
                    [lat[col][i] for i in bad for col in LATENCY_COLUMNS],
                    marker="X", markersize=11, linestyle="none", color="#d00", markeredgecolor="white",
                    label=UNSTABLE_LABEL, gid="unstable")
        ax.set_ylabel("latency (ms)")
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    for r, xv, yv in zip(rows, x, lat["p99 latency"], strict=True):
        by_rate.annotate(f"{level.lower()} {r[level]}", (xv, yv), textcoords="offset points", xytext=(4, 6),
                         fontsize=8)
    by_rate.set_xlabel("throughput (infer/sec)")
    by_rate.set_title("latency vs throughput (each point: one level)", fontsize=10)
    by_load.set_xlabel(f"{level.lower()} ({'req/sec' if level == 'Request Rate' else 'requests in flight'})")
    by_load.set_title(f"latency vs {level.lower()} (in load order)", fontsize=10)
    fig.suptitle(title)
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
