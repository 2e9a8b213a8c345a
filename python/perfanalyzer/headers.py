"""-H 'Name: value': checked before any byte is sent, because both HTTP
clients copy the header line verbatim into the control-plane requests and
every infer request; a CR or LF would end the line and start a header (or a
request) the user never wrote."""

from __future__ import annotations

import re

from perfanalyzer.errors import OptionError
from perfanalyzer.safe_text import escape_controls

# RFC 9110, 5.6.2: token = 1*tchar.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110, 5.5: a field value holds no control character but horizontal tab.
_VALUE_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def parse_header(text: str) -> tuple[str, str]:
    """'Name: value' -> (name, value), or an OptionError naming what is wrong."""
    shown = escape_controls(text)
    name, sep, value = text.partition(":")
    if not sep:
        raise OptionError(f"-H '{shown}': a header must look like 'Name: value'")
    name, value = name.strip(" \t"), value.strip(" \t")
    if not _TOKEN.fullmatch(name):
        bad = next((c for c in name if not _TOKEN.fullmatch(c)), "")
        what = "is empty" if not name else f"holds {escape_controls(repr(bad))}"
        raise OptionError(f"-H '{shown}': the header name {what}; a name is letters, digits and "
                          "!#$%&'*+-.^_`|~ only (RFC 9110 token)")
    m = _VALUE_CONTROL.search(value)
    if m:
        raise OptionError(f"-H '{shown}': the value of header '{name}' holds the control character "
                          f"{escape_controls(m.group(0))} (CR, LF and NUL would split or end the header)")
    return name, value


def check_headers(headers: tuple[str, ...] | list[str]) -> None:
    for h in headers:
        parse_header(h)
