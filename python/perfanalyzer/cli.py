"""perf_analyzer-compatible command line: flags -> Settings -> run -> exit code."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import perfanalyzer
from perfanalyzer import legacy_flags, stopping, tls
from perfanalyzer.composing import parse_bls_models
from perfanalyzer.errors import GENERIC_ERROR, OPTION_ERROR, OptionError, PerfAnalyzerError
from perfanalyzer.flag_values import (
    parse_periodic_range,
    parse_range,
    parse_rate_range,
    parse_request_parameter,
    parse_sequence_id_range,
    parse_shape,
    read_intervals,
    split_input_data,
)
from perfanalyzer.limits import open_file_limit
from perfanalyzer.safe_text import terminal_line
from perfanalyzer.settings import (
    DISTRIBUTIONS,
    GRPC_COMPRESSION,
    HTTP_CLIENTS,
    MEASUREMENT_MODES,
    PROTOCOLS,
    SERVICE_KINDS,
    SHARED_MEMORY_KINDS,
    TENSOR_FORMATS,
    TRACE_LEVELS,
    Range,
    Settings,
)

# numpy's OpenBLAS threads spin on idle cores; the client never does BLAS work,
# so they would only take CPU from the measurement.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# gRPC's own log lines (e.g. a failed TLS handshake) would only repeat, less
# clearly, the one-line error we print.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit code 3, and a
    value that is not a number reads as perf_analyzer's message."""

    _argv: list[str] = []

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_args(self._argv, namespace)

    def _get_value(self, action: argparse.Action, arg_string: str) -> object:
        if action.type in (int, float):
            try:
                return action.type(arg_string)
            except ValueError:
                self.error(f"Failed to parse {self._spelling(action)}. Invalid value provided: {arg_string}")
        return super()._get_value(action, arg_string)

    def _spelling(self, action: argparse.Action) -> str:
        """The option string the command line used (-p or --measurement-interval)."""
        for arg in self._argv:
            for opt in action.option_strings:
                if arg == opt or arg.startswith(opt + "=") or (len(opt) == 2 and arg[:2] == opt and arg[:2] != "--"):
                    return opt
        return action.option_strings[0]

    def error(self, message: str) -> NoReturn:
        self.exit(OPTION_ERROR, f"error: {message} (see --help)\n")


class _VersionAction(argparse.Action):
    """--version, with the version looked up only when asked for (the lookup
    costs tens of ms of start-up CPU on every run otherwise)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str = "show the version and exit") -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(f"perfanalyzer {perfanalyzer.__version__}")
        parser.exit()


USAGE = """%(prog)s -m MODEL [options]
       %(prog)s plot FILE [-o DIR]
       %(prog)s report CSV [-o HTML]"""

COMMANDS = """commands:
  perfanalyzer plot FILE [-o DIR]    PNG plots of a -f CSV (latency vs throughput)
                                     or of a --profile-export-file JSON
  perfanalyzer report CSV [-o HTML]  a self-contained HTML report of a -f CSV

Differences from perf_analyzer: a time window lasts exactly -p msec
(perf_analyzer sleeps 1.2x); a level that never stabilizes is still printed,
marked UNSTABLE; latencies come from a histogram with < 0.1% relative error,
so memory stays flat."""


def _one_of(choices: Sequence[str]) -> str:
    """A metavar that shows the choices; the values are checked by Settings,
    whose messages are perf_analyzer's (argparse's `choices` would word them its own way)."""
    return "{" + ",".join(choices) + "}"


def build_parser() -> argparse.ArgumentParser:
    """The flags, in the groups of perf_analyzer's synopsis: each flag in exactly one."""
    p = _Parser(
        prog="perfanalyzer",
        usage=USAGE,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Measure the throughput and latency of a model served by Triton\n"
        "(drop-in for perf_analyzer: same flags, report and CSV).",
        epilog=COMMANDS,
    )
    p.add_argument("--version", action=_VersionAction)
    p.add_argument("-m", dest="model_name", default="", metavar="MODEL", help="name of the model to profile (required)")
    p.add_argument("-x", dest="model_version", default="", metavar="VERSION",
                   help="model version (default: the server's choice)")
    p.add_argument("--bls-composing-models", default="",
                   help="name[:version],... of the models a BLS model calls: their server statistics are "
                   "reported under it, as an ensemble's steps are")
    p.add_argument("-v", dest="verbose", action="store_true", help="print every measurement window")
    p.add_argument("-a", "--async", dest="async_mode", action="store_true",
                   help="accepted; closed-loop load is the same either way")
    p.add_argument("--sync", dest="forced_sync", action="store_true", help="accepted (default)")
    p.add_argument("--max-threads", type=int, default=None,
                   help="engine threads, each with its own connections and share of the load (default: one, "
                   "which drives any concurrency; capped at the usable CPUs and, closed loop, the largest "
                   "concurrency)")
    p.add_argument("--ray-address", default=None,
                   help="(new) run the load from several client processes on Ray: local (a private Ray for "
                   "this run), auto, or a cluster address HOST:PORT / ray://HOST:10001 (docs/distributed.md)")
    p.add_argument("--ray-workers", type=int, default=None,
                   help="(new) client processes on Ray, each with its own engine (default with --ray-address: 2)")
    load = p.add_argument_group("load", "what load is offered, and when a level's measurement is done")
    data = p.add_argument_group("data", "the tensors each request carries")
    _add_load_flags(load)
    _add_data_flags(data)
    legacy_flags.add_flags(load, data)
    _add_server_flags(p.add_argument_group("server", "how the server is reached"))
    tls.add_flags(p.add_argument_group("TLS", "--ssl-grpc-*: -i grpc and tfserving; --ssl-https-*: an https:// "
                                       "URL in -u"))
    _add_observe_flags(p.add_argument_group("reporting", "what is written, and what is observed on the server"))
    _add_service_kind_flags(p.add_argument_group(
        "service kinds", "flags that apply to one kind only are rejected with the others"))
    return p


def _add_load_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--concurrency-range", default=None, metavar="START:END:STEP",
                   help="start:end:step of request concurrency (default 1:1:1); end 0 = increase until -l is hit")
    g.add_argument("--request-rate-range", default=None, metavar="START:END:STEP",
                   help="start:end:step of request rates in requests/s (open loop); end 0 = increase until -l")
    g.add_argument("--request-distribution", default="constant", metavar=_one_of(DISTRIBUTIONS),
                   help="open-loop arrivals: constant (evenly spaced, default) or poisson")
    g.add_argument("--seed", type=int, default=None,
                   help="(new) seed of the Poisson schedule; printed when chosen at random")
    g.add_argument("--request-intervals", default=None,
                   help="file of send intervals in microseconds, one per line, looped (open loop)")
    g.add_argument("--periodic-concurrency-range", default=None, metavar="START:END:STEP",
                   help="start:end:step: start with 'start' requests in flight and add 'step' each time every "
                   "request added last had --request-period responses, up to 'end'; no stability check, "
                   "results only in --profile-export-file")
    g.add_argument("--request-period", type=int, default=10,
                   help="responses each added request must receive before the next step (default 10)")
    g.add_argument("--max-inflight", type=int, default=0,
                   help="(new) open loop: at most this many requests in flight; later sends are "
                   "postponed and counted (default: no cap)")
    g.add_argument("--num-of-sequences", type=int, default=4,
                   help="request-rate modes: sequences in flight together (default 4)")
    g.add_argument("--serial-sequences", action="store_true",
                   help="request-rate modes: a sequence sends its next request only after the previous answer")
    g.add_argument("--binary-search", action="store_true",
                   help="bisect the range for the highest load under -l (needs start:end:step and -l)")
    g.add_argument("-l", "--latency-threshold", dest="latency_threshold_ms", type=int, default=0,
                   help="latency limit in msec; the sweep stops at the first level over it (0 = none)")
    g.add_argument("-p", "--measurement-interval", dest="measurement_interval_ms", type=int, default=5000,
                   help="time window in msec (default 5000)")
    g.add_argument("--measurement-mode", default="time_windows", metavar=_one_of(MEASUREMENT_MODES),
                   help="time_windows (default) or count_windows")
    g.add_argument("--measurement-request-count", type=int, default=50,
                   help="requests per window in count_windows mode (default 50)")
    g.add_argument("--request-count", type=int, default=0,
                   help="measure each level as one window of exactly this many requests (reported as stable)")
    g.add_argument("--warmup-request-count", type=int, default=0,
                   help="requests sent before measuring starts, then discarded")
    g.add_argument("-s", "--stability-percentage", dest="stability_percentage", type=float, default=10.0,
                   help="allowed spread over the last 3 windows, in percent (default 10)")
    g.add_argument("-r", "--max-trials", dest="max_trials", type=int, default=10,
                   help="windows tried per level before giving up (default 10)")
    g.add_argument("--percentile", type=int, default=-1,
                   help="stabilize on and report the pXX latency instead of the average (1..99)")


def _add_data_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("-b", "--batch-size", dest="batch_size", type=int, default=1, help="batch size (default 1)")
    g.add_argument("--input-data", action="append", default=[], metavar="{random,zero,DIR,FILE}",
                   help="random (default), zero, a directory with one raw file per input, or a JSON data file "
                   "(repeatable: the files' steps or streams are appended)")
    g.add_argument("--shape", dest="shapes", action="append", default=[], metavar="NAME:DIMS",
                   help="NAME:d1,d2,... shape of an input with variable dimensions (repeatable)")
    g.add_argument("--shared-memory", default="none", type=str.lower, metavar=_one_of(SHARED_MEMORY_KINDS),
                   help="none (default), system (POSIX shared memory registered with the server) or cuda "
                   "(GPU memory shared by CUDA IPC; needs perfanalyzer[cuda]); triton_c_api accepts both and "
                   "changes nothing (the in-process server reads the inputs in place); torchserve and "
                   "tfserving take neither")
    g.add_argument("--output-shared-memory-size", type=int, default=102400,
                   help="bytes of shared memory per output whose size is not fixed (default 102400)")
    g.add_argument("--sequence-length", type=int, default=None,
                   help="sequence models: base length of a sequence (default 20, or each JSON stream's length)")
    g.add_argument("--sequence-length-variation", type=float, default=20.0,
                   help="sequence lengths vary uniformly within +/- this percentage of the base (default 20)")
    g.add_argument("--sequence-id-range", default=None, metavar="START[:END]",
                   help="start[:end] of the correlation IDs used (default 1:4294967296)")
    g.add_argument("--string-length", type=int, default=128,
                   help="length of the random strings generated for BYTES inputs (default 128)")
    g.add_argument("--string-data", default="", help="send this string for every BYTES element instead")
    g.add_argument("--input-tensor-format", default="binary", type=str.lower, metavar=_one_of(TENSOR_FORMATS),
                   help="binary (default) or json: how the request body carries input tensors")
    g.add_argument("--output-tensor-format", default="binary", type=str.lower, metavar=_one_of(TENSOR_FORMATS),
                   help="binary (default) or json: how the server is asked to return output tensors")
    g.add_argument("--request-parameter", dest="request_parameters", action="append", default=[],
                   metavar="NAME:VALUE:TYPE",
                   help="name:value:type (type int, string or bool) added to every request's parameters "
                   "(repeatable)")


def _add_server_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("-u", dest="url", default="", help="server URL (default localhost:8000)")
    g.add_argument("-i", "--protocol", dest="protocol", default="http", type=str.lower, metavar=_one_of(PROTOCOLS),
                   help="protocol: http (default) or grpc")
    g.add_argument("-H", dest="http_headers", action="append", default=[], metavar="HEADER",
                   help="extra HTTP header 'Name: value' (repeatable)")
    g.add_argument("--http-client", default="auto", metavar=_one_of(HTTP_CLIENTS),
                   help="(new) the compiled HTTP client: native (our HTTP/1.1 client, fewest system calls), "
                   "curl (libcurl multi, needed for https://) or auto (default: native for http://)")
    g.add_argument("--request-timeout", dest="request_timeout_ms", type=int, default=0,
                   help="fail a request that takes longer than this many msec (default: never)")
    g.add_argument("--grpc-channels", type=int, default=1,
                   help="(new) -i grpc: spread calls round-robin over this many channels (connections) (default 1)")
    g.add_argument("--grpc-compression-algorithm", default="none", type=str.lower,
                   metavar=_one_of(GRPC_COMPRESSION),
                   help="-i grpc: compress request messages with none (default), gzip or deflate")
    g.add_argument("--streaming", action="store_true",
                   help="-i grpc: send over bidirectional ModelStreamInfer streams (one per request in flight)")


def _add_service_kind_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--service-kind", default="triton", type=str.lower, metavar=_one_of(SERVICE_KINDS),
                   help="triton (default: a Triton server over -i http), triton_c_api (Triton inside this "
                   "process, loaded from --triton-server-directory; concurrency and request-rate modes) or "
                   "torchserve (POST /predictions/MODEL, -u default localhost:8080, --input-data JSON file "
                   "naming the body file; client-side statistics only) or tfserving (TensorFlow Serving's "
                   "gRPC Predict, -u default localhost:8500, inputs from the model's signature, --grpc-* and "
                   "--ssl-grpc-* apply; client-side statistics only)")
    g.add_argument("--triton-server-directory", default="",
                   help="triton_c_api: the Triton install (lib/libtritonserver.so, backends/); default: the "
                   "tritonserver of the nvidia-pytriton wheel when found, else /opt/tritonserver")
    g.add_argument("--model-repository", default="", help="triton_c_api (required): the model repository")
    g.add_argument("--model-signature-name", default="serving_default",
                   help="tfserving: the signature of the model to call (default serving_default)")


def _add_observe_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("-f", dest="filename", default=None, help="write the results as CSV to this file")
    g.add_argument("--verbose-csv", action="store_true",
                   help="add Avg latency, request/response, response wait (and the GPU metrics) to the -f CSV")
    g.add_argument("--profile-export-file", default=None,
                   help="write every measured request's timestamps as JSON here (the file must not exist)")
    g.add_argument("--html-report", default=None,
                   help="(new) write a self-contained HTML report (settings, table, plot) to this file")
    g.add_argument("--json", dest="json_file", default=None, metavar="FILE",
                   help="(new) write the run's summary (settings, every level's figures, status) as one JSON "
                   "document to FILE; - for stdout, which then carries the document alone (the report goes to "
                   "stderr). Schema: docs/json.md")
    g.add_argument("-q", "--quiet", action="store_true", help="(new) no live progress on stderr")
    g.add_argument("--collect-metrics", action="store_true",
                   help="sample the server's Prometheus metrics during the measurement (GPU, and Triton's CPU "
                   "metrics when present)")
    g.add_argument("--metrics-url", default="",
                   help="metrics endpoint (default: the host of -u, port 8002, path /metrics)")
    g.add_argument("--metrics-interval", type=int, default=None, help="msec between metrics samples (default 1000)")
    g.add_argument("--trace-file", default=None, help="server trace file (the server must allow setting it)")
    g.add_argument("--trace-level", dest="trace_levels", action="append", default=[], type=str.upper,
                   metavar=_one_of(TRACE_LEVELS),
                   help="server trace level (repeatable), set for the run and restored")
    g.add_argument("--trace-rate", type=int, default=None, help="trace one request in this many (server default 1000)")
    g.add_argument("--trace-count", type=int, default=None,
                   help="stop tracing after this many traces (server default -1: no limit)")
    g.add_argument("--log-frequency", type=int, default=None,
                   help="traces per trace file before the server starts a new one (server default 0: one file)")


def _warn(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _check_flag_pairs(ns: argparse.Namespace) -> None:
    """Flags that only mean something together with another, refused up front
    in perf_analyzer's words."""
    if ns.async_mode and ns.forced_sync:
        raise OptionError("Cannot specify --async and --sync simultaneously.")
    if ns.async_mode and ns.service_kind == "triton_c_api":
        # perf_analyzer refuses it; here the in-process engine is asynchronous either way.
        _warn("WARNING: Async mode is not supported by triton_c_api service kind; -a changes nothing")
    for flag, given in (("--metrics-url", ns.metrics_url), ("--metrics-interval", ns.metrics_interval is not None)):
        if given and not ns.collect_metrics:
            raise OptionError(f"Must specify --collect-metrics when using the {flag} option.")
    if ns.sequence_length is not None and ns.sequence_length <= 0:
        _warn("WARNING: The sequence length must be > 0. Perf Analyzer will use default value if it is "
              "measuring on sequence model.")
        ns.sequence_length = None


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    ns = build_parser().parse_args(argv)
    if not ns.model_name:
        raise OptionError("Failed to parse -m (model name). The value must be specified.")
    legacy_flags.resolve(ns, _warn)
    _check_flag_pairs(ns)
    return Settings(
        **_same_name_fields(ns),
        http_headers=tuple(ns.http_headers),
        shapes=tuple(parse_shape(s) for s in ns.shapes),
        **_data_fields(ns),
        **_observe_fields(ns),
        concurrency_range=parse_range("--concurrency-range",
                                      "1:1:1" if ns.concurrency_range is None else ns.concurrency_range),
        load_modes=tuple(mode for mode, given in (("concurrency", ns.concurrency_range),
                                                  ("request_rate", ns.request_rate_range),
                                                  ("request_intervals", ns.request_intervals),
                                                  ("periodic_concurrency", ns.periodic_concurrency_range))
                          if given is not None),
        periodic_concurrency_range=(parse_periodic_range(ns.periodic_concurrency_range)
                                    if ns.periodic_concurrency_range is not None else Range(1, 1, 1)),
        request_rate_range=parse_rate_range("1.0:1.0:1.0" if ns.request_rate_range is None else ns.request_rate_range),
        request_intervals_ns=read_intervals(ns.request_intervals) if ns.request_intervals is not None else (),
        request_intervals_file=ns.request_intervals,
        https=tls.from_args(ns),
        bls_composing_models=parse_bls_models(ns.bls_composing_models) if ns.bls_composing_models else (),
    ).validate()


# Flags whose value becomes a Settings field of another name or type: set by
# hand in parse_args and its helpers; every other flag is copied as parsed.
_CONVERTED = frozenset({
    "http_headers", "shapes", "concurrency_range", "periodic_concurrency_range", "request_rate_range",
    "request_intervals", "bls_composing_models", "input_data", "request_parameters", "sequence_id_range",
    "metrics_interval", "trace_levels",
})


def _same_name_fields(ns: argparse.Namespace) -> dict[str, object]:
    """Each flag whose parsed value is already the Settings field of its name
    (its dest), so that such a flag is declared once, in the parser."""
    names = {f.name for f in dataclasses.fields(Settings)}
    return {k: v for k, v in vars(ns).items() if k in names and k not in _CONVERTED}


def _data_fields(ns: argparse.Namespace) -> dict[str, object]:
    mode, paths = split_input_data(ns.input_data)
    if mode == "zero" and paths:
        raise OptionError(legacy_flags.ZERO_WITH_DATA)
    return dict(
        input_data=mode,
        input_data_paths=paths,
        request_parameters=tuple(parse_request_parameter(r) for r in ns.request_parameters),
        **parse_sequence_id_range(ns.sequence_id_range),
    )


def _observe_fields(ns: argparse.Namespace) -> dict[str, object]:
    return dict(
        metrics_interval_ms=1000 if ns.metrics_interval is None else ns.metrics_interval,
        trace_levels=tuple(ns.trace_levels),
    )


def main(argv: Sequence[str] | None = None) -> int:
    # First of all: a signal from here on gives one line and exit code 99 (see stopping).
    previous = stopping.install()
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print(f"error: interrupted by {stopping.received() or 'SIGINT'}", file=sys.stderr, flush=True)
        return GENERIC_ERROR
    finally:
        stopping.restore(previous)  # a no-op for the command, whose entry point installed them first


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["plot"]:
        from perfanalyzer.report.plot import main as plot_main

        return plot_main(args[1:])
    if args[:1] == ["report"]:
        from perfanalyzer.report.html import main as report_main

        return report_main(args[1:])
    argv = args
    try:
        settings = parse_args(argv)
    except OptionError as e:
        print(f"error: {terminal_line(str(e))}", file=sys.stderr)
        return e.exit_code
    # Each request in flight holds a connection; open loop against an
    # overloaded server can hold thousands, more than the usual soft limit.
    open_file_limit()
    try:
        with stopping.held():
            # The compiled core, numpy and the control plane's libraries, only when needed.
            from perfanalyzer.runner import run
            from perfanalyzer.services import triton_http  # noqa: F401
            if settings.protocol == "grpc":
                import tritonclient.grpc  # noqa: F401
        return run(settings)
    except PerfAnalyzerError as e:
        print(f"error: {terminal_line(str(e))}", file=sys.stderr)
        return e.exit_code
