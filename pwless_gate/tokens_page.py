"""The app tokens page: a signed-in person makes, lists and revokes their app tokens.

``GET {prefix}/tokens`` lists the person's live tokens (name, made, expires,
last used to the minute) and a form to make one. ``POST {prefix}/tokens``
with ``name``, ``days`` (1 to ``app_token_max_days``) and ``csrf_token``
makes a token and shows it once, on a page that is never cached; the store
keeps only its SHA-256. Each page's form carries a random ``form_id``: the same
form sent again (a reload of the page that showed the token) makes nothing and
says so. ``POST {prefix}/tokens/revoke`` with ``token_id``
revokes one of the person's tokens and redirects back (POST, redirect, GET);
an id that is not one of theirs is answered 404 and revokes nothing.

Only a browser session manages tokens: a request carrying an app token is
not signed in here. Routed only with ``app_tokens`` on. Other processes stop
accepting a revoked token within ``session_cache_ttl``.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from .answers import Responder, see_other
from .apptokens import MAX_NAME, TOKEN_ID, AppToken, AppTokens
from .config import Limit
from .deps import Deps
from .languages import N_, Span, Text
from .pages import json_response
from .request import GateRequest
from .sessions import CachedSession

#: The lifetime the form suggests, in days (or the maximum, when shorter).
SUGGESTED_DAYS = 30
#: A token outlives the session that makes it, so making one asks for a sign-in this
#: recent (as GitHub's "sudo mode" does): a session cookie left on a shared computer,
#: or stolen, does not buy months of access that signing out would not end.
SIGN_IN_WITHIN = 3600
#: How long a sent "make a token" form is remembered, so that sending it again (a
#: reload of the page that showed the token) makes no second token.
FORM_MEMORY = 86400
FORM_ID_BYTES = 16
_FORM_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
ALREADY_MADE = N_(
    "That form was sent before, so no other token was made. Its token was shown once "
    "and is in the list below; make another one if you need it."
)


@dataclass(frozen=True)
class Row:
    """One token as the page shows it."""

    token_id: str
    name: str
    created: str
    created_iso: str
    expires: str
    expires_iso: str
    used: str
    used_iso: str
    #: The same times as Unix time, for the page to write in its language.
    created_at: float = 0.0
    expires_at: float = 0.0
    used_at: float = 0.0


class TokensViews:
    """``{prefix}/tokens`` and ``{prefix}/tokens/revoke``."""

    def __init__(self, deps: Deps, responder: Responder) -> None:
        self.deps = deps
        self.r = responder

    @property
    def _tokens(self) -> AppTokens:
        assert self.deps.tokens is not None  # routed only then
        return self.deps.tokens

    def page(self, request: GateRequest) -> Response:
        if request.method == "POST":
            return self.create(request)
        if request.method not in ("GET", "HEAD"):
            return self.r.not_allowed(request, "GET, HEAD, POST")
        current = request.current
        if current is None:
            return self.r.sign_in_first(request, request.gate_url("/tokens"))
        # A form sent back after the step-up sign-in (see _render): filled in again.
        name = " ".join(request.args.get("name", "").split())[:MAX_NAME]
        days = request.args.get("days", "")
        return self._render(
            request,
            current,
            revoked=_count(request.args.get("revoked")),
            name=name,
            days=days if _number(days) and len(days) <= 5 else "",
        )

    def create(self, request: GateRequest) -> Response:
        request.check_form()
        current = request.current
        if current is None:
            return self.r.sign_in_first(request, request.gate_url("/tokens"))
        name = " ".join(request.form.get("name", "").split())
        days_text = request.form.get("days", "").strip()
        most = self._tokens.max_days
        errors: dict[str, str] = {}
        if not name:
            errors["name"] = N_("Give the token a name, such as “pip on my laptop”.")
        elif len(name) > MAX_NAME or not name.isprintable():
            errors["name"] = Text("Use at most %(most)d ordinary characters.", most=MAX_NAME)
        days = int(days_text) if _number(days_text) and len(days_text) <= 5 else 0
        if not 1 <= days <= most:
            errors["days"] = Text("Choose a whole number of days from 1 to %(most)d.", most=most)
        if errors:
            return self._render(
                request, current, errors=errors, name=name, days=days_text, status=400
            )
        if self._stale(current):
            return self._render(request, current, name=name, days=days_text, status=403)
        if self._sent_before(current, request.form.get("form_id", "")):
            # A reload of the page that showed a new token sends its form again.
            return self._render(request, current, notice=ALREADY_MADE)
        token, record = self._tokens.create(current.session, name, days, ip=request.client_ip)
        response = self._render(request, current, created=token, created_row=_row(record))
        response.headers["Cache-Control"] = "no-store"
        return response

    def _stale(self, current: CachedSession) -> bool:
        """Whether the person signed in too long ago to make a token (:data:`SIGN_IN_WITHIN`)."""
        return self.deps.clock() - current.session.created_at > SIGN_IN_WITHIN

    def _sent_before(self, current: CachedSession, form_id: str) -> bool:
        """Whether this "make a token" form (its random ``form_id``) already made one;
        remembered in the store for :data:`FORM_MEMORY` seconds."""
        if not _FORM_ID.match(form_id):
            return False  # a form without an id (a script's POST): each one makes a token
        once = Limit(1, FORM_MEMORY)
        return self.deps.throttle.hit("token-form", f"{_sub(current)}|{form_id}", once) > 0

    def revoke(self, request: GateRequest) -> Response:
        if request.method != "POST":
            return self.r.not_allowed(request, "POST")
        request.check_form()
        current = request.current
        if current is None:
            return self.r.sign_in_first(request, request.gate_url("/tokens"))
        chosen = request.form.get("token_id", "")
        count = 0
        if TOKEN_ID.match(chosen):
            count = self._tokens.revoke_where(
                _sub(current),
                lambda t: t.token_id == chosen,
                ip=request.client_ip,
                who=current.session.remote_user,
                how="one",
            )
        if not count:
            message = N_("That is not one of your tokens, or it was already revoked.")
            if request.api:
                return json_response({"error": "No such token", "message": message}, 404)
            return self.r.page(
                request,
                "error.html",
                status=404,
                title=N_("No such token"),
                message=N_(
                    "That is not one of your tokens, or it was already revoked. "
                    "Nothing was changed."
                ),
                back=request.gate_url("/tokens"),
                back_label=N_("Back to your app tokens"),
            )
        return see_other(f"{request.gate_url('/tokens')}?{urlencode({'revoked': count})}")

    def _render(
        self,
        request: GateRequest,
        current: CachedSession,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        name: str = "",
        days: str = "",
        created: str | None = None,
        created_row: Row | None = None,
        revoked: int | None = None,
        notice: str | None = None,
    ) -> Response:
        tokens = self._tokens.tokens_of(_sub(current))
        most = self._tokens.max_days
        sign_in_again = None
        if created is None and self._stale(current):
            # After the sign-in, the form comes back as the person filled it in.
            typed = {k: v for k, v in (("name", name), ("days", days)) if v}
            page = request.gate_url("/tokens")
            back = {
                "next": f"{page}?{urlencode(typed)}" if typed else page,
                "fresh": str(SIGN_IN_WITHIN),
            }
            sign_in_again = f"{request.gate_url('/login')}?{urlencode(back)}"
        return self.r.page(
            request,
            "tokens.html",
            status=status,
            user=current.session.remote_user,
            tokens=[_row(t) for t in tokens],
            errors=errors or {},
            name=name,
            days=days or str(min(SUGGESTED_DAYS, most)),
            max_days=most,
            created=created,
            created_row=created_row,
            revoked=revoked,
            notice=notice,
            sign_in_again=sign_in_again,
            recent=Text(
                "A token outlives this session, so making one needs a sign-in within "
                "the last %(duration)s.",
                duration=Span(SIGN_IN_WITHIN),
            ),
            home=request.home,
            # Each page's form is new: sending the same one again makes nothing.
            form_id=secrets.token_urlsafe(FORM_ID_BYTES),
        )


def _sub(current: CachedSession) -> str:
    return str(current.session.claims["sub"])


def _number(text: str) -> bool:
    """ASCII digits only: ``int()`` refuses ``"²"``, which ``str.isdigit()`` takes."""
    return text.isascii() and text.isdigit()


def _count(value: str | None) -> int | None:
    if value is None or not _number(value) or len(value) > 4:
        return None
    return int(value)


def _row(token: AppToken) -> Row:
    return Row(
        token_id=token.token_id,
        name=token.name,
        created=_minute(token.created_at),
        created_iso=_iso(token.created_at),
        expires=_minute(token.expires_at),
        expires_iso=_iso(token.expires_at),
        used=_minute(token.used_at) if token.used_at else "",
        used_iso=_iso(token.used_at) if token.used_at else "",
        created_at=token.created_at,
        expires_at=token.expires_at,
        used_at=token.used_at or 0.0,
    )


def _minute(at: float) -> str:
    """``4 Mar 2026, 14:05 UTC``, as on the sessions page."""
    when = time.gmtime(at)
    return f"{when.tm_mday} {time.strftime('%b %Y, %H:%M', when)} UTC"


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(at))
