"""The gate's two cookies: the session and the browser id (for CSRF and binding).

Both are HttpOnly and SameSite=Lax; Secure when the gate is served over
https (or ``cookie_secure=true``), and then named with the ``__Host-``
prefix so no subdomain can plant them. Reading the session cookie on the hot
path is a compiled regex over the raw ``Cookie`` header, not a full parse.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from .config import GateConfig
from .security import (
    cookie_header,
    delete_cookie_header,
    new_browser_id,
    request_origin,
    request_scheme,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

BROWSER_ID_MAX_AGE = 400 * 24 * 3600
_BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class Cookies:
    """Names, reading and writing of the gate's cookies for one config."""

    def __init__(self, config: GateConfig) -> None:
        self.config = config
        self._names = {secure: config.cookie_names(secure) for secure in (False, True)}
        self._patterns = {
            secure: re.compile(r"(?:^|;)\s*" + re.escape(names[0]) + r"=([^;\s]+)")
            for secure, names in self._names.items()
        }
        self._fixed = {"true": True, "false": False}.get(config.cookie_secure)

    def secure(self, environ: WSGIEnvironment) -> bool:
        """Whether this request's cookies are Secure (and ``__Host-`` named)."""
        if self._fixed is not None:
            return self._fixed
        return request_scheme(environ, self.config.trusted_proxies) == "https"

    def session_from_environ(self, environ: WSGIEnvironment) -> str | None:
        """The session cookie's value straight from ``HTTP_COOKIE`` (the hot path)."""
        header = environ.get("HTTP_COOKIE")
        if not header:
            return None
        match = self._patterns[self.secure(environ)].search(header)
        return match.group(1) if match else None

    def session_value(self, request: Request) -> str | None:
        return self.session_from_environ(request.environ)

    def browser_id(self, request: Request) -> str | None:
        value = request.cookies.get(self._names[self.secure(request.environ)][1])
        return value if value and _BROWSER_ID.match(value) else None

    def ensure_browser_id(self, request: Request) -> tuple[str, bool]:
        """This browser's id, and whether it is new and must be set."""
        existing = self.browser_id(request)
        return (existing, False) if existing else (new_browser_id(), True)

    def origin(self, request: Request) -> str:
        return request_origin(request.environ, self.config.trusted_proxies)

    def set_browser(self, request: Request, response: Response, browser_id: str) -> None:
        secure = self.secure(request.environ)
        response.headers.add(
            "Set-Cookie",
            cookie_header(
                self._names[secure][1], browser_id, max_age=BROWSER_ID_MAX_AGE, secure=secure
            ),
        )

    def set_session(self, request: Request, response: Response, value: str) -> None:
        secure = self.secure(request.environ)
        response.headers.add(
            "Set-Cookie",
            cookie_header(
                self._names[secure][0],
                value,
                max_age=self.config.session_lifetime,
                secure=secure,
            ),
        )

    def clear_session(self, request: Request, response: Response) -> None:
        secure = self.secure(request.environ)
        response.headers.add(
            "Set-Cookie", delete_cookie_header(self._names[secure][0], secure=secure)
        )
