#!/usr/bin/env python3
"""Side-by-side benchmark: our `perfanalyzer` against NVIDIA's C++ perf_analyzer,
over HTTP or (--protocol grpc) over gRPC.

Both clients are run against the same Triton server on loopback, one at a time,
alternating ours/theirs at each concurrency level, for N rounds. Per level it
reports the median of each side and the ratio ours/theirs for throughput, avg
latency, p99 latency and client CPU time per request. See bench/README.md.

Stdlib only, so it runs with any Python 3.10+ (the project venv under `make bench`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pa_output import parse_console, parse_csv  # noqa: E402
from results import Run, Sample, fmt, report, steady_cpu_per_request  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"

RESULTS_PREAMBLE = """# Benchmark results

Appended by `bench/compare_http.py --record` and `bench/compare_rate.py --record`; bench/README.md explains the columns.
Each entry is one measured session, exactly as printed, with its command line.
"""

# Discarded warm-up and settle runs: 3 windows of 1 s that always count as
# stable (-s 100), so they take a fixed ~4 s and never fail.
SHORT_ARGS = ("-p", "1000", "-s", "100")
# How often a run samples the client's CPU and the server's count (one stats
# request each time, the same for both tools).
SAMPLE_EVERY_S = 0.5


def model_request_counts(url: str, model: str) -> tuple[int, int]:
    """(success, fail) request counts of `model` from Triton's statistics extension.

    The server counts every request a client sends, warm-up and unstable
    windows included, the same way for both tools; the clients' own request
    counts cover only the windows they kept.
    """
    with urllib.request.urlopen(f"http://{url}/v2/models/{model}/stats", timeout=10) as resp:
        stats = json.load(resp)
    ok = sum(m["inference_stats"]["success"]["count"] for m in stats["model_stats"])
    bad = sum(m["inference_stats"]["fail"]["count"] for m in stats["model_stats"])
    return ok, bad


def process_cpu_s(pid: int) -> float | None:
    """user + sys CPU seconds of a live process (all its threads, exited ones
    included), from /proc; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_client(
    cmd: Sequence[str], log_path: Path, timeout_s: float, cpus: set[int] | None,
    counter: Callable[[], int] | None = None, samples: list[Sample] | None = None,
) -> tuple[int, float, float, float]:
    """Run one client to completion; return (exit code, wall s, user s, sys s).

    os.wait4 gives the rusage of exactly this child (and anything it reaped),
    unlike RUSAGE_CHILDREN, which would also take in whatever the server
    launcher reaps meanwhile. Popen.wait would reap it first and lose that.

    With `counter` (the server's request count) every SAMPLE_EVERY_S a
    (time, client CPU, count) sample is appended to `samples`, for the
    steady-state CPU per request (results.steady_cpu_per_request).
    """

    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    with open(log_path, "wb") as log:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=pin)
    killed = False
    next_sample = start
    while True:
        pid, status, usage = os.wait4(proc.pid, 0 if killed else os.WNOHANG)
        if pid:
            break
        now = time.monotonic()
        if counter is not None and samples is not None and now >= next_sample:
            cpu = process_cpu_s(proc.pid)
            if cpu is not None:
                samples.append(Sample(now - start, cpu, counter()))
            next_sample = now + SAMPLE_EVERY_S
        if time.monotonic() - start > timeout_s:
            proc.kill()
            killed = True
        else:
            # Polling, not a blocking wait, so a hung client can be killed;
            # 10 wake-ups a second are noise-free for this purpose.
            time.sleep(0.1)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen it is reaped
    return proc.returncode, wall, usage.ru_utime, usage.ru_stime


def client_command(base_cmd: Sequence[str], args: argparse.Namespace, url: str, load: Sequence[str],
                   csv_path: Path, extra: Sequence[str] = ()) -> list[str]:
    """One client's argv: the same flags for both tools, then the side's own."""
    return [
        *base_cmd,
        "-m", args.model,
        "-u", url,
        *load,
        "-p", str(args.measurement_interval),
        "-s", str(args.stability),
        "-f", str(csv_path),
        *shlex.split(args.pa_args),
        *extra,
    ]  # fmt: skip


def report_failure(stem: str, rc: int, text: str) -> None:
    """A failed run's figures are dropped even when printed: perf_analyzer
    2.40 prints none when it cannot stabilise, while ours prints the last
    windows marked UNSTABLE; keeping them would favour one side."""
    tail = text.strip().splitlines()[-3:]
    print(f"  {stem}: exit {rc}: {' | '.join(tail)}", file=sys.stderr)


def measure(
    side: str,
    base_cmd: Sequence[str],
    args: argparse.Namespace,
    url: str,
    concurrency: int,
    rnd: int,
    workdir: Path,
    cpus: set[int] | None,
    extra: Sequence[str] = (),
    client_url: str | None = None,
) -> Run:
    """One client run; the server's counters are read over HTTP at `url`, the
    client talks to `client_url` (the gRPC endpoint), or to `url` when None."""
    stem = f"{side}-c{concurrency}-r{rnd}"
    csv_path = workdir / f"{stem}.csv"
    log_path = workdir / f"{stem}.log"
    cmd = client_command(base_cmd, args, client_url or url, ["--concurrency-range", f"{concurrency}:{concurrency}"],
                         csv_path, extra)
    ok0, bad0 = model_request_counts(url, args.model)
    samples: list[Sample] = []
    rc, wall, user, sys_ = run_client(cmd, log_path, args.timeout, cpus,
                                      lambda: model_request_counts(url, args.model)[0], samples)
    ok1, bad1 = model_request_counts(url, args.model)
    requests = ok1 - ok0
    values: dict[str, float] = {}
    if rc == 0:
        console = parse_console(log_path.read_text(errors="replace"), concurrency)
        # The CSV is the tools' machine-readable output, so it wins where both
        # have a figure; avg latency is only on the console.
        table = parse_csv(csv_path, concurrency) if csv_path.exists() else {}
        values = {**console, **table}
    else:
        report_failure(stem, rc, log_path.read_text(errors="replace"))
    return Run(
        side=side,
        concurrency=concurrency,
        round=rnd,
        rc=rc,
        wall_s=round(wall, 3),
        cpu_user_s=user,
        cpu_sys_s=sys_,
        requests=requests,
        failed_requests=bad1 - bad0,
        throughput=values.get("throughput"),
        avg_latency_us=values.get("avg_latency_us"),
        p99_latency_us=values.get("p99_latency_us"),
        # CPU per request stays meaningful even when the tool failed to
        # stabilise: it is the cost of whatever it did send.
        cpu_us_per_req=(user + sys_) * 1e6 / requests if requests > 0 else None,
        steady_cpu_us_per_req=steady_cpu_per_request(samples, wall),
    )


@contextlib.contextmanager
def triton_server(args: argparse.Namespace, cpus: set[int] | None) -> Iterator[str]:
    """Yield the HTTP url of the server: --url's, or one started for the run."""
    with triton_server_urls(args, cpus) as (http_url, _grpc_url):
        yield http_url


@contextlib.contextmanager
def triton_server_urls(args: argparse.Namespace, cpus: set[int] | None) -> Iterator[tuple[str, str]]:
    """Yield the (HTTP, gRPC) urls of the server: --url/--grpc-url's, or one started for the run."""
    if args.url:
        if cpus:
            print("note: --url given, so the server is not pinned", file=sys.stderr)
        yield args.url, getattr(args, "grpc_url", None) or ""
        return
    sys.path.insert(0, str(REPO / "tools"))
    from triton_launcher import TritonServer  # type: ignore[import-not-found]

    # Children inherit CPU affinity at fork, so pinning ourselves while the
    # server starts pins the server and its backend stubs, with no need to know
    # how the launcher spawns them.
    all_cpus = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        server = TritonServer(
            args.model_repository,
            server_venv=args.server_venv,
            log_path=args.server_log,
            startup_timeout=args.startup_timeout,
        )
        with server as srv:
            os.sched_setaffinity(0, all_cpus)
            yield srv.http_url, srv.grpc_url
    finally:
        os.sched_setaffinity(0, all_cpus)


def run_rounds(
    args: argparse.Namespace,
    sides: Sequence[tuple[str, list[str]]],
    url: str,
    workdir: Path,
    cpus: set[int] | None,
    client_url: str | None = None,
) -> list[Run]:
    def discarded(label: str, cmd: Sequence[str], c: int, rnd: int) -> None:
        measure(label, cmd, args, url, c, rnd, workdir, cpus, SHORT_ARGS, client_url)

    if args.warmup:
        # The first run of each client pays for a cold page cache (and, for
        # ours, cold .pyc imports) in CPU time; the first against a fresh
        # server pays for its first-request setup.
        for side, cmd in sides:
            discarded(f"warmup-{side}", cmd, max(args.levels), 0)
    runs: list[Run] = []
    # Rounds outermost so each level's samples are spread over the whole
    # session: slow drift on a shared machine then hits both sides alike.
    for rnd in range(1, args.rounds + 1):
        # Who goes first flips every round: in A/A runs (the C++ tool on both
        # sides) the first slot of a pair measured systematically differently.
        order = sides if rnd % 2 else sides[::-1]
        for c in args.levels:
            if args.settle:
                # Measured: the first run after a change of level (notably
                # 16 -> 1) is slower for ~10 s; let a discarded run take that.
                discarded(f"settle-{order[0][0]}", order[0][1], c, rnd)
            for side, cmd in order:
                run = measure(side, cmd, args, url, c, rnd, workdir, cpus, client_url=client_url)
                runs.append(run)
                print(
                    f"round {rnd} c={c:<3} {side:<6} thr={fmt(run.throughput, 1)} "
                    f"avg={fmt(run.avg_latency_us, 0)}us p99={fmt(run.p99_latency_us, 0)}us "
                    f"cpu/req={fmt(run.cpu_us_per_req, 1)}us reqs={run.requests} "
                    f"wall={run.wall_s:.1f}s",
                    file=sys.stderr,
                )
    return runs


def tool_version(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        return f"unknown ({exc})"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if out.returncode == 0 and text else "unknown"


def machine_summary() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}, Python {platform.python_version()}"


def repo_state() -> str:
    """Commit of the checkout, so a recorded table can be tied to the code measured."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def default_theirs() -> str:
    out = subprocess.run(["bash", str(BENCH / "get_perf_analyzer.sh")], stdout=subprocess.PIPE, text=True, check=True)
    return shlex.quote(out.stdout.strip().splitlines()[-1])


def add_common_args(p: argparse.ArgumentParser) -> None:
    """Options shared with compare_rate.py: the clients, the server, the session and its record."""
    p.add_argument(
        "--ours",
        default=str(REPO / ".venv" / "bin" / "perfanalyzer"),
        help="command line of our client (default: %(default)s)",
    )
    p.add_argument(
        "--theirs",
        default=None,
        help="command line of the C++ perf_analyzer (default: what "
        "bench/get_perf_analyzer.sh prints, fetching it if needed)",
    )
    p.add_argument(
        "--url",
        default=None,
        help="HOST:PORT of a running Triton HTTP endpoint; default: start one with tools/triton_launcher.py",
    )
    p.add_argument("--model-repository", default=str(REPO / "examples" / "model_repository"))
    p.add_argument(
        "--server-venv", default=None, help="venv holding tritonserver (default: the launcher's own default)"
    )
    p.add_argument("--server-log", default=None, help="where the started server logs")
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("-m", "--model", default="identity")
    p.add_argument("--rounds", type=int, default=3, help="ours/theirs pairs per level")
    p.add_argument("-p", "--measurement-interval", type=int, default=2000, help="ms, passed to -p")
    p.add_argument("--pa-args", default="", help="extra flags given to both clients, e.g. '-r 20'")
    p.add_argument(
        "--taskset",
        type=int,
        default=None,
        metavar="CPU",
        help="pin each client to CPU and the started server to all other CPUs",
    )
    p.add_argument(
        "--stability",
        type=int,
        default=25,
        metavar="PCT",
        help="-s given to both clients (perf_analyzer's own default is 10; see bench/README.md)",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before a client is killed")
    p.add_argument("--keep", default=None, metavar="DIR", help="keep each run's console log and CSV in DIR")
    p.add_argument("--json", default=None, metavar="PATH", help="write every run's figures here")
    p.add_argument("--note", default="", help="a line to put under the heading of the --record entry")
    p.add_argument("--record", action="store_true", help="append the table, command line and date to bench/RESULTS.md")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--protocol", choices=("http", "grpc"), default="http",
                   help="what both clients speak (-i); the server's counters are always read over HTTP")
    p.add_argument("--grpc-url", default=None, help="HOST:PORT of the gRPC endpoint of the server given by --url")
    p.add_argument("--concurrency", default="1,4,16", help="comma-separated levels, each run as its own client process")
    p.add_argument(
        "--warmup",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run each client briefly at the top level first, discarded (default: on)",
    )
    p.add_argument(
        "--settle",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="before each ours/theirs pair, a short discarded run at that level (default: on)",
    )
    args = p.parse_args(argv)
    args.levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    if args.protocol == "grpc" and args.url and not args.grpc_url:
        p.error("--protocol grpc with --url needs --grpc-url")
    if args.protocol == "grpc":
        args.pa_args = f"-i grpc {args.pa_args}".strip()
    if args.rounds < 1 or not args.levels:
        p.error("need at least one round and one concurrency level")
    return args


def client_setup(args: argparse.Namespace) -> tuple[list[str], list[str], set[int] | None, set[int] | None]:
    """(ours, theirs, client CPUs, server CPUs) from the options; SystemExit(2) when unusable."""
    ours = shlex.split(args.ours)
    theirs = shlex.split(args.theirs if args.theirs is not None else default_theirs())
    if not Path(ours[0]).exists() and not shutil.which(ours[0]):
        print(f"our client {ours[0]!r} not found: build it with `make venv` or pass --ours", file=sys.stderr)
        raise SystemExit(2)
    client_cpus = server_cpus = None
    if args.taskset is not None:
        available = os.sched_getaffinity(0)
        client_cpus = {args.taskset}
        server_cpus = available - client_cpus
        if args.taskset not in available or not server_cpus:
            print(
                f"--taskset {args.taskset}: need it among {sorted(available)} "
                "and at least one other CPU for the server",
                file=sys.stderr,
            )
            raise SystemExit(2)
        # This process samples /proc and the server's counts while a client
        # runs; on the client's CPU each sample would stall the client (about
        # 0.7 ms every 100 ms, seen as the p99 schedule lag of an open loop).
        os.sched_setaffinity(0, server_cpus)
    return ours, theirs, client_cpus, server_cpus


def session_header(args: argparse.Namespace, ours: Sequence[str], theirs: Sequence[str] | None,
                   extra: str = "") -> str:
    """Who was measured, where and how: printed above the table and recorded with it (theirs None: not run)."""
    theirs_line = f"`{shlex.join(theirs)}` ({tool_version(theirs)})" if theirs is not None else "not run"
    return (
        f"ours: `{args.ours}` ({tool_version(ours)})  \n"
        f"theirs: {theirs_line}  \n"
        f"commit: {repo_state()}  \n"
        f"machine: {machine_summary()}  \n"
        f"client pinned to CPU: {args.taskset if args.taskset is not None else 'no'}; "
        f"rounds: {args.rounds}; -p {args.measurement_interval} -s {args.stability} {args.pa_args}".rstrip()
        + extra
    )


def append_results(started: datetime.datetime, note: str, header: str, table: str) -> None:
    """Append one session to RESULTS.md under its start time, with the command that produced it."""
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    results = BENCH / "RESULTS.md"
    note = f"{note}\n\n" if note else ""
    with open(results, "a", encoding="utf-8") as f:
        if f.tell() == 0:
            f.write(RESULTS_PREAMBLE)
        f.write(f"\n## {started:%Y-%m-%d %H:%M} UTC\n\n{note}```\n{command}\n```\n\n{header}\n\n{table}\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        ours, theirs, client_cpus, server_cpus = client_setup(args)
    except SystemExit as exc:
        return int(exc.code or 2)

    sides = (("ours", ours), ("theirs", theirs))
    started = datetime.datetime.now(datetime.timezone.utc)
    with contextlib.ExitStack() as stack:
        workdir = Path(args.keep) if args.keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        url, grpc_url = stack.enter_context(triton_server_urls(args, server_cpus))
        client_url = grpc_url if args.protocol == "grpc" else None
        runs = run_rounds(args, sides, url, workdir, client_cpus, client_url)

    table = report(runs, args.levels)
    header = session_header(args, ours, theirs)
    print(header + "\n\n" + table)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in runs], indent=1) + "\n")
    if args.record:
        append_results(started, args.note, header, table)
    # A single unstable run is routine on a busy machine and the medians do
    # without it; a level where one side never succeeded has no comparison.
    complete = all(
        any(r.rc == 0 for r in runs if (r.side, r.concurrency) == (side, c)) for side, _ in sides for c in args.levels
    )
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
