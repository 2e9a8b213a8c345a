#!/usr/bin/env python3
"""In-process Triton (--service-kind triton_c_api) against the same model over
HTTP, and against NVIDIA's C++ perf_analyzer in C API mode.

Per concurrency level and round, each side is its own client process:
  capi      our perfanalyzer, Triton inside the client process
  http      our perfanalyzer against a Triton server started on loopback
  cpp-capi  the C++ perf_analyzer 2.40 with --service-kind=triton_c_api (with --cpp)
It reports the median [min-max] over the rounds of throughput, avg and p99
latency, as each tool printed them. Client CPU is left out: in-process, the
client process also runs the server. Stdlib only; see bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_http import (  # noqa: E402
    add_common_args,
    append_results,
    default_theirs,
    machine_summary,
    repo_state,
    report_failure,
    run_client,
    tool_version,
    triton_server,
)
from pa_output import parse_console, parse_csv  # noqa: E402
from results import METRICS, fmt, median_cell  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LATENCY_METRICS = tuple(m for m in METRICS if "cpu" not in m[0])


def wheel_server_dir(server_venv: str | None) -> Path:
    venv = Path(server_venv or os.environ.get("PA_SERVER_VENV") or REPO / ".venv-server")
    found = sorted(venv.glob("lib/python3.*/site-packages/pytriton/tritonserver"))
    if not found:
        raise SystemExit(f"no nvidia-pytriton tritonserver under {venv} (make server-venv, or --server-venv)")
    return found[0].resolve()


def cpp_layout(server_dir: Path, workdir: Path) -> tuple[Path, dict[str, str]]:
    """perf_analyzer wants DIR/lib/libtritonserver.so and DIR/backends; the wheel
    keeps its library in nvidia_pytriton.libs, whose dependencies the loader
    finds only through LD_LIBRARY_PATH (the wheel's server binary has an RPATH)."""
    libs = server_dir.parent.parent / "nvidia_pytriton.libs"
    layout = workdir / "tritonserver-layout"
    (layout / "lib").mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        (layout / "lib" / "libtritonserver.so").symlink_to(next(libs.glob("libtritonserver*.so")))
    with contextlib.suppress(FileExistsError):
        (layout / "backends").symlink_to(server_dir / "backends")
    venv_bin = server_dir.parents[4] / "bin"  # the stub's python (numpy < 2) first on PATH
    return layout, {"LD_LIBRARY_PATH": str(libs), "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"}


def measure(label: str, cmd: Sequence[str], args: argparse.Namespace, c: int, rnd: int,
            workdir: Path) -> dict[str, float | None] | None:
    stem = f"{label}-c{c}-r{rnd}"
    csv_path, log_path = workdir / f"{stem}.csv", workdir / f"{stem}.log"
    argv = [*cmd, "-m", args.model, "--concurrency-range", f"{c}:{c}", "-p", str(args.measurement_interval),
            "-s", str(args.stability), "-f", str(csv_path), *shlex.split(args.pa_args)]
    rc, wall, _, _ = run_client(argv, log_path, args.timeout, None)
    text = log_path.read_text(errors="replace")
    if rc != 0:
        report_failure(stem, rc, text)
        return None
    values = {**parse_console(text, c), **(parse_csv(csv_path, c) if csv_path.exists() else {})}
    print(f"round {rnd} c={c:<3} {label:<8} thr={fmt(values.get('throughput'), 1)} "
          f"avg={fmt(values.get('avg_latency_us'), 0)}us p99={fmt(values.get('p99_latency_us'), 0)}us "
          f"wall={wall:.1f}s", file=sys.stderr)
    return values


def table(results: dict[tuple[str, int], list[dict[str, float | None] | None]], labels: Sequence[str],
          levels: Sequence[int]) -> str:
    head = " | ".join(f"{x} median [min–max]" for x in labels)
    lines = [f"| concurrency | metric | {head} | capi/http |", "|---:|---|" + "---:|" * (len(labels) + 1)]
    for c in levels:
        for key, name, dec in LATENCY_METRICS:
            cells, medians = [], {}
            for label in labels:
                cell, med = median_cell([r.get(key) for r in results[(label, c)] if r], dec)
                cells.append(cell)
                medians[label] = med
            a, b = medians.get("capi"), medians.get("http")
            ratio = f"{a / b:.2f}" if a is not None and b else "n/a"
            lines.append(f"| {c} | {name} | {' | '.join(cells)} | {ratio} |")
    failed = [f"{label} c={c} round {i + 1}" for (label, c), runs in results.items()
              for i, r in enumerate(runs) if r is None]
    if failed:
        lines += ["", "Runs that exited non-zero (left out): " + ", ".join(failed)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--concurrency", default="1,4", help="comma-separated levels")
    p.add_argument("--cpp", action="store_true", help="also run the C++ perf_analyzer in C API mode")
    args = p.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    server_dir = wheel_server_dir(args.server_venv)
    ours = shlex.split(args.ours)
    repo = str(Path(args.model_repository).resolve())
    started = datetime.datetime.now(datetime.timezone.utc)
    with contextlib.ExitStack() as stack:
        workdir = Path(args.keep) if args.keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        url = stack.enter_context(triton_server(args, None))
        sides = {
            "capi": [*ours, "--service-kind", "triton_c_api", "--model-repository", repo,
                     "--triton-server-directory", str(server_dir)],
            "http": [*ours, "-u", url],
        }
        theirs = ""
        if args.cpp:
            theirs = args.theirs if args.theirs is not None else default_theirs()
            layout, env = cpp_layout(server_dir, workdir)
            sides["cpp-capi"] = ["env", *(f"{k}={v}" for k, v in env.items()), *shlex.split(theirs),
                                 "--service-kind=triton_c_api", f"--triton-server-directory={layout}",
                                 f"--model-repository={repo}"]
        results: dict[tuple[str, int], list[dict[str, float | None] | None]] = {
            (label, c): [] for label in sides for c in levels}
        for label, cmd in sides.items():  # warm-up, discarded: cold imports and page cache
            measure(f"warmup-{label}", cmd, args, levels[0], 0, workdir)
        for rnd in range(1, args.rounds + 1):
            order = list(sides.items()) if rnd % 2 else list(sides.items())[::-1]
            for c in levels:
                for label, cmd in order:
                    results[(label, c)].append(measure(label, cmd, args, c, rnd, workdir))
    header = (f"capi, http: `{args.ours}` ({tool_version(ours)}); model {args.model}  \n"
              + (f"cpp-capi: `{theirs}` ({tool_version(shlex.split(theirs))})  \n" if theirs else "")
              + f"commit: {repo_state()}  \nmachine: {machine_summary()}  \n"
              f"rounds: {args.rounds}; -p {args.measurement_interval} -s {args.stability} {args.pa_args}".rstrip())
    out = table(results, list(sides), levels)
    print(header + "\n\n" + out)
    if args.record:
        append_results(started, args.note, header, out)
    return 0 if all(any(r for r in runs) for runs in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
