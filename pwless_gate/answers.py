"""The gate's answers: pages with CSRF tokens, refusals, and the one error table.

Every failure becomes a response here and nowhere else: :meth:`Responder.error`
looks the exception up in one table (:attr:`Responder.TABLE`, first match
wins) and answers with a page for a browser or JSON for an API client, with
the right status. No traceback reaches a client. Views build their own
successful answers; they raise (or pass here) what went wrong.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from .decide import is_navigation
from .deps import Deps
from .errors import (
    AccessDenied,
    AccountBlocked,
    Auth0Error,
    Auth0Unavailable,
    ClientAuthError,
    RateLimited,
    Refused,
    SessionTooLarge,
    StoreUnavailable,
    Throttled,
    TokenError,
    UnknownAudience,
)
from .identity import mask
from .languages import N_
from .logtext import MAX_LOGGED, loggable
from .pages import Pages, json_response
from .request import GateRequest
from .transactions import TransactionError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("pwless_gate.views")

RETRY_AFTER_UNAVAILABLE = 30
#: The ``Content-Type`` of a redirect: Werkzeug's default, named so that it does not
#: look for one in the new response's headers (a ``KeyError`` raised and caught).
PLAIN_TEXT = "text/plain; charset=utf-8"

#: A handler of the table: (responder, request, exception, who, next path) → answer.
Handler = Callable[["Responder", GateRequest, Any, str, str], Response]


class Responder:
    """Pages, refusals and error answers for the gate's views."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.pages = Pages(deps.config, deps.languages)
        config = deps.config
        realm = quoted(realm_of(config.brand_name))
        bearer = [f"Bearer realm={realm}"] if config.app_tokens or deps.machines else []
        #: ``WWW-Authenticate`` of a 401: Basic, so pip, git and CalDAV clients ask for
        #: credentials; Bearer too when tokens may be sent.
        self.challenges = [f'Basic realm={realm}, charset="UTF-8"', *bearer]
        #: The same for a browser's request: no Basic, which browsers answer with a
        #: password dialog of their own.
        self.cookie_challenge = f"Cookie realm={realm}"
        self.browser_challenges = [self.cookie_challenge, *bearer]
        self.invalid_token_challenge = (
            f'Bearer realm={realm}, error="invalid_token", '
            'error_description="The access token is not valid"'
        )

    # -- challenges ------------------------------------------------------------------

    def authenticate(self, response: Response, error: str = "", *, browser: bool = False) -> None:
        """Add the ``WWW-Authenticate`` challenges of a 401 to ``response``: Basic, and
        Bearer with app tokens or machines (carrying ``error``, RFC 6750); a ``browser``'s
        request gets ``Cookie`` instead of Basic."""
        for challenge in self.browser_challenges if browser else self.challenges:
            if error and challenge.startswith("Bearer "):
                challenge += f', error="{error}"'
            response.headers.add("WWW-Authenticate", challenge)

    def unauthorized(self, request: GateRequest) -> Response:
        """401 JSON for a gate route that needs a session and has none. These routes take
        the session cookie alone (no app token, no bearer token), so the challenge names
        only that: ``Cookie``, never Basic or Bearer, which would ask for credentials
        that could not help."""
        response = json_response(
            {"error": "unauthorized", "login_url": request.gate_url("/login")}, 401
        )
        response.headers["WWW-Authenticate"] = self.cookie_challenge
        return response

    def sign_in_first(self, request: GateRequest, back_to: str) -> Response:
        """A gate page asked for without a session: a browser's navigation is sent to the
        sign-in page (then back to ``back_to``), anything else gets :meth:`unauthorized`,
        as on the app's own paths."""
        if not is_navigation(request.method, request.environ):
            return self.unauthorized(request)
        return self.to_sign_in(request, back_to)

    @staticmethod
    def to_sign_in(
        request: GateRequest,
        back_to: str,
        *,
        absolute: bool = False,
        fresh: int | None = None,
        form: str | None = None,
    ) -> Response:
        """302 to the sign-in page, which then leads to ``back_to`` (a safe path); with
        ``absolute``, an absolute ``Location`` (raises as :meth:`GateRequest.absolute`);
        ``fresh``: the ``max_age`` of the rule that asks to sign in again (``?fresh=``);
        ``form``: what the page says of a form sent signed out (``?form=``)."""
        query = {"next": back_to}
        if fresh is not None:
            query["fresh"] = str(fresh)
        if form:
            query["form"] = form
        login = request.absolute_gate_url("/login") if absolute else request.gate_url("/login")
        response = Response(status=302, content_type=PLAIN_TEXT)
        response.headers["Location"] = f"{login}?{urlencode(query)}"
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- successful answers ------------------------------------------------------

    def page(
        self, request: GateRequest, template: str, *, status: int = 200, **context: Any
    ) -> Response:
        """A page with this browser's CSRF token; sets the browser id when new."""
        cookies = self.deps.cookies
        browser_id, is_new = cookies.ensure_browser_id(request)
        response = self.pages.render(
            template,
            status=status,
            script_name=request.mount,
            language=request.language,
            csrf_token=self.deps.csrf.token(browser_id),
            **context,
        )
        if is_new:
            cookies.set_browser(request, response, browser_id)
        return response

    # -- failures --------------------------------------------------------------------

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
        """An error page, or ``{"error": title, "message": message}`` for an API client."""
        if request.api:
            return json_response({"error": title, "message": message}, status, headers)
        return self.pages.render(
            "error.html",
            status=status,
            script_name=request.mount,
            language=request.language,
            headers=headers,
            title=title,
            message=message,
            retry_after=retry_after,
            next=next,
        )

    def error(
        self, request: GateRequest, exc: BaseException, who: str = "", next_url: str = "/"
    ) -> Response:
        """The answer to ``exc`` from :attr:`TABLE`; ``who`` is the identifier concerned."""
        for kind, handler in self.TABLE:
            if isinstance(exc, kind):
                return handler(self, request, exc, who, next_url)
        # The path as a literal: decoded, a %0A in it would start a log line of its own.
        log.exception(
            "unexpected error in %s %r",
            loggable(request.method, 20),
            request.path[:MAX_LOGGED],
            exc_info=exc,
        )
        return self.fail(request, 500, N_("Something went wrong"), N_("Please try again."))

    def error_page_failed(self, request: GateRequest, exc: BaseException) -> Response:
        """The 500 answer when the error page itself could not be shown in the request's
        language (an operator's template failing there): the page in the default
        language, else a line of plain text; never the server's bare 500."""
        log.exception("the error page failed in %s", request.language, exc_info=exc)
        default = self.pages.languages.default
        if request.language != default:
            try:
                return self.pages.render(
                    "error.html",
                    status=500,
                    script_name=request.mount,
                    language=default,
                    title=N_("Something went wrong"),
                    message=N_("Please try again."),
                    next="/",
                )
            except Exception as again:
                log.exception("the error page failed in %s too", default, exc_info=again)
        response = Response("Something went wrong. Please try again.\n", status=500)
        response.headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
        return response

    def not_allowed(self, request: GateRequest, allow: str) -> Response:
        return self.fail(
            request,
            405,
            N_("Method not allowed"),
            N_("This page cannot be used that way."),
            headers={"Allow": allow},
        )

    def bad_transaction(
        self, request: GateRequest, exc: TransactionError, *, link: bool = False
    ) -> Response:
        if exc.expired:
            message = (
                N_("This sign-in link took too long. Please start again.")
                if link
                else N_("This sign-in took too long. Please start again.")
            )
            return self.fail(request, 400, N_("Sign-in expired"), message)
        message = (
            N_("This sign-in link is not valid. Please start again.")
            if link
            else N_("This sign-in is not valid. Please start again.")
        )
        return self.fail(request, 400, N_("Sign-in not valid"), message)

    def unavailable(
        self,
        request: GateRequest,
        next_url: str = "/",
        status: int = 503,
        *,
        retry_after: int | None = None,
    ) -> Response:
        """The service unavailable page; ``Retry-After`` is ``retry_after`` when Auth0
        said how long to wait, else :data:`RETRY_AFTER_UNAVAILABLE`."""
        return self.fail(
            request,
            status,
            N_("Sign-in is unavailable"),
            N_("The sign-in service is not answering. Please try again in a minute."),
            headers={"Retry-After": str(retry_after or RETRY_AFTER_UNAVAILABLE)},
            next=next_url,
        )

    def throttled(self, request: GateRequest, retry_after: int, next_url: str = "/") -> Response:
        return self.fail(
            request,
            429,
            N_("Too many attempts"),
            N_("Too many sign-in attempts. Please wait a little and try again."),
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
            next=next_url,
        )

    # -- the table's handlers ----------------------------------------------------------

    def _refused(self, request: GateRequest, exc: Refused, who: str, next_url: str) -> Response:
        return self.fail(
            request, exc.status, exc.title, exc.message, headers=exc.headers, next=exc.next
        )

    def _throttled(
        self, request: GateRequest, exc: Throttled | RateLimited, who: str, next_url: str
    ) -> Response:
        if isinstance(exc, RateLimited):
            self.deps.audit("throttled", ip=request.client_ip, identifier=who, reason="auth0")
        return self.throttled(request, exc.retry_after, next_url)

    def _access_denied(
        self, request: GateRequest, exc: AccessDenied, who: str, next_url: str
    ) -> Response:
        return self._login_failed(
            request,
            who,
            "access_denied",
            403,
            N_("Not allowed"),
            N_("This account may not sign in here."),
        )

    def _account_blocked(
        self, request: GateRequest, exc: AccountBlocked, who: str, next_url: str
    ) -> Response:
        # No Retry-After: the block lasts until the unblock link is used, not seconds.
        self.deps.audit("login_failed", ip=request.client_ip, identifier=who, reason="blocked")
        if "@" in who:
            message = N_(
                "This account was blocked after too many wrong codes. An email with a link "
                "to unblock it was sent to that address: open it, then sign in again."
            )
        else:
            message = N_(
                "This account was blocked after too many wrong codes. Please ask the "
                "administrator to unblock it."
            )
        return self.fail(
            request,
            429,
            N_("Sign-in blocked"),
            message,
            next=next_url,
        )

    def _auth0_unavailable(
        self, request: GateRequest, exc: Auth0Unavailable, who: str, next_url: str
    ) -> Response:
        log.warning("sign-in unavailable: %s", exc)
        return self.unavailable(request, next_url, exc.status_code, retry_after=exc.retry_after)

    def _store_unavailable(
        self, request: GateRequest, exc: StoreUnavailable, who: str, next_url: str
    ) -> Response:
        log.warning("session store unavailable: %s", exc)
        return self.unavailable(request, next_url)

    def _token_rejected(
        self, request: GateRequest, exc: TokenError, who: str, next_url: str
    ) -> Response:
        log.error("id_token rejected for %s: %s", mask(who), exc)
        return self._login_failed(
            request,
            who,
            "token_rejected",
            502,
            N_("Sign-in failed"),
            N_("The sign-in could not be verified."),
        )

    def _login_failed(
        self, request: GateRequest, who: str, reason: str, status: int, title: str, message: str
    ) -> Response:
        self.deps.audit("login_failed", ip=request.client_ip, identifier=who, reason=reason)
        return self.fail(request, status, title, message)

    def _misconfigured(
        self, request: GateRequest, exc: Exception, who: str, next_url: str
    ) -> Response:
        if isinstance(exc, ClientAuthError):
            # Never the person's fault, never audited as a refusal of them.
            config = self.deps.config
            if exc.status_code == 401:
                what = (
                    "check PWLESS_GATE_CLIENT_ID and PWLESS_GATE_CLIENT_SECRET, and that "
                    "PWLESS_GATE_AUTH0_DOMAIN (%s) is the tenant of that application"
                )
            else:
                what = (
                    "check that the application at %s allows the Passwordless OTP grant "
                    "and uses the passwordless connections"
                )
            log.error(
                "Auth0 refused the gate's client credentials (%s %s: %s): " + what,
                exc.status_code,
                exc.error,
                exc.description,
                config.auth0_base_url,
            )
        elif isinstance(exc, UnknownAudience):
            log.error(
                "Auth0 has no API named by the gate's audience (%s %s: %r): check "
                "PWLESS_GATE_AUDIENCE (%r) against the APIs of the tenant at %s",
                exc.status_code,
                exc.error,
                exc.description,
                self.deps.config.audience,
                self.deps.config.auth0_base_url,
            )
        else:
            log.error("Auth0 error: %s", exc)
        return self.fail(
            request,
            502,
            N_("Sign-in is misconfigured"),
            N_("The sign-in service refused this site. Please tell the administrator."),
        )

    def _session_too_large(
        self, request: GateRequest, exc: SessionTooLarge, who: str, next_url: str
    ) -> Response:
        log.error(
            "sign-in refused: the session is %d characters, over the %d the cookie store "
            "can put in cookies (servers refuse longer Cookie headers); use the SQLite or "
            "Redis store (PWLESS_GATE_STORE), or fewer claims (a shorter scope, fewer roles "
            "or custom claims)",
            exc.size,
            exc.limit,
        )
        return self.fail(
            request,
            500,
            N_("Sign-in is misconfigured"),
            N_("This site cannot keep this sign-in. Please tell the administrator."),
        )

    def _bad_http(
        self, request: GateRequest, exc: HTTPException, who: str, next_url: str
    ) -> Response:
        return self.fail(request, exc.code or 400, exc.name, N_("The request could not be read."))

    def _undecodable(
        self, request: GateRequest, exc: Exception, who: str, next_url: str
    ) -> Response:
        # Werkzeug decodes the query string strictly; raw non-UTF-8 bytes are a bad request.
        return self.fail(request, 400, N_("Bad Request"), N_("The request could not be read."))

    #: Exception class → handler; the first ``isinstance`` match answers.
    TABLE: tuple[tuple[type[BaseException], Handler], ...] = (
        (Refused, _refused),
        (Throttled, _throttled),
        (RateLimited, _throttled),
        (AccessDenied, _access_denied),
        (AccountBlocked, _account_blocked),
        (Auth0Unavailable, _auth0_unavailable),
        (StoreUnavailable, _store_unavailable),
        (TokenError, _token_rejected),
        (SessionTooLarge, _session_too_large),
        (Auth0Error, _misconfigured),
        (HTTPException, _bad_http),
        (UnicodeDecodeError, _undecodable),
    )


#: Werkzeug's names of the errors a client's request may meet, which become page titles.
HTTP_NAMES = (
    N_("Bad Request"),
    N_("Request Entity Too Large"),
    N_("Request Header Fields Too Large"),
    N_("Unsupported Media Type"),
)


def see_other(location: str) -> Response:
    """A 303 to ``location``, never cached."""
    response = Response(status=303, content_type=PLAIN_TEXT)
    response.headers["Location"] = location
    response.headers["Cache-Control"] = "no-store"
    return response


def send(
    response: Response, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Hand ``response`` to the server; returns the body to send. The same status,
    headers and body as ``response(environ, start_response)``.

    The gate's answers hold their body in memory, and for those this is what
    Werkzeug's ``get_wsgi_response`` does, without copying the headers into a new
    ``Headers`` and the body into a closing iterator: ``Location`` in its URI form,
    ``Content-Length`` added when missing, no body for ``HEAD``. Any other answer (a
    stream, a status without a body, a ``Content-Location``, callbacks to run when
    it is closed) goes through Werkzeug.
    """
    body = response.response
    status = response.status_code
    if (
        type(body) is not list
        or len(body) > 1
        or (body and type(body[0]) is not bytes)
        or response.direct_passthrough
        or response._on_close  # callbacks Werkzeug's closing iterator runs
        or status < 200
        or status in (204, 304)
    ):
        return response(environ, start_response)
    headers = response.headers.to_wsgi_list()
    names = [name.lower() for name, _ in headers]
    if "content-location" in names or names.count("location") > 1:
        return response(environ, start_response)
    if "location" in names:
        at = names.index("location")
        headers[at] = ("Location", location_uri(headers[at][1]))
    if "content-length" not in names:
        headers.append(("Content-Length", str(len(body[0]) if body else 0)))
    start_response(response.status, headers)
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else body


#: A root-relative ``Location`` that :func:`~werkzeug.urls.iri_to_uri` returns as it is:
#: characters it never escapes, a query (if any) not empty, no fragment.
_URI_CHAR = r"[A-Za-z0-9\-._~%!$&'()*+,/:;=@]"
_URI_PATH = re.compile(rf"/(?!/){_URI_CHAR}*(?:\?(?:{_URI_CHAR}|\?)+)?")


def location_uri(location: str) -> str:
    """``location`` as Werkzeug sends a ``Location``: :func:`~werkzeug.urls.iri_to_uri`,
    which a plain root-relative path (the gate's own redirects) skips."""
    if _URI_PATH.fullmatch(location):
        return location
    return iri_to_uri(location)


def realm_of(brand: str) -> str:
    """``brand`` as an HTTP header can carry it: printable ASCII (accents dropped)."""
    ascii_text = unicodedata.normalize("NFKD", brand).encode("ascii", "ignore").decode()
    text = "".join(ch for ch in ascii_text if " " <= ch <= "~").strip()
    return text or "pwless-gate"


def quoted(text: str) -> str:
    """``text`` as an HTTP quoted-string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
