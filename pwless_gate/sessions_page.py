"""The sessions page: the browsers a person is signed in on, and ending them.

``GET {prefix}/sessions`` lists the signed-in person's sessions (started,
last seen to the minute, IP at sign-in, a short browser name) and marks this
browser's. ``POST {prefix}/sessions/revoke`` with ``session`` (a handle from
the page, or ``others``) and ``csrf_token`` ends one session or every other
one, then redirects back to the page with a status message (POST, redirect,
GET). With app tokens on, ending every other session may also revoke the
person's app tokens (``tokens=revoke``). A handle is a random id kept in the
record and shown only to its owner: it is not the cookie value, and the
cookie value cannot be worked out from it. A handle that is not one of the
person's own live sessions ends nothing and is answered 404.

With the signed-cookie store nothing else can be listed or ended: the page
shows this browser's session and says so (naming ``PWLESS_GATE_STORE``),
and a revoke is answered 409. Someone not signed in gets the usual sign-in
challenge. Other processes stop accepting an ended session within
``session_cache_ttl``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from .answers import Responder, see_other
from .deps import Deps
from .languages import N_
from .pages import json_response
from .request import GateRequest
from .sessions import HANDLE, CachedSession, Session
from .useragents import UNKNOWN, split

#: The largest count a status message repeats from the query string.
_MAX_SHOWN = 1000


@dataclass(frozen=True)
class Row:
    """One session as the page shows it."""

    handle: str
    #: The summary in English ("Firefox on Linux"), as ``pwless-gate sessions list`` shows
    #: it; kept for templates written before ``browser`` and ``system``.
    agent: str
    #: The browser and its system, as product names ("Firefox", "Linux"); None and "" when
    #: not known: the page words them in its language.
    browser: str | None
    system: str
    #: "" when not known.
    ip: str
    started: str
    started_iso: str
    seen: str
    seen_iso: str
    current: bool
    #: The same times as Unix time, for the page to write in its language.
    started_at: float = 0.0
    seen_at: float = 0.0


class SessionsViews:
    """``{prefix}/sessions`` and ``{prefix}/sessions/revoke``."""

    def __init__(self, deps: Deps, responder: Responder) -> None:
        self.deps = deps
        self.r = responder

    def page(self, request: GateRequest) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self.r.not_allowed(request, "GET, HEAD")
        current = request.current
        if current is None:
            return self.r.sign_in_first(request, request.gate_url("/sessions"))
        sessions = self.deps.sessions
        listable = sessions.index is not None
        if listable:
            found = sessions.sessions_of(_sub(current))
            if not any(s.handle == current.session.handle for s in found):
                found.append(current.session)  # ended meanwhile in the store, cached here
        else:
            found = [current.session]
        mine = current.session.handle
        # This browser first, then the others, the most recently seen first.
        found.sort(key=lambda s: (s.handle == mine, s.seen_at), reverse=True)
        rows = [_row(s, s.handle == mine) for s in found]
        return self.r.page(
            request,
            "sessions.html",
            user=current.session.remote_user,
            sessions=rows,
            listable=listable,
            others=len(rows) - 1,
            ended=_ended(request.args.get("ended")),
            home=request.home,
            app_tokens=self.deps.tokens is not None,
            token_count=(len(self.deps.tokens.tokens_of(_sub(current))) if self.deps.tokens else 0),
            tokens_revoked=_ended(request.args.get("tokens")),
        )

    def revoke(self, request: GateRequest) -> Response:
        if request.method != "POST":
            return self.r.not_allowed(request, "POST")
        request.check_form()
        current = request.current
        if current is None:
            return self.r.sign_in_first(request, request.gate_url("/sessions"))
        if self.deps.sessions.index is None:
            return self._refuse(
                request,
                409,
                N_("Sessions cannot be ended here"),
                N_(
                    "This site keeps each session in its browser's cookie, so other sessions "
                    "cannot be ended from here. Sign out in the other browser instead."
                ),
            )
        chosen = request.form.get("session", "")
        mine = current.session.handle
        if chosen == "others":
            count = self._end(request, current, lambda s: s.handle != mine, "others")
            revoked = None
            if self.deps.tokens is not None and request.form.get("tokens") == "revoke":
                revoked = self.deps.tokens.revoke_user(
                    _sub(current),
                    ip=request.client_ip,
                    who=current.session.remote_user,
                    how="everywhere",
                )
            return see_other(self._back(request, count, revoked))
        if chosen == mine:
            # This browser's own session: that is signing out, with its confirmation.
            return see_other(request.gate_url("/logout"))
        if not HANDLE.match(chosen) or not self._end(
            request, current, lambda s: s.handle == chosen, "one"
        ):
            return self._refuse(
                request,
                404,
                N_("No such session"),
                N_(
                    "That is not one of your sessions, or it has already ended. "
                    "Nothing was changed."
                ),
            )
        return see_other(self._back(request, 1))

    def _refuse(self, request: GateRequest, status: int, title: str, message: str) -> Response:
        """An error page leading back to the sessions page, or JSON for an API client."""
        if request.api:
            return json_response({"error": title, "message": message}, status)
        return self.r.page(
            request,
            "error.html",
            status=status,
            title=title,
            message=message,
            back=request.gate_url("/sessions"),
            back_label=N_("Back to your sessions"),
        )

    def _end(
        self,
        request: GateRequest,
        current: CachedSession,
        select: Callable[[Session], bool],
        how: str,
    ) -> int:
        count = self.deps.sessions.revoke_where(_sub(current), select)
        if count:
            self.deps.audit(
                "sessions_ended",
                ip=request.client_ip,
                identifier=current.session.remote_user,
                reason=f"{how}:{count}",
            )
        return count

    @staticmethod
    def _back(request: GateRequest, count: int, tokens: int | None = None) -> str:
        query = {"ended": count} if tokens is None else {"ended": count, "tokens": tokens}
        return f"{request.gate_url('/sessions')}?{urlencode(query)}"


def _sub(current: CachedSession) -> str:
    return str(current.session.claims["sub"])


def _ended(value: str | None) -> int | None:
    """The count of a status message, from ``?ended=N`` (None without one)."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 4:
        return None
    return min(int(value), _MAX_SHOWN)


def _row(session: Session, current: bool) -> Row:
    browser, system = split(session.agent)
    return Row(
        handle=session.handle,
        agent=session.agent or UNKNOWN,
        browser=browser,
        system=system,
        ip=session.ip,
        started=_minute(session.created_at),
        started_iso=_iso(session.created_at),
        seen=_minute(session.seen_at),
        seen_iso=_iso(session.seen_at),
        current=current,
        started_at=session.created_at,
        seen_at=session.seen_at,
    )


def _minute(at: float) -> str:
    """``4 Mar 2026, 14:05 UTC``: to the minute, in UTC (the gate does not know the
    person's time zone)."""
    when = time.gmtime(at)
    return f"{when.tm_mday} {time.strftime('%b %Y, %H:%M', when)} UTC"


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(at))
