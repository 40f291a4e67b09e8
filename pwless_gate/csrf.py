"""Cross-site request forgery: tokens bound to the browser, and the origin check.

Every form of the gate carries a token that is an HMAC of the browser's random
id (a signed double submit), and every POST must come from the gate's own
origin. This module checks; the answer to a refused form is the views'.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit


class CsrfGuard:
    """CSRF tokens bound to the browser's random id.

    The token is an HMAC of the browser id, so every tab of one browser shares
    it (no "invalid token" loops) and a token taken from another browser is
    useless. Comparison is constant-time.
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        """``keys`` oldest first, as :attr:`~pwless_gate.config.GateConfig.signing_keys`:
        the last one makes tokens, every one is taken (a form shown before a key
        rotation, or by a host not yet rotated, is still sent)."""
        if not keys:
            raise ValueError("CsrfGuard needs at least one key")
        # Each key's HMAC state is set up once and copied per token: the same MAC,
        # without building an HMAC from the key on every page.
        self._keys = [
            hmac.new(hashlib.sha256(b"pwless-gate csrf\x00" + key).digest(), None, hashlib.sha256)
            for key in keys
        ]

    def token(self, browser_id: str) -> str:
        return _mac(self._keys[-1], browser_id)

    def check(self, browser_id: str | None, token: str | None) -> bool:
        if not browser_id or not token:
            return False
        sent = token.encode("utf-8", "replace")
        # Every key is tried, newest first, so the time taken does not tell which matched.
        matched = [hmac.compare_digest(_mac(key, browser_id).encode(), sent) for key in self._keys]
        return any(matched)


def _mac(key: hmac.HMAC, browser_id: str) -> str:
    """The HMAC-SHA256 of ``browser_id`` under ``key`` (a prepared HMAC), base64url."""
    mac = key.copy()
    mac.update(browser_id.encode())
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def new_browser_id() -> str:
    return secrets.token_urlsafe(24)


def origin_allowed(environ: Mapping[str, Any], expected: str) -> bool:
    """False when ``Origin`` (or, without it, ``Referer``) names another origin than
    ``expected`` (``scheme://host[:port]``)."""
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
