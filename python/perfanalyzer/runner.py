"""One profiling run from Settings: set up, sweep, report, exit code."""

from __future__ import annotations

import dataclasses
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import perfanalyzer
from perfanalyzer import _core, preflight, sequences, shm, stopping
from perfanalyzer.batching import request_tensors
from perfanalyzer.composing import composing_map, reaches_sequence_model
from perfanalyzer.data_loader import load as load_data
from perfanalyzer.engine_threads import engine_threads
from perfanalyzer.errors import GENERIC_ERROR, STABILITY_ERROR, SUCCESS, PerfAnalyzerError
from perfanalyzer.features import require_transport
from perfanalyzer.observe import RunObservers, WindowCallback
from perfanalyzer.periodic import RampResult, run_ramp
from perfanalyzer.profiler import LevelResult, Profiler, SweepResult
from perfanalyzer.report import composing_csv, console, csv_writer, export, html
from perfanalyzer.report.figures import LevelFigures, figures
from perfanalyzer.safe_text import terminal_line
from perfanalyzer.server_stats import StatsQuery, StatsSnapshot
from perfanalyzer.services.triton_http import TritonHttpService
from perfanalyzer.settings import Settings
from perfanalyzer.validation import build_validator


@dataclass
class RunResult:
    sweep: SweepResult
    figures: list[LevelFigures] = field(default_factory=list)  # every printed level, unstable included
    exit_code: int = SUCCESS


@dataclass
class PreparedLoad:
    """The compiled engine with every distinct request prepared, and what the
    report says about the data."""

    engine: Any
    data_message: str = ""                        # the line about data read from files
    export_inputs: dict[str, object] | None = None  # request_inputs of the export
    settings: Settings | None = None              # the settings as the load changed them (sequences)


def _print(text: str) -> None:
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _stdout_closed()


def _stdout_closed() -> None:
    """The reader of stdout went away (`| head`): the report goes nowhere from
    now on and the run carries on to write its files. stdout is pointed at
    /dev/null so that no later write, nor the flush at exit, fails again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _discard(text: str) -> None:
    pass


def profile(settings: Settings, out: Callable[[str], None] = _discard,
            on_window: WindowCallback | None = None, show_progress: bool | None = None) -> RunResult:
    """Runs the sweep; `out` receives the report text as it is produced,
    `on_window` every measured window; progress shows on a terminal unless
    `show_progress` says otherwise."""
    if settings.load_mode == "request_rate" and settings.request_distribution == "poisson" and settings.seed is None:
        # A fresh seed per run, printed with the settings, so any run can be replayed with --seed.
        settings = dataclasses.replace(settings, seed=secrets.randbits(63))
    stopping.new_run()
    if settings.ray_address is not None or settings.ray_workers is not None:
        from perfanalyzer.distributed import check  # Ray only when asked for

        check(settings)
    require_transport(settings)  # an HTTP-only build refuses gRPC before anything starts
    shm.check(settings)  # a missing CUDA runtime fails before the server is contacted
    preflight.check(settings)  # every output path and resource, before any load
    service = _open_service(settings, out)
    try:
        run = _profile(settings, service, out, on_window, show_progress)
    finally:
        stopping.begin_cleanup()  # however the run ended: server calls from here on are bounded
        try:
            shm.close_all()  # before the service: it unregisters the regions
            service.close()
        finally:
            stopping.end_cleanup()
    return _after_signal(run)


def _after_signal(run: RunResult) -> RunResult:
    """A signal that came once the measurement was over: every level measured
    was written, and the exit code still says the run was interrupted (one
    line, unless the run already said why it ended)."""
    by = stopping.received()
    if by is None or run.sweep.status == "interrupted":
        return run
    if not run.sweep.message:
        print(f"interrupted by {by} after the measurement: every level measured is reported and written",
              file=sys.stderr, flush=True)
    run.exit_code = GENERIC_ERROR
    return run


def run(settings: Settings, out: Callable[[str], None] = _print) -> int:
    """The CLI's run: report on stdout, messages on stderr, CSV with -f."""
    return profile(settings, out).exit_code


def _open_service(settings: Settings, out: Callable[[str], None]) -> Any:
    """The control plane of the service kind (each module imported only when used)."""
    if settings.service_kind == "triton_c_api":
        from perfanalyzer.services.triton_capi import TritonCapiService

        return TritonCapiService(settings, out)
    if settings.service_kind == "torchserve":
        from perfanalyzer.services.torchserve import TorchServeService

        return TorchServeService(settings.server_url, settings.http_headers, https=settings.https)
    if settings.service_kind == "tfserving":
        from perfanalyzer.services.tfserving import TFServingService

        return TFServingService(settings.server_url, settings.model_signature_name, settings.batch_size,
                                tls=_grpc_tls(settings))
    if settings.protocol == "grpc":
        from perfanalyzer.services.triton_grpc import TritonGrpcService

        return TritonGrpcService(settings.server_url, ssl=settings.ssl_grpc_use_ssl,
                                 root_certificates=settings.ssl_grpc_root_certifications_file or None,
                                 private_key=settings.ssl_grpc_private_key_file or None,
                                 certificate_chain=settings.ssl_grpc_certificate_chain_file or None)
    return TritonHttpService(settings.server_url, settings.http_headers, https=settings.https)


def _open_engine(settings: Settings, service: Any) -> PreparedLoad:
    if settings.service_kind == "torchserve":
        bodies, message = service.bodies(settings)
        return PreparedLoad(_core.HttpEngine(service.infer_url(settings.model_name, settings.model_version), bodies,
                                             request_timeout_ms=settings.request_timeout_ms,
                                             client=settings.http_client, threads=engine_threads(settings)),
                            message)
    spec = service.model_spec(settings.model_name, settings.model_version)
    if spec.platform == "ensemble" and not spec.sequence and \
            reaches_sequence_model(service.model_config, spec.name, settings.model_version):
        spec = dataclasses.replace(spec, sequence=True)
    spec.check_batch_size(settings.batch_size)
    data = load_data(settings, spec)
    message = data.read_message() if data.from_json else ""
    inputs = export.request_inputs({t.name: t.datatype for t in spec.inputs},
                                   request_tensors(spec, data, settings.batch_size))
    if settings.service_kind == "triton_c_api":
        if spec.sequence:
            sequences.check_settings(settings)
            settings = sequences.open_loop_settings(settings)
        return PreparedLoad(service.make_engine(settings, spec, data), message, inputs, settings)
    if settings.service_kind == "tfserving":
        return PreparedLoad(service.make_engine(settings, spec, data), message, inputs)
    parameters = settings.request_parameter_map
    if settings.streaming:
        # Every final response is flagged (an empty one after a decoupled model's last):
        # the engine ends a request on it.
        parameters = {**parameters, "triton_enable_empty_final_response": True}
    if settings.protocol == "grpc":
        engine, settings = _grpc_engine(settings, service, spec, data, parameters)
        return PreparedLoad(engine, message, inputs, settings)
    sequencer = None
    threads = engine_threads(settings)
    if spec.sequence:
        sequences.check_settings(settings)
        settings = sequences.open_loop_settings(settings)
        tensors_list = sequences.request_tensors(spec, data, settings.batch_size)
        threads = sequences.engine_threads(settings, threads)
        sequencer = sequences.make_sequencers(settings, data, threads)
        validator = build_validator(spec, data, settings.batch_size, settings.output_tensor_format,
                                    sequences.request_steps(spec, data, settings.batch_size))
    else:
        tensors_list = request_tensors(spec, data, settings.batch_size)
        validator = build_validator(spec, data, settings.batch_size, settings.output_tensor_format)
    in_regions, out_regions = shm.regions(settings, service, spec, tensors_list, validator is not None)
    bodies = [service.encode_request(spec, tensors, input_format=settings.input_tensor_format,
                                     output_format=settings.output_tensor_format,
                                     parameters=parameters, sequence=spec.sequence,
                                     input_regions=in_regions[i] if in_regions else None,
                                     output_regions=out_regions)
              for i, tensors in enumerate(tensors_list)]
    engine = _core.HttpEngine(
        service.infer_url(settings.model_name, settings.model_version), bodies,
        request_timeout_ms=settings.request_timeout_ms, client=settings.http_client,
        tls=settings.https.engine_options(),
        threads=threads,
        validator=validator, sequencer=sequencer,
    )
    return PreparedLoad(engine, message, inputs, settings)


def _grpc_engine(settings: Settings, service: Any, spec: Any, data: Any,
                 parameters: dict) -> tuple[Any, Settings]:
    """-i grpc: messages serialized once; the engine and the settings as the
    load changed them (sequences). What the gRPC engine cannot do yet is
    refused rather than silently left out."""
    sequencer = None
    steps = None
    if spec.sequence:
        sequences.check_settings(settings)
        settings = sequences.open_loop_settings(settings)
        steps = sequences.request_steps(spec, data, settings.batch_size)
        tensors_list = sequences.request_tensors(spec, data, settings.batch_size)
        sequencer = sequences.make_sequencer(settings, data)
    else:
        tensors_list = request_tensors(spec, data, settings.batch_size)
    validator = build_validator(spec, data, settings.batch_size, settings.output_tensor_format, steps)
    in_regions, out_regions = shm.regions(settings, service, spec, tensors_list, validator is not None)
    bodies = [service.encode_request(spec, tensors, parameters=parameters, sequence=spec.sequence,
                                     input_regions=in_regions[i] if in_regions else None,
                                     output_regions=out_regions)
              for i, tensors in enumerate(tensors_list)]
    engine = _core.GrpcEngine(settings.server_url, bodies, channels=settings.grpc_channels,
                              compression=settings.grpc_compression_algorithm,
                              request_timeout_ms=settings.request_timeout_ms, streaming=settings.streaming,
                              sequencer=sequencer, validator=validator, **_grpc_tls(settings))
    return engine, settings


def _grpc_tls(settings: Settings) -> dict[str, object]:
    """The gRPC engine's TLS arguments: PEM contents of the --ssl-grpc-* files."""
    if not settings.ssl_grpc_use_ssl:
        return {}

    def read(flag: str, path: str) -> bytes | None:
        if not path:
            return None
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as e:
            raise PerfAnalyzerError(f"{flag} {path}: cannot read: {e.strerror}") from None

    return dict(use_ssl=True,
                root_certs=read("--ssl-grpc-root-certifications-file", settings.ssl_grpc_root_certifications_file),
                private_key=read("--ssl-grpc-private-key-file", settings.ssl_grpc_private_key_file),
                cert_chain=read("--ssl-grpc-certificate-chain-file", settings.ssl_grpc_certificate_chain_file))


def _server_stats(settings: Settings, service: Any) -> Callable[[], StatsSnapshot | None]:
    """Reads the server's counters at each window boundary (none for services
    without Triton's statistics)."""
    if not hasattr(service, "statistics"):
        return lambda: None
    composing = composing_map(service.model_config, settings.model_name, settings.model_version,
                              settings.bls_composing_models)
    query = StatsQuery(service.statistics, settings.model_name, settings.model_version, composing,
                       warn=lambda text: print(text, file=sys.stderr, flush=True))
    return query.read


def _profile(settings: Settings, service: Any, out: Callable[[str], None],
             on_window: WindowCallback | None = None, show_progress: bool | None = False) -> RunResult:
    service.check_ready()
    if settings.ray_address is not None:  # the load from client processes on Ray (docs/distributed.md)
        from perfanalyzer.distributed import open_group

        load = PreparedLoad(open_group(settings, out))
    else:
        load = _open_engine(settings, service)
    engine = load.engine
    settings = load.settings or settings
    server_stats = _server_stats(settings, service)
    label = getattr(service, "protocol_label", "HTTP")
    if load.data_message:
        out(load.data_message)
    out(console.settings_block(settings, label))
    printed: list[LevelFigures] = []
    observers = RunObservers(settings, service, engine, _core.now_ns, on_window, show_progress)
    report = observers.wrap_out(out)

    def on_level(level: LevelResult) -> None:
        f = observers.decorate(level, figures(level, settings.percentile))
        printed.append(f)
        report(console.level_block(f, settings.percentile, label, verbose=settings.verbose, header=False))

    def on_level_start(value: float) -> None:
        observers.on_level_start(value)
        report(console.level_header(value, settings.load_mode))

    if settings.profile_export_file:
        engine.keep_records()
    observers.start()  # trace settings go on before any load; a refusal ends the run here
    try:
        engine.start()
    except BaseException:
        observers.stop()
        raise
    if settings.load_mode == "periodic_concurrency":
        try:
            return _run_ramp(settings, engine, service)
        finally:
            observers.stop()
    profiler = Profiler(settings, engine, server_stats, log=report, clock_ns=_core.now_ns)
    profiler.on_window = observers.on_window
    try:
        profiler.sweep(on_level, on_level_start)
    except PerfAnalyzerError as e:
        # Whatever else ended the sweep (a level's metrics, say): the levels measured are still written.
        profiler.result.status, profiler.result.message = "errors", str(e)
    finally:
        stopping.begin_cleanup()
        result = profiler.result
        engine.stop(drain_ms=stopping.drain_ms(2000))
        observers.stop()
        if settings.profile_export_file:
            _write_export(settings, result, engine, service, load.export_inputs)
        engine.close()
    return RunResult(result, printed, _finish(settings, result, printed, out))


def _run_ramp(settings: Settings, engine: _core.Engine, service: Any) -> RunResult:
    """--periodic-concurrency-range: as perf_analyzer, the settings block is
    all the console shows; the export holds every request."""
    ramp: RampResult | None = None
    try:
        ramp = run_ramp(settings, engine, _core.now_ns, log=_print)
    finally:
        stopping.begin_cleanup()
        engine.stop(drain_ms=stopping.drain_ms(2000))
        if ramp is not None:
            mono_to_wall = _core.wall_ns() - _core.now_ns()
            records = engine.records()
            experiment = export.ramp_experiment(records, ramp.start_ns, ramp.end_ns,
                                                settings.periodic_concurrency_range.end, mono_to_wall,
                                                engine.response_times(), engine.sequence_ids())
            export.write(settings.profile_export_file, [], records, mono_to_wall,
                         _endpoint(settings, service), perfanalyzer.__version__, ramp=experiment,
                         service_kind=settings.service_kind)
        engine.close()
    if ramp.message:
        print(terminal_line(ramp.message), file=sys.stderr, flush=True)
    return RunResult(SweepResult(status=ramp.status, message=ramp.message),
                     exit_code=SUCCESS if ramp.status == "ok" else GENERIC_ERROR)


def _endpoint(settings: Settings, service: Any) -> str:
    endpoint = service.infer_url(settings.model_name, settings.model_version).split("://", 1)[-1]
    return endpoint.split("/", 1)[-1]


def _write_export(settings: Settings, result: SweepResult | None, engine: _core.Engine,
                  service: Any, inputs: dict[str, object] | None = None) -> None:
    """Every level measured so far, also when the run ends early."""
    levels = [] if result is None else list(result.levels) + ([result.unstable] if result.unstable else [])
    mono_to_wall = _core.wall_ns() - _core.now_ns()
    export.write(settings.profile_export_file, levels, engine.records(), mono_to_wall,
                 _endpoint(settings, service), perfanalyzer.__version__, inputs, service_kind=settings.service_kind,
                 response_times=engine.response_times(), sequence_ids=engine.sequence_ids())


def _finish(settings: Settings, result: SweepResult, printed: list[LevelFigures],
            out: Callable[[str], None]) -> int:
    if result.message:
        print(terminal_line(result.message), file=sys.stderr, flush=True)
    if printed:
        out(console.summary(printed, settings.percentile))
    stable = [f for f in printed if f.stable]
    if settings.filename and stable:
        try:
            csv_writer.write_atomic(settings.filename, csv_writer.render(
                stable, settings.percentile, settings.verbose_csv, settings.collect_metrics))
            for path, text in composing_csv.files(settings.filename, stable).items():
                csv_writer.write_atomic(path, text)
        except OSError as e:
            raise PerfAnalyzerError(f"-f {settings.filename}: cannot write the CSV: {e.strerror}") from None
    if settings.html_report and printed:
        html.write_run(settings.html_report, settings, printed)
    if result.status == "unstable":
        return STABILITY_ERROR if not result.levels else SUCCESS
    if result.status in ("errors", "interrupted"):
        return GENERIC_ERROR
    if result.status == "over_limit" and not result.levels:
        return STABILITY_ERROR
    return SUCCESS
