"""The gate's own routes under the prefix: login, verify, logout, userinfo, auth, health.

Each view turns a request into a response; the errors of the layers below
(:mod:`pwless_gate.errors`, invalid identifiers, bad transactions) are caught
here, at the edge, and become a page or a JSON error with the right status.
No traceback reaches a client. This module is not on the hot path: an
authenticated request for the wrapped app never gets here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from werkzeug.exceptions import HTTPException
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
    CodeExpired,
    InvalidRequest,
    PwlessGateError,
    RateLimited,
    TokenError,
    TooManyAttempts,
    WrongCode,
)
from .identity import AllowList, InvalidIdentifier, mask, normalise_email, normalise_phone
from .pages import Pages, json_response
from .security import CsrfGuard, client_ip, origin_allowed, safe_next
from .sessions import CachedSession, Session, SessionCache, new_session_id
from .tokens import TokenVerifier
from .transactions import Transaction, TransactionError, TransactionSigner

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("pwless_gate.views")

MAX_FORM_BYTES = 16 * 1024
_CODE = re.compile(r"^[0-9]{4,12}$")


class GateRequest(Request):
    max_content_length = MAX_FORM_BYTES
    max_form_memory_size = MAX_FORM_BYTES
    max_form_parts = 20


@dataclass(frozen=True)
class Method:
    """One way to sign in the login page offers."""

    send: str
    field: str
    label: str
    button: str


METHODS = {
    "email-code": Method("code", "email", "Email address", "Email me a code"),
    "email-link": Method("link", "email", "Email address", "Email me a sign-in link"),
    "sms-code": Method("code", "phone_number", "Mobile number", "Text me a code"),
}


class GateViews:
    """Dispatches requests under the gate prefix and challenges unauthenticated ones."""

    def __init__(
        self,
        config: GateConfig,
        *,
        auth0: Auth0Client,
        verifier: TokenVerifier,
        sessions: SessionCache,
        allow: AllowList,
        transactions: TransactionSigner,
        csrf: CsrfGuard,
        cookies: Cookies,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.auth0 = auth0
        self.verifier = verifier
        self.sessions = sessions
        self.allow = allow
        self.transactions = transactions
        self.csrf = csrf
        self.cookies = cookies
        self.clock = clock
        self.pages = Pages(config)
        self._routes: dict[str, Callable[[GateRequest], Response]] = {
            "/login": self.login,
            "/verify": self.verify,
            "/logout": self.logout,
            "/userinfo": self.userinfo,
            "/auth": self.auth,
            "/health": self.health,
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = GateRequest(environ)
        try:
            response = self.dispatch(request)
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.path)
            response = self.fail(request, 500, "Something went wrong", "Please try again.")
        return response(environ, start_response)

    def dispatch(self, request: GateRequest) -> Response:
        sub = request.path[len(self.config.prefix) :] if request.path else ""
        if sub.startswith("/static/"):
            found = self.pages.static(sub[len("/static/") :])
            return found or self.fail(request, 404, "Not found", "There is no such page.")
        view = self._routes.get(sub.rstrip("/") or "/login")
        if view is None:
            return self.fail(request, 404, "Not found", "There is no such page.")
        try:
            return view(request)
        except HTTPException as exc:
            code = exc.code or 400
            return self.fail(request, code, exc.name, "The request could not be read.")

    # -- the email/SMS code flow ------------------------------------------------

    def login(self, request: GateRequest) -> Response:
        if request.method == "POST":
            return self._start(request)
        if request.method not in ("GET", "HEAD"):
            return self._not_allowed(request, "GET, HEAD, POST")
        next_url = self._next(request, request.args.get("next"))
        return self._login_page(request, next_url)

    def _start(self, request: GateRequest) -> Response:
        refused = self._refuse_form(request)
        if refused is not None:
            return refused
        form = request.form
        next_url = self._next(request, form.get("next"))
        send = form.get("send", "code")
        if "phone_number" in form:
            method_name, raw = "sms-code", form.get("phone_number", "")
        else:
            method_name = "email-link" if send == "link" else "email-code"
            raw = form.get("email", "")
        if method_name not in self.config.methods:
            return self._login_page(
                request, next_url, status=400, notice="That way of signing in is not enabled."
            )
        method = METHODS[method_name]
        field_id = f"{method.field}-{method.send}"
        ip = self._ip(request)
        try:
            if method.field == "email":
                identifier = normalise_email(raw)
            else:
                identifier = normalise_phone(raw, self.config.default_region)
        except InvalidIdentifier as exc:
            return self._login_page(
                request, next_url, status=400, error=str(exc), error_field=field_id, value=raw
            )
        connection = "sms" if method.field == "phone_number" else "email"
        browser_id = self.cookies.browser_id(request) or ""
        tx = self.transactions.new(
            connection=connection,
            identifier=identifier,
            send=method.send,
            next=next_url,
            browser_id=browser_id,
        )
        audit("login_started", ip=ip, identifier=identifier, reason=method_name)
        if self._allowed(connection, identifier):
            try:
                self.auth0.start(
                    connection=connection,
                    identifier=identifier,
                    send=method.send,
                    forwarded_for=ip,
                    language=request.accept_languages.best,
                )
            except InvalidRequest as exc:
                log.info("Auth0 refused %s: %s", mask(identifier), exc.error)
                message = _refusal_message(exc, method.field)
                return self._login_page(
                    request,
                    next_url,
                    status=400,
                    error=message,
                    error_field=field_id,
                    value=raw,
                )
            except PwlessGateError as exc:
                return self._auth0_failed(request, exc, ip, identifier, next_url)
            audit("code_sent", ip=ip, identifier=identifier, reason=method_name)
        else:
            # Same page as a real send: the page must not tell who may sign in.
            audit("refused_by_allow_list", ip=ip, identifier=identifier, reason="start")
        return self._code_page(request, tx)

    def verify(self, request: GateRequest) -> Response:
        if request.method != "POST":
            return self._not_allowed(request, "POST")
        refused = self._refuse_form(request)
        if refused is not None:
            return refused
        ip = self._ip(request)
        try:
            tx = self.transactions.loads(request.form.get("tx"))
        except TransactionError as exc:
            message = (
                "This sign-in took too long. Please start again."
                if exc.expired
                else "This sign-in could not be continued. Please start again."
            )
            return self.fail(request, 400, "Sign-in expired", message)
        if not tx.bound_to(self.cookies.browser_id(request)):
            audit("login_failed", ip=ip, identifier=tx.identifier, reason="other_browser")
            return self.fail(
                request, 403, "Wrong browser", "This sign-in was started in another browser."
            )
        code = re.sub(r"[\s-]", "", request.form.get("code", ""))
        if not _CODE.match(code):
            return self._code_page(request, tx, status=400, error="Enter the code you received.")
        try:
            tokens = self.auth0.exchange_otp(
                realm=tx.connection,
                username=tx.identifier,
                otp=code,
                scope=self.config.scope,
                audience=self.config.audience,
                forwarded_for=ip,
            )
            claims = self.verifier.verify(tokens.id_token, connection=tx.connection)
        except (TooManyAttempts, CodeExpired) as exc:
            audit("login_failed", ip=ip, identifier=tx.identifier, reason=type(exc).__name__)
            message = (
                "That code has expired."
                if isinstance(exc, CodeExpired)
                else "That code was tried too many times."
            )
            return self.fail(
                request,
                400,
                "Code no longer valid",
                message + " Please ask for a new one.",
                next=tx.next,
            )
        except WrongCode:
            audit("login_failed", ip=ip, identifier=tx.identifier, reason="wrong_code")
            return self._code_page(
                request, tx, status=400, error="That code is not right. Check it and try again."
            )
        except PwlessGateError as exc:
            return self._auth0_failed(request, exc, ip, tx.identifier, tx.next)
        return self._sign_in(
            request, tx, claims, tokens.access_token, tokens.expires_in, tokens.refresh_token
        )

    def _sign_in(
        self,
        request: GateRequest,
        tx: Transaction,
        claims: dict[str, object],
        access_token: str,
        expires_in: int,
        refresh_token: str | None,
    ) -> Response:
        ip = self._ip(request)
        if not self._claims_match(tx, claims) or not self._allowed(tx.connection, tx.identifier):
            audit("refused_by_allow_list", ip=ip, identifier=tx.identifier, reason="token")
            return self.fail(
                request, 403, "Not allowed", "This account may not sign in here.", next=tx.next
            )
        now = self.clock()
        session = Session(
            sid=new_session_id(),
            remote_user=tx.identifier,
            connection=tx.connection,
            claims=claims,
            created_at=now,
            expires_at=now + self.config.session_lifetime,
            access_token=access_token if self.config.audience else None,
            access_expires_at=now + expires_in if self.config.audience else None,
            refresh_token=refresh_token if self.config.audience else None,
        )
        old = self.cookies.session_value(request)
        if old:
            self.sessions.revoke(old)
        value = self.sessions.save(session)
        audit("login_succeeded", ip=ip, identifier=tx.identifier, reason=tx.connection)
        response = _see_other(safe_next(tx.next, self._home(request)))
        self.cookies.set_session(request, response, value)
        return response

    # -- sign out and the small JSON endpoints -----------------------------------

    def logout(self, request: GateRequest) -> Response:
        current = self._current(request)
        if request.method in ("GET", "HEAD"):
            browser_id, set_cookie = self.cookies.ensure_browser_id(request)
            response = self.pages.render(
                "logout.html",
                script_name=request.script_root,
                user=current.session.remote_user if current else None,
                csrf_token=self.csrf.token(browser_id),
            )
            if set_cookie:
                self.cookies.set_browser(request, response, browser_id)
            return response
        if request.method != "POST":
            return self._not_allowed(request, "GET, HEAD, POST")
        refused = self._refuse_form(request)
        if refused is not None:
            return refused
        value = self.cookies.session_value(request)
        if value:
            self.sessions.revoke(value)
        if current:
            audit("logout", ip=self._ip(request), identifier=current.session.remote_user)
        response = self.pages.render("signed_out.html", script_name=request.script_root)
        self.cookies.clear_session(request, response)
        return response

    def userinfo(self, request: GateRequest) -> Response:
        current = self._current(request)
        if current is None:
            return json_response({"error": "unauthorized"}, 401)
        return json_response(dict(current.session.claims))

    def auth(self, request: GateRequest) -> Response:
        current = self._current(request)
        if current is None:
            return json_response({"error": "unauthorized"}, 401)
        response = Response(status=202)
        response.headers["X-Auth-Request-User"] = current.session.remote_user
        if current.user.email:
            response.headers["X-Auth-Request-Email"] = current.user.email
        return response

    def health(self, request: GateRequest) -> Response:
        return json_response({"status": "ok"})

    # -- the challenge for the protected app ------------------------------------

    def challenge(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """401 JSON for API clients, else a redirect to the login page with ``next``."""
        request = GateRequest(environ)
        login_url = f"{request.script_root}{self.config.prefix}/login"
        if wants_json(environ):
            response = json_response({"error": "unauthorized", "login_url": login_url}, 401)
        else:
            target = request.script_root + _quoted_path(request)
            query = request.query_string.decode("latin-1")
            if query:
                target += "?" + query
            response = Response(status=302)
            response.headers["Location"] = (
                f"{login_url}?{urlencode({'next': safe_next(target, self._home(request))})}"
            )
            response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    # -- helpers -----------------------------------------------------------------

    def _current(self, request: GateRequest) -> CachedSession | None:
        value = self.cookies.session_value(request)
        if not value:
            return None
        try:
            return self.sessions.lookup(value)
        except PwlessGateError:
            return None

    def _login_page(
        self, request: GateRequest, next_url: str, *, status: int = 200, **context: Any
    ) -> Response:
        browser_id, set_cookie = self.cookies.ensure_browser_id(request)
        forms = [METHODS[m] for m in self.config.methods]
        response = self.pages.render(
            "login.html",
            status=status,
            script_name=request.script_root,
            forms=forms,
            next=next_url,
            csrf_token=self.csrf.token(browser_id),
            **context,
        )
        if set_cookie:
            self.cookies.set_browser(request, response, browser_id)
        return response

    def _code_page(
        self, request: GateRequest, tx: Transaction, *, status: int = 200, error: str | None = None
    ) -> Response:
        browser_id = self.cookies.browser_id(request) or ""
        return self.pages.render(
            "code.html",
            status=status,
            script_name=request.script_root,
            tx=self.transactions.dumps(tx),
            csrf_token=self.csrf.token(browser_id),
            channel=tx.connection,
            destination=mask(tx.identifier),
            next=tx.next,
            error=error,
        )

    def _refuse_form(self, request: GateRequest) -> Response | None:
        """A 403 page unless the form carries this browser's CSRF token and origin."""
        if not origin_allowed(request.environ, self.cookies.origin(request)):
            return self.fail(request, 403, "Request refused", "This form came from another site.")
        browser_id = self.cookies.browser_id(request)
        if browser_id is None:
            return self.fail(
                request,
                403,
                "Cookies needed",
                "Signing in needs cookies. Allow cookies for this site and start again.",
            )
        if not self.csrf.check(browser_id, request.form.get("csrf_token")):
            return self.fail(
                request, 403, "Request refused", "This form has expired. Please start again."
            )
        return None

    def _auth0_failed(
        self, request: GateRequest, exc: PwlessGateError, ip: str, identifier: str, next_url: str
    ) -> Response:
        """The page for an Auth0 or token failure that is not the user's doing."""
        if isinstance(exc, RateLimited):
            audit("throttled", ip=ip, identifier=identifier, reason="auth0")
            return self.fail(
                request,
                429,
                "Too many attempts",
                "Too many sign-in attempts. Please wait a little and try again.",
                headers={"Retry-After": str(exc.retry_after)},
                retry_after=exc.retry_after,
                next=next_url,
            )
        if isinstance(exc, AccessDenied):
            audit("login_failed", ip=ip, identifier=identifier, reason="access_denied")
            return self.fail(request, 403, "Not allowed", "This account may not sign in here.")
        if isinstance(exc, Auth0Unavailable):
            log.warning("Auth0 unavailable: %s", exc)
            return self.fail(
                request,
                exc.status_code,
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

    def _not_allowed(self, request: GateRequest, allow: str) -> Response:
        return self.fail(
            request,
            405,
            "Method not allowed",
            "This page cannot be used that way.",
            headers={"Allow": allow},
        )

    def _allowed(self, connection: str, identifier: str) -> bool:
        if connection == "sms":
            return self.allow.allows_phone(identifier)
        return self.allow.allows_email(identifier)

    @staticmethod
    def _claims_match(tx: Transaction, claims: dict[str, object]) -> bool:
        """The token is for the identifier the code was sent to (when it says so)."""
        key = "phone_number" if tx.connection == "sms" else "email"
        said = claims.get(key)
        if said is None:
            return True
        return isinstance(said, str) and said.lower() == tx.identifier.lower()

    def _next(self, request: GateRequest, value: str | None) -> str:
        return safe_next(value, self._home(request))

    @staticmethod
    def _home(request: GateRequest) -> str:
        return (request.script_root or "") + "/"

    def _ip(self, request: GateRequest) -> str:
        return client_ip(request.environ, self.config.trusted_proxies)


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


def _refusal_message(exc: InvalidRequest, field: str) -> str:
    if exc.error == "bad.connection":
        return "This way of signing in is not available. Please tell the administrator."
    if field == "email":
        return "That email address cannot receive sign-in codes. Check it and try again."
    return "That phone number cannot receive sign-in codes. Check it and try again."


def _see_other(location: str) -> Response:
    response = Response(status=303)
    response.headers["Location"] = location
    response.headers["Cache-Control"] = "no-store"
    return response


def _quoted_path(request: GateRequest) -> str:
    raw = request.environ.get("PATH_INFO", "") or "/"
    return quote(raw.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=-._~")
