"""Every flag reaches Settings: copied under its own name (its dest) or
converted in cli.parse_args, so that no flag is parsed and then dropped."""

from __future__ import annotations

import dataclasses

from perfanalyzer import cli
from perfanalyzer.settings import Settings

# Flags that end up elsewhere than a field of their name: folded into other
# fields by legacy_flags (-t, -c, -z, --data-directory, -d) and tls (--ssl-https-*),
# or only checked (--sync against --async).
ELSEWHERE = {"forced_sync", "legacy_concurrency", "legacy_data_directory", "legacy_dynamic",
             "legacy_max_concurrency", "legacy_zero", "ssl_https_ca_certificates_file",
             "ssl_https_client_certificate_file", "ssl_https_client_certificate_type",
             "ssl_https_private_key_file", "ssl_https_private_key_type", "ssl_https_verify_host",
             "ssl_https_verify_peer"}


def _dests() -> set[str]:
    return {a.dest for a in cli.build_parser()._actions if a.option_strings and a.dest not in ("help", "version")}


def test_every_flag_is_a_field_or_converted_by_hand() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    stray = {d for d in _dests() if d not in fields and d not in cli._CONVERTED and d not in ELSEWHERE}
    assert not stray, f"flags that reach no Settings field: {sorted(stray)}"


def test_the_hand_converted_list_names_only_flags() -> None:
    assert cli._CONVERTED <= _dests()


def test_a_same_name_flag_is_copied_as_parsed() -> None:
    s = cli.parse_args(["-m", "m", "-p", "1234", "-l", "7", "--max-threads", "3", "--grpc-channels", "2",
                        "--string-data", "x", "--trace-rate", "5"])
    assert (s.measurement_interval_ms, s.latency_threshold_ms, s.max_threads) == (1234, 7, 3)
    assert (s.grpc_channels, s.string_data, s.trace_rate) == (2, "x", 5)
