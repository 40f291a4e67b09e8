"""The sign-in form and one-time codes (email or SMS).

``POST login`` validates and normalises the identifier, checks the
allow-list and the throttles, asks Auth0 to send a code or link, and answers
with the code page (or "check your email"). ``POST verify`` exchanges a code.
Magic links land in :mod:`pwless_gate.links`. Every path that ends in a
session goes through :meth:`LoginViews.sign_in`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from werkzeug.wrappers import Response

from .audit import audit
from .auth0 import TokenSet
from .config import Limit
from .errors import (
    CodeExpired,
    InvalidRequest,
    PwlessGateError,
    TooManyAttempts,
    WrongCode,
)
from .identity import InvalidIdentifier, mask, normalise_email, normalise_phone
from .respond import Deps, GateRequest, Responder, log, see_other
from .security import safe_next
from .sessions import Session, new_session_id
from .transactions import Transaction, TransactionError

_CODE = re.compile(r"^[0-9]{4,12}$")
_SPACES = re.compile(r"[\s-]")


@dataclass(frozen=True)
class EmailSend:
    """One button of the email form."""

    send: str
    label: str


EMAIL_SENDS = {
    "email-code": EmailSend("code", "Email me a code"),
    "email-link": EmailSend("link", "Email me a sign-in link"),
}


class LoginViews:
    """The views of every sign-in method."""

    def __init__(self, deps: Deps, responder: Responder) -> None:
        self.deps = deps
        self.r = responder
        config = deps.config
        self._limits = {
            "send-ip": Limit.parse(config.throttle_send_per_ip),
            "send-id": Limit.parse(config.throttle_send_per_identifier),
            "verify-login": Limit.parse(config.throttle_verify_per_login),
            "verify-id": Limit.parse(config.throttle_verify_per_identifier),
        }
        methods = config.methods
        self._email_sends = [EMAIL_SENDS[m] for m in methods if m in EMAIL_SENDS]
        self._sms = "sms-code" in methods

    # -- the form ----------------------------------------------------------------

    def login(self, request: GateRequest) -> Response:
        if request.method == "POST":
            return self._start(request)
        if request.method not in ("GET", "HEAD"):
            return self.r.not_allowed(request, "GET, HEAD, POST")
        return self.login_page(request, self.r.next_url(request, request.args.get("next")))

    def login_page(
        self,
        request: GateRequest,
        next_url: str,
        *,
        status: int = 200,
        error: str | None = None,
        error_field: str | None = None,
        value: str = "",
        notice: str | None = None,
    ) -> Response:
        return self.r.page(
            request,
            "login.html",
            status=status,
            email_sends=self._email_sends,
            sms=self._sms,
            next=next_url,
            error=error,
            error_field=error_field,
            value=value,
            notice=notice,
        )

    def _start(self, request: GateRequest) -> Response:
        refused = self.r.refuse_form(request)
        if refused is not None:
            return refused
        form = request.form
        next_url = self.r.next_url(request, form.get("next"))
        config = self.deps.config
        if "phone_number" in form:
            field, connection, send, raw = "phone_number", "sms", "code", form["phone_number"]
            method = "sms-code"
        else:
            field, connection, raw = "email", "email", form.get("email", "")
            send = "link" if form.get("send") == "link" else "code"
            method = f"email-{send}"
        if method not in config.methods:
            return self.login_page(
                request, next_url, status=400, notice="That way of signing in is not enabled."
            )
        try:
            if field == "email":
                identifier = normalise_email(raw)
            else:
                identifier = normalise_phone(raw, config.default_region)
        except InvalidIdentifier as exc:
            return self.login_page(
                request, next_url, status=400, error=str(exc), error_field=field, value=raw
            )
        ip = self.r.ip(request)
        waited = self._throttle(request, identifier, next_url, send_ip=ip, send_id=identifier)
        if waited is not None:
            return waited
        tx = self.deps.transactions.new(
            connection=connection,
            identifier=identifier,
            send=send,
            next=next_url,
            browser_id=self.deps.cookies.browser_id(request) or "",
        )
        audit("login_started", ip=ip, identifier=identifier, reason=method)
        if not self._allowed(connection, identifier):
            # The same page as a real send: it must not tell who may sign in.
            audit("refused_by_allow_list", ip=ip, identifier=identifier, reason="start")
            return self.code_page(request, tx)
        auth_params = self._link_params(request, tx) if send == "link" else None
        try:
            self.deps.auth0.start(
                connection=connection,
                identifier=identifier,
                send=send,
                auth_params=auth_params,
                forwarded_for=ip,
                language=request.accept_languages.best,
            )
        except InvalidRequest as exc:
            log.info("Auth0 refused %s: %s", mask(identifier), exc.error)
            return self.login_page(
                request,
                next_url,
                status=400,
                error=_refusal_message(exc, field),
                error_field=field,
                value=raw,
            )
        except PwlessGateError as exc:
            return self.r.upstream_failed(request, exc, identifier, next_url)
        audit("code_sent", ip=ip, identifier=identifier, reason=method)
        return self.code_page(request, tx)

    def _link_params(self, request: GateRequest, tx: Transaction) -> dict[str, str]:
        config = self.deps.config
        params = {
            "redirect_uri": self.r.callback_url(request),
            "response_type": "code",
            "scope": config.scope,
            "state": self.deps.transactions.dumps(tx),
            "nonce": tx.nonce,
        }
        if config.audience:
            params["audience"] = config.audience
        return params

    # -- codes ---------------------------------------------------------------------

    def code_page(
        self, request: GateRequest, tx: Transaction, *, status: int = 200, error: str | None = None
    ) -> Response:
        """ "Enter your code", or "check your email" for links (with a code form when enabled)."""
        return self.r.page(
            request,
            "link_sent.html" if tx.send == "link" else "code.html",
            status=status,
            tx=self.deps.transactions.dumps(tx),
            channel=tx.connection,
            destination=mask(tx.identifier),
            next=tx.next,
            error=error,
            code_form=tx.send == "code" or "email-code" in self.deps.config.methods,
            resend={
                "field": "phone_number" if tx.connection == "sms" else "email",
                "value": tx.identifier,
                "send": tx.send,
            },
        )

    def verify(self, request: GateRequest) -> Response:
        if request.method != "POST":
            return self.r.not_allowed(request, "POST")
        refused = self.r.refuse_form(request)
        if refused is not None:
            return refused
        ip = self.r.ip(request)
        try:
            tx = self.deps.transactions.loads(request.form.get("tx"))
        except TransactionError as exc:
            return self.r.bad_transaction(request, exc)
        if not tx.bound_to(self.deps.cookies.browser_id(request)):
            audit("login_failed", ip=ip, identifier=tx.identifier, reason="other_browser")
            return self.r.fail(
                request, 403, "Wrong browser", "This sign-in was started in another browser."
            )
        code = _SPACES.sub("", request.form.get("code", ""))
        if not _CODE.match(code):
            return self.code_page(request, tx, status=400, error="Enter the code you received.")
        waited = self._throttle(
            request, tx.identifier, tx.next, verify_login=tx.tx_id, verify_id=tx.identifier
        )
        if waited is not None:
            return waited
        config = self.deps.config
        try:
            tokens = self.deps.auth0.exchange_otp(
                realm=tx.connection,
                username=tx.identifier,
                otp=code,
                scope=_scope_for(config.scope, tx.connection),
                audience=config.audience,
                forwarded_for=ip,
            )
            claims = self.deps.verifier.verify(tokens.id_token, connection=tx.connection)
        except (TooManyAttempts, CodeExpired) as exc:
            audit("login_failed", ip=ip, identifier=tx.identifier, reason=type(exc).__name__)
            message = (
                "That code has expired."
                if isinstance(exc, CodeExpired)
                else "That code was tried too many times."
            )
            return self.r.fail(
                request,
                400,
                "Code no longer valid",
                message + " Please ask for a new one.",
                next=tx.next,
            )
        except WrongCode:
            audit("login_failed", ip=ip, identifier=tx.identifier, reason="wrong_code")
            return self.code_page(
                request, tx, status=400, error="That code is not right. Check it and try again."
            )
        except PwlessGateError as exc:
            return self.r.upstream_failed(request, exc, tx.identifier, tx.next)
        return self.sign_in(request, tx, claims, tokens)

    # -- the end of every flow ---------------------------------------------------------

    def sign_in(
        self, request: GateRequest, tx: Transaction, claims: dict[str, object], tokens: TokenSet
    ) -> Response:
        """Check the verified claims against the transaction and the allow-list; start a session."""
        ip = self.r.ip(request)
        if not _claims_match(tx, claims) or not self._allowed(tx.connection, tx.identifier):
            audit("refused_by_allow_list", ip=ip, identifier=tx.identifier, reason="token")
            return self.r.fail(
                request, 403, "Not allowed", "This account may not sign in here.", next=tx.next
            )
        config = self.deps.config
        now = self.deps.clock()
        keep_tokens = config.audience is not None
        session = Session(
            sid=new_session_id(),
            remote_user=tx.identifier,
            connection=tx.connection,
            claims=claims,
            created_at=now,
            expires_at=now + config.session_lifetime,
            access_token=tokens.access_token if keep_tokens else None,
            access_expires_at=now + tokens.expires_in if keep_tokens else None,
            refresh_token=tokens.refresh_token if keep_tokens else None,
        )
        cookies = self.deps.cookies
        old = cookies.session_value(request)
        if old:
            self.deps.sessions.revoke(old)
        value = self.deps.sessions.save(session)
        audit("login_succeeded", ip=ip, identifier=tx.identifier, reason=tx.connection)
        response = see_other(safe_next(tx.next, self.r.home(request)))
        cookies.set_session(request, response, value)
        return response

    def _throttle(
        self, request: GateRequest, identifier: str, next_url: str, **keys: str
    ) -> Response | None:
        """A 429 page if any of the named limits is used up for its key, else None.

        ``keys`` maps limit names (``send_ip``, ``verify_login``…) to the key counted.
        """
        longest = 0
        try:
            for name, key in keys.items():
                limit_name = name.replace("_", "-")
                wait = self.deps.throttle.hit(limit_name, key, self._limits[limit_name])
                longest = max(longest, wait)
        except PwlessGateError as exc:
            return self.r.upstream_failed(request, exc, identifier, next_url)
        if not longest:
            return None
        audit("throttled", ip=self.r.ip(request), identifier=identifier, reason="local")
        return self.r.throttled(request, longest, next_url)

    def _allowed(self, connection: str, identifier: str) -> bool:
        if connection == "sms":
            return self.deps.allow.allows_phone(identifier)
        return self.deps.allow.allows_email(identifier)


def _claims_match(tx: Transaction, claims: dict[str, object]) -> bool:
    """The token is for the identifier the code was sent to, where it says which."""
    said = claims.get("phone_number" if tx.connection == "sms" else "email")
    if said is None:
        return True
    return isinstance(said, str) and said.lower() == tx.identifier.lower()


def _scope_for(scope: str, connection: str) -> str:
    """SMS users' numbers are in the id_token only with the ``phone`` scope."""
    if connection == "sms" and "phone" not in scope.split():
        return scope + " phone"
    return scope


def _refusal_message(exc: InvalidRequest, field: str) -> str:
    if exc.error == "bad.connection":
        return "This way of signing in is not available. Please tell the administrator."
    if field == "email":
        return "That email address cannot receive sign-in codes. Check it and try again."
    return "That phone number cannot receive sign-in codes. Check it and try again."
