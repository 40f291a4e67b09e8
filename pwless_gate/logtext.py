"""Text a client chose, made safe for one log line.

A Basic user name, a path or a header can hold any character: a newline
would start a log line of the client's own (a forged audit event), an ANSI
escape would rewrite a terminal, a bidirectional override would reorder what
a reader sees. :func:`loggable` writes each such character as Python writes
it in a string literal (``\\n``, ``\\x1b``, ``\\u202e``) and caps the length.
It does not mask anything: identifiers go through
:func:`~pwless_gate.identity.mask` first.
"""

from __future__ import annotations

#: The most characters of one client-chosen value in a log line (escapes counted).
MAX_LOGGED = 200


def loggable(text: str, limit: int = MAX_LOGGED) -> str:
    """``text`` with every non-printable character (controls, format characters such as
    bidirectional overrides, separators other than the space) escaped, cut to ``limit``
    characters with a trailing ``…``. Text that is already loggable is returned as it is,
    so applying it twice changes nothing."""
    if len(text) <= limit and text.isprintable():
        return text
    pieces = [char if char.isprintable() else repr(char)[1:-1] for char in text[: limit + 1]]
    if sum(map(len, pieces)) <= limit and len(text) <= limit:
        return "".join(pieces)
    kept: list[str] = []
    size = 0
    for piece in pieces:  # whole escapes only: ``\x1b`` is never cut to ``\x1``
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept) + "…"
