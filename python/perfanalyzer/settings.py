"""The one frozen description of a profiling run, and its validation.

Both the CLI and the Python API build a Settings; everything downstream reads
only this, so a rule about flags lives in exactly one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from perfanalyzer import limits
from perfanalyzer.errors import OptionError
from perfanalyzer.flag_values import INPUT_DATA_MODES, Range, RateRange, typed_parameter
from perfanalyzer.headers import check_headers
from perfanalyzer.input_files import check_readable
from perfanalyzer.tls import HttpsOptions

MEASUREMENT_MODES = ("time_windows", "count_windows")
HTTP_CLIENTS = ("auto", "native", "curl")
PROTOCOLS = ("http", "grpc")
GRPC_COMPRESSION = ("none", "gzip", "deflate")
INPUT_DATA_CHOICES = "The available options are 'zero', 'random', path to a directory, or a json file"
DEFAULT_STRING_LENGTH = 128
TENSOR_FORMATS = ("binary", "json")
TRACE_LEVELS = ("OFF", "TIMESTAMPS", "TENSORS")
SERVICE_KINDS = ("triton", "triton_c_api", "torchserve", "tfserving")
SHARED_MEMORY_KINDS = ("none", "system", "cuda")
DEFAULT_URLS = {"triton": "localhost:8000", "torchserve": "localhost:8080", "tfserving": "localhost:8500"}


LOAD_FLAGS = {"concurrency": "--concurrency-range", "request_rate": "--request-rate-range",
              "request_intervals": "--request-intervals", "periodic_concurrency": "--periodic-concurrency-range"}
DISTRIBUTIONS = ("constant", "poisson")


@dataclass(frozen=True)
class Settings:
    model_name: str
    model_version: str = ""
    url: str = ""
    protocol: str = "http"
    http_headers: tuple[str, ...] = ()
    batch_size: int = 1
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    input_data: str = "random"           # generated data: random or zero
    input_data_paths: tuple[str, ...] = ()  # --input-data DIR, or JSON files read in order
    string_length: int = DEFAULT_STRING_LENGTH
    string_data: str = ""
    input_tensor_format: str = "binary"
    output_tensor_format: str = "binary"
    request_parameters: tuple[tuple[str, str, str], ...] = ()  # (name, value, type) as given
    # sequence models (sequence_batching in the model config)
    sequence_length: int | None = None   # None: 20, or each JSON stream's own length
    sequence_length_variation: float = 20.0
    sequence_id_start: int = 1
    sequence_id_range: int = 2**32 - 1    # ids start .. start + range - 1, reused modulo the range
    num_of_sequences: int = 4            # request-rate modes: sequences in flight together
    serial_sequences: bool = False
    output_shared_memory_size: int = 102400  # --shared-memory: bytes per output whose size is not fixed
    concurrency_range: Range = field(default_factory=lambda: Range(1, 1, 1))
    latency_threshold_ms: int = 0
    measurement_interval_ms: int = 5000
    measurement_mode: str = "time_windows"
    measurement_request_count: int = 50
    stability_percentage: float = 10.0
    max_trials: int = 10
    percentile: int = -1
    filename: str | None = None
    verbose: bool = False
    async_mode: bool = False
    max_threads: int | None = None   # engine threads; None: one (see engine_threads)
    ray_address: str | None = None   # distributed run: local, auto or a cluster address (docs/distributed.md)
    ray_workers: int | None = None   # client processes of a distributed run
    client_part: int = 0             # distributed run: this client process is part k ...
    client_parts: int = 1            # ... of this many (sequence IDs interleave over them)
    request_timeout_ms: int = 0
    http_client: str = "auto"
    # open loop (request rate); load_modes lists what the user asked for
    load_modes: tuple[str, ...] = ()
    request_rate_range: RateRange = field(default_factory=lambda: RateRange(1.0, 1.0, 1.0))
    request_distribution: str = "constant"
    seed: int | None = None
    request_intervals_ns: tuple[int, ...] = ()
    request_intervals_file: str | None = None
    max_inflight: int = 0
    request_count: int = 0            # > 0: one window of exactly this many requests per level
    warmup_request_count: int = 0     # sent before the first level and discarded
    binary_search: bool = False
    profile_export_file: str | None = None
    https: HttpsOptions = field(default_factory=HttpsOptions)  # --ssl-https-*
    bls_composing_models: tuple[tuple[str, str], ...] = ()  # (name, version "" = any) a BLS model calls
    # --periodic-concurrency-range: a ramp with no windows, recorded in the export only
    periodic_concurrency_range: Range = field(default_factory=lambda: Range(1, 1, 1))
    request_period: int = 10
    # observing the run: server metrics, traces, extra outputs
    collect_metrics: bool = False
    metrics_url: str = ""                # default: host of -u, port 8002, /metrics
    metrics_interval_ms: int = 1000
    verbose_csv: bool = False
    trace_file: str | None = None        # trace settings: None/() = not asked for, left as they are
    trace_levels: tuple[str, ...] = ()
    trace_rate: int | None = None
    trace_count: int | None = None
    log_frequency: int | None = None
    html_report: str | None = None
    json_file: str | None = None         # --json: the run's summary document; "-" for stdout
    quiet: bool = False                  # no live progress on stderr
    service_kind: str = "triton"
    triton_server_directory: str = ""  # triton_c_api; empty: found at run time
    model_repository: str = ""         # triton_c_api
    model_signature_name: str = "serving_default"  # tfserving
    shared_memory: str = "none"
    # gRPC (-i grpc)
    grpc_channels: int = 1
    grpc_compression_algorithm: str = "none"
    streaming: bool = False
    ssl_grpc_use_ssl: bool = False
    ssl_grpc_root_certifications_file: str = ""
    ssl_grpc_private_key_file: str = ""
    ssl_grpc_certificate_chain_file: str = ""

    @property
    def load_mode(self) -> str:
        return self.load_modes[0] if self.load_modes else "concurrency"

    @property
    def server_url(self) -> str:
        if self.url:
            return self.url
        if self.service_kind == "triton" and self.protocol == "grpc":
            return "localhost:8001"
        return DEFAULT_URLS.get(self.service_kind, "localhost:8000")

    @property
    def shape_map(self) -> dict[str, tuple[int, ...]]:
        return dict(self.shapes)

    @property
    def request_parameter_map(self) -> dict[str, int | str | bool]:
        """--request-parameter values typed as the request's `parameters` carry them."""
        return {name: typed_parameter(name, value, kind) for name, value, kind in self.request_parameters}

    @property
    def stabilizing_label(self) -> str:
        return "average latency" if self.percentile == -1 else f"p{self.percentile} latency"

    def validate(self) -> Settings:
        if not self.model_name:
            raise OptionError("Failed to parse -m (model name). The value must be specified.")
        if self.protocol not in PROTOCOLS:
            raise OptionError("Failed to parse -i (protocol). The value should be either HTTP or gRPC.")
        if self.batch_size <= 0:
            raise OptionError(f"Failed to parse -b (batch size). The value must be > 0. (got {self.batch_size})")
        self._validate_data_flags()
        self._validate_observe_flags()
        self._validate_service_kind()
        if len(self.load_modes) > 1:
            a, b = (LOAD_FLAGS[m] for m in self.load_modes[:2])
            raise OptionError("Cannot specify more then one inference load mode. Please choose only one of the "
                              "following modes: --concurrency-range, --periodic-concurrency-range, "
                              f"--request-rate-range, or --request-intervals. (got {a} and {b})")
        if self.request_distribution not in DISTRIBUTIONS:
            raise OptionError(f"Failed to parse --request-distribution. Unsupported type provided: "
                              f"'{self.request_distribution}'. Choices are 'poisson' or 'constant'.")
        if self.request_period <= 0:
            raise OptionError(f"Failed to parse --request-period. The value must be > 0 (got {self.request_period})")
        if self.load_mode == "periodic_concurrency":
            self._validate_periodic()
        if self.binary_search:
            if self.load_mode in ("request_intervals", "periodic_concurrency"):
                raise OptionError("--binary-search works over --concurrency-range or --request-rate-range")
            r = self.concurrency_range if self.load_mode == "concurrency" else self.request_rate_range
            if r.end == 0:
                raise OptionError("The end of the range can not be 0 (or 0.0) for binary search mode.")
            if self.latency_threshold_ms <= 0:
                raise OptionError("The --latency-threshold cannot be 0 for binary search mode.")
            if r.end < r.start:
                raise OptionError("The end of the range can not be less than start of the range for binary search "
                                  "mode.")
        if self.request_count < 0:
            raise OptionError(f"--request-count: must be >= 0, got {self.request_count}")
        if self.warmup_request_count < 0:
            raise OptionError(f"--warmup-request-count: must be >= 0, got {self.warmup_request_count}")
        if self.max_inflight < 0:
            raise OptionError(f"--max-inflight: must be >= 0, got {self.max_inflight}")
        if self.load_mode == "request_rate":
            self._validate_rate_range()
        elif self.load_mode == "request_intervals" and not self.request_intervals_ns:
            raise OptionError(f"--request-intervals {self.request_intervals_file}: no intervals in the file")
        r = self.concurrency_range
        if r.start < 1:
            raise OptionError(f"The start of the search range must be > 0 (--concurrency-range start {r.start})")
        if r.step < 1:
            raise OptionError(f"--concurrency-range: step must be >= 1, got {r.step}")
        if r.end != 0 and r.end < r.start:
            raise OptionError(f"--concurrency-range: end ({r.end}) must be >= start ({r.start}) or 0")
        if r.end:
            limits.check_level_count("--concurrency-range", (r.end - r.start) // r.step + 1)
        if self.load_mode == "concurrency" and r.end == 0 and self.latency_threshold_ms == 0:
            raise OptionError(
                "The end of the search range and the latency limit can not be both 0 (or 0.0) simultaneously"
            )
        if self.latency_threshold_ms < 0:
            raise OptionError(f"Failed to parse --latency-threshold (-l). The value must be >= 0 msecs. (got "
                              f"{self.latency_threshold_ms})")
        if self.measurement_interval_ms <= 0:
            raise OptionError(f"Failed to parse --measurement-interval (-p). The value must be > 0 msec. (got "
                              f"{self.measurement_interval_ms})")
        if self.measurement_mode not in MEASUREMENT_MODES:
            raise OptionError(f"Failed to parse --measurement-mode. Unsupported type provided: '{self.measurement_mode}"
                              "'. The available options are 'time_windows' or 'count_windows'.")
        if self.measurement_request_count <= 0:
            raise OptionError(f"Failed to parse --measurement-request-count. The value must be > 0. (got "
                              f"{self.measurement_request_count})")
        if not self.stability_percentage >= 0:
            raise OptionError(f"Failed to parse --stability-percentage (-s). The value must be >= 0.0. (got "
                              f"{self.stability_percentage:g})")
        if self.max_trials <= 0:
            raise OptionError(f"Failed to parse --max-trials (-r). The value must be > 0. (got {self.max_trials})")
        if self.percentile != -1 and not 1 <= self.percentile <= 99:
            raise OptionError("Failed to parse --percentile. The value must be -1 for not reporting or in range "
                              f"(0, 100). (got {self.percentile})")
        if self.max_threads is not None and self.max_threads <= 0:
            raise OptionError(f"Failed to parse --max-threads. The value must be > 0. (got {self.max_threads})")
        for name, dims in self.shapes:
            if any(d <= 0 for d in dims):
                raise OptionError(f"Failed to parse --shape. The dimensions of input tensor must be > 0. ({name}: "
                                  f"{list(dims)})")
        if self.http_client not in HTTP_CLIENTS:
            raise OptionError(f"--http-client: '{self.http_client}' is not one of {', '.join(HTTP_CLIENTS)}")
        if self.http_client == "native" and self.server_url.startswith("https://"):
            raise OptionError("--http-client native speaks plain HTTP only; use curl (or auto) for https://")
        self.https.validate()
        self._validate_grpc_flags()
        check_headers(self.http_headers)
        return self

    def _validate_service_kind(self) -> None:
        """Each service kind takes its own flags; one that does not apply is
        an error naming the kind, never silently ignored."""
        kind = self.service_kind
        if kind not in SERVICE_KINDS:
            raise OptionError(f"Failed to parse --service-kind. Unsupported type provided: '{kind}'. The available "
                              "options are 'triton', 'tfserving', 'torchserve', or 'triton_c_api'.")
        if self.shared_memory not in SHARED_MEMORY_KINDS:
            raise OptionError(f"Failed to parse --shared-memory. Unsupported type provided: '{self.shared_memory}'. "
                              "The available options are 'system', 'cuda', or 'none'.")
        # triton_c_api takes any --shared-memory, as perf_analyzer does: the
        # in-process server reads the input buffers in place either way.
        if self.shared_memory != "none":
            if kind in ("torchserve", "tfserving"):
                raise OptionError(f"--shared-memory {self.shared_memory} does not apply to --service-kind {kind}")
        if kind != "triton_c_api":
            for flag, given in (("--triton-server-directory", self.triton_server_directory),
                                ("--model-repository", self.model_repository)):
                if given:
                    raise OptionError(f"{flag} applies only to --service-kind triton_c_api (got {kind})")
        if kind == "triton_c_api":
            if not self.model_repository:
                raise OptionError("--model-repository should not be empty when using service-kind=triton_c_api.")
            if not os.path.isdir(self.model_repository):
                raise OptionError(f"--model-repository {self.model_repository}: no such directory")
            if self.triton_server_directory and not os.path.isdir(self.triton_server_directory):
                raise OptionError(f"--triton-server-directory {self.triton_server_directory}: no such directory")
            not_applicable = [("-u", bool(self.url)), ("-H", bool(self.http_headers)),
                              ("--http-client", self.http_client != "auto"),
                              ("--input-tensor-format", self.input_tensor_format != "binary"),
                              ("--output-tensor-format", self.output_tensor_format != "binary")]
        elif kind == "torchserve":
            not_applicable = [("-b", self.batch_size != 1), ("--shape", bool(self.shapes)),
                              ("--input-tensor-format", self.input_tensor_format != "binary"),
                              ("--output-tensor-format", self.output_tensor_format != "binary"),
                              ("--request-parameter", bool(self.request_parameters))]
            if len(self.input_data_paths) != 1 or not os.path.isfile(self.input_data_paths[0]):
                raise OptionError("--input-data should be provided with a json file with input data for torchserve"
                                  ' (one JSON file: {"data": [{"TORCHSERVE_INPUT": ["file sent as the body"]}]})')
        elif kind == "tfserving":
            not_applicable = [("-H", bool(self.http_headers)), ("--http-client", self.http_client != "auto"),
                              ("--input-tensor-format", self.input_tensor_format != "binary"),
                              ("--output-tensor-format", self.output_tensor_format != "binary"),
                              ("--request-parameter", bool(self.request_parameters)),
                              ("--streaming", self.streaming), ("--collect-metrics", self.collect_metrics)]
            if self.model_version and not self.model_version.isdigit():
                raise OptionError(f"-x {self.model_version}: TensorFlow Serving model versions are integers")
        else:
            not_applicable = []
        if self.collect_metrics and kind in ("torchserve", "tfserving"):
            raise OptionError("Server-side metric collection is only supported with Triton client backend.")
        if kind != "tfserving" and self.model_signature_name != "serving_default":
            raise OptionError(f"--model-signature-name applies only to --service-kind tfserving (got {kind})")
        for flag, given in not_applicable:
            if given:
                raise OptionError(f"{flag} does not apply to --service-kind {kind}")
        if kind not in ("triton", "tfserving") and self.protocol != "http":
            raise OptionError(f"-i {self.protocol} does not apply to --service-kind {kind}")
    def _validate_grpc_flags(self) -> None:
        if self.grpc_channels < 1:
            raise OptionError(f"--grpc-channels: must be >= 1, got {self.grpc_channels}")
        if self.grpc_compression_algorithm not in GRPC_COMPRESSION:
            raise OptionError("Failed to parse --grpc-compression-algorithm. Unsupported type provided: "
                              f"'{self.grpc_compression_algorithm}'. The available options are 'gzip', 'deflate', "
                              "or 'none'.")
        tls_files = (("--ssl-grpc-root-certifications-file", self.ssl_grpc_root_certifications_file),
                     ("--ssl-grpc-private-key-file", self.ssl_grpc_private_key_file),
                     ("--ssl-grpc-certificate-chain-file", self.ssl_grpc_certificate_chain_file))
        for flag, path in tls_files:
            if path and not os.path.isfile(path):
                raise OptionError(f"Failed to parse {flag}. The value must be a valid file path. ({path})")
        if bool(self.ssl_grpc_private_key_file) != bool(self.ssl_grpc_certificate_chain_file):
            raise OptionError("--ssl-grpc-private-key-file and --ssl-grpc-certificate-chain-file go together "
                              "(the client's key and its certificate, for mutual TLS)")
        if self.protocol != "grpc":
            if self.streaming:
                raise OptionError("Streaming is only allowed with gRPC protocol. (--streaming needs -i grpc)")
            if self.grpc_compression_algorithm != "none" and self.service_kind != "tfserving":
                raise OptionError("Using compression algorithm is only allowed with gRPC protocol. (-i grpc)")
            if self.ssl_grpc_use_ssl and self.service_kind != "tfserving":  # TF Serving is gRPC with or without -i
                raise OptionError("--ssl-grpc-use-ssl is only allowed with gRPC protocol (-i grpc)")
            return
        if self.streaming and self.request_timeout_ms:
            raise OptionError("--request-timeout is not supported with --streaming (a deadline would end the stream)")
        if "://" in self.server_url:
            raise OptionError(f"-u {self.server_url}: -i grpc expects host:port (no scheme)")
        if self.http_headers:
            raise OptionError("-H: custom headers are not supported with -i grpc")
        if self.input_tensor_format != "binary" or self.output_tensor_format != "binary":
            raise OptionError("--input-tensor-format/--output-tensor-format json apply to HTTP only; "
                              "gRPC always sends raw tensor contents")

    def _validate_data_flags(self) -> None:
        if self.input_data not in INPUT_DATA_MODES:
            raise OptionError(f"Failed to parse --input-data. Unsupported type provided: '{self.input_data}'. "
                              f"{INPUT_DATA_CHOICES}.")
        for path in self.input_data_paths:
            if not os.path.exists(path):
                raise OptionError(f"Failed to parse --input-data. Unsupported type provided: '{path}'. "
                                  f"{INPUT_DATA_CHOICES}. (no such file or directory)")
            check_readable("--input-data", path, directory_ok=True)
        if len(self.input_data_paths) > 1 and any(os.path.isdir(p) for p in self.input_data_paths):
            raise OptionError("--input-data: a directory of input files can not be combined with other "
                              f"--input-data paths (got {', '.join(self.input_data_paths)})")
        if self.string_length <= 0:
            raise OptionError(f"Failed to parse --string-length. The value must be > 0 (got {self.string_length})")
        limits.check_string_length(self.string_length)
        for flag, fmt in (("--input-tensor-format", self.input_tensor_format),
                          ("--output-tensor-format", self.output_tensor_format)):
            if fmt not in TENSOR_FORMATS:
                raise OptionError(f"Failed to parse {flag}. Unsupported type provided: '{fmt}'. The available "
                                  "options are 'binary' or 'json'.")
        for name, value, kind in self.request_parameters:
            typed_parameter(name, value, kind)
        self._validate_sequence_flags()
        if self.output_shared_memory_size <= 0:
            raise OptionError(f"--output-shared-memory-size: must be > 0, got {self.output_shared_memory_size}")

    def _validate_sequence_flags(self) -> None:
        if self.sequence_length is not None and self.sequence_length < 1:
            raise OptionError(f"--sequence-length: must be >= 1, got {self.sequence_length}")
        if self.sequence_length_variation < 0:
            raise OptionError("Failed to parse --sequence-length-variation. The value must be >= 0.0.")
        if not 0 <= self.sequence_length_variation <= 100:
            raise OptionError("--sequence-length-variation: must be a percentage in 0..100, got "
                              f"{self.sequence_length_variation:g}")
        if self.num_of_sequences < 1:
            raise OptionError(f"Failed to parse --num-of-sequences. The value must be > 0. ({self.num_of_sequences})")
        if self.sequence_id_start < 1 or self.sequence_id_range < 1 or \
                self.sequence_id_start + self.sequence_id_range > 2**64:
            # Triton reads correlation ID 0 as "no sequence".
            raise OptionError("--sequence-id-range: want start:end with 1 <= start < end <= 2^64, got "
                              f"{self.sequence_id_start}:{self.sequence_id_start + self.sequence_id_range}")
        r = self.concurrency_range
        most = max(r.start, r.end) if self.load_mode == "concurrency" else self.num_of_sequences
        if self.sequence_id_range < most:
            # perf_analyzer's words: every sequence in flight needs an id of its own.
            what = "the maximum possible concurrency" if self.load_mode == "concurrency" \
                else f"--num-of-sequences ({self.num_of_sequences})"
            raise OptionError(f"--sequence-id-range: sequence id range specified is smaller than {what}, "
                              "sequence id collision may occur.")

    def _validate_periodic(self) -> None:
        if not self.profile_export_file:
            raise OptionError("Must provide --profile-export-file when using the --periodic-concurrency-range option.")
        # A ramp is one experiment without windows: flags about windows do not apply.
        for flag, given in (("--request-count", self.request_count), ("--warmup-request-count",
                                                                      self.warmup_request_count)):
            if given:
                raise OptionError(f"{flag} can not be used with --periodic-concurrency-range")
    def _validate_observe_flags(self) -> None:
        if self.metrics_interval_ms <= 0:
            raise OptionError(f"Failed to parse --metrics-interval. The value must be > 0 msecs. (got "
                              f"{self.metrics_interval_ms})")
        for level in self.trace_levels:
            if level not in TRACE_LEVELS:
                raise OptionError(f"Failed to parse --trace-level. Unsupported type provided: '{level}'. The "
                                  "available options are 'OFF', 'TIMESTAMPS', or 'TENSORS'.")
        if self.trace_rate is not None and self.trace_rate <= 0:
            raise OptionError(f"--trace-rate: must be > 0, got {self.trace_rate}")
        if self.trace_count is not None and self.trace_count < -1:
            raise OptionError(f"Failed to parse --trace-count. The value must be >= 0 or set to -1 (default). (got "
                              f"{self.trace_count})")
        if self.log_frequency is not None and self.log_frequency < 0:
            raise OptionError(f"Failed to parse --log-frequency. The value must be >= 0. (got {self.log_frequency})")
        if self.html_report:
            directory = os.path.dirname(os.path.abspath(self.html_report))
            if not os.path.isdir(directory):
                raise OptionError(f"--html-report {self.html_report}: directory {directory} does not exist")

    @property
    def metrics_endpoint(self) -> str:
        """--metrics-url, or perf_analyzer's default from the host of -u."""
        if self.metrics_url:
            return self.metrics_url
        rest = self.server_url.split("://", 1)[-1].split("/", 1)[0]
        host = rest[: rest.index("]") + 1] if rest.startswith("[") else rest.rsplit(":", 1)[0]
        return f"{host or 'localhost'}:8002/metrics"

    def _validate_rate_range(self) -> None:
        r = self.request_rate_range
        limits.check_rate_range("--request-rate-range", r.start, r.end, r.step)
        if not r.start > 0:
            raise OptionError("Failed to parse --request-rate-range. The start of the search range must be > 0. "
                              f"(got {r.start:g})")
        if not r.step > 0:
            raise OptionError(f"--request-rate-range: step must be > 0, got {r.step:g}")
        if r.end != 0 and r.end < r.start:
            raise OptionError(f"--request-rate-range: end ({r.end:g}) must be >= start ({r.start:g}) or 0")
        if r.end == 0 and self.latency_threshold_ms == 0:
            raise OptionError(
                "The end of the search range and the latency limit can not be both 0 (or 0.0) simultaneously"
            )
