"""perf_analyzer's deprecated spellings (-t, -c, -d, -z, --data-directory).

Scripts written for older perf_analyzers still use them (its own QA suite
runs `-t 5` in dozens of places), so they are accepted with the meaning
perf_analyzer 2.40 gives them, each with one line on stderr naming the
current spelling:

  -t N        concurrency start N (without -d: the one level N)
  -d          sweep from -t (default 1) up to -c; no -c means "until -l"
  -c N        the end of that sweep (alone, without -d, it changes nothing)
  -z          --input-data zero
  --data-directory DIR   --input-data DIR
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from perfanalyzer.errors import OptionError

ZERO_WITH_DATA = ("The -z flag cannot be set when --data-directory is provided. (zero input data and data "
                  "files exclude each other: -z or --input-data zero, with --input-data PATH or --data-directory)")


def add_flags(load: argparse._ArgumentGroup, data: argparse._ArgumentGroup) -> None:
    """perf_analyzer's old spellings, accepted with a note on stderr; listed
    in --help under the group of what they mean, as perf_analyzer lists them."""
    load.add_argument("-t", dest="legacy_concurrency", metavar="N", type=int, default=None,
                      help="DEPRECATED: concurrency N (use --concurrency-range N)")
    load.add_argument("-c", dest="legacy_max_concurrency", metavar="N", type=int, default=None,
                      help="DEPRECATED: with -d, the highest concurrency of the sweep")
    load.add_argument("-d", dest="legacy_dynamic", action="store_true",
                      help="DEPRECATED: sweep concurrency from -t up to -c (use --concurrency-range start:end)")
    data.add_argument("-z", dest="legacy_zero", action="store_true",
                      help="DEPRECATED: zero input data (use --input-data zero)")
    data.add_argument("--data-directory", dest="legacy_data_directory", metavar="DIR", action="append", default=[],
                      help="DEPRECATED: a directory of input files (use --input-data DIR)")


def _note(old: str, new: str) -> str:
    return f"WARNING: {old} is a DEPRECATED option; it means {new}"


def resolve(ns: argparse.Namespace, warn: Callable[[str], None]) -> None:
    """Rewrites the deprecated flags in ns into their current form
    (ns.concurrency_range, ns.input_data), refusing the combinations
    perf_analyzer 2.40 refuses, with its words."""
    old_concurrency = (ns.legacy_concurrency is not None or ns.legacy_max_concurrency is not None
                       or ns.legacy_dynamic)
    if old_concurrency:
        if ns.concurrency_range is not None:
            raise OptionError("Cannot use deprecated options with --concurrency-range.")
        if ns.request_rate_range is not None:
            raise OptionError("Cannot use concurrency options with --request-rate-range.")
        if ns.request_intervals is not None:
            raise OptionError("Cannot use deprecated options with --request-intervals.")
        start = 1 if ns.legacy_concurrency is None else ns.legacy_concurrency
        if start <= 0:
            raise OptionError(f"The start of the search range must be > 0 (-t {start})")
        end = start
        if ns.legacy_dynamic:
            end = ns.legacy_max_concurrency or 0  # no -c: perf_analyzer's "no limit", up to -l
            if 0 < end < start:
                end = start  # perf_analyzer measures the start level once and stops
        text = f"{start}" if end == start else f"{start}:{end}"
        for flag, given in (("-t", ns.legacy_concurrency is not None), ("-c", ns.legacy_max_concurrency is not None),
                            ("-d", ns.legacy_dynamic)):
            if given:
                warn(_note(flag, f"--concurrency-range {text}"))
        # --periodic-concurrency-range ignores them, as perf_analyzer does.
        if ns.periodic_concurrency_range is None:
            ns.concurrency_range = text
    if ns.legacy_data_directory:
        warn(_note("--data-directory", "--input-data DIR"))
        ns.input_data = list(ns.input_data) + list(ns.legacy_data_directory)
    if ns.legacy_zero:
        warn(_note("-z", "--input-data zero"))
        ns.input_data = list(ns.input_data) + ["zero"]
