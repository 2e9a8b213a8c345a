"""Credentials in URLs and control characters in server text never reach
the terminal or a report as they are."""

from __future__ import annotations

import pytest
from perfanalyzer.safe_text import escape_controls, mask_userinfo, terminal_line


@pytest.mark.parametrize("text, shown", [
    ("cannot reach the server at http://user:PW@host:8000: refused",
     "cannot reach the server at http://***@host:8000: refused"),
    ("https://tok3n@example.com/v2", "https://***@example.com/v2"),
    ("-u user:PW@localhost:8000: invalid", "-u ***@localhost:8000: invalid"),
    ("'http://a:b@h'", "'http://***@h'"),
    ("the server at http://localhost:8000 is not ready", "the server at http://localhost:8000 is not ready"),
    ("grpc://127.0.0.1:8001/inference.GRPCInferenceService/ModelInfer",
     "grpc://127.0.0.1:8001/inference.GRPCInferenceService/ModelInfer"),
])
def test_userinfo_is_masked(text, shown):
    assert mask_userinfo(text) == shown
    assert "PW" not in mask_userinfo(text)


def test_control_characters_become_visible_escapes():
    hostile = "model failed \x1b[2J\x1b]0;pwned\x07\r\nX-Injected: yes\x00\x9b\u202e"
    shown = escape_controls(hostile)
    assert shown == ("model failed \\x1b[2J\\x1b]0;pwned\\x07\\x0d\\x0aX-Injected: yes\\x00\\x9b\\u202e")
    assert all(c.isprintable() for c in shown)


def test_escaping_twice_changes_nothing():
    once = escape_controls("a\x1bb\\x1b")
    assert escape_controls(once) == once


def test_terminal_line_does_both():
    assert terminal_line("http://u:secret@h: \x1b[31mred") == "http://***@h: \\x1b[31mred"
