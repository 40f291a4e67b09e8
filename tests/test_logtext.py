"""Client-chosen text made safe for one log line."""

from __future__ import annotations

import pytest

from pwless_gate.identity import mask
from pwless_gate.logtext import MAX_LOGGED, loggable


@pytest.mark.parametrize(
    ("text", "logged"),
    [
        ("ada@example.com", "ada@example.com"),
        ("203.0.113.7", "203.0.113.7"),
        ("Zoë 日本 \ua789", "Zoë 日本 \ua789"),
        ("x\nINFO forged", "x\\nINFO forged"),
        ("a\r\nb\tc", "a\\r\\nb\\tc"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("left\u202eright\u2028next", "left\\u202eright\\u2028next"),
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("\ud800lone", "\\ud800lone"),
        ("a\u00a0b", "a\\xa0b"),
    ],
    ids=[
        "email",
        "ip",
        "printable-unicode",
        "newline",
        "crlf-tab",
        "ansi",
        "bidi-separator",
        "nul-del",
        "surrogate",
        "nbsp",
    ],
)
def test_control_and_format_characters_are_escaped(text: str, logged: str) -> None:
    assert loggable(text) == logged
    assert loggable(logged) == logged  # twice is once


@pytest.mark.parametrize(
    "text",
    ["y" * 5000, "\x1b" * 5000, "y" * (MAX_LOGGED - 1) + "\n", "y" * (MAX_LOGGED + 1)],
    ids=["long", "long-escapes", "escape-at-the-edge", "one-over"],
)
def test_the_length_is_capped_without_cutting_an_escape(text: str) -> None:
    logged = loggable(text)
    assert len(logged) <= MAX_LOGGED
    assert logged.endswith("…")
    assert not logged[:-1].endswith(("\\", "\\x", "\\x1"))
    assert loggable(logged) == logged


def test_a_value_at_the_limit_is_kept_whole() -> None:
    assert loggable("y" * MAX_LOGGED) == "y" * MAX_LOGGED
    assert loggable("y" * (MAX_LOGGED - 2) + "\n") == "y" * (MAX_LOGGED - 2) + "\\n"


@pytest.mark.parametrize(
    ("identifier", "masked"),
    [
        ("x@evil.example\nINFO forged\x1b[2J", "x***@evil.example\\nINFO forged\\x1b[2J"),
        ("\n@example.com", "\\n***@example.com"),
        ("+44\n7700900\x1b58", "+44*********58"),
        ("+4\x1b\n77009000", "+4\\x1b*******00"),
    ],
    ids=["domain", "local", "phone-middle", "phone-start"],
)
def test_a_masked_identifier_is_loggable(identifier: str, masked: str) -> None:
    assert mask(identifier) == masked
