"""Engine-only CPU per request: the compiled HTTP clients (native vs curl)
driven straight from Python, no profiler, no process start-up in the figure.

Alternates the clients (and, with --threads 1,2, the engine thread counts)
A B A B at each concurrency against one bundled Triton and prints the median
of each. Usage: .venv/bin/python bench/engine_cpu.py [--threads 1,2]"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(url: str, client: str, concurrency: int, seconds: float, threads: int = 1,
            body: tuple[bytes, list[str]] | None = None) -> tuple[float, float]:
    """(requests/s, CPU µs per request) of one engine run in this process.
    body: (bytes, header lines) to send to identity's infer; default: one
    random request built from the model's metadata."""
    from perfanalyzer import _core
    from perfanalyzer.inputs import make_inputs
    from perfanalyzer.services.triton_http import TritonHttpService

    svc = TritonHttpService(url)
    if body is None:
        spec = svc.model_spec("identity")
        body = svc.encode_request(spec, make_inputs(spec, {"INPUT0": (16,)}, 1, "random"))
    engine = _core.HttpEngine(svc.infer_url("identity"), [body], client=client, threads=threads)
    engine.start()
    engine.set_concurrency(concurrency)
    time.sleep(0.5)  # connections open, steady state
    r0, n0 = resource.getrusage(resource.RUSAGE_SELF), engine.completed
    time.sleep(seconds)
    r1, n1 = resource.getrusage(resource.RUSAGE_SELF), engine.completed
    engine.stop(1000)
    engine.close()
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    done = max(n1 - n0, 1)
    return done / seconds, cpu / done * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", help="HOST:PORT of a running Triton (default: start the bundled one)")
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--clients", default="curl,native")
    ap.add_argument("--threads", default="1", help="comma-separated engine thread counts to compare")
    ap.add_argument("--one", nargs=4, metavar=("URL", "CLIENT", "C", "T"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:  # a child process: one measurement, so each run starts fresh
        rate, cpu = measure(args.one[0], args.one[1], int(args.one[2]), args.seconds, int(args.one[3]))
        print(f"{rate:.1f} {cpu:.2f}")
        return 0
    if not args.url:
        sys.path.insert(0, str(REPO / "tools"))
        from triton_launcher import TritonServer

        with TritonServer(REPO / "examples" / "model_repository") as server:
            return run_all(server.http_url, args)
    return run_all(args.url, args)


def run_all(url: str, args: argparse.Namespace) -> int:
    levels = [int(c) for c in args.concurrency.split(",")]
    clients = args.clients.split(",")
    thread_counts = [int(t) for t in args.threads.split(",")]
    results: dict[tuple[str, int, int], list[tuple[float, float]]] = {}
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    for _ in range(args.rounds):
        for c in levels:
            for client in clients:
                for t in thread_counts:
                    out = subprocess.run([sys.executable, __file__, "--seconds", str(args.seconds), "--one", url,
                                          client, str(c), str(t)], capture_output=True, text=True, check=True,
                                         env=env)
                    rate, cpu = map(float, out.stdout.split())
                    results.setdefault((client, c, t), []).append((rate, cpu))
    print("| concurrency | client | engine threads | req/s (median) | CPU µs/request (median) [min–max] |")
    print("|---:|---|---:|---:|---:|")
    for c in levels:
        for client in clients:
            for t in thread_counts:
                runs = results[(client, c, t)]
                cpus = [r[1] for r in runs]
                print(f"| {c} | {client} | {t} | {statistics.median(r[0] for r in runs):,.0f} | "
                      f"{statistics.median(cpus):.1f} [{min(cpus):.1f}–{max(cpus):.1f}] |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
