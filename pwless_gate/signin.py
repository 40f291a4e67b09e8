"""``SignIn``: what every sign-in method shares, from the throttles to the session.

Codes (:mod:`pwless_gate.codes`) and magic links (:mod:`pwless_gate.links`)
differ in how the person proves who they are; both then come here to check
the limits and the allow-list, and to finish: the verified claims must name
the identifier the code or link was sent to, the allow-list is checked a
second time (it may have changed since the message was sent), the
application's ``on_login`` hook runs, and a new session replaces the old one.
"""

from __future__ import annotations

import hashlib

from werkzeug.wrappers import Response

from .answers import see_other
from .auth0 import TokenSet
from .deps import Deps
from .errors import Refused, SessionTooLarge, Throttled
from .identity import InvalidIdentifier, normalise_email, pseudonym
from .languages import N_
from .request import GateRequest
from .sessions import MAX_IP, Session, User, new_handle, new_session_id
from .throttle import Hit
from .transactions import Transaction
from .useragents import summarise


class SignIn:
    """Limits, allow-list and the end of every sign-in."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        # The key that signs now, under a label of its own: another use of it.
        signing_key = deps.config.signing_keys[-1]
        self._pseudonym_key = hashlib.sha256(b"pwless-gate pseudonym\x00" + signing_key).digest()

    def throttle(self, request: GateRequest, identifier: str, **keys: str) -> None:
        """Count one hit on each named limit, all or none; raise :class:`Throttled`
        (and count nothing) when one is used up.

        ``keys`` maps limit names (``send_ip``, ``verify_login``…) to the key
        counted. Raises :class:`~pwless_gate.errors.StoreUnavailable` too.
        """
        limits = self.deps.config.limits
        hits = []
        for name, key in keys.items():
            limit_name = name.replace("_", "-")
            hits.append(Hit(limit_name, key, limits[limit_name]))
        longest = self.deps.throttle.hit_all(hits)
        if longest:
            self.deps.audit(
                "throttled", ip=request.client_ip, identifier=identifier, reason="local"
            )
            raise Throttled(longest)

    def allowed(self, connection: str, identifier: str) -> bool:
        """Whether the allow-list admits ``identifier`` on ``connection`` (``email``/``sms``)."""
        allow = self.deps.config.allow
        if connection == "sms":
            return allow.allows_phone(identifier)
        return allow.allows_email(identifier)

    def username(self, tx: Transaction) -> str:
        """Whom Auth0 is asked to check a typed code for: the transaction's identifier
        when the allow-list admits it (asked again, as at the start), else a
        pseudonym (:func:`~pwless_gate.identity.pseudonym`), so a refused identifier
        never reaches Auth0.

        No code was sent for a refused identifier, so Auth0 refuses the pseudonym's
        code as it refuses a wrong one; one pseudonym per identifier, so Auth0's
        brute-force protection (ten failures per user and IP) blocks a refused
        identifier when it would block an allowed one, and no sooner.
        """
        if self.allowed(tx.connection, tx.identifier):
            return tx.identifier
        return pseudonym(self._pseudonym_key, tx.connection, tx.identifier)

    def already_finished(self, request: GateRequest, tx: Transaction) -> Response | None:
        """The answer to a sign-in sent again from the browser it just signed in (a
        double click, Back and Send): where the first one led, as a 303; None when this
        browser has no session for the transaction's identifier begun since it started.

        A code or link is used once, so Auth0 refuses the second: without this the
        person, signed in, would read that the code is wrong (and it would count).
        Raises as :attr:`GateRequest.current <pwless_gate.request.GateRequest.current>`.
        """
        current = request.current
        if current is None:
            return None
        session = current.session
        # started_at is in whole seconds: a session begun earlier in that second counts
        # too, which lets nobody in: it is this browser's own, for this very identifier.
        if (
            session.connection != tx.connection
            or session.remote_user != tx.identifier
            or session.created_at < tx.started_at
        ):
            return None
        return see_other(request.next_url(tx.next))

    def finish(
        self, request: GateRequest, tx: Transaction, claims: dict[str, object], tokens: TokenSet
    ) -> Response:
        """Check the verified claims against the transaction and the allow-list; start a
        session and redirect to where the person was going.

        Raises :class:`Refused` (403) when the allow-list or the claims say no, and
        :class:`SessionTooLarge` when the session does not fit in cookies (the
        signed-cookie store with too many claims).
        """
        deps = self.deps
        ip = request.client_ip
        if not _claims_match(tx, claims) or not self.allowed(tx.connection, tx.identifier):
            deps.audit("refused_by_allow_list", ip=ip, identifier=tx.identifier, reason="token")
            raise Refused(
                403, N_("Not allowed"), N_("This account may not sign in here."), next=tx.next
            )
        config = deps.config
        now = deps.clock()
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
            handle=new_handle(),
            ip=ip[:MAX_IP],
            agent=summarise(request.headers.get("User-Agent")),
        )
        if deps.hooks.on_login is not None:
            # Before anything is saved: a hook that raises leaves no session behind.
            deps.hooks.on_login(User.from_claims(claims, config.roles_claim), request.environ)
        try:
            value = deps.sessions.save(session)
        except SessionTooLarge:
            # Nothing kept, no cookie set, the old session untouched; answered 500.
            deps.audit("login_failed", ip=ip, identifier=tx.identifier, reason="too_large")
            raise
        # Read as the app's paths read it: a cookie planted in another's value is not it.
        old = request.session_value
        if old:
            deps.sessions.revoke(old)
        deps.audit("login_succeeded", ip=ip, identifier=tx.identifier, reason=tx.connection)
        response = see_other(self._after(request, tx, str(claims["sub"])))
        deps.cookies.set_session(request, response, value)
        return response

    def _after(self, request: GateRequest, tx: Transaction, sub: str) -> str:
        """Where a finished sign-in leads: the page that offers a form kept in this browser
        for this person (:mod:`pwless_gate.savedforms`), else where the person was going."""
        saved = self.deps.saved_forms
        if saved is not None:
            browser_id = request.browser_id
            offered = saved.offer(request, browser_id, tx, sub)
            saved.remember(browser_id, sub)
            if offered:
                return request.gate_url("/form")
        return request.next_url(tx.next)


def per_client(identifier: str, ip: str) -> str:
    """The key of a per-identifier limit counted for one client IP.

    The IP comes first: it never holds ``|``, an email address may.
    """
    return f"{ip}|{identifier}"


def _claims_match(tx: Transaction, claims: dict[str, object]) -> bool:
    """The token is for the identifier the code was sent to, where it says which.

    An email claim is read as the typed address was (:func:`normalise_email`: ASCII,
    lower-cased), so an internationalised domain matches in either form.
    """
    said = claims.get("phone_number" if tx.connection == "sms" else "email")
    if said is None:
        return True
    if not isinstance(said, str):
        return False
    if tx.connection == "sms" or said == tx.identifier:
        # The identifier is kept normalised: the same text needs no second reading.
        return said == tx.identifier
    try:
        return normalise_email(said) == tx.identifier.lower()
    except InvalidIdentifier:
        return False
