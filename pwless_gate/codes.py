"""The sign-in form and one-time codes (email or SMS).

``POST login`` validates and normalises the identifier, checks the
allow-list and the throttles, asks Auth0 to send a code or link, and answers
with the code page (or "check your email"). ``POST verify`` exchanges a code.
Magic links land in :mod:`pwless_gate.links`. Every path that ends in a
session goes through :meth:`pwless_gate.signin.SignIn.finish`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from werkzeug.wrappers import Response

from .answers import Responder, log
from .deps import Deps
from .errors import (
    CodeExpired,
    InvalidRequest,
    PwlessGateError,
    Refused,
    TooManyAttempts,
    WrongCode,
)
from .identity import InvalidIdentifier, mask, normalise_email, normalise_phone
from .request import GateRequest
from .signin import SignIn, per_client
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


class CodeViews:
    """The sign-in form, and the codes sent by email or SMS."""

    def __init__(self, deps: Deps, responder: Responder, signin: SignIn) -> None:
        self.deps = deps
        self.r = responder
        self.signin = signin
        methods = deps.config.methods
        self._email_sends = [EMAIL_SENDS[m] for m in methods if m in EMAIL_SENDS]
        self._sms = "sms-code" in methods

    # -- the form ----------------------------------------------------------------

    def login(self, request: GateRequest) -> Response:
        if request.method == "POST":
            return self._start(request)
        if request.method not in ("GET", "HEAD"):
            return self.r.not_allowed(request, "GET, HEAD, POST")
        return self.login_page(request, request.next_url(request.args.get("next")))

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
        request.check_form()
        form = request.form
        next_url = request.next_url(form.get("next"))
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
        ip = request.client_ip
        audit = self.deps.audit
        try:
            self.signin.throttle(
                request,
                identifier,
                send_ip=ip,
                send_id=per_client(identifier, ip),
                send_id_total=identifier,
            )
        except PwlessGateError as exc:
            return self.r.error(request, exc, identifier, next_url)
        tx = self.deps.transactions.new(
            connection=connection,
            identifier=identifier,
            send=send,
            next=next_url,
            browser_id=request.browser_id or "",
        )
        audit("login_started", ip=ip, identifier=identifier, reason=method)
        if not self.signin.allowed(connection, identifier):
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
            return self.r.error(request, exc, identifier, next_url)
        audit("code_sent", ip=ip, identifier=identifier, reason=method)
        return self.code_page(request, tx)

    def _link_params(self, request: GateRequest, tx: Transaction) -> dict[str, str]:
        config = self.deps.config
        params = {
            "redirect_uri": request.callback_url,
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
        request.check_form()
        ip = request.client_ip
        audit = self.deps.audit
        try:
            tx = self.deps.transactions.loads(request.form.get("tx"))
        except TransactionError as exc:
            return self.r.bad_transaction(request, exc)
        if not tx.bound_to(request.browser_id):
            audit("login_failed", ip=ip, identifier=tx.identifier, reason="other_browser")
            raise Refused(403, "Wrong browser", "This sign-in was started in another browser.")
        code = _SPACES.sub("", request.form.get("code", ""))
        if not _CODE.match(code):
            return self.code_page(request, tx, status=400, error="Enter the code you received.")
        config = self.deps.config
        try:
            self.signin.throttle(
                request,
                tx.identifier,
                verify_login=tx.tx_id,
                verify_id=per_client(tx.identifier, ip),
                verify_id_total=tx.identifier,
            )
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
            return self.r.error(request, exc, tx.identifier, tx.next)
        return self.signin.finish(request, tx, claims, tokens)


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
