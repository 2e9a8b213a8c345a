#!/usr/bin/env python3
"""Side-by-side request-rate benchmark: our `perfanalyzer` against NVIDIA's C++ perf_analyzer.

compare_http.py's method (one server, one client process at a time,
ours/theirs alternating, N rounds, medians) applied to `--request-rate-range
R:R`. Per target rate it reports, for each side, the throughput the tool
reports, the rate at which the server completed its requests, its CPU time
per request, its delayed share and (ours only) its schedule lag. See
bench/README.md, "compare_rate.py".

Stdlib only, so it runs with any Python 3.10+.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_http import (  # noqa: E402
    SHORT_ARGS,
    add_common_args,
    append_results,
    client_command,
    client_setup,
    report_failure,
    run_client,
    session_header,
    triton_server,
)
from null_server import null_server  # noqa: E402
from pa_output import parse_csv, parse_rate_console  # noqa: E402
from rate_report import met_within, report  # noqa: E402,F401 (met_within: re-exported for the tests)
from results import fmt  # noqa: E402

# How often the server's request count is read while a client runs: fine
# enough to place the start of sending within 0.1 s of a ~10-30 s run, and
# ~10 stats requests a second cost the server nothing next to 10^3-10^4
# inferences.
POLL_S = 0.1

# /proc/net/tcp state code of CLOSE_WAIT.
_CLOSE_WAIT = "08"


@dataclass
class RateRun:
    """One client process at one target rate. Figures not printed or not measurable are None."""

    side: str
    rate: float
    round: int
    rc: int
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    # Requests the server completed from spawn until it was idle again after
    # the client exited (so ours' backlog at overload is charged to ours).
    requests: int
    failed_requests: int
    # The tool's own figures for its stable level (None when it failed).
    throughput: float | None
    avg_latency_us: float | None
    send_rate: float | None
    delayed_pct: float | None
    lag_p50_us: float | None
    lag_p99_us: float | None
    # Measured outside the tool, kept for failed runs too.
    server_rate: float | None
    startup_s: float | None
    cpu_us_per_req: float | None
    # Server sockets left in CLOSE_WAIT by this run (see README).
    leaked_connections: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def achieved_ratio(self) -> float | None:
        """Server-counted rate over the target rate."""
        return self.server_rate / self.rate if self.server_rate is not None else None


class CountReader:
    """(success, fail) counts of the model from Triton's statistics extension, or None.

    One kept-alive connection, so polling adds no connection churn to the
    server's accept loop. Failures give None instead of raising: a server
    whose descriptors a client has exhausted cannot be read for a while, and
    the run is still worth reporting.
    """

    def __init__(self, url: str, model: str) -> None:
        self.host, port = url.rsplit(":", 1)
        self.port = int(port)
        self.model = model
        self._conn: http.client.HTTPConnection | None = None

    def read(self) -> tuple[int, int] | None:
        try:
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
            self._conn.request("GET", f"/v2/models/{self.model}/stats")
            stats = json.loads(self._conn.getresponse().read())
            ok = sum(m["inference_stats"]["success"]["count"] for m in stats["model_stats"])
            bad = sum(m["inference_stats"]["fail"]["count"] for m in stats["model_stats"])
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            self.close()
            return None
        return ok, bad

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


class Poller:
    """Samples (monotonic time, success count) every POLL_S seconds in a thread.

    The first sample is taken before __enter__ returns, so it is a baseline
    that a client spawned afterwards cannot be counted in.
    """

    def __init__(self, url: str, model: str) -> None:
        self.reader = CountReader(url, model)
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        counts = self.reader.read()
        if counts is not None:
            self.samples.append((time.monotonic(), counts[0]))

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            self._sample()

    def __enter__(self) -> Poller:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.reader.close()


def server_rate(samples: Sequence[tuple[float, int]], spawned: float) -> tuple[float | None, float | None]:
    """(completions per second while the client was sending, seconds from spawn to its first request).

    samples are (monotonic time, success count), the first read before the
    client was spawned at `spawned`. The sending period is bracketed by polls
    known to lie inside it: the first poll that saw the count rise, and the
    poll just before the last rise (the count still rose after it). Edges
    and the process's start-up (imports, connection set-up) and shutdown
    (printing, exit) are thereby left out, which a plain delta / wall time
    would charge to the tool as a lower rate.
    """
    if len(samples) < 2:
        return None, None
    base = samples[0][1]
    first = next((i for i, (_, c) in enumerate(samples) if c > base), None)
    if first is None:
        return None, None
    startup = max(samples[first][0] - spawned, 0.0)
    last_rise = max(i for i in range(1, len(samples)) if samples[i][1] > samples[i - 1][1])
    end = last_rise - 1
    if end <= first:
        return None, startup
    (t0, c0), (t1, c1) = samples[first], samples[end]
    return (c1 - c0) / (t1 - t0), startup


def close_wait_count(port: int) -> int | None:
    """Sockets on the server's port in CLOSE_WAIT: connections its peer closed and it never did.

    Triton (pytriton 0.7.0's build) keeps such a socket for every connection
    whose client went away with a request still queued (still there minutes
    later, when we stopped watching); enough of them exhaust its descriptors.
    Read from /proc/net, so only for a server on this machine; None where
    /proc/net is not readable.
    """
    count = 0
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(FileNotFoundError), open(table, encoding="ascii") as f:
                next(f, None)  # header
                for line in f:
                    cols = line.split()
                    if len(cols) > 3 and cols[3] == _CLOSE_WAIT and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        count += 1
    except OSError:
        return None
    return count


class Server:
    """The Triton under test; one this script started can be restarted."""

    def __init__(self, args: argparse.Namespace, cpus: set[int] | None) -> None:
        self.args = args
        self.cpus = cpus
        self.stack = contextlib.ExitStack()
        self.url = ""

    def start(self) -> None:
        if self.args.null_server:
            self.url = self.stack.enter_context(null_server(self.cpus, self.args.null_server_seconds))
        else:
            self.url = self.stack.enter_context(triton_server(self.args, self.cpus))

    def restart(self) -> bool:
        if self.args.url:
            return False
        self.stack.close()
        self.stack = contextlib.ExitStack()
        self.start()
        return True

    def close(self) -> None:
        self.stack.close()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def wait_idle(self, reader: CountReader, timeout_s: float = 60.0) -> tuple[int, int] | None:
        """Counts once they have stopped changing for 0.5 s (None if the server cannot be read).

        After ours overloads the server, the requests queued in it are still
        executed after ours exits; the next run must not start on that backlog.
        """
        deadline = time.monotonic() + timeout_s
        last = reader.read()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = reader.read()
            if now is not None and now == last:
                return now
            last = now
        return last


def rate_text(rate: float) -> str:
    return f"{rate:g}"


def measure(
    side: str,
    base_cmd: Sequence[str],
    side_args: str,
    args: argparse.Namespace,
    server: Server,
    rate: float,
    rnd: int,
    workdir: Path,
    cpus: set[int] | None,
    extra: Sequence[str] = (),
) -> RateRun:
    stem = f"{side}-r{rate_text(rate)}-round{rnd}"
    csv_path = workdir / f"{stem}.csv"
    log_path = workdir / f"{stem}.log"
    load = ["--request-rate-range", f"{rate_text(rate)}:{rate_text(rate)}"]
    cmd = client_command(base_cmd, args, server.url, load, csv_path, [*shlex.split(side_args), *extra])
    reader = CountReader(server.url, args.model)
    closed0 = close_wait_count(server.port)
    before = reader.read()
    with Poller(server.url, args.model) as poller:
        spawned = time.monotonic()
        rc, wall, user, sys_ = run_client(cmd, log_path, args.timeout, cpus)
    after = server.wait_idle(reader)
    reader.close()
    closed1 = close_wait_count(server.port)
    srate, startup = server_rate(poller.samples, spawned)
    requests, failed = (after[0] - before[0], after[1] - before[1]) if before and after else (0, 0)
    values: dict[str, float] = {}
    notes: list[str] = []
    text = log_path.read_text(errors="replace")
    if rc == 0:
        values = parse_rate_console(text, rate)
        table = parse_csv(csv_path, rate, "Request Rate") if csv_path.exists() else {}
        values.update(table)
    else:
        report_failure(stem, rc, text)
        notes.append(failure_reason(text, rc))
    if "scheduled" in values:
        # Ours prints every late send in its lag line, not only above 1 %.
        delayed: float | None = 100.0 * values["delayed"] / values["scheduled"] if values["scheduled"] else 0.0
    else:
        delayed = values.get("delayed_warning_pct")
    return RateRun(
        side=side,
        rate=rate,
        round=rnd,
        rc=rc,
        wall_s=round(wall, 3),
        cpu_user_s=user,
        cpu_sys_s=sys_,
        requests=requests,
        failed_requests=failed,
        throughput=values.get("throughput"),
        avg_latency_us=values.get("avg_latency_us"),
        send_rate=values.get("send_rate"),
        delayed_pct=delayed,
        lag_p50_us=values.get("lag_p50_us"),
        lag_p99_us=values.get("lag_p99_us"),
        server_rate=srate,
        startup_s=startup,
        cpu_us_per_req=(user + sys_) * 1e6 / requests if requests > 0 else None,
        leaked_connections=(closed1 - closed0) if closed0 is not None and closed1 is not None else None,
        notes=notes,
    )


def failure_reason(text: str, rc: int) -> str:
    """A few words on why a client exited non-zero, for the list under the table."""
    if "Failed to obtain stable measurement" in text:
        return "did not stabilise"
    if "Too many open files" in text:
        return "out of file descriptors"
    if rc < 0:
        return f"killed by signal {-rc}"
    lines = text.strip().splitlines()
    return lines[-1][:80] if lines else "no output"


def run_rounds(
    args: argparse.Namespace,
    sides: Sequence[tuple[str, list[str], str]],
    server: Server,
    workdir: Path,
    cpus: set[int] | None,
) -> tuple[list[RateRun], list[str]]:
    """Every measured run, and a line per server restart."""
    # The client that warms up a restarted server: the C++ tool when it runs
    # (it cannot leave a backlog, see check_server), else the first of ours.
    theirs = next((s for s in sides if s[0] == "theirs"), sides[0])
    restarts: list[str] = []

    def discarded(label: str, side: tuple[str, list[str], str], rate: float, rnd: int) -> RateRun:
        return measure(f"{label}-{side[0]}", side[1], side[2], args, server, rate, rnd, workdir, cpus, SHORT_ARGS)

    def check_server(after: RateRun, stem: str) -> None:
        # A run that left the server with leaked connections (or unreadable)
        # would hand the next one a degraded server; replace it, and warm the
        # new one up with the C++ tool, which never has more than its 4
        # threads' requests in flight and so cannot degrade it in turn.
        leaked = after.leaked_connections or 0
        if leaked < args.restart_after_leaks and after.requests > 0:
            return
        why = f"{leaked} leaked connections" if leaked else "no requests counted"
        if server.restart():
            restarts.append(f"{stem} ({why})")
            print(f"  server restarted after {stem}: {why}", file=sys.stderr)
            discarded("rewarm", theirs, after.rate, after.round)
        else:
            after.notes.append(f"server left with {why}")

    if args.warmup:
        # Cold page cache and imports for each client, first requests for the
        # server; at the lowest rate, so that no client overloads it yet.
        for side in sides:
            run = discarded("warmup", side, min(args.levels), 0)
            check_server(run, f"warmup {side[0]}")
    runs: list[RateRun] = []
    for rnd in range(1, args.rounds + 1):
        order = sides if rnd % 2 else sides[::-1]
        for rate in args.levels:
            if args.settle and not args.ours_only:
                # The C++ tool settles the server at the new rate for both
                # sides, for the reason check_server gives.
                run = discarded("settle", theirs, rate, rnd)
                check_server(run, f"settle r={rate_text(rate)} round {rnd}")
            for side in order:
                run = measure(side[0], side[1], side[2], args, server, rate, rnd, workdir, cpus)
                runs.append(run)
                print(
                    f"round {rnd} rate={rate_text(rate):<6} {side[0]:<6} rc={run.rc} "
                    f"thr={fmt(run.throughput, 1)} server={fmt(run.server_rate, 1)}/s "
                    f"startup={fmt(run.startup_s, 2)}s delayed={fmt(run.delayed_pct, 2)}% "
                    f"lag p50/p99={fmt(run.lag_p50_us, 0)}/{fmt(run.lag_p99_us, 0)}us "
                    f"cpu/req={fmt(run.cpu_us_per_req, 1)}us reqs={run.requests} "
                    f"leaked={run.leaked_connections} wall={run.wall_s:.1f}s",
                    file=sys.stderr,
                )
                check_server(run, f"{side[0]} r={rate_text(rate)} round {rnd}")
    return runs, restarts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--rates", default="1000,5000,10000", help="target req/s, each run as its own client process")
    p.add_argument("--ours-args", default="", help="extra flags for ours only, e.g. '--max-inflight 4'")
    p.add_argument(
        "--transports",
        default="native",
        help="our HTTP clients to measure, comma-separated: native (side 'ours'), curl (side 'ours-curl', "
        "--http-client curl) (default: native)",
    )
    p.add_argument("--ours-only", action="store_true",
                   help="run only ours (no perf_analyzer, no settle runs): quick iteration on our engine")
    p.add_argument("--theirs-args", default="", help="extra flags for the C++ tool only, e.g. '--max-threads 16'")
    p.add_argument(
        "--warmup",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run each client briefly at the lowest rate first, discarded (default: on)",
    )
    p.add_argument(
        "--settle",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="before each ours/theirs pair, a short discarded run of the C++ tool at that rate (default: on)",
    )
    p.add_argument(
        "--null-server",
        action="store_true",
        help="serve canned answers from bench/null_server.c (built on first use) instead of Triton: "
        "the client's own limit is what gets measured; pinned like Triton with --taskset",
    )
    p.add_argument("--null-server-seconds", type=int, default=3600, metavar="S",
                   help="the null server stops by itself after S seconds (default: 3600)")
    p.add_argument(
        "--restart-after-leaks",
        type=int,
        default=50,
        metavar="N",
        help="restart the started server after a run that left N or more connections in CLOSE_WAIT (default: 50)",
    )
    args = p.parse_args(argv)
    args.levels = [float(x) for x in args.rates.split(",") if x.strip()]
    args.transport_list = [t.strip() for t in args.transports.split(",") if t.strip()]
    unknown = sorted(set(args.transport_list) - set(TRANSPORTS))
    if unknown or not args.transport_list:
        p.error(f"--transports: {', '.join(unknown) or 'none given'}; choose from {', '.join(TRANSPORTS)}")
    if args.ours_only and args.theirs is not None:
        p.error("--ours-only runs no perf_analyzer: drop --theirs")
    if args.rounds < 1 or not args.levels or min(args.levels) <= 0:
        p.error("need at least one round and one positive rate")
    return args


# Our HTTP clients by --transports name: (side, flags that select it).
TRANSPORTS = {"native": ("ours", "--http-client native"), "curl": ("ours-curl", "--http-client curl")}


def client_sides(args: argparse.Namespace, ours: list[str], theirs: list[str]) -> list[tuple[str, list[str], str]]:
    """(side, command, side-only flags) of every client measured, in the order of a round."""
    sides = [(TRANSPORTS[t][0], ours, f"{TRANSPORTS[t][1]} {args.ours_args}".strip()) for t in args.transport_list]
    if not args.ours_only:
        sides.append(("theirs", theirs, args.theirs_args))
    return sides


@contextlib.contextmanager
def started(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ours_only:
        args.theirs = ""  # nothing to fetch
    try:
        ours, theirs, client_cpus, server_cpus = client_setup(args)
    except SystemExit as exc:
        return int(exc.code or 2)

    sides = client_sides(args, ours, theirs)
    begun = datetime.datetime.now(datetime.timezone.utc)
    with contextlib.ExitStack() as stack:
        workdir = Path(args.keep) if args.keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        server = stack.enter_context(started(Server(args, server_cpus)))
        runs, restarts = run_rounds(args, sides, server, workdir, client_cpus)

    table = report(runs, args.levels)
    if restarts:
        table += "\nServer restarted after: " + "; ".join(restarts) + "."
    extra = "; mode: --request-rate-range R:R"
    if args.ours_args or args.theirs_args:
        extra += f"  \nonly ours: `{args.ours_args}`; only theirs: `{args.theirs_args}`"
    header = session_header(args, ours, None if args.ours_only else theirs, extra)
    print(header + "\n\n" + table)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in runs], indent=1) + "\n")
    if args.record:
        append_results(begun, args.note, header, table)
    complete = all(
        any(r.rc == 0 for r in runs if (r.side, r.rate) == (side[0], rate)) for side in sides for rate in args.levels
    )
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
