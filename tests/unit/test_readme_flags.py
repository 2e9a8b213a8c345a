"""README's flag table against the parser: every flag is there once, and
everything the table names is a flag the parser takes."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

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
