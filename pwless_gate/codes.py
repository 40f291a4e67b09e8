"""The sign-in form and one-time codes (email or SMS).

``POST login`` validates and normalises the identifier, checks the
allow-list and the throttles, asks Auth0 to send a code or link, and answers
with the code page (or "check your email"). ``POST verify`` exchanges a code.
Magic links land in :mod:`pwless_gate.links`. Every path that ends in a
session goes through :meth:`pwless_gate.signin.SignIn.finish`.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace

from werkzeug.wrappers import Response

from .answers import Responder, log
from .config import Limit
from .deps import Deps
from .errors import (
    CodeExpired,
    InvalidRequest,
    PwlessGateError,
    Refused,
    StoreUnavailable,
    TooManyAttempts,
    WrongCode,
)
from .identity import (
    INTERNATIONAL_EXAMPLE,
    InvalidIdentifier,
    example_phone,
    mask,
    normalise_email,
    normalise_phone,
    readable,
)
from .languages import N_, Span, Text, canonical
from .pacing import PROBE_IDENTIFIER
from .request import GateRequest
from .savedforms import KEPT, NOT_KEPT, TOO_LARGE
from .sessions import Session
from .signin import SignIn, per_client
from .transactions import Transaction, TransactionError

_CODE = re.compile(r"^[0-9]{4,12}$")
#: A BCP 47 tag: a 2-3 letter language, then subtags of 1-8 letters or digits.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*", re.ASCII)
MAX_LANGUAGE_TAG = 35
#: Auth0's refusals of one address or number (not of the gate's setup).
IDENTIFIER_REFUSALS = frozenset({"bad.email", "bad.phone_number", "sms_provider_error"})
#: Wrong codes an identifier's latest code may take before it is dead, as Auth0 counts them.
WRONG_CODES_ALLOWED = 2
#: What the throttle keeps per identifier: the ``tx_id`` of its latest start.
LATEST_START = "latest-start"
#: What people and keyboards put between a code's digits (besides any kind of space):
#: the zero-width space, hyphens and dashes (U+2010 to U+2015, the minus sign, the
#: full-width hyphen of a Japanese keyboard), dots.
_SEPARATORS = frozenset("-.\u200b\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d")


@dataclass(frozen=True)
class EmailSend:
    """One button of the email form."""

    send: str
    label: str


EMAIL_SENDS = {
    "email-code": EmailSend("code", N_("Email me a code")),
    "email-link": EmailSend("link", N_("Email me a sign-in link")),
}
#: What the sign-in page says of a form sent after the session ended (``?form=``).
FORM_NOTICES = {
    KEPT: N_(
        "Your session ended before the form you sent reached the site. It is kept: "
        "sign in again to send it."
    ),
    TOO_LARGE: N_(
        "Your session ended before the form you sent reached the site. It was too large "
        "to keep: after signing in, go back and send it again."
    ),
    NOT_KEPT: N_(
        "Your session ended before the form you sent reached the site. It could not be "
        "kept here: after signing in, go back and send it again."
    ),
}
#: What the step-up sign-in page (``?fresh=``) says of the form that led there.
STEP_UP_FORM_NOTICES = {
    KEPT: N_(
        "The form you sent has not reached the site yet. It is kept: sign in again to send it."
    ),
    TOO_LARGE: N_(
        "The form you sent has not reached the site. It was too large to keep: after signing "
        "in, go back and send it again."
    ),
    NOT_KEPT: N_(
        "The form you sent has not reached the site. It could not be kept here: after "
        "signing in, go back and send it again."
    ),
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
        self._phone_example = example_phone(deps.config.default_region)

    # -- the form ----------------------------------------------------------------

    def login(self, request: GateRequest) -> Response:
        if request.method == "POST":
            return self._start(request)
        if request.method not in ("GET", "HEAD"):
            return self.r.not_allowed(request, "GET, HEAD, POST")
        chosen = self._language_chosen(request)
        next_url = request.next_url(request.args.get("next"))
        form = request.args.get("form", "")
        fresh = request.args.get("fresh", "")
        current = (
            request.current if fresh.isascii() and fresh.isdigit() and len(fresh) <= 8 else None
        )
        if current is not None:
            response = self._step_up_page(request, next_url, int(fresh), current.session, form)
        else:
            # Changing the language keeps saying what became of the form.
            response = self.login_page(
                request,
                next_url,
                notice=FORM_NOTICES.get(form),
                switch={"form": form} if form in FORM_NOTICES else None,
            )
        if chosen is not None:
            self.deps.cookies.set_language(request, response, chosen)
        return response

    def _language_chosen(self, request: GateRequest) -> str | None:
        """The language picked with the switcher (``?lang=``), when it is a configured one:
        this page is shown in it, and the cookie keeps it for the next pages."""
        languages = self.deps.languages
        value = request.args.get("lang")
        if languages is None or not value:
            return None
        tag = canonical(value)
        if tag is None or tag not in languages.tags:
            return None
        request.__dict__["language"] = tag  # the cached property, decided
        return tag

    def _step_up_page(
        self,
        request: GateRequest,
        next_url: str,
        max_age: int,
        session: Session,
        form: str = "",
    ) -> Response:
        """The sign-in form when a rule's ``max_age`` sent a signed-in person here: it
        says why, offers the same identifier, and warns that signing in as someone
        else ends this session (every sign-in replaces the browser's session). A form
        POST kept on the way (``form``: the outcome) is offered after that sign-in."""
        notice = Text(
            "You are signed in as %(who)s, but this page asks for a sign-in within the "
            "last %(duration)s. Sign in again as %(who)s to go on. "
            "Signing in as someone else ends this session.",
            who=readable(session.remote_user),
            duration=Span(max_age),
        )
        return self.login_page(
            request,
            next_url,
            notice=notice,
            form_notice=STEP_UP_FORM_NOTICES.get(form),
            prefill=session.remote_user,
            prefill_field="phone_number" if session.connection == "sms" else "email",
            # Changing the language shows this same page, explanation included.
            switch={"fresh": str(max_age), **({"form": form} if form else {})},
        )

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
        form_notice: str | None = None,
        prefill: str = "",
        prefill_field: str = "",
        switch: Mapping[str, str] | None = None,
    ) -> Response:
        """The sign-in form; ``switch`` holds more fields the language switcher sends
        back (besides ``next``), so the page reads the same in the new language."""
        return self.r.page(
            request,
            "login.html",
            status=status,
            email_sends=self._email_sends,
            sms=self._sms,
            phone_example=self._phone_example,
            international_example=INTERNATIONAL_EXAMPLE,
            next=next_url,
            error=error,
            error_field=error_field,
            value=value,
            notice=notice,
            form_notice=form_notice,
            prefill=prefill,
            prefill_field=prefill_field,
            switch=switch or {},
        )

    def _start(self, request: GateRequest) -> Response:
        begun = time.perf_counter()
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
                request, next_url, status=400, notice=N_("That way of signing in is not enabled.")
            )
        try:
            if field == "email":
                identifier = normalise_email(raw)
            else:
                identifier = normalise_phone(raw, config.default_region, texts=True)
        except InvalidIdentifier as exc:
            return self.login_page(
                request, next_url, status=400, error=exc.args[0], error_field=field, value=raw
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
            form=self.deps.saved_forms.binding(request) if self.deps.saved_forms else "",
        )
        audit("login_started", ip=ip, identifier=identifier, reason=method)
        allowed = self.signin.allowed(connection, identifier)
        if not allowed:
            audit("refused_by_allow_list", ip=ip, identifier=identifier, reason="start")
        # A refused start's link names nobody: its state is this transaction with the
        # probe's identifier, so not even its length tells the refused one's.
        linked = tx if allowed else replace(tx, identifier=PROBE_IDENTIFIER)
        auth_params = self._link_params(request, linked) if send == "link" else None
        # The page is ready before Auth0 is asked: once it has answered, the page leaves.
        page = self.code_page(request, tx)
        # This start replaces the identifier's earlier ones (Auth0's way) as far as wrong
        # codes count, whether Auth0 takes it, the allow-list refused the identifier, or
        # Auth0 refuses to send to it (which must read as the allow-list's refusal). Kept
        # before Auth0 is asked: a start whose answer is lost may have been carried out,
        # and the work after the answer starts with cold caches.
        try:
            self.deps.throttle.remember(
                LATEST_START, identifier, tx.tx_id, self.deps.config.login_lifetime
            )
        except StoreUnavailable as exc:
            # The page must still say the code is on its way. Its wrong codes count against
            # this sign-in alone (as for every identifier while the store fails).
            log.warning("session store unavailable, latest start not kept: %s", exc)
        try:
            # A refused identifier takes the same path, page and time: only the
            # transport at the bottom sends Auth0 a probe instead (pwless_gate.pacing).
            self.deps.auth0.start(
                connection=connection,
                identifier=identifier,
                send=send,
                auth_params=auth_params,
                forwarded_for=ip,
                # The page's language: the email or text message reads as the page does.
                language=language_tag(request.language),
                decoy=not allowed,
            )
        except InvalidRequest as exc:
            if exc.error not in IDENTIFIER_REFUSALS:
                return self.r.error(request, exc, identifier, next_url)
            # Auth0 will not send to this address or number: answer exactly as the
            # allow-list does, or the difference tells who is on it.
            log.warning("Auth0 refused to send to %s: %s", mask(identifier), exc.error)
            audit("login_failed", ip=ip, identifier=identifier, reason=exc.error)
        except PwlessGateError as exc:
            return self.r.error(request, exc, identifier, next_url)
        else:
            if allowed:
                audit("code_sent", ip=ip, identifier=identifier, reason=method)
        if self.deps.pacer is not None:
            self.deps.pacer.release(begun, allowed)
        return page

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
        """ "Enter your code", or "check your email" for links (with a code form when enabled).

        ``identifier`` is the whole address or number, as typed and normalised,
        so the person can spot a typo: it is their own input, shown to them
        alike whether or not it may sign in. ``destination``, its masked form, is
        for templates written before "check your email" showed it whole.
        """
        return self.r.page(
            request,
            "link_sent.html" if tx.send == "link" else "code.html",
            status=status,
            tx=self.deps.transactions.dumps(tx),
            channel=tx.connection,
            destination=mask(readable(tx.identifier)),
            identifier=readable(tx.identifier),
            next=tx.next,
            error=error,
            code_form=tx.send == "code" or "email-code" in self.deps.config.methods,
            resend=_resend(tx),
        )

    def _used_up(self, tx: Transaction) -> bool:
        """Count one wrong code; True once the code is dead.

        Counted by the gate for every identifier alike, so a refused one (no
        code exists) dies on the same attempt as an allowed one (Auth0 counts).
        As Auth0 counts: against the identifier's latest start, whichever
        sign-in's page the code was typed on (Auth0 checks any code against
        the latest one), a new start beginning a new count. Without a latest
        start kept (an in-memory throttle of another process, or a full one),
        against this sign-in's own.
        """
        throttle = self.deps.throttle
        latest = throttle.recall(LATEST_START, tx.identifier) or tx.tx_id
        limit = Limit(WRONG_CODES_ALLOWED, self.deps.config.login_lifetime)
        return throttle.hit("wrong-code", latest, limit) > 0

    def _code_dead(self, request: GateRequest, tx: Transaction, message: str) -> Response:
        """ "Code no longer valid", with one button that sends a new one to the same address."""
        title = N_("Code no longer valid")
        if request.api:
            return self.r.fail(request, 400, title, message, next=tx.next)
        return self.r.page(
            request,
            "error.html",
            status=400,
            title=title,
            message=message,
            next=tx.next,
            resend=_resend(tx),
            resend_label=N_("Send a new link") if tx.send == "link" else N_("Send a new code"),
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
            raise Refused(
                403, N_("Wrong browser"), N_("This sign-in was started in another browser.")
            )
        code = typed_code(request.form.get("code", ""))
        if not _CODE.match(code):
            return self.code_page(request, tx, status=400, error=N_("Enter the code you received."))
        config = self.deps.config
        try:
            self.signin.throttle(
                request,
                tx.identifier,
                verify_login=tx.tx_id,
                verify_id=per_client(tx.identifier, ip),
                verify_id_total=tx.identifier,
            )
            if self.deps.clock() - tx.started_at > config.code_lifetime:
                # Counted here for every identifier alike, not only where Auth0 has a code.
                raise CodeExpired(403, "invalid_grant", "the code's lifetime has passed")
            tokens = self.deps.auth0.exchange_otp(
                realm=tx.connection,
                username=self.signin.username(tx),
                otp=code,
                scope=_scope_for(config.scope, tx.connection),
                audience=config.audience,
                forwarded_for=ip,
            )
            claims = self.deps.verifier.verify(tokens.id_token, connection=tx.connection)
        except (TooManyAttempts, CodeExpired) as exc:
            audit("login_failed", ip=ip, identifier=tx.identifier, reason=type(exc).__name__)
            message = (
                N_("That code has expired. Please ask for a new one.")
                if isinstance(exc, CodeExpired)
                else N_("That code was tried too many times. Please ask for a new one.")
            )
            return self._code_dead(request, tx, message)
        except WrongCode:
            again = self.signin.already_finished(request, tx)
            if again is not None:
                return again
            audit("login_failed", ip=ip, identifier=tx.identifier, reason="wrong_code")
            if self._used_up(tx):
                return self._code_dead(
                    request, tx, N_("That code was tried too many times. Please ask for a new one.")
                )
            return self.code_page(
                request, tx, status=400, error=N_("That code is not right. Check it and try again.")
            )
        except PwlessGateError as exc:
            return self.r.error(request, exc, tx.identifier, tx.next)
        return self.signin.finish(request, tx, claims, tokens)


def typed_code(value: str) -> str:
    """A typed code as Auth0 takes it: ASCII digits, separators left out.

    Every decimal digit counts as its value: Arabic-Indic, Persian, or full-width
    (from a Japanese keyboard) digits are the code as much as ASCII ones are.
    Anything else is kept, so the format check refuses it.
    """
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() else ch
        for ch in value
        if not (ch.isspace() or ch in _SEPARATORS)
    )


def _resend(tx: Transaction) -> dict[str, str]:
    """The fields of the "Send a new code" form: the sign-in form as it was filled in."""
    return {
        "field": "phone_number" if tx.connection == "sms" else "email",
        "value": tx.identifier,
        "send": tx.send,
    }


def language_tag(value: str | None) -> str | None:
    """``value`` if it is a BCP 47 language tag (``de``, ``pt-BR``, ``zh-Hant-TW``), else None.

    Only what the gate has checked is sent to Auth0: a header value the HTTP
    library refuses would fail the send for allowed identifiers only.
    """
    if value and len(value) <= MAX_LANGUAGE_TAG and _LANGUAGE_TAG.fullmatch(value):
        return value
    return None


def _scope_for(scope: str, connection: str) -> str:
    """SMS users' numbers are in the id_token only with the ``phone`` scope."""
    if connection == "sms" and "phone" not in scope.split():
        return scope + " phone"
    return scope
