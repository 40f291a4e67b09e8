"""The gate's own routes under the prefix, and the answers to refused requests.

``login`` and ``verify`` live in :mod:`pwless_gate.codes`, ``callback`` in
:mod:`pwless_gate.links`; here are routing, ``logout`` (and ending a session
on one of the app's own logout paths), ``userinfo`` (the claims, and
``sessions_url``), the sessions page (:mod:`pwless_gate.sessions_page`), the
app tokens page (:mod:`pwless_gate.tokens_page`),
``auth`` (for nginx ``auth_request``), ``health``, ``metrics``, the static
assets, and the answers to the decisions that do not reach the app
(challenge, deny, unavailable). Every exception a view raises becomes an
answer through :meth:`pwless_gate.answers.Responder.error`. Nothing here is on
the hot path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes, urlencode

from werkzeug.wrappers import Response

from .answers import PLAIN_TEXT, Responder, see_other, send
from .apptokens import holds_token
from .codes import CodeViews
from .csrf import origin_allowed
from .decide import from_browser_script, is_navigation, logout_forms
from .deps import Deps
from .errors import Auth0Unavailable, Refused, StoreUnavailable, TokenError
from .languages import N_, Text
from .links import LinkViews
from .machines import bearer_token
from .pages import json_response
from .proxies import is_loopback
from .public_paths import is_normal
from .redirects import safe_next, url_path, url_query
from .request import GateRequest
from .rules import Verdict, request_host, verdict, within, wsgi_mount
from .savedforms import (
    KEPT,
    NOT_KEPT,
    is_send_press,
    names_send_press,
    request_target_path,
    with_send_marker,
)
from .sessions import CachedSession, User
from .sessions_page import SessionsViews
from .signin import SignIn
from .tokens_page import TokensViews

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("pwless_gate.views")

#: Where proxies put the request they ask ``{prefix}/auth`` about: nginx's
#: ``auth_request`` (set in its config), then Traefik's ``forwardAuth``.
ORIGINAL_HEADERS = (
    ("HTTP_X_ORIGINAL_METHOD", "HTTP_X_ORIGINAL_URI"),
    ("HTTP_X_FORWARDED_METHOD", "HTTP_X_FORWARDED_URI"),
)


#: Where a forwardAuth-style proxy (Traefik) names the request it asks about; nginx's
#: example sets ``X-Original-URI`` instead. See :meth:`GateViews._admitted`.
FORWARD_AUTH_URI = "HTTP_X_FORWARDED_URI"

#: ``{prefix}/auth``'s 202 header saying "the request's ``Authorization`` is the gate's
#: own (an app token): do not pass it on to the app". nginx's example reads it.
DROP_AUTHORIZATION = "X-Auth-Request-Drop-Authorization"

#: A request target in absolute form (RFC 9112 3.2.2): a scheme, then ``://``. A path
#: (starting with ``/``) is in origin form, whatever it holds further on.
_ABSOLUTE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")

#: Characters a header value cannot carry back (a server that passed them on was lax).
_LINE_BREAKS = frozenset("\r\n\0")

#: Routes that only show something: any other method than GET and HEAD gets 405 (as the
#: static files do). ``/auth`` is not among them: a proxy may ask with the original method.
READ_ONLY = frozenset({"/userinfo", "/health", "/metrics"})

#: Routes answered whatever the ``Host``: they build no URL, and probes and scrapers
#: address the gate by its own IP (``public_url`` names the address people use).
ANY_HOST = frozenset({"/health", "/metrics"})
#: What a Send press that sends nothing is told (:meth:`GateViews.form_not_sent`).
FORM_NOT_SENT = N_("This form was already sent, or it expired. Nothing was sent this time.")


class GateViews:
    """Routes requests under the gate prefix; answers requests the gate refuses."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.r = Responder(deps)
        self._logout_paths = logout_forms(deps.config.logout_paths)
        signin = SignIn(deps)
        self.codes = CodeViews(deps, self.r, signin)
        self.links = LinkViews(deps, self.r, signin)
        self.sessions = SessionsViews(deps, self.r)
        self.tokens = TokensViews(deps, self.r)
        self._routes: dict[str, Callable[[GateRequest], Response]] = {
            "/login": self.codes.login,
            "/verify": self.codes.verify,
            "/callback": self.links.callback,
            "/form": self.saved_form,
            "/logout": self.logout,
            "/sessions": self.sessions.page,
            "/sessions/revoke": self.sessions.revoke,
            "/userinfo": self.userinfo,
            "/auth": self.auth,
            "/health": self.health,
        }
        if deps.metrics is not None:
            self._routes["/metrics"] = self.metrics
        if deps.tokens is not None:
            self._routes["/tokens"] = self.tokens.page
            self._routes["/tokens/revoke"] = self.tokens.revoke

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = GateRequest(environ, self.deps)
        try:
            response = self.dispatch(request)
        except Exception as exc:
            try:
                response = self.r.error(request, exc)
            except Exception as failed:  # the error page itself
                response = self.r.error_page_failed(request, failed)
        if request.renewed_cookie is not None and response.status_code < 400:
            self.deps.cookies.set_session(request, response, request.renewed_cookie)
        return send(response, environ, start_response)

    def dispatch(self, request: GateRequest) -> Response:
        prefix = self.deps.config.prefix
        sub = (request.environ.get("PATH_INFO") or "")[len(prefix) :]
        # Exact routes: "/auth/" is not "/auth". A proxy that keeps {prefix}/auth to itself
        # (nginx's `internal`) matches that path alone; a client's /auth/ or /auth%2F must
        # not reach it through the proxy's route to the gate's pages.
        route = sub if sub not in ("", "/") else "/login"
        view = self._routes.get(route)
        if view is None or route not in ANY_HOST:
            request.check_host()
        if sub.startswith("/static/"):
            found = self.r.pages.static(sub[len("/static/") :])
            if found is None:
                return self.r.fail(request, 404, N_("Not found"), N_("There is no such page."))
            return self._read_only(request) or found
        if view is None:
            return self.r.fail(request, 404, N_("Not found"), N_("There is no such page."))
        if route in READ_ONLY:
            return self._read_only(request) or view(request)
        return view(request)

    def _read_only(self, request: GateRequest) -> Response | None:
        """405 for a route that only shows something, asked with another method than GET
        or HEAD; None when the method is one of those."""
        if request.method in ("GET", "HEAD"):
            return None
        return self.r.not_allowed(request, "GET, HEAD")

    # -- sign out ------------------------------------------------------------------

    def logout(self, request: GateRequest) -> Response:
        current = request.current
        if request.method in ("GET", "HEAD"):
            if current is None:
                # Nothing to sign out of; also where a federated logout comes back.
                return self.r.page(request, "signed_out.html")
            return self.r.page(
                request,
                "logout.html",
                user=current.session.remote_user,
                next=safe_next(request.args.get("next"), ""),
            )
        if request.method != "POST":
            return self.r.not_allowed(request, "GET, HEAD, POST")
        request.check_form()
        values = [v for v in (request.session_value, request.renewed_cookie) if v is not None]
        request.renewed_cookie = None  # signing out: no renewed session to hand back
        self._sign_out(request, values, current)
        target = safe_next(request.form.get("next"), "")
        if self.deps.config.federated_logout:
            return_to = request.absolute(target) if target else request.absolute_gate_url("/logout")
            response = see_other(self.deps.auth0.logout_url(return_to))
        elif target:
            response = see_other(target)
        else:
            response = self.r.page(request, "signed_out.html")
        self.deps.cookies.clear_session(request, response)
        return response

    def end_session(
        self, environ: WSGIEnvironment, entry: CachedSession, values: Sequence[str]
    ) -> Response | None:
        """End a session on one of the app's logout paths, before the app is called.

        Revokes ``values``, writes the audit event and calls ``on_logout``, as
        the gate's own sign-out does. Returns None when done; otherwise the
        answer to give instead of calling the app (503 when the store does not
        answer, 500 when the hook raises), which deletes the session cookie too.
        """
        request = GateRequest(environ, self.deps)
        try:
            self._sign_out(request, values, entry, reason="logout_path")
        except Exception as exc:
            response = self.r.error(request, exc)
            self.deps.cookies.clear_session(request, response)
            return response
        return None

    def _sign_out(
        self,
        request: GateRequest,
        values: Sequence[str],
        current: CachedSession | None,
        reason: str = "",
    ) -> None:
        for value in dict.fromkeys(values):
            self.deps.sessions.revoke(value)
        if current:
            self.deps.audit(
                "logout",
                ip=request.client_ip,
                identifier=current.session.remote_user,
                reason=reason,
            )
            if self.deps.hooks.on_logout is not None:
                self.deps.hooks.on_logout(current.user, request.environ)

    # -- a kept form ---------------------------------------------------------------

    def saved_form(self, request: GateRequest) -> Response:
        """``GET``: "Send the form you were submitting to <path>?", for the person the kept
        form was offered to; ``POST`` (``discard``): forget it and go to its page."""
        saved = self.deps.saved_forms
        current = request.current
        record = None
        if saved is not None and current is not None:
            sub = str(current.session.claims["sub"])
            record = saved.armed_for(request, request.browser_id, sub)
        if request.method == "POST":
            request.check_form()
            if saved is not None and record is not None:
                saved.discard(request)
            # The form's page, unless it reads as another site's (a POST to ``//host/x``).
            back = safe_next(record.path, request.home) if record is not None else request.home
            response = see_other(back)
            response.headers.add(
                "Set-Cookie", self.deps.cookies.saved_form_headers(request.environ, None)
            )
            return response
        if request.method not in ("GET", "HEAD"):
            return self.r.not_allowed(request, "GET, HEAD, POST")
        parts = record.parts() if record is not None else None
        if record is None or parts is None:
            return self.r.fail(
                request,
                404,
                N_("No form to send"),
                N_("There is no kept form for you in this browser, or it was already sent."),
            )
        _, files = parts
        handle = self.deps.cookies.saved_form(request)
        assert handle is not None  # armed_for found the record by it
        # The Send button posts no field of the form: the body comes from the store, so a
        # press that finds no form to send (a second one, a stale page) carries none either.
        return self.r.page(
            request,
            "saved_form.html",
            target=with_send_marker(record.target, handle),
            path=record.path,
            files=files,
        )

    # -- small JSON endpoints ------------------------------------------------------

    def userinfo(self, request: GateRequest) -> Response:
        current = request.current
        if current is None:
            return self.r.unauthorized(request)
        return json_response(
            {**current.session.claims, "sessions_url": self._sessions_url(request)}
        )

    def _sessions_url(self, request: GateRequest) -> str:
        """The sessions page: absolute with ``public_url``, else a root-relative path."""
        if self.deps.config.public_origin is not None:
            return request.absolute_gate_url("/sessions")
        return request.gate_url("/sessions")

    def auth(self, request: GateRequest) -> Response:
        """``{prefix}/auth`` (:meth:`_auth`); an answer that found the session ended on
        renewal deletes its cookie, for a proxy that passes the gate's ``Set-Cookie`` on
        (Traefik hands a 302 or 401 to the browser as it is)."""
        response = self._auth(request)
        if request.session_ended:
            self.deps.cookies.clear_session(request, response)
        return response

    def _auth(self, request: GateRequest) -> Response:
        """For nginx ``auth_request``: 202 with the user in headers, 401 or 403.

        An app token or an allowed machine's bearer token (in the ``Authorization``
        header nginx passes on) counts as a session. nginx passes only 401 and 403
        on, so a throttled IP gets 401.
        The access rules apply to the original request, read from
        ``X-Original-URI``/``-Method`` (nginx) or ``X-Forwarded-Uri``/``-Method``
        (Traefik) when ``trusted_proxies`` trusts them (``uri``), whoever is
        asking (a session, an app token, a machine). That path is the whole site's:
        under the mount the gate is asked under it is judged as the app sees it
        (``/tools/admin`` as ``/admin`` for a gate at ``/tools``), outside the mount
        as it stands. 403 when a rule refuses,
        401 (``login_required``) when it asks for a recent sign-in (a token
        cannot sign in again, so it gets 403 there). On a public rule's path
        without a session (or with one that ended, or that could not be renewed
        because Auth0 or the store did not answer) the answer is 202 and
        ``Authorization`` is left to the app. With rules that refuse someone and
        no trusted original request, the answer is 403 (fail closed) and a warning
        is logged; so is it when both header pairs are sent and name different
        requests (one is the client's). The ``authorize`` hook is asked as on the
        app's paths, about the original request; on a public rule's path its
        refusal gets the public 202, without the user. A 202 says which
        ``Authorization`` the proxy is to pass on (see :meth:`_admitted`): never
        an app token. A kept form's Send press (:func:`names_send_press`) is refused,
        403: only the gate in front of the app holds the kept body. Asked by a
        forwardAuth-style proxy about a browser's navigation without a session, the
        answer is a redirect to the sign-in page (:meth:`_sign_in_first`), not the 401.
        """
        rules = self.deps.config.rules
        rule = None
        originals = self._originals(request)
        if len(originals) > 1:
            # Two headers name different requests: one of them is the client's own.
            log.warning(
                "%s/auth: X-Original-URI/-Method and X-Forwarded-Uri/-Method name different "
                "requests (%s); refused",
                self.deps.config.prefix,
                " vs ".join(f"{m!r} {p!r}"[:200] for m, p, _ in sorted(originals)),
            )
            return json_response(
                {"error": "forbidden", "message": "The original request is not clear."}, 403
            )
        original = next(iter(originals), None)
        # A forwardAuth-style proxy hands a refusal to the browser as it is: a navigation
        # gets the page the gate in front of the app would answer with, not JSON.
        navigation = original if original and self._navigation_asked(request, original) else None
        if original is not None and names_send_press(original[0], original[2]):
            # A kept form's Send button: the gate in front of the app gives it the kept
            # body or answers it (409). A proxy's gate never holds the body: the app would
            # get the press's own fields, as the form. (nginx passes only 401 and 403 on.)
            if navigation is not None:
                return self._form_not_sent(request, 403)
            return json_response({"error": "form_not_sent", "message": FORM_NOT_SENT}, 403)
        if rules:
            if original is None:
                if rules.restricts:
                    log.warning(
                        "%s/auth: no trusted X-Original-URI or X-Forwarded-Uri, so the access "
                        "rules cannot be applied; refused (trust the proxy with "
                        "PWLESS_GATE_TRUSTED_PROXIES, uri=1)",
                        self.deps.config.prefix,
                    )
                    return json_response(
                        {"error": "forbidden", "message": "The original request is not known."},
                        403,
                    )
            else:
                method, path, _ = original
                mount = wsgi_mount(request.mount)
                if self._gate_route(path, mount):
                    return self._admitted(request, gate_owned=False)
                host = request_host(self.deps.config.proxies.host(request.environ))
                rule = rules.match_mounted(method, path, host, mount)
                if rule is not None and rule.closed:
                    if navigation is not None:
                        return self._closed(request)
                    return json_response({"error": "forbidden"}, 403)
        public = rule is not None and rule.public
        try:
            current = request.current
        except (Auth0Unavailable, StoreUnavailable):
            if not public:
                raise  # 503: fail closed
            current = None  # a session not renewed: the public path's answer, as anyone's
        if current is None and public:
            return self._admitted(request, gate_owned=False)
        if current is None and self.deps.tokens is not None:
            found = self.deps.tokens.check(request.environ)
            if isinstance(found, int):
                response = self._token_refusal(0)
                if found:
                    response.headers["Retry-After"] = str(found)
                return response
            current = found
        if current is None and self.deps.machines is not None:
            token = bearer_token(request.environ)
            if token is not None:
                try:
                    current = self.deps.machines.verify(token)
                except TokenError as exc:
                    log.info("bearer token refused: %s", exc)
                    return self._invalid_token()
        # The original request, when it is for one of the app's logout paths.
        logout = original if self._on_logout_path(request, original) else None
        if current is None:
            sign_in = (
                None
                if navigation is None
                else self._sign_in_first(request, navigation, home=logout is not None)
            )
            if sign_in is not None:
                return sign_in
            response = json_response({"error": "unauthorized"}, 401)
            if self.deps.tokens is not None or self.deps.machines is not None:
                self.r.authenticate(response, browser=from_browser_script(request.environ))
            return response
        if rule is not None and not rule.plain:
            session = current.session
            said = verdict(
                rule,
                session.connection,
                session.remote_user,
                current.user.roles,
                session.created_at
                if current.environ.get("pwless_gate.auth_method") == "session"
                else None,
                self.deps.clock(),
            )
            if said == Verdict.STALE and logout and self._signed_in(request, current):
                # A new sign-in would come back here and end at once: sign out now, and
                # answer as a signed-out request is answered there.
                return self._end_on_logout_path(request, current, logout, admit=False)
            if said == Verdict.STALE:
                assert rule.max_age is not None  # only a rule with a max_age finds it stale
                if navigation is not None:
                    again = self._sign_in_first(request, navigation, fresh=rule.max_age)
                    if again is not None:
                        return again
                response = json_response(
                    {"error": "login_required", "message": "Sign in again to go on."}, 401
                )
                if self.deps.tokens is not None or self.deps.machines is not None:
                    self.r.authenticate(
                        response, "login_required", browser=from_browser_script(request.environ)
                    )
                return response
            if said == Verdict.REFUSE:
                who = _who(current.user)
                if self._final(request, original):
                    self.deps.audit(
                        "refused_by_rule", ip=request.client_ip, identifier=who, reason=rule.label
                    )
                if navigation is not None:
                    return self._refused(request, who)
                return json_response({"error": "forbidden"}, 403)
        authorize = self.deps.hooks.authorize
        if authorize is not None and not authorize(_as_original(request, original), current.user):
            if public:
                # A public path stays public for the refused, as on the app's paths.
                return self._admitted(request, gate_owned=False)
            who = _who(current.user)
            if self._final(request, original):
                self.deps.audit("refused_by_authorize", ip=request.client_ip, identifier=who)
            if navigation is not None:
                return self._refused(request, who)
            return json_response({"error": "forbidden"}, 403)
        if logout and self._signed_in(request, current):
            return self._end_on_logout_path(request, current, logout, admit=True)
        return self._admitted_as(request, current)

    def _admitted_as(self, request: GateRequest, current: CachedSession) -> Response:
        """The 202 for ``current``'s person, named in the headers the proxy passes on."""
        response = self._admitted(request, gate_owned=self.deps.tokens is not None)
        response.headers["X-Auth-Request-User"] = current.session.remote_user
        if current.user.email:
            response.headers["X-Auth-Request-Email"] = current.user.email
        if current.user.phone_number:
            response.headers["X-Auth-Request-Phone"] = current.user.phone_number
        return response

    def _on_logout_path(self, request: GateRequest, original: tuple[str, str, str] | None) -> bool:
        """Whether the original request is for one of the app's logout paths, its path
        read as the app sees it (inside the gate's mount, without it)."""
        if original is None or not self._logout_paths:
            return False
        return within(original[1], wsgi_mount(request.mount)) in self._logout_paths

    @staticmethod
    def _signed_in(request: GateRequest, current: CachedSession) -> bool:
        """Whether ``current`` is the request's session (not an app token or a machine):
        only a session is ended on a logout path."""
        return bool(request.session_value) and (
            current.environ.get("pwless_gate.auth_method") == "session"
        )

    def _end_on_logout_path(
        self,
        request: GateRequest,
        current: CachedSession,
        original: tuple[str, str, str],
        *,
        admit: bool,
    ) -> Response:
        """End the session on one of the app's logout paths, as in front of the app: then
        the 202 (``admit``: the app's own logout runs, for the person), or the answer to
        a signed-out request there (a rule's ``max_age`` past: the app is not asked).
        Either deletes the session cookie, which the proxy may pass to the browser
        (``addAuthCookiesToResponse``, nginx's ``add_header``); without it the session
        is ended all the same, in the store. A store or ``on_logout`` failing gets its
        5xx, and the app is not asked. ``on_logout`` reads the original request, as
        ``authorize`` does."""
        values = [v for v in (request.session_value, request.renewed_cookie) if v is not None]
        request.renewed_cookie = None  # signing out: no renewed session to hand back
        failed = self.end_session(_as_original(request, original), current, values)
        if failed is not None:
            return failed
        if admit:
            response = self._admitted_as(request, current)
        else:
            signed_out = None
            if self._navigation_asked(request, original):
                signed_out = self._sign_in_first(request, original, home=True)
            response = signed_out or json_response({"error": "unauthorized"}, 401)
        self.deps.cookies.clear_session(request, response)
        return response

    def _admitted(self, request: GateRequest, *, gate_owned: bool) -> Response:
        """``{prefix}/auth``'s 202, saying which ``Authorization`` the proxy is to pass on.

        The proxy cannot tell an app token from the app's own credentials, and
        ``auth_request`` cannot change the request it passes on. So when the request's
        ``Authorization`` is the gate's own (``gate_owned``: app tokens are on, and it
        holds one) the answer carries :data:`DROP_AUTHORIZATION` ``: 1``, from which
        the nginx example sets the upstream ``Authorization`` to nothing (and to the
        client's otherwise). The header itself is never sent back to nginx: a client's
        ``Authorization`` can be many kilobytes (a large JWT), and nginx refuses an
        answer whose headers pass ``proxy_buffer_size`` (4 KB) with a 500.

        A forwardAuth-style proxy (Traefik) has no such limit, and copies the answer's
        ``Authorization`` when it is among its ``authResponseHeaders`` (dropping the
        request's when the answer has none). So when the question names the original
        request with a trusted ``X-Forwarded-Uri`` (as such proxies do; nginx's example
        sends ``X-Original-URI`` and clears ``X-Forwarded-Uri``), the answer carries the
        request's ``Authorization`` back, unless it is the gate's own. A machine's
        bearer token and the app's own credentials are passed on, as the gate passes
        them to a wrapped app.
        """
        response = Response(status=202, headers={"Cache-Control": "no-store"})
        authorization = request.environ.get("HTTP_AUTHORIZATION")
        if not authorization:
            return response
        if gate_owned and holds_token(authorization):
            response.headers[DROP_AUTHORIZATION] = "1"
        elif self._forward_auth(request) and not _LINE_BREAKS.intersection(authorization):
            response.headers["Authorization"] = authorization
        return response

    def _final(self, request: GateRequest, original: tuple[str, str, str] | None) -> bool:
        """Whether a refusal here is the last word on the request, and so audited here.
        nginx's example asks the gate again with the original request when ``auth_request``
        refuses it (``error_page`` to ``@sign_in``, for the page), and that answer audits
        it: a refusal of an ``X-Original-URI`` question is not, or it would count twice."""
        return original is None or self._forward_auth(request)

    def _navigation_asked(self, request: GateRequest, original: tuple[str, str, str]) -> bool:
        """Whether a forwardAuth-style proxy asks about a browser's navigation: it hands
        the gate's answer to the browser as it is, so a refusal is to be a page."""
        return self._forward_auth(request) and is_navigation(original[0], request.environ)

    def _sign_in_first(
        self,
        request: GateRequest,
        original: tuple[str, str, str],
        fresh: int | None = None,
        home: bool = False,
    ) -> Response | None:
        """For a browser's navigation that a forwardAuth-style proxy asks about
        (:meth:`_navigation_asked`), without a session or signed in longer ago than a
        rule's ``max_age`` (``fresh``): a redirect to the sign-in page, then back to the
        original request's path (the app's home with ``home``: one of its logout paths,
        which would end the new session at once); for a form the browser sent from the
        site's own pages, the page says it was not kept. None (the 401) when the gate has
        no address to send the browser to.

        The ``Location`` is absolute, at ``public_url`` (else the original request's
        host, on loopback only): Traefik resolves a relative one against the gate's own
        address, which the browser may not reach."""
        method, path, query = original
        if self.deps.config.public_origin is None and not is_loopback(request.seen_host):
            return None
        if home:
            back_to = request.home
        else:
            back_to = url_path(path) + (f"?{url_query(query)}" if query else "")
        # A form sent signed out: the proxy never hands its body over, so it cannot be
        # kept, and the sign-in page says so (go back and send it again). Not a logout's
        # form: the person asked to sign out, as the gate in front of the app reads it.
        lost = not home and method.upper() == "POST" and _same_origin(request)
        return self.r.to_sign_in(
            request,
            request.next_url(back_to),
            absolute=True,
            fresh=fresh,
            form=NOT_KEPT if lost else None,
        )

    def _forward_auth(self, request: GateRequest) -> bool:
        """Whether a forwardAuth-style proxy (Traefik) asks: it names the original request
        with a trusted ``X-Forwarded-Uri``, and hands the gate's answer to the client as
        it is. (nginx's example names it with ``X-Original-URI``, clears
        ``X-Forwarded-Uri``, and takes only 2xx, 401 and 403 from ``auth_request``.)"""
        return bool(self.deps.config.proxies.x_uri and request.environ.get(FORWARD_AUTH_URI))

    def _gate_route(self, path: str, mount: str) -> bool:
        """Whether an original request's path (of the whole site) is one of the gate's
        own routes, under the mount (``PATH_INFO``'s form) the gate is asked under, read
        plainly: a proxy that sends those through ``auth_request`` lets them pass. A
        path with dot segments, ``//`` or an escape (``/_gate/../admin``) is not: the
        proxy or the app behind it may read it as another path; nor is the prefix
        outside the mount (another app's ``/_gate/``)."""
        prefix = mount + self.deps.config.prefix
        if "%" in path or not is_normal(path):
            return False
        return path == prefix or path.startswith(prefix + "/")

    def _originals(self, request: GateRequest) -> set[tuple[str, str, str]]:
        """The method, ``PATH_INFO``-style path and query of the request a proxy asks about,
        from headers the proxy next to the gate set (``trusted_proxies`` ``uri``): one
        reading per header pair sent, empty when not trusted or not sent.

        Both pairs are read, not the first found: a proxy sets one pair and passes the
        client's headers on (Traefik's ``forwardAuth`` copies them all), so the other
        pair, when present, is the client's choice, and two readings that differ
        must not be settled by picking one.
        """
        if not self.deps.config.proxies.x_uri:
            return set()
        environ = request.environ
        found = set()
        for method_header, uri_header in ORIGINAL_HEADERS:
            uri = environ.get(uri_header)
            if uri:
                raw, _, query = str(uri).split("#", 1)[0].partition("?")
                if _ABSOLUTE_FORM.match(raw):  # http://host/path: keep its path
                    raw = "/" + raw.split("://", 1)[1].partition("/")[2]
                # Any other "://" is part of the path as sent (``/admin/..://../users``):
                # judged as it stands, dot segments and all (RuleSet.match reads it twice).
                path = _path_info(raw) or "/"
                method = str(environ.get(method_header) or "GET").upper()
                found.add((method, path, query))
        return found

    def health(self, request: GateRequest) -> Response:
        return json_response({"status": "ok"})

    def metrics(self, request: GateRequest) -> Response:
        """Prometheus metrics (only routed with ``metrics=true``), for ``metrics_allow``."""
        assert self.deps.metrics is not None  # routed only then
        if not self.deps.config.metrics_allowed(request.client_ip):
            raise Refused(403, N_("Not allowed"), N_("The metrics are not served to this address."))
        body, content_type = self.deps.metrics.exposition()
        return Response(body, content_type=content_type)

    # -- answers to requests for the app that do not reach it ---------------------------

    def challenge(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        api: bool,
        home: bool = False,
        form: bool = False,
    ) -> Iterable[bytes]:
        """401 JSON with a Basic (and Bearer) challenge unless ``api`` is false (a
        browser's navigation), else a redirect to the sign-in page with ``next``.
        A page's own ``fetch()``/XHR gets a ``Cookie`` challenge instead of Basic.

        ``next`` is the request's own path, or the app's home with ``home`` (an
        app's logout path, which would end the new session at once). The
        request body is never read, except a browser's form POST (``form``)
        while saved forms are on: :meth:`keep_form`.
        """
        request = GateRequest(environ, self.deps)
        login_url = request.gate_url("/login")
        if api:
            response = json_response({"error": "unauthorized", "login_url": login_url}, 401)
            self.r.authenticate(response, browser=from_browser_script(environ))
        else:
            target = request.mount + ("/" if home else url_path(environ.get("PATH_INFO") or "/"))
            query = environ.get("QUERY_STRING", "")
            if query and not home:
                target += "?" + url_query(query)
            next_url = request.next_url(target)
            query = {"next": next_url}
            response = Response(status=302, content_type=PLAIN_TEXT)
            if not home:
                self._form_on_sign_in(request, response, query, form)
            response.headers["Location"] = f"{login_url}?{urlencode(query)}"
            response.headers["Cache-Control"] = "no-store"
        return send(response, environ, start_response)

    def _form_on_sign_in(
        self, request: GateRequest, response: Response, query: dict[str, str], form: bool
    ) -> None:
        """Sets what the sign-in page this request is sent to says of its form (``query``'s
        ``form``), and where the sign-in leads (``next``).

        A kept form's Send button pressed signed out (:func:`is_send_press`) keeps nothing
        new (its fields are not the form): the kept form stays, and the sign-in leads to
        its Send page. A browser's form POST (``form``) from the site's own pages is kept
        (:meth:`keep_form`)."""
        saved = self.deps.saved_forms
        if is_send_press(request.environ):
            query["next"] = request.gate_url("/form")
            if saved is not None and saved.kept(request):
                query["form"] = KEPT
        elif form and _same_origin(request):
            # Saved forms off: the form is lost all the same, and the page says so.
            query["form"] = self.keep_form(request, response) if saved is not None else NOT_KEPT

    def keep_form(self, request: GateRequest, response: Response) -> str:
        """Keep this form POST for the browser's next sign-in, setting the cookies that
        find it on ``response``; returns what the sign-in page says of it (``kept``,
        ``too-large``, ``not-kept``). Only a browser someone signed in on has a form kept,
        so a browser without an id (a new one) has none."""
        saved = self.deps.saved_forms
        assert saved is not None
        target = request_target_path(request.environ, self.deps.cookies)
        kept = saved.keep(request.environ, request.browser_id, target)
        if kept.cookie is not None:
            response.headers.add("Set-Cookie", kept.cookie)
        return kept.outcome

    def invalid_token(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """401 ``invalid_token`` (RFC 6750): a machine's bearer token was refused."""
        return send(self._invalid_token(), environ, start_response)

    def _invalid_token(self) -> Response:
        response = json_response({"error": "invalid_token"}, 401)
        response.headers["WWW-Authenticate"] = self.r.invalid_token_challenge
        response.headers["Cache-Control"] = "no-store"
        return response

    def bad_token(
        self, environ: WSGIEnvironment, start_response: StartResponse, retry_after: int
    ) -> Iterable[bytes]:
        """Credentials that failed: 401 with the challenges, or 429 for a throttled IP."""
        response = self._token_refusal(retry_after)
        return send(response, environ, start_response)

    def _token_refusal(self, retry_after: int) -> Response:
        if retry_after:
            response = json_response(
                {"error": "too_many_attempts", "message": "Too many wrong tokens; wait."},
                429,
                {"Retry-After": str(retry_after)},
            )
        else:
            response = json_response(
                {"error": "invalid_token", "message": "The token is not valid."}, 401
            )
            self.r.authenticate(response, "invalid_token")
        response.headers["Cache-Control"] = "no-store"
        return response

    def deny(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        user: User,
        api: bool,
        rule: str | None = None,
    ) -> Iterable[bytes]:
        """403: signed in, but an access rule (``rule``, as the audit names it) or the
        ``authorize`` hook refused this request."""
        request = GateRequest(environ, self.deps)
        who = _who(user)
        if rule is None:
            self.deps.audit("refused_by_authorize", ip=request.client_ip, identifier=who)
        else:
            self.deps.audit("refused_by_rule", ip=request.client_ip, identifier=who, reason=rule)
        response = (
            json_response({"error": "forbidden"}, 403) if api else self._refused(request, who)
        )
        return send(response, environ, start_response)

    def _refused(self, request: GateRequest, who: str) -> Response:
        """The 403 page of a person an access rule or the ``authorize`` hook refuses."""
        return self.r.page(
            request,
            "error.html",
            status=403,
            title=N_("Not allowed"),
            message=Text("You are signed in as %(who)s, but this page is closed to you.", who=who),
            switch_account=True,
            next="/",
        )

    def closed(
        self, environ: WSGIEnvironment, start_response: StartResponse, api: bool
    ) -> Iterable[bytes]:
        """403: an access rule closes this part to everyone."""
        request = GateRequest(environ, self.deps)
        response = json_response({"error": "forbidden"}, 403) if api else self._closed(request)
        return send(response, environ, start_response)

    def _closed(self, request: GateRequest) -> Response:
        """The 403 page of a part an access rule closes to everyone."""
        return self.r.page(
            request,
            "error.html",
            status=403,
            title=N_("Closed"),
            message=N_("This part of the site is closed."),
            next="/",
        )

    def form_not_sent(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """409: a kept form's Send button pressed when this session has no form to send
        under it (sent already, a second press, expired, discarded, another person's). The
        app is not called: nothing is sent."""
        request = GateRequest(environ, self.deps)
        if request.api:
            response = json_response({"error": "form_not_sent", "message": FORM_NOT_SENT}, 409)
            response.headers["Cache-Control"] = "no-store"
        else:
            response = self._form_not_sent(request, 409)
        return send(response, environ, start_response)

    def _form_not_sent(self, request: GateRequest, status: int) -> Response:
        """The page of a kept form's Send press that sent nothing."""
        response = self.r.page(
            request,
            "error.html",
            status=status,
            title=N_("Form not sent"),
            message=FORM_NOT_SENT,
            back=request.home,
            back_label=N_("Back to the site"),
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    def step_up(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        max_age: int,
        api: bool,
        form: bool = False,
    ) -> Iterable[bytes]:
        """Signed in too long ago for this part (a rule's ``max_age``): anything but a
        browser's navigation (``api``) gets 401 ``login_required`` with the same
        challenges as :meth:`challenge`; a navigation goes to the sign-in page, which
        says why, and comes back here once signed in again. A browser's form POST
        (``form``) from the site's own pages is kept as :meth:`challenge` keeps one: the
        sign-in that carries it offers it to the same person only."""
        request = GateRequest(environ, self.deps)
        login_url = request.gate_url("/login")
        if api:
            response = json_response(
                {
                    "error": "login_required",
                    "message": f"This part needs a sign-in within the last {max_age} seconds.",
                    "login_url": login_url,
                },
                401,
            )
            self.r.authenticate(response, "login_required", browser=from_browser_script(environ))
        else:
            target = request.mount + url_path(environ.get("PATH_INFO") or "/")
            query = environ.get("QUERY_STRING", "")
            if query:
                target += "?" + url_query(query)
            next_url = request.next_url(target)
            response = Response(status=302, content_type=PLAIN_TEXT)
            query = {"next": next_url, "fresh": str(max_age)}
            self._form_on_sign_in(request, response, query, form)
            response.headers["Location"] = f"{login_url}?{urlencode(query)}"
        response.headers["Cache-Control"] = "no-store"
        return send(response, environ, start_response)

    def unavailable(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        retry_after: int | None = None,
    ) -> Iterable[bytes]:
        """503: the session store or Auth0 (for a token refresh) is not answering, or
        Auth0 limits the gate's calls (``retry_after``: how long it asked to wait)."""
        request = GateRequest(environ, self.deps)
        return send(self.r.unavailable(request, retry_after=retry_after), environ, start_response)

    def failed(
        self, environ: WSGIEnvironment, start_response: StartResponse, exc: Exception
    ) -> Iterable[bytes]:
        """The answer to an exception raised while deciding (a hook's bug): logged, 500."""
        request = GateRequest(environ, self.deps)
        return send(self.r.error(request, exc), environ, start_response)


def _who(user: User) -> str:
    """How the audit and the refusal page name a signed-in person."""
    return user.email or user.phone_number or user.sub


def _as_original(request: GateRequest, original: tuple[str, str, str] | None) -> WSGIEnvironment:
    """What the ``authorize`` hook reads on ``{prefix}/auth``: the request's environ
    with the original request's method, path and query when a trusted proxy named
    them (else the question's own, under the gate's prefix). The path is read as the
    app sees it: inside the gate's mount under ``SCRIPT_NAME``, a path outside the
    mount as it stands (``SCRIPT_NAME`` empty)."""
    environ = request.environ
    if original is None:
        return environ
    method, path, query = original
    mount = wsgi_mount(request.mount)
    under = bool(mount) and (path == mount or path.startswith(mount + "/"))
    return {
        **environ,
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") if under else "",
        "PATH_INFO": within(path, mount),
        "QUERY_STRING": query,
    }


def _path_info(raw: str) -> str:
    """``raw`` (a header's text: its bytes read as latin-1, as WSGI passes headers) as a
    WSGI server builds ``PATH_INFO``: percent-decoded bytes read as latin-1, so a path
    sent as raw UTF-8 and the same path %-encoded read alike."""
    try:
        sent = raw.encode("latin-1")
    except UnicodeEncodeError:  # not a WSGI server's header text: its characters as UTF-8
        sent = raw.encode("utf-8", "surrogateescape")
    return unquote_to_bytes(sent).decode("latin-1")


def _same_origin(request: GateRequest) -> bool:
    """A form posted from the site's own pages, as the browser says (``Sec-Fetch-Site``,
    ``Origin``). A form another site posts is never kept: its offer after the sign-in
    would have the person send the other site's form as themselves."""
    environ = request.environ
    site = environ.get("HTTP_SEC_FETCH_SITE")
    if site is not None and site != "same-origin":
        return False
    if site is None and not environ.get("HTTP_ORIGIN"):
        return False  # no word from the browser on where the form came from
    return origin_allowed(environ, request.site_origin)
