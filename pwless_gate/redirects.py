"""Where the gate may send a browser: same-origin relative paths, checked in one place.

Every redirect target in the gate (``next`` after sign-in and sign-out, the
target of a challenge, a federated logout's ``returnTo``) goes through
:func:`safe_next`; ``tests/data/hostile_redirects.json`` is its corpus. This
module does not build absolute URLs.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_NEXT_LENGTH = 2048
_UNSAFE = frozenset(chr(c) for c in range(0x20)) | {"\x7f", "\\"}
#: Characters browsers read as ``/`` or ``.`` at the start of a URL.
_SLASH_LOOKALIKES = ("/\u2215", "/\uff0f", "/\u2044")


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a same-origin relative path, else ``default``.

    Accepted: ``/path``, ``/path?query``, ``/path#frag``. Refused: anything
    with a scheme or host, ``//`` or ``/\\`` starts (also once or twice
    percent-decoded), backslashes and control characters anywhere (browsers
    drop tabs and newlines, turning ``/\\t/evil`` into ``//evil``), slash
    look-alikes, and overlong values. Non-ASCII characters are percent-encoded.
    """
    if not target or len(target) > MAX_NEXT_LENGTH or not target.startswith("/"):
        return default
    decoded = target
    for _ in range(3):
        if any(ch in _UNSAFE for ch in decoded) or decoded.startswith("//"):
            return default
        if decoded[:2] in _SLASH_LOOKALIKES or "\u3002" in decoded[:3]:
            return default
        decoded = unquote(decoded)
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    return _ascii_only(target)


def _ascii_only(value: str) -> str:
    if value.isascii():
        return value
    return "".join(ch if ch.isascii() else _percent(ch) for ch in value)


def _percent(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
