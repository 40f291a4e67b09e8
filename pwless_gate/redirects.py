"""Where the gate may send a browser: same-origin relative paths, checked in one place.

Every redirect target in the gate (``next`` after sign-in and sign-out, the
target of a challenge, a federated logout's ``returnTo``) goes through
:func:`safe_next`; ``tests/data/hostile_redirects.json`` is its corpus.
:func:`url_path` and :func:`url_query` put a request's WSGI path and query
back into the form a browser sent them in. This module does not build
absolute URLs.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

MAX_NEXT_LENGTH = 2048
_CONTROL = frozenset(chr(c) for c in range(0x20)) | {"\x7f"}
_UNSAFE = _CONTROL | {"\\"}
#: Characters browsers read as ``/`` or ``.`` at the start of a URL.
_SLASH_LOOKALIKES = ("/\u2215", "/\uff0f", "/\u2044")


#: RFC 3986 unreserved characters: ``quote`` never escapes them.
_UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-~"
#: What else stays as it is when a WSGI path is put back in a URL: the rest of RFC 3986
#: ``pchar``, and ``/``.
_PATH_SAFE = "/:@!$&'()*+,;="
#: In a query string ``?`` too, and ``%``: the query reaches the app undecoded, so its
#: escapes are the client's own and stay untouched.
_QUERY_SAFE = _PATH_SAFE + "?%"


def _wsgi_bytes(value: str) -> bytes:
    """The bytes of a WSGI string: PEP 3333 passes them as latin-1 characters."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # a server that decoded them (as UTF-8) against PEP 3333
        return value.encode("utf-8", "replace")


def url_path(wsgi_path: str) -> str:
    """A decoded WSGI path (``PATH_INFO``, ``SCRIPT_NAME``) as a browser sends it: its bytes
    percent-encoded where they are not URL-safe (a literal ``%`` too)."""
    if wsgi_path.isascii() and not wsgi_path.strip(_UNRESERVED + _PATH_SAFE):
        return wsgi_path
    return quote(_wsgi_bytes(wsgi_path), safe=_PATH_SAFE)


def url_query(wsgi_query: str) -> str:
    """``QUERY_STRING`` as a URL carries it: bytes that are not URL-safe (raw non-ASCII,
    spaces, quotes, backslashes, ``#``) percent-encoded, everything else, existing
    escapes and delimiters, as it was; so the app gets the same bytes back."""
    if wsgi_query.isascii() and not wsgi_query.strip(_UNRESERVED + _QUERY_SAFE):
        return wsgi_query
    return quote(_wsgi_bytes(wsgi_query), safe=_QUERY_SAFE)


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a same-origin relative path, else ``default`` if that is one
    (or ``""``: no target), else ``/``.

    Accepted: ``/path``, ``/path?query``, ``/path#frag``. Refused: anything
    with a scheme or host, ``//`` or ``/\\`` starts (also once or twice
    percent-decoded), control characters anywhere (browsers drop tabs and
    newlines, turning ``/\\t/evil`` into ``//evil``), backslashes in the path
    (also decoded; a query's are its own), slash
    look-alikes, and overlong values. Non-ASCII characters are percent-encoded.
    ``default`` is held to the same test: a fallback built from the request (the
    app's home under a forwarded prefix) never leads off the site either.
    """
    checked = _checked(target)
    if checked is not None:
        return checked
    if not default:
        return default
    return _checked(default) or "/"


def _checked(target: str | None) -> str | None:
    """``target`` (non-ASCII percent-encoded) if it is a same-origin relative path."""
    if not target or len(target) > MAX_NEXT_LENGTH or not target.startswith("/"):
        return None
    if any(ch in _CONTROL for ch in target):
        return None
    # Only the path can lead elsewhere: a browser reads a backslash there as a slash,
    # never in the query or fragment (``/search?q=C:%5Cdocs`` is a same-site page).
    decoded = target.split("?", 1)[0].split("#", 1)[0]
    for _ in range(3):
        if any(ch in _UNSAFE for ch in decoded) or decoded.startswith("//"):
            return None
        if decoded[:2] in _SLASH_LOOKALIKES or "\u3002" in decoded[:3]:
            return None
        decoded = unquote(decoded)
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    return _ascii_only(target)


def _ascii_only(value: str) -> str:
    if value.isascii():
        return value
    return "".join(ch if ch.isascii() else _percent(ch) for ch in value)


def _percent(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
