"""The app tokens page: a signed-in person makes, lists and revokes their app tokens.

``GET {prefix}/tokens`` lists the person's live tokens (name, made, expires,
last used to the minute) and a form to make one. ``POST {prefix}/tokens``
with ``name``, ``days`` (1 to ``app_token_max_days``) and ``csrf_token``
makes a token and shows it once, on a page that is never cached; the store
keeps only its SHA-256. ``POST {prefix}/tokens/revoke`` with ``token_id``
revokes one of the person's tokens and redirects back (POST, redirect, GET);
an id that is not one of theirs is answered 404 and revokes nothing.

Only a browser session manages tokens: a request carrying an app token is
not signed in here. Routed only with ``app_tokens`` on. Other processes stop
accepting a revoked token within ``session_cache_ttl``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from .answers import Responder, see_other
from .apptokens import MAX_NAME, TOKEN_ID, AppToken, AppTokens
from .deps import Deps
from .pages import json_response
from .request import GateRequest
from .sessions import CachedSession

#: The lifetime the form suggests, in days (or the maximum, when shorter).
SUGGESTED_DAYS = 30


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
            return self._challenge(request)
        return self._render(request, current, revoked=_count(request.args.get("revoked")))

    def create(self, request: GateRequest) -> Response:
        request.check_form()
        current = request.current
        if current is None:
            return self._challenge(request)
        name = " ".join(request.form.get("name", "").split())
        days_text = request.form.get("days", "").strip()
        most = self._tokens.max_days
        errors: dict[str, str] = {}
        if not name:
            errors["name"] = "Give the token a name, such as “pip on my laptop”."
        elif len(name) > MAX_NAME or not name.isprintable():
            errors["name"] = f"Use at most {MAX_NAME} ordinary characters."
        days = int(days_text) if days_text.isdigit() and len(days_text) <= 5 else 0
        if not 1 <= days <= most:
            errors["days"] = f"Choose a whole number of days from 1 to {most}."
        if errors:
            return self._render(
                request, current, errors=errors, name=name, days=days_text, status=400
            )
        token, record = self._tokens.create(current.session, name, days, ip=request.client_ip)
        response = self._render(request, current, created=token, created_row=_row(record))
        response.headers["Cache-Control"] = "no-store"
        return response

    def revoke(self, request: GateRequest) -> Response:
        if request.method != "POST":
            return self.r.not_allowed(request, "POST")
        request.check_form()
        current = request.current
        if current is None:
            return self._challenge(request)
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
            message = "That is not one of your tokens, or it was already revoked."
            if request.api:
                return json_response({"error": "No such token", "message": message}, 404)
            return self.r.page(
                request,
                "error.html",
                status=404,
                title="No such token",
                message=message + " Nothing was changed.",
                back=request.gate_url("/tokens"),
                back_label="Back to your app tokens",
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
    ) -> Response:
        tokens = self._tokens.tokens_of(_sub(current))
        most = self._tokens.max_days
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
            home=request.home,
        )

    def _challenge(self, request: GateRequest) -> Response:
        """The usual challenge: 401 JSON for an API client, else the sign-in page."""
        login_url = request.gate_url("/login")
        if request.api:
            return json_response({"error": "unauthorized", "login_url": login_url}, 401)
        response = Response(status=302)
        response.headers["Location"] = (
            f"{login_url}?{urlencode({'next': request.gate_url('/tokens')})}"
        )
        response.headers["Cache-Control"] = "no-store"
        return response


def _sub(current: CachedSession) -> str:
    return str(current.session.claims["sub"])


def _count(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 4:
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
    )


def _minute(at: float) -> str:
    """``4 Mar 2026, 14:05 UTC``, as on the sessions page."""
    when = time.gmtime(at)
    return f"{when.tm_mday} {time.strftime('%b %Y, %H:%M', when)} UTC"


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(at))
