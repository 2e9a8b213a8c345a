"""Text on its way to a terminal or a file: credentials in URLs masked, and
control characters (a server's answer may carry ESC sequences that move the
cursor, recolor or retitle the terminal) escaped so that they show as text."""

from __future__ import annotations

import re

MASK = "***"

# scheme://userinfo@ -> scheme://***@ (the user name may be a token too).
_SCHEME_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#@'\"]+@")
# host:port given without a scheme, as -u allows: user:password@host.
_BARE_USERINFO = re.compile(r"(?<![\w.~%!$&*+,;=:/-])[\w.~%!$&*+,;=-]+:[^\s/?#@'\"]*@(?=[\w\[])")

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and
# bidirectional overrides that can reorder what a terminal shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def mask_userinfo(text: str) -> str:
    """`text` with the user name and password of every URL in it replaced by ***."""
    text = _SCHEME_USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", text)
    return _BARE_USERINFO.sub(MASK + "@", text)


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """Every control character as a visible \\xNN (\\uNNNN) escape: the
    result is one line that cannot drive the terminal. Backslashes are left as
    they are, so escaping twice changes nothing."""
    return _CONTROL.sub(_escape_char, text)


def terminal_line(text: str) -> str:
    """What every message printed to the user goes through: one line, no
    control characters, no credentials."""
    return mask_userinfo(escape_controls(text))
