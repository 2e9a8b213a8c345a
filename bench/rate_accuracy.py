"""Open-loop accuracy of the compiled engines: achieved rate, schedule lag
and delayed sends at fixed request rates against the bundled Triton.

Usage: .venv/bin/python bench/rate_accuracy.py [--url HOST:PORT] [--rates 200,1000,5000]"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(url: str, rates: list[float], seconds: float) -> None:
    from perfanalyzer import _core
    from perfanalyzer.inputs import make_inputs
    from perfanalyzer.services.triton_http import TritonHttpService

    svc = TritonHttpService(url)
    spec = svc.model_spec("identity")
    body = svc.encode_request(spec, make_inputs(spec, {"INPUT0": (16,)}, 1, "random"))
    print("| client | target req/s | achieved req/s | lag p50 (µs) | lag p99 (µs) | sent > 1 ms late |")
    print("|---|---:|---:|---:|---:|---:|")
    for client in ("native", "curl"):
        for rate in rates:
            engine = _core.HttpEngine(svc.infer_url("identity"), [body], client=client)
            engine.start()
            engine.set_rate(rate, "constant")
            time.sleep(0.5)
            t0, _ = engine.swap()
            time.sleep(seconds)
            t1, w = engine.swap()
            engine.stop(2000)
            engine.close()
            achieved = w.ok / ((t1 - t0) / 1e9)
            late = 100.0 * w.delayed / max(w.scheduled_count, 1)
            print(f"| {client} | {rate:,.0f} | {achieved:,.1f} | {w.lag_percentile_ns(50) / 1e3:.1f} | "
                  f"{w.lag_percentile_ns(99) / 1e3:.1f} | {late:.2f} % |", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", help="HOST:PORT of a running Triton (default: start the bundled one)")
    ap.add_argument("--rates", default="200,1000,5000")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    if args.url:
        measure(args.url, rates, args.seconds)
        return 0
    sys.path.insert(0, str(REPO / "tools"))
    from triton_launcher import TritonServer

    with TritonServer(REPO / "examples" / "model_repository") as server:
        measure(server.http_url, rates, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
