"""`perfanalyzer plot EXPORT.json`: what only the per-request export shows,
throughput over time across the whole run and each level's latency histogram."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from perfanalyzer.errors import PerfAnalyzerError

BIN_S = 0.1  # throughput resolution over time


def read_export(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text())
    except OSError as e:
        raise PerfAnalyzerError(f"{path}: cannot read: {e.strerror}") from None
    except ValueError as e:
        raise PerfAnalyzerError(f"{path}: not JSON: {e}") from None
    experiments = doc.get("experiments") if isinstance(doc, dict) else None
    if not isinstance(experiments, list) or not experiments:
        raise PerfAnalyzerError(f"{path}: not a profile export (no experiments)")
    return experiments


def _label(e: dict[str, Any]) -> str:
    exp = e.get("experiment", {})
    return f"{str(exp.get('mode', '')).replace('_', ' ')} {exp.get('value', '')}"


def _times(e: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(send ns, last response ns) of every request of one experiment."""
    try:
        reqs = e["requests"]
        start = np.array([r["timestamp"] for r in reqs], dtype=np.int64)
        end = np.array([r["response_timestamps"][-1] for r in reqs], dtype=np.int64)
    except (KeyError, IndexError, TypeError) as err:
        raise PerfAnalyzerError(f"malformed request in experiment '{_label(e)}': {err}") from None
    return start, end


def plot_export(path: Path, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    experiments = read_export(path)
    times = [_times(e) for e in experiments]
    ends = [t[1] for t in times if len(t[1])]
    if not ends:
        raise PerfAnalyzerError(f"{path}: no requests to plot")
    t0 = min(int(x.min()) for x in ends)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for e, (_, end) in zip(experiments, times, strict=True):
        if not len(end):
            continue
        secs = (end - t0) / 1e9
        edges = np.arange(secs.min(), secs.max() + BIN_S, BIN_S)
        if len(edges) < 2:
            edges = np.array([secs.min(), secs.min() + BIN_S])
        counts, edges = np.histogram(secs, bins=edges)
        ax.step(edges[:-1], counts / BIN_S, where="post", label=_label(e))
        bounds = e.get("window_boundaries") or []
        for b in bounds:
            ax.axvline((b - t0) / 1e9, color="grey", alpha=0.15, linewidth=0.8)
    ax.set_xlabel("time since the first measured response (s)")
    ax.set_ylabel(f"responses/sec ({int(BIN_S * 1000)} ms bins)")
    ax.set_title(f"Throughput over time: {path.name} (grey: window boundaries)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    out = out_dir / f"{path.stem}_throughput_over_time.png"
    fig.savefig(out)
    plt.close(fig)
    written.append(out)

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    lat_all = [(end - start) / 1e3 for start, end in times if len(end)]
    top = float(np.percentile(np.concatenate(lat_all), 99.5))
    bins = np.linspace(0, max(top, 1.0), 80)
    for e, (start, end) in zip(experiments, times, strict=True):
        if len(end):
            ax.hist((end - start) / 1e3, bins=bins, histtype="step", label=_label(e), linewidth=1.2)
    ax.set_xlabel("latency (usec), up to the 99.5th percentile of all requests")
    ax.set_ylabel("requests")
    ax.set_title(f"Latency histogram per level: {path.name}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = out_dir / f"{path.stem}_latency_histogram.png"
    fig.savefig(out)
    plt.close(fig)
    written.append(out)
    return written
