"""README's flag table against the parser: every flag is there once, and
everything the table names is a flag the parser takes."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from perfanalyzer import cli

README = Path(__file__).resolve().parents[2] / "README.md"
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def table_flags() -> list[str]:
    """The flags of each row's first cell, in the order of the table, under
    the "## Flags" heading."""
    text = README.read_text()
    section = text[text.index("\n## Flags"):]
    section = section[:section.index("\n## ", 1)]
    flags = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first = line[1:].replace("\\|", "/").split("|", 1)[0]
        for code in re.findall(r"`([^`]*)`", first):
            flags += OPTION.findall(code)
    return flags


def parser_actions() -> list[list[str]]:
    actions = cli.build_parser()._actions
    return [a.option_strings for a in actions if a.option_strings and "--help" not in a.option_strings]


def test_no_flag_is_listed_twice() -> None:
    twice = [f for f, n in Counter(table_flags()).items() if n > 1]
    assert not twice, f"listed more than once in README's flag table: {twice}"


def test_every_flag_is_in_the_table() -> None:
    listed = set(table_flags())
    missing = [opts for opts in parser_actions() if not listed.intersection(opts)]
    assert not missing, f"flags missing from README's flag table: {missing}"


def test_the_table_names_only_real_flags() -> None:
    known = {o for opts in parser_actions() for o in opts}
    unknown = sorted(set(table_flags()) - known)
    assert not unknown, f"README's flag table names flags the parser does not take: {unknown}"


# Flags of other programs that the docs quote, each with the program.
OTHER_TOOLS = {
    "--config-settings": "pip", "--no-deps": "pip", "--null-server": "bench/compare_rate.py",
    "--address": "ray start", "--head": "ray start", "--num-cpus": "ray start", "--port": "ray start",
    "--grpc-use-ssl-mutual": "tritonserver", "--trace-config": "tritonserver", "--strict": "mypy",
    "--enable-mpi": "perf_analyzer (C++)",
}
# A whole flag: not a prefix such as `--ssl-grpc-*` or `--input/--output-tensor-format`.
WHOLE_FLAG = re.compile(r"(?<![\w-])(--[A-Za-z][\w-]*[A-Za-z0-9])(?![\w*/-])")


def doc_flags(path: Path) -> set[str]:
    """The --flags in the code of a markdown file: spans, fenced and indented blocks."""
    text = path.read_text()
    code = re.findall(r"```.*?```", text, re.S)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    code += re.findall(r"`([^`\n]*)`", text) + [line for line in text.splitlines() if line.startswith("    ")]
    return {f for c in code for f in WHOLE_FLAG.findall(c)}


def test_docs_name_only_flags_that_exist() -> None:
    """A documented flag that the parser refuses (as `--zero-input` was) fails here."""
    known = {o for opts in parser_actions() for o in opts} | {"--help"}
    docs = [README, *sorted((README.parent / "docs").glob("*.md"))]
    unknown = {str(p.relative_to(README.parent)): sorted(doc_flags(p) - known - OTHER_TOOLS.keys()) for p in docs}
    assert not {k: v for k, v in unknown.items() if v}, unknown


def test_zero_input_data_spellings(capsys) -> None:
    """What docs/service_kinds.md offers for zero data; perf_analyzer has no --zero-input either."""
    base = ["-m", "half_plus_two", "--service-kind", "tfserving", "-i", "grpc", "-u", "localhost:8500"]
    assert cli.parse_args([*base, "--input-data", "zero"]).input_data == "zero"
    assert cli.parse_args([*base, "-z"]).input_data == "zero"
    assert "-z is a DEPRECATED option; it means --input-data zero" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        cli.parse_args([*base, "--zero-input"])
    assert refused.value.code == 3
    assert "unrecognized arguments: --zero-input" in capsys.readouterr().err
