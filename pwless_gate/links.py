"""Magic links: the landing page that consumes nothing, and the button that signs in.

Auth0 redirects the emailed link to ``GET {prefix}/callback?code&state``.
That page only shows which account the link signs into, because mail
security scanners open links; the ``POST`` exchanges the authorization code,
verifies the id_token's nonce against the sign-in transaction in ``state``,
and signs in through :meth:`pwless_gate.signin.SignIn.finish`.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from .answers import Responder, log
from .auth0 import auth0_error
from .deps import Deps
from .errors import AccessDenied, PwlessGateError, TokenError, UnknownAudience, WrongCode
from .identity import mask, readable
from .languages import N_
from .request import GateRequest
from .signin import SignIn
from .transactions import Transaction, TransactionError

SAME_BROWSER_HINT = "same device and browser"
#: A code refused after the Continue page was open this long most likely expired
#: (Auth0 does not say; a second press of the button comes within seconds).
EXPIRED_AFTER_SECONDS = 30


class LinkViews:
    """``GET`` and ``POST {prefix}/callback``."""

    def __init__(self, deps: Deps, responder: Responder, signin: SignIn) -> None:
        self.deps = deps
        self.r = responder
        self.signin = signin

    def callback(self, request: GateRequest) -> Response:
        if request.method == "POST":
            return self._finish_link(request)
        if request.method not in ("GET", "HEAD"):
            return self.r.not_allowed(request, "GET, HEAD, POST")
        args = request.args
        try:
            tx = self._link_transaction(args.get("state"))
        except TransactionError as exc:
            return self.r.bad_transaction(request, exc, link=True)
        error = args.get("error")
        description = args.get("error_description", "")[:500]
        if error == "too_many_attempts":
            # Brute-force or suspicious-IP protection: the table's answers, as for codes.
            blocked = auth0_error(429, error, description)
            return self.r.error(request, blocked, tx.identifier, tx.next)
        if error == "access_denied" and self._names_the_audience(description):
            # The tenant has no API by the gate's audience: the gate's setting is wrong.
            misconfigured = UnknownAudience(403, error, description)
            return self.r.error(request, misconfigured, tx.identifier, tx.next)
        if error == "access_denied" or (error and "blocked" in description.lower()):
            # An Action's refusal, or a blocked user: the person may not sign in, as the
            # code flow says it (a new link would fail the same way).
            denied = AccessDenied(403, "access_denied", description)
            return self.r.error(request, denied, tx.identifier, tx.next)
        if error:
            return self._link_refused(request, tx, description)
        code = args.get("code", "")
        if not code or len(code) > 512:
            return self.r.fail(
                request,
                400,
                N_("Link not valid"),
                N_("This sign-in link is incomplete."),
                next=tx.next,
            )
        # Nothing is consumed here: mail scanners open links, people press buttons.
        other_browser = not tx.bound_to(request.browser_id)
        return self.r.page(
            request,
            "callback.html",
            # A link opened in another browser shows the whole address, so nobody
            # is signed in to someone else's account unawares (login CSRF); as Auth0
            # has it (an internationalised domain as xn--), where no look-alike
            # letter hides. This browser typed it: its domain reads as typed.
            destination=tx.identifier if other_browser else mask(readable(tx.identifier)),
            code=code,
            state=args.get("state", ""),
            shown_at=int(self.deps.clock()),
            other_browser=other_browser,
        )

    def _names_the_audience(self, description: str) -> bool:
        """Whether a redirect's ``error_description`` is Auth0's "Service not found" for
        the gate's own audience. Anyone can open the callback with any description (a
        valid ``state`` is one sign-in away): only this exact one, which the gate's
        setting explains, is taken for a misconfiguration (a 502 and an ERROR log)."""
        audience = self.deps.config.audience
        return bool(audience) and description == f"Service not found: {audience}"

    def _finish_link(self, request: GateRequest) -> Response:
        request.check_form()
        try:
            tx = self._link_transaction(request.form.get("state"))
        except TransactionError as exc:
            return self.r.bad_transaction(request, exc, link=True)
        ip = request.client_ip
        audit = self.deps.audit
        try:
            tokens = self.deps.auth0.exchange_code(
                code=request.form.get("code", ""),
                redirect_uri=request.callback_url,
                forwarded_for=ip,
            )
            claims = self.deps.verifier.verify(tokens.id_token, nonce=tx.nonce, connection="email")
        except WrongCode:
            again = self.signin.already_finished(request, tx)
            if again is not None:
                again.headers["Referrer-Policy"] = "no-referrer"  # as the first answer
                return again
            # Used, or expired while the page was open: Auth0 answers both alike.
            audit("login_failed", ip=ip, identifier=tx.identifier, reason="link_used")
            return self._link_refused(request, tx, "expired" if self._paused(request) else "")
        except TokenError as exc:
            # A valid code from another sign-in (its nonce differs): a forged pairing.
            log.warning("magic link refused for %s: %s", mask(tx.identifier), exc)
            audit("login_failed", ip=ip, identifier=tx.identifier, reason="link_mismatch")
            return self.r.fail(
                request,
                400,
                N_("Link not valid"),
                N_("This sign-in link is not valid."),
                next=tx.next,
            )
        except PwlessGateError as exc:
            return self.r.error(request, exc, tx.identifier, tx.next)
        response = self.signin.finish(request, tx, claims, tokens)
        # The form was on /callback?code=…&state=…: without this the page the sign-in
        # leads to would get that address as its Referer (and document.referrer), and
        # with it the person's address and the nonce that ``state`` carries.
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def _paused(self, request: GateRequest) -> bool:
        """Whether the Continue page was shown long enough ago for its code to expire."""
        try:
            shown_at = int(request.form.get("shown_at", ""))
        except ValueError:
            return False
        return self.deps.clock() - shown_at >= EXPIRED_AFTER_SECONDS

    def _link_transaction(self, state: str | None) -> Transaction:
        tx = self.deps.transactions.loads(state)
        if tx.send != "link" or tx.connection != "email":
            raise TransactionError("not a magic-link transaction")
        return tx

    def _link_refused(self, request: GateRequest, tx: Transaction, description: str) -> Response:
        lowered = description.lower()
        if "expired" in lowered:
            message = N_("This sign-in link has expired. Please ask for a new one.")
        elif SAME_BROWSER_HINT in lowered:
            message = N_(
                "This sign-in link must be opened in the browser that asked for it. "
                "Please ask for a new one."
            )
        else:
            message = N_(
                "This sign-in link was already used or is no longer valid. "
                "Please ask for a new one."
            )
        self.deps.audit(
            "login_failed", ip=request.client_ip, identifier=tx.identifier, reason="link"
        )
        return self.r.fail(
            request,
            400,
            N_("Link no longer valid"),
            message,
            next=tx.next,
        )
