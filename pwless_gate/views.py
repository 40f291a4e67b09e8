"""The gate's own routes under the prefix, and the challenge for everything else.

``login`` and ``verify`` live in :mod:`pwless_gate.login`, ``callback`` in
:mod:`pwless_gate.links`;
here are dispatch, ``logout``, ``userinfo``, ``auth`` (for nginx
``auth_request``), ``health``, the static assets, and the answer to an
unauthenticated request for the wrapped app. Errors are caught at this edge
and become a page or a JSON error; no traceback reaches a client. Nothing
here is on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from . import metrics
from .audit import audit
from .errors import StoreUnavailable
from .links import LinkViews
from .login import LoginViews
from .respond import Deps, GateRequest, Responder, json_response, log, see_other, wants_json
from .security import safe_next

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class GateViews:
    """Dispatches requests under the gate prefix and challenges unauthenticated ones."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.r = Responder(deps)
        self.login = LoginViews(deps, self.r)
        self.links = LinkViews(deps, self.r, self.login)
        self._routes: dict[str, Callable[[GateRequest], Response]] = {
            "/login": self.login.login,
            "/verify": self.login.verify,
            "/callback": self.links.callback,
            "/logout": self.logout,
            "/userinfo": self.userinfo,
            "/auth": self.auth,
            "/health": self.health,
        }
        if deps.config.metrics:
            self._routes["/metrics"] = self.metrics

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = GateRequest(environ)
        try:
            response = self.dispatch(request)
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.path)
            response = self.r.fail(request, 500, "Something went wrong", "Please try again.")
        return response(environ, start_response)

    def dispatch(self, request: GateRequest) -> Response:
        prefix = self.deps.config.prefix
        sub = (request.environ.get("PATH_INFO") or "")[len(prefix) :]
        if sub.startswith("/static/"):
            found = self.r.pages.static(sub[len("/static/") :])
            return found or self.r.fail(request, 404, "Not found", "There is no such page.")
        view = self._routes.get(sub.rstrip("/") or "/login")
        if view is None:
            return self.r.fail(request, 404, "Not found", "There is no such page.")
        try:
            return view(request)
        except HTTPException as exc:
            code = exc.code or 400
            return self.r.fail(request, code, exc.name, "The request could not be read.")
        except StoreUnavailable as exc:
            log.warning("session store unavailable: %s", exc)
            return self.r.fail(
                request,
                503,
                "Sign-in is unavailable",
                "Signing in is not possible right now. Please try again in a minute.",
                headers={"Retry-After": "30"},
            )
        except UnicodeDecodeError:
            # Werkzeug decodes the query string strictly; raw non-UTF-8 bytes are a bad request.
            return self.r.fail(request, 400, "Bad Request", "The request could not be read.")

    # -- sign out ------------------------------------------------------------------

    def logout(self, request: GateRequest) -> Response:
        current = self.r.current(request)
        if request.method in ("GET", "HEAD"):
            if current is None:
                # Nothing to sign out of; also where a federated logout comes back.
                return self.r.page(request, "signed_out.html")
            return self.r.page(
                request,
                "logout.html",
                user=current.session.remote_user if current else None,
                next=safe_next(request.args.get("next"), ""),
            )
        if request.method != "POST":
            return self.r.not_allowed(request, "GET, HEAD, POST")
        refused = self.r.refuse_form(request)
        if refused is not None:
            return refused
        cookies = self.deps.cookies
        value = cookies.session_value(request)
        if value:
            self.deps.sessions.revoke(value)
        if current:
            audit("logout", ip=self.r.ip(request), identifier=current.session.remote_user)
        target = safe_next(request.form.get("next"), "")
        if self.deps.config.federated_logout:
            return_to = self.r.absolute(request, target or self.r.gate_url(request, "/logout"))
            response = see_other(self.deps.auth0.logout_url(return_to))
        elif target:
            response = see_other(target)
        else:
            response = self.r.page(request, "signed_out.html")
        cookies.clear_session(request, response)
        return response

    # -- small JSON endpoints ------------------------------------------------------

    def userinfo(self, request: GateRequest) -> Response:
        current = self.r.current(request)
        if current is None:
            return json_response({"error": "unauthorized"}, 401)
        return json_response(dict(current.session.claims))

    def auth(self, request: GateRequest) -> Response:
        """For nginx ``auth_request``: 202 with the user in headers, or 401."""
        current = self.r.current(request)
        if current is None:
            return json_response({"error": "unauthorized"}, 401)
        response = Response(status=202)
        response.headers["X-Auth-Request-User"] = current.session.remote_user
        if current.user.email:
            response.headers["X-Auth-Request-Email"] = current.user.email
        if current.user.phone_number:
            response.headers["X-Auth-Request-Phone"] = current.user.phone_number
        response.headers["Cache-Control"] = "no-store"
        return response

    def health(self, request: GateRequest) -> Response:
        return json_response({"status": "ok"})

    def metrics(self, request: GateRequest) -> Response:
        """Prometheus metrics (only routed with ``metrics=true``)."""
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    # -- the challenge for the protected app -------------------------------------

    def challenge(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """401 JSON for API clients, else a redirect to the login page with ``next``.

        The request body is never read.
        """
        request = GateRequest(environ)
        login_url = self.r.gate_url(request, "/login")
        if wants_json(environ):
            response = json_response({"error": "unauthorized", "login_url": login_url}, 401)
            response.headers["WWW-Authenticate"] = 'Cookie realm="pwless-gate"'
        else:
            target = request.script_root + _quoted_path(environ)
            query = environ.get("QUERY_STRING", "")
            if query:
                target += "?" + query
            next_url = safe_next(target, self.r.home(request))
            response = Response(status=302)
            response.headers["Location"] = f"{login_url}?{urlencode({'next': next_url})}"
            response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    def unavailable(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """503: the session needs Auth0 (a token refresh) and Auth0 is not answering."""
        request = GateRequest(environ)
        response = self.r.fail(
            request,
            503,
            "Sign-in is unavailable",
            "The sign-in service is not answering. Please try again in a minute.",
            headers={"Retry-After": "30"},
        )
        return response(environ, start_response)


def _quoted_path(environ: WSGIEnvironment) -> str:
    raw = environ.get("PATH_INFO", "") or "/"
    return quote(raw.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=-._~")
