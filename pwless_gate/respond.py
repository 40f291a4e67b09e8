"""What every gate view shares: the request class, pages with CSRF, errors as pages or JSON.

The one place that turns a failure into a response: :meth:`Responder.fail`
for the gate's own refusals and :meth:`Responder.upstream_failed` for the
errors of Auth0 and of token checks. No view formats an error by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from .audit import audit
from .auth0 import Auth0Client
from .config import GateConfig
from .cookies import Cookies
from .errors import (
    AccessDenied,
    Auth0Error,
    Auth0Unavailable,
    ClientAuthError,
    PwlessGateError,
    RateLimited,
    StoreUnavailable,
    TokenError,
)
from .identity import AllowList, mask
from .pages import Pages, json_response
from .security import CsrfGuard, client_ip, origin_allowed, request_origin, safe_next
from .sessions import CachedSession, SessionCache
from .throttle import Throttle
from .tokens import TokenVerifier
from .transactions import TransactionError, TransactionSigner

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

log = logging.getLogger("pwless_gate.views")

MAX_FORM_BYTES = 16 * 1024


class GateRequest(Request):
    """A request to a gate route: small forms only."""

    max_content_length = MAX_FORM_BYTES
    max_form_memory_size = MAX_FORM_BYTES
    max_form_parts = 20


@dataclass(frozen=True)
class Deps:
    """The collaborators every view uses, built once by the middleware."""

    config: GateConfig
    auth0: Auth0Client
    verifier: TokenVerifier
    sessions: SessionCache
    allow: AllowList
    transactions: TransactionSigner
    csrf: CsrfGuard
    cookies: Cookies
    throttle: Throttle
    clock: Callable[[], float]


def wants_json(environ: WSGIEnvironment) -> bool:
    """True for API clients: ``X-Requested-With``, fetch/XHR modes, or JSON-only ``Accept``."""
    if environ.get("HTTP_X_REQUESTED_WITH"):
        return True
    mode = environ.get("HTTP_SEC_FETCH_MODE")
    if mode == "navigate":
        return False
    if mode in ("cors", "same-origin", "no-cors") and environ.get("HTTP_SEC_FETCH_DEST") == "empty":
        return True
    accept = environ.get("HTTP_ACCEPT", "")
    return "json" in accept and "html" not in accept


class Responder:
    """Pages, refusals and error answers for the gate's views."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.pages = Pages(deps.config)

    # -- places --------------------------------------------------------------

    def gate_url(self, request: GateRequest, route: str = "") -> str:
        """The path of a gate route as the browser sees it (``SCRIPT_NAME`` included)."""
        return f"{request.script_root}{self.deps.config.prefix}{route}"

    def absolute(self, request: GateRequest, path: str) -> str:
        """``path`` (already including ``SCRIPT_NAME``) as an absolute URL."""
        return request_origin(request.environ, self.deps.config.trusted_proxies) + path

    def callback_url(self, request: GateRequest) -> str:
        """The absolute URL of the magic-link landing page, as Auth0 must redirect to it."""
        return self.absolute(request, self.gate_url(request, "/callback"))

    def home(self, request: GateRequest) -> str:
        return (request.script_root or "") + "/"

    def next_url(self, request: GateRequest, value: str | None) -> str:
        return safe_next(value, self.home(request))

    def ip(self, request: GateRequest) -> str:
        return client_ip(request.environ, self.deps.config.trusted_proxies)

    def current(self, request: GateRequest) -> CachedSession | None:
        value = self.deps.cookies.session_value(request)
        if not value:
            return None
        # StoreUnavailable propagates: the dispatcher answers 503 (fail closed).
        return self.deps.sessions.lookup(value)

    # -- answers -------------------------------------------------------------

    def page(
        self, request: GateRequest, template: str, *, status: int = 200, **context: Any
    ) -> Response:
        """A page with this browser's CSRF token; sets the browser id when new."""
        cookies = self.deps.cookies
        browser_id, is_new = cookies.ensure_browser_id(request)
        response = self.pages.render(
            template,
            status=status,
            script_name=request.script_root,
            csrf_token=self.deps.csrf.token(browser_id),
            **context,
        )
        if is_new:
            cookies.set_browser(request, response, browser_id)
        return response

    def fail(
        self,
        request: GateRequest,
        status: int,
        title: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        retry_after: int | None = None,
        next: str = "/",
    ) -> Response:
        if wants_json(request.environ):
            return json_response({"error": title, "message": message}, status, headers)
        return self.pages.render(
            "error.html",
            status=status,
            script_name=request.script_root,
            headers=headers,
            title=title,
            message=message,
            retry_after=retry_after,
            next=next,
        )

    def bad_transaction(
        self, request: GateRequest, exc: TransactionError, *, link: bool = False
    ) -> Response:
        what = "sign-in link" if link else "sign-in"
        if exc.expired:
            return self.fail(
                request, 400, "Sign-in expired", f"This {what} took too long. Please start again."
            )
        return self.fail(
            request, 400, "Sign-in not valid", f"This {what} is not valid. Please start again."
        )

    def not_allowed(self, request: GateRequest, allow: str) -> Response:
        return self.fail(
            request,
            405,
            "Method not allowed",
            "This page cannot be used that way.",
            headers={"Allow": allow},
        )

    def refuse_form(self, request: GateRequest) -> Response | None:
        """A 403 page unless the form carries this browser's CSRF token and origin."""
        origin = request_origin(request.environ, self.deps.config.trusted_proxies)
        if not origin_allowed(request.environ, origin):
            return self.fail(request, 403, "Request refused", "This form came from another site.")
        browser_id = self.deps.cookies.browser_id(request)
        if browser_id is None:
            return self.fail(
                request,
                403,
                "Cookies needed",
                "Signing in needs cookies. Allow cookies for this site and start again.",
            )
        if not self.deps.csrf.check(browser_id, request.form.get("csrf_token")):
            return self.fail(
                request, 403, "Request refused", "This form has expired. Please start again."
            )
        return None

    def upstream_failed(
        self, request: GateRequest, exc: PwlessGateError, identifier: str, next_url: str
    ) -> Response:
        """The page for a failure of Auth0, a token check or the store: not the user's doing."""
        ip = self.ip(request)
        if isinstance(exc, RateLimited):
            audit("throttled", ip=ip, identifier=identifier, reason="auth0")
            return self.throttled(request, exc.retry_after, next_url)
        if isinstance(exc, AccessDenied):
            audit("login_failed", ip=ip, identifier=identifier, reason="access_denied")
            return self.fail(request, 403, "Not allowed", "This account may not sign in here.")
        if isinstance(exc, Auth0Unavailable | StoreUnavailable):
            log.warning("sign-in unavailable: %s", exc)
            return self.fail(
                request,
                exc.status_code if isinstance(exc, Auth0Unavailable) else 503,
                "Sign-in is unavailable",
                "The sign-in service is not answering. Please try again in a minute.",
                headers={"Retry-After": "30"},
                next=next_url,
            )
        if isinstance(exc, TokenError):
            log.error("id_token rejected for %s: %s", mask(identifier), exc)
            audit("login_failed", ip=ip, identifier=identifier, reason="token_rejected")
            return self.fail(request, 502, "Sign-in failed", "The sign-in could not be verified.")
        if isinstance(exc, ClientAuthError):
            log.error("Auth0 refused the gate's client credentials: %s", exc)
        elif isinstance(exc, Auth0Error):
            log.error("Auth0 error: %s", exc)
        else:
            log.error("sign-in failed: %s", exc)
        return self.fail(
            request,
            502,
            "Sign-in is misconfigured",
            "The sign-in service refused this site. Please tell the administrator.",
        )

    def throttled(self, request: GateRequest, retry_after: int, next_url: str = "/") -> Response:
        return self.fail(
            request,
            429,
            "Too many attempts",
            "Too many sign-in attempts. Please wait a little and try again.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
            next=next_url,
        )


def see_other(location: str) -> Response:
    response = Response(status=303)
    response.headers["Location"] = location
    response.headers["Cache-Control"] = "no-store"
    return response


__all__ = ["Deps", "GateRequest", "Responder", "json_response", "see_other", "wants_json"]
