"""-H values: a header line that would split into two (CR, LF), end early
(NUL) or carry a name that is not an RFC 9110 token is an option error."""

from __future__ import annotations

import pytest
from perfanalyzer import cli
from perfanalyzer.errors import OPTION_ERROR, OptionError
from perfanalyzer.headers import parse_header


@pytest.mark.parametrize("header", [
    "X-A: 1\r\nX-Injected: yes",
    "X-A: 1\nX-Injected: yes",
    "X-A: 1\rX",
    "X-A: 1\x00",
    "X-A: \x1b[31m",
    "X A: 1",
    "X-A\r\nX-B: 1",
    "X(A): 1",
    "X-\x80: 1",
    ": value",
])
def test_bad_headers_are_refused(header):
    with pytest.raises(OptionError, match="^-H "):
        cli.parse_args(["-m", "m", "-H", header])


def test_refusal_exits_3_with_one_line(capsys):
    code = cli.main(["-m", "m", "-H", "X-A: 1\r\nX-Injected: yes"])
    err = capsys.readouterr().err
    assert code == OPTION_ERROR
    assert err.count("\n") == 1 and "\r" not in err
    assert "\\x0d\\x0a" in err and "control character" in err


@pytest.mark.parametrize("header, parsed", [
    ("X-Request-Id: abc", ("X-Request-Id", "abc")),
    ("Authorization: Bearer a:b c\td", ("Authorization", "Bearer a:b c\td")),
    ("x!#$%&'*+-.^_`|~9:  spaced  ", ("x!#$%&'*+-.^_`|~9", "spaced")),
    ("Empty:", ("Empty", "")),
])
def test_good_headers_pass(header, parsed):
    assert parse_header(header) == parsed
    assert cli.parse_args(["-m", "m", "-H", header]).http_headers == (header,)
