"""HTTP client CPU per request on the null server: our native HTTP engine
against wrk, side by side in one run.

The null server (bench/null_server.c) runs on every CPU but the client's, the
client on one CPU (--client-cpu, default 0). At each concurrency the two
clients alternate A B A B for --rounds:

  ours  the native HTTP engine driven from Python in a fresh child process
        (engine_cpu.measure), CPU from getrusage over the steady-state seconds
        divided by the requests completed in them;
  wrk   `wrk -t1 -cC -dNs --latency -s post.lua URL`, the same POST with the same
        body and headers, CPU from RUSAGE_CHILDREN around the process divided by
        the requests of its "N requests in" line (its start-up and connecting
        are in the figure: a little against wrk, not for us).

Usage: .venv/bin/python bench/wrk_cpu.py [--concurrency 1,4,64] [--rounds 3]
       [--seconds 5] [--client-cpu 0] [--json FILE]"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare_http import machine_summary, repo_state  # noqa: E402
from null_server import null_server  # noqa: E402

INFER_PATH = "/v2/models/identity/infer"  # null_server.c answers any POST ending in /infer
CLIENTS = ("ours", "wrk")


@dataclass
class Sample:
    client: str
    concurrency: int
    round: int
    requests: int
    seconds: float
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / max(self.requests, 1) * 1e6


def request_body() -> tuple[bytes, list[str]]:
    """One fixed KServe v2 binary-tensor infer request for identity (INPUT0:
    FP32 [1,16], zeros) and its header lines, the same for both clients."""
    header = (b'{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"FP32",'
              b'"parameters":{"binary_data_size":64}}],'
              b'"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]}')
    return header + bytes(64), ["Content-Type: application/octet-stream",
                                f"Inference-Header-Content-Length: {len(header)}"]


def lua_string(data: bytes) -> str:
    """A Lua string literal holding exactly `data` (binary included)."""
    out = []
    for b in data:
        ch = chr(b)
        if 0x20 <= b < 0x7F and ch not in '"\\':
            out.append(ch)
        else:
            out.append(f"\\{b:03d}")  # decimal escape: Lua's only portable one for bytes
    return '"' + "".join(out) + '"'


def lua_script(body: bytes, headers: list[str]) -> str:
    """The wrk script sending `body` with `headers` (wrk adds Host and Content-Length, as we do)."""
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(body)}"]
    for h in headers:
        name, _, value = h.partition(":")
        lines.append(f"wrk.headers[{lua_string(name.strip().encode())}] = {lua_string(value.strip().encode())}")
    return "\n".join(lines) + "\n"


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_wrk(text: str) -> dict[str, float]:
    """From wrk's report: requests, seconds, non2xx and socket_errors.
    ValueError when the "N requests in T" line is missing."""
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", text, re.MULTILINE)
    if not m:
        raise ValueError("no 'N requests in T' line in wrk's output")
    got: dict[str, float] = {"requests": int(m.group(1)), "seconds": float(m.group(2)) * _UNITS[m.group(3)],
                             "non2xx": 0, "socket_errors": 0}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if bad:
        got["non2xx"] = int(bad.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sock:
        got["socket_errors"] = sum(int(x) for x in sock.groups())
    return got


def fmt_cpu(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} [{min(values):.1f}–{max(values):.1f}]"


def table(samples: list[Sample], levels: list[int]) -> str:
    """Markdown: per concurrency, each client's median req/s and CPU µs per
    request (median [min–max]), and ours/wrk of the medians."""
    rows = ["| concurrency | client | req/s (median) | CPU µs/request median [min–max] | ours/wrk |",
            "|---:|---|---:|---:|---:|"]
    for c in levels:
        medians: dict[str, float] = {}
        for client in CLIENTS:
            runs = [s for s in samples if s.client == client and s.concurrency == c]
            if runs:
                medians[client] = statistics.median(s.cpu_us for s in runs)
        for client in CLIENTS:
            runs = [s for s in samples if s.client == client and s.concurrency == c]
            if not runs:
                continue
            ratio = ""
            if client == "ours" and medians.get("wrk"):
                ratio = f"{medians['ours'] / medians['wrk']:.2f}×"
            rows.append(f"| {c} | {client} | {statistics.median(s.rate for s in runs):,.0f} | "
                        f"{fmt_cpu([s.cpu_us for s in runs])} | {ratio} |")
    return "\n".join(rows)


def run_ours(url: str, c: int, cpu: int, seconds: float, rnd: int) -> Sample:
    cmd = ["taskset", "-c", str(cpu), sys.executable, __file__, "--seconds", str(seconds), "--one", url, str(c)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"wrk_cpu: our engine at c={c} failed (exit {out.returncode}): {tail}")
    requests, cpu_s = out.stdout.split()
    return Sample("ours", c, rnd, int(requests), seconds, float(cpu_s))


def run_wrk(url: str, c: int, cpu: int, seconds: float, rnd: int, script: Path) -> Sample:
    cmd = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{c}", f"-d{int(round(seconds))}s", "--latency",
           "-s", str(script), f"http://{url}{INFER_PATH}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"wrk_cpu: `{shlex.join(cmd)}` failed (exit {out.returncode}): {out.stderr.strip()}")
    try:
        got = parse_wrk(out.stdout)
    except ValueError as exc:
        raise SystemExit(f"wrk_cpu: wrk at c={c}: {exc}") from None
    if got["non2xx"] or got["socket_errors"]:
        raise SystemExit(f"wrk_cpu: wrk at c={c}: {got['non2xx']:.0f} non-2xx answers, "
                         f"{got['socket_errors']:.0f} socket errors: the request is wrong")
    cpu_s = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Sample("wrk", c, rnd, int(got["requests"]), got["seconds"], cpu_s)


def one(url: str, c: int, seconds: float) -> None:
    """The child: one steady-state run of our engine; prints "requests cpu_s"."""
    from engine_cpu import measure

    rate, cpu_us = measure(url, "native", c, seconds, body=request_body())
    requests = round(rate * seconds)
    print(requests, f"{cpu_us * requests / 1e6:.6f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", default="1,4,64", help="comma-separated levels (default 1,4,64)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run (whole for wrk)")
    ap.add_argument("--client-cpu", type=int, default=0, help="CPU of both clients; the server gets the others")
    ap.add_argument("--json", type=Path, metavar="FILE", help="save every run's raw numbers here")
    ap.add_argument("--one", nargs=2, metavar=("URL", "C"), help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.one:
        one(args.one[0], int(args.one[1]), args.seconds)
        return 0
    if not shutil.which("wrk"):
        print("wrk_cpu: wrk not found on PATH: apt-get install wrk", file=sys.stderr)
        return 2
    try:
        levels = [int(c) for c in args.concurrency.split(",")]
    except ValueError:
        print(f"wrk_cpu: --concurrency {args.concurrency!r}: expected comma-separated integers", file=sys.stderr)
        return 3
    if args.rounds < 1 or args.seconds < 1:
        print("wrk_cpu: --rounds and --seconds must be at least 1", file=sys.stderr)
        return 3
    available = os.sched_getaffinity(0)
    server_cpus = available - {args.client_cpu}
    if args.client_cpu not in available or not server_cpus:
        print(f"wrk_cpu: --client-cpu {args.client_cpu}: need it among {sorted(available)} "
              "and at least one other CPU for the server", file=sys.stderr)
        return 3
    started, load = datetime.datetime.now(datetime.timezone.utc), os.getloadavg()[0]
    samples: list[Sample] = []
    body, headers = request_body()
    with tempfile.TemporaryDirectory() as tmp, null_server(server_cpus, 3600) as url:
        script = Path(tmp) / "post.lua"
        script.write_text(lua_script(body, headers))
        for c in levels:
            for rnd in range(args.rounds):  # A B A B: drift on the machine hits both alike
                samples.append(run_ours(url, c, args.client_cpu, args.seconds, rnd))
                samples.append(run_wrk(url, c, args.client_cpu, args.seconds, rnd, script))
    header = (f"{started:%Y-%m-%d %H:%M} UTC; commit {repo_state()}; load before: "
              f"{load:.2f}\nmachine: {machine_summary()}\n"
              f"client CPU {args.client_cpu}, null server on CPUs {sorted(server_cpus)}; "
              f"{args.rounds} rounds of {args.seconds:g} s; wrk: {wrk_version()}")
    print(header + "\n\n" + table(samples, levels))
    if args.json:
        command = shlex.join([Path(sys.executable).name, *sys.argv])
        args.json.write_text(json.dumps({"header": header, "command": command,
                                         "samples": [dict(asdict(s), rate=s.rate, cpu_us=s.cpu_us)
                                                     for s in samples]}, indent=1))
    return 0


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    first = ((out.stdout or out.stderr).strip().splitlines() or ["unknown"])[0]
    return first.split(" Copyright")[0]


if __name__ == "__main__":
    sys.exit(main())
