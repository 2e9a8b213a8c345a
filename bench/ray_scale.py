"""A distributed run's cost: aggregate throughput and client CPU per request
with 1 and 2 Ray workers against the null server (or any Triton given with
--url), the driver's merge cost per window and the bytes each worker sends
per window. Ray on loopback (`--ray-address local`, a private Ray).

    python3 bench/ray_scale.py [--url HOST:PORT] [--concurrency 16] [--seconds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perfanalyzer.runner import profile  # noqa: E402
from perfanalyzer.settings import Range, Settings  # noqa: E402

WORKER = re.compile(r"(\d+) requests, CPU (\d+) % of a core \(([\d.]+) usec per request\)")
MERGE = re.compile(r"driver merge: median (\d+) usec per window, (\d+) bytes per worker")


def run(url: str, workers: int, concurrency: int, seconds: float) -> dict[str, float]:
    lines: list[str] = []
    s = Settings(model_name="identity", url=url, concurrency_range=Range(concurrency, concurrency, 1),
                 measurement_interval_ms=int(seconds * 1000), stability_percentage=100, max_trials=3,
                 ray_address="local", ray_workers=workers).validate()
    result = profile(s, lines.append)
    if result.exit_code != 0:
        raise SystemExit(f"run with {workers} workers failed: {result.sweep.message}")
    text = "\n".join(lines)
    per_worker = [(int(a), float(c)) for a, _, c in WORKER.findall(text)]
    merge = MERGE.search(text)
    level = result.sweep.levels[0]
    cpu_per_request = sum(n * c for n, c in per_worker) / sum(n for n, _ in per_worker)
    return {"workers": workers, "throughput": level.merged.throughput, "cpu_us_per_request": cpu_per_request,
            "merge_us": float(merge.group(1)), "bytes": float(merge.group(2))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a Triton serving `identity` (default: the null server on a free port)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=2.0, help="measurement window")
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.url
        if url is None:
            from null_server import null_server

            url = stack.enter_context(null_server(None, 600))
        print("workers  infer/s   client CPU usec/request  merge usec/window  bytes/window/worker")
        for n in (1, 2):
            r = run(url, n, args.concurrency, args.seconds)
            print(f"{n:7d}  {r['throughput']:8.0f}  {r['cpu_us_per_request']:23.1f}  {r['merge_us']:17.0f}  "
                  f"{r['bytes']:19.0f}")


if __name__ == "__main__":
    main()
