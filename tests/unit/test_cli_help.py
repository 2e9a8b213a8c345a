"""--help: the flags grouped as perf_analyzer's synopsis, each in exactly one
group, choices shown, the plot and report commands listed, no stray %%."""

from __future__ import annotations

import argparse

import pytest
from perfanalyzer import cli

GROUPS = ["options", "load", "data", "server", "TLS", "reporting", "service kinds"]


def _groups(parser: argparse.ArgumentParser) -> dict[str, list[argparse.Action]]:
    return {g.title or "": list(g._group_actions) for g in parser._action_groups if g._group_actions}


def test_flags_are_grouped_as_the_synopsis() -> None:
    groups = _groups(cli.build_parser())
    assert list(groups) == GROUPS
    flags = {o for actions in groups.values() for a in actions for o in a.option_strings}
    assert {"-u", "-i", "-H"} <= {o for a in groups["server"] for o in a.option_strings}
    assert {"--concurrency-range", "-t", "-p"} <= {o for a in groups["load"] for o in a.option_strings}
    assert {"-b", "--input-data", "-z", "--shape"} <= {o for a in groups["data"] for o in a.option_strings}
    assert {"--ssl-grpc-use-ssl", "--ssl-https-verify-peer"} <= {o for a in groups["TLS"] for o in a.option_strings}
    assert {"-f", "--collect-metrics"} <= {o for a in groups["reporting"] for o in a.option_strings}
    assert "--service-kind" in {o for a in groups["service kinds"] for o in a.option_strings}
    assert "-m" in flags and "--version" in flags


def test_every_flag_is_in_exactly_one_group() -> None:
    parser = cli.build_parser()
    seen: dict[str, str] = {}
    for title, actions in _groups(parser).items():
        for action in actions:
            for option in action.option_strings:
                assert option not in seen, f"{option} in {seen[option]} and {title}"
                seen[option] = title
    every = {o for a in parser._actions for o in a.option_strings}
    assert set(seen) == every


def test_help_shows_choices_commands_and_no_doubled_percent(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "%%" not in out and "< 0.1% relative error" in out
    for shown in ("-i {http,grpc}", "--service-kind {triton,triton_c_api,torchserve,tfserving}",
                  "--shared-memory {none,system,cuda}", "--measurement-mode {time_windows,count_windows}",
                  "--request-distribution {constant,poisson}", "--trace-level {OFF,TIMESTAMPS,TENSORS}",
                  "--grpc-compression-algorithm {none,gzip,deflate}", "--http-client {auto,native,curl}"):
        assert shown in out
    assert "perfanalyzer plot FILE" in out and "perfanalyzer report CSV" in out
    for title in GROUPS:
        assert f"\n{title}:\n" in out


def test_choices_in_help_leave_perf_analyzer_messages() -> None:
    # The choices are shown, not enforced by argparse: a bad one reads as perf_analyzer's message.
    from perfanalyzer.errors import OptionError

    with pytest.raises(OptionError, match="Unsupported type provided: 'triton2'"):
        cli.parse_args(["-m", "m", "--service-kind", "triton2"])
