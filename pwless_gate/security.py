"""CSRF tokens, safe redirect targets, the client's address and the cookie policy.

Each is one small function or class with its own tests, so the rules live in
one place: every redirect target in the gate goes through :func:`safe_next`,
every form through :class:`CsrfGuard`, every client IP through
:func:`client_ip`. This module does not render pages or talk to Auth0.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from werkzeug.http import dump_cookie

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

MAX_NEXT_LENGTH = 2048
_UNSAFE = frozenset(chr(c) for c in range(0x20)) | {"\x7f", "\\"}


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a same-origin relative path, else ``default``.

    Accepted: ``/path``, ``/path?query``, ``/path#frag``. Refused: anything
    with a scheme or host, ``//`` or ``/\\`` starts (also once or twice
    percent-decoded), backslashes and control characters anywhere (browsers
    drop tabs and newlines, turning ``/\\t/evil`` into ``//evil``), and
    overlong values. Non-ASCII characters are percent-encoded.
    """
    if not target or len(target) > MAX_NEXT_LENGTH or not target.startswith("/"):
        return default
    decoded = target
    for _ in range(3):
        if any(ch in _UNSAFE for ch in decoded) or decoded.startswith("//"):
            return default
        if decoded[:2] in ("/\u2215", "/\uff0f", "/\u2044") or "\u3002" in decoded[:3]:
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


class CsrfGuard:
    """CSRF tokens bound to the browser's random id (a signed double submit).

    The token is an HMAC of the browser id, so every tab of one browser shares
    it (no "invalid token" loops) and a token taken from another browser is
    useless. Comparison is constant-time.
    """

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"pwless-gate csrf\x00" + key).digest()

    def token(self, browser_id: str) -> str:
        mac = hmac.new(self._key, browser_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def check(self, browser_id: str | None, token: str | None) -> bool:
        if not browser_id or not token:
            return False
        return hmac.compare_digest(self.token(browser_id).encode(), token.encode("utf-8"))


def new_browser_id() -> str:
    return secrets.token_urlsafe(24)


def origin_allowed(environ: WSGIEnvironment, expected: str) -> bool:
    """False when ``Origin`` (or, without it, ``Referer``) names another origin."""
    origin = environ.get("HTTP_ORIGIN")
    if origin and origin != "null":
        return hmac.compare_digest(
            origin.rstrip("/").lower().encode("utf-8", "replace"), expected.lower().encode()
        )
    if origin == "null":
        return False
    referer = environ.get("HTTP_REFERER")
    if referer:
        try:
            parts = urlsplit(referer)
        except ValueError:
            return False
        return f"{parts.scheme}://{parts.netloc}".lower() == expected.lower()
    return True


def _forwarded(environ: WSGIEnvironment, header: str, trusted: int) -> str | None:
    """The value a trusted proxy put in ``header``, counted as Werkzeug's ProxyFix does."""
    if trusted <= 0:
        return None
    raw = environ.get(header)
    if not raw:
        return None
    values = [v.strip() for v in raw.split(",")]
    if len(values) >= trusted:
        return values[-trusted] or None
    return None


def client_ip(environ: WSGIEnvironment, trusted_proxies: int) -> str:
    """The end user's IP: ``REMOTE_ADDR``, or the trusted ``X-Forwarded-For`` hop."""
    forwarded = _forwarded(environ, "HTTP_X_FORWARDED_FOR", trusted_proxies)
    return forwarded or str(environ.get("REMOTE_ADDR") or "")


def request_scheme(environ: WSGIEnvironment, trusted_proxies: int) -> str:
    proto = _forwarded(environ, "HTTP_X_FORWARDED_PROTO", trusted_proxies)
    if proto in ("http", "https"):
        return proto
    return str(environ.get("wsgi.url_scheme", "http"))


def request_origin(environ: WSGIEnvironment, trusted_proxies: int) -> str:
    """``scheme://host[:port]`` as the browser sees the gate."""
    scheme = request_scheme(environ, trusted_proxies)
    host = _forwarded(environ, "HTTP_X_FORWARDED_HOST", trusted_proxies)
    if not host:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        port = str(environ.get("SERVER_PORT", ""))
        if not environ.get("HTTP_HOST") and port not in ("", "80", "443"):
            host = f"{host}:{port}"
    return f"{scheme}://{host}"


def cookie_header(
    name: str, value: str, *, max_age: int | None, secure: bool, path: str = "/"
) -> str:
    """A ``Set-Cookie`` value with the gate's policy: HttpOnly, SameSite=Lax, Secure."""
    return dump_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def delete_cookie_header(name: str, *, secure: bool, path: str = "/") -> str:
    return dump_cookie(
        name, "", max_age=0, expires=0, path=path, secure=secure, httponly=True, samesite="Lax"
    )
