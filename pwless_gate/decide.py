"""The decision at the heart of the gate: what to do with one request.

:class:`Decider` takes the few facts that matter (:class:`RequestFacts`: the
method, the path, the raw ``Cookie`` header, whether the client used https,
and a mapping to read the few headers from) and answers with one decision:

- :class:`Forward`: a verified session; call the app with this user;
- :class:`ForwardAndSignOut`: a verified session asking for one of the app's
  own logout paths: end the gate's session, then call the app with this user
  (so its own logout runs) and delete the session cookie in its answer;
- :class:`Renew`: a verified session that needs a token refresh or its idle
  timeout pushed back first;
- :class:`Deny`: a verified identity an access rule or the ``authorize`` hook
  refused (403);
- :class:`Anonymous`: a public path or CORS preflight; call the app with no user
  (``preflight`` says it is let through only as a preflight: the app's CORS
  headers reach the client, nothing else);
- :class:`Challenge`: nobody is signed in; redirect a browser's top-level
  navigation to the sign-in page, or answer anything else 401 (``api`` says
  which, see :func:`is_navigation`; ``home`` that the sign-in should lead to
  the app's home, not back to a logout path; ``form`` that it is a browser's
  form POST the gate may keep, see :func:`keeps_form`);
- :class:`MachineToken`: no session, not a public path, but a machine's bearer
  token that the machine cache does not know yet: the adapter verifies it
  (which may fetch the tenant's keys), then asks :meth:`Decider.admit_machine`,
  or answers :data:`INVALID_TOKEN` (401);
- :class:`GateRoute`: a path of the gate's own (sign-in pages and endpoints);
- :class:`Unavailable`: the session store cannot answer; 503 (fail closed).
- :class:`ForwardToken`: no session, but a valid app token; call the app as its
  owner (no cookie is set, the ``Authorization`` header is not passed on);
- :class:`BadToken`: no session, and credentials of the app tokens' kind that
  fail: 401 with a Basic challenge, or 429 when the client's IP is throttled.
- :class:`Closed`: an access rule with ``policy = "deny"``: 403 for everyone;
- :class:`StepUp`: a rule's ``max_age`` is past since this person signed in:
  sign in again (a browser's navigation is sent to the sign-in page, anything
  else gets 401 ``login_required``, as a :class:`Challenge` does).

The access rules (:mod:`pwless_gate.rules`) plug in at two points: a closed
rule answers before the session is looked at (:meth:`Decider.closed_rule`),
and every verified identity (a session, an app token, a machine's bearer
token) goes through :meth:`Decider.apply_rules` before it is forwarded.

It knows nothing of WSGI, Werkzeug or responses: it reads strings and a
mapping and returns a small object, so it is tested without a server and an
ASGI adapter could reuse it. It does no network I/O; the only store it touches
is the verified-session cache (and the store behind it on a cache miss).
:class:`~pwless_gate.middleware.PasswordlessGate` is the WSGI adapter that
carries the decision out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .cookies import Cookies
from .errors import StoreUnavailable
from .machines import Machines, bearer_token
from .rules import Rule as AccessRule
from .rules import RuleSet, Verdict, verdict, wsgi_path
from .sessions import CachedSession, SessionCache, User
from .useragents import names_tool

log = logging.getLogger("pwless_gate.sessions")

#: ``authorize(environ, user) -> bool``: may this signed-in user make this request?
Authorize = Callable[[Mapping[str, Any], User], bool]


@dataclass(slots=True)
class RequestFacts:
    """What the decision reads of a request.

    ``cookie`` is the raw ``Cookie`` header; ``https`` whether the client used
    https (after trusted proxies). ``headers`` maps CGI-style names
    (``HTTP_ACCEPT``, ``HTTP_ORIGIN``…) to values: the WSGI environ itself, or
    a dict another adapter builds. It is also what the ``authorize`` hook
    receives.
    """

    #: ``REQUEST_METHOD`` as sent: every check reads it in any case (``post`` is a
    #: POST to Werkzeug, Flask and Django).
    method: str
    path: str
    cookie: str | None
    https: bool
    headers: Mapping[str, Any]
    #: Mounted under a path (``SCRIPT_NAME``): the cookies are the path-scoped ones.
    mounted: bool = False


class Decision:
    """The base of every decision."""

    __slots__ = ()


class Forward(Decision):
    """Call the app as ``entry``'s user; ``cookie`` is a new session cookie value to set."""

    __slots__ = ("cookie", "entry")

    def __init__(self, entry: CachedSession, cookie: str | None = None) -> None:
        self.entry = entry
        self.cookie = cookie


class ForwardAndSignOut(Decision):
    """On one of the app's logout paths: end the session, then call the app as ``entry``'s user.

    ``values`` are the cookie values to revoke: the request's, and a renewed
    one when the session was renewed first. The app's answer deletes the
    session cookie.
    """

    __slots__ = ("entry", "values")

    def __init__(self, entry: CachedSession, values: tuple[str, ...]) -> None:
        self.entry = entry
        self.values = values


class SignOutOnly(Decision):
    """On one of the app's logout paths whose rule asks for a recent sign-in (``max_age``
    past): the session ends all the same (the person asked to sign out; a new sign-in
    would lead back here and end at once), the app is not called, and the answer is a
    signed-out request's there (``api``: 401, else the sign-in page, then the app's
    home). The cookie is deleted. A rule or ``authorize`` that refuses the person
    outright leaves the session alone (403), as anywhere else."""

    __slots__ = ("api", "entry", "values")

    def __init__(self, entry: CachedSession, values: tuple[str, ...], api: bool) -> None:
        self.entry = entry
        self.values = values
        self.api = api


class Renew(Decision):
    """The session under ``value`` needs attention (refresh, idle timeout) before use."""

    __slots__ = ("entry", "value")

    def __init__(self, value: str, entry: CachedSession) -> None:
        self.value = value
        self.entry = entry


class Deny(Decision):
    """Signed in as ``user``, but an access rule (``rule``, its description) or
    ``authorize`` (``rule`` None) said no: 403 (JSON when ``api``: a client that
    wants JSON, an app token or a machine)."""

    __slots__ = ("api", "rule", "user")

    def __init__(self, user: User, api: bool, rule: str | None = None) -> None:
        self.user = user
        self.api = api
        self.rule = rule


class Challenge(Decision):
    """Nobody is signed in: the sign-in page for a browser's navigation, 401 when ``api``.

    ``home``: the path was one of the app's logout paths, so the sign-in leads
    to the app's home instead (coming back there would sign out again).
    ``form``: a browser's form POST, whose body the gate may keep while the
    person signs in again (:mod:`pwless_gate.savedforms`).
    """

    __slots__ = ("api", "form", "home")

    def __init__(self, api: bool, home: bool = False, form: bool = False) -> None:
        self.api = api
        self.home = home
        self.form = form


class MachineToken(Decision):
    """No session, and ``token`` is a bearer JWT not verified yet: the adapter verifies it.

    A machine's client-credentials token (see :mod:`pwless_gate.machines`); the
    verification may fetch the tenant's keys, so it happens outside the decision.
    """

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token


class InvalidToken(Decision):
    """A machine's bearer token was refused: 401 with ``error="invalid_token"`` (RFC 6750)."""

    __slots__ = ()


class Anonymous(Decision):
    """A public path or preflight: the app is called without a user.

    ``preflight`` is true when only ``public_preflight`` let the request
    through (not a public path): the client gets the app's CORS answer and
    no content. There are two instances, :data:`ANONYMOUS` and :data:`PREFLIGHT`.
    """

    __slots__ = ("preflight",)

    def __init__(self, preflight: bool = False) -> None:
        self.preflight = preflight


class GateRoute(Decision):
    """A path under the gate's prefix: the gate's own views answer."""

    __slots__ = ()


class Unavailable(Decision):
    """The session store did not answer: 503, the app is not called."""

    __slots__ = ()


class ForwardToken(Decision):
    """Call the app as the owner of a valid app token (``entry``)."""

    __slots__ = ("entry",)

    def __init__(self, entry: CachedSession) -> None:
        self.entry = entry


class BadToken(Decision):
    """Credentials that fail: 401 with a challenge, or 429 after ``retry_after`` > 0."""

    __slots__ = ("retry_after",)

    def __init__(self, retry_after: int = 0) -> None:
        self.retry_after = retry_after


class Closed(Decision):
    """A rule closes this path (``policy = "deny"``): 403 for everyone, signed in or not."""

    __slots__ = ("api", "rule")

    def __init__(self, rule: AccessRule, api: bool) -> None:
        self.rule = rule
        self.api = api


class StepUp(Decision):
    """Signed in as ``user`` longer ago than the rule's ``max_age``: sign in again.

    A browser's navigation goes to the sign-in page (which says why) and comes
    back; anything else (``api``, see :func:`is_navigation`) gets 401
    ``login_required``. ``form``: a browser's form POST, kept as a challenged one
    is (see :class:`Challenge`) while the same person signs in again.
    """

    __slots__ = ("api", "form", "max_age", "user")

    def __init__(self, user: User, max_age: int, api: bool, form: bool = False) -> None:
        self.user = user
        self.max_age = max_age
        self.api = api
        self.form = form


def logout_forms(paths: Iterable[str]) -> frozenset[str]:
    """The app's logout paths (as :class:`~pwless_gate.config.GateConfig` checked them)
    as a request's ``PATH_INFO`` reads them (``/abmelden-ä`` as its UTF-8 bytes read as
    latin-1), each with and without a trailing ``/``."""
    return frozenset(
        form for path in map(wsgi_path, paths) for form in (path, path.rstrip("/") + "/")
    )


def _ending(value: str | None, cookie: str | None) -> tuple[str, ...]:
    """The cookie values a sign-out on a logout path revokes: the request's, and a renewed
    one when the session was renewed on the way."""
    return tuple(v for v in (value, cookie) if v is not None)


#: ``rule`` not worked out yet (None is "no rule matches").
_UNMATCHED: Any = object()


class TokenCheck(Protocol):
    """Checks credentials in ``Authorization`` (:class:`~pwless_gate.apptokens.AppTokens`)."""

    def check(self, headers: Mapping[str, Any]) -> CachedSession | int | None:
        """The owner's entry; the seconds to wait when the credentials fail (0: none);
        None when the header holds no credentials of this kind."""
        ...


ANONYMOUS = Anonymous()
PREFLIGHT = Anonymous(preflight=True)
GATE_ROUTE = GateRoute()
UNAVAILABLE = Unavailable()
INVALID_TOKEN = InvalidToken()

#: The methods a browser navigates with when it sends no ``Sec-Fetch-*`` headers.
NAVIGATION_METHODS = frozenset(("GET", "HEAD", "POST"))


def is_navigation(method: str, headers: Mapping[str, Any]) -> bool:
    """True for a browser's top-level navigation: the only request sent to the sign-in page.

    ``Sec-Fetch-Mode: navigate``; or, from a client that sends no ``Sec-Fetch-*``
    header (an older browser, or any browser on a plain-http gate), a GET, HEAD
    or POST without ``X-Requested-With`` whose ``Accept`` lists ``text/html``
    first (every browser's navigation does) and whose ``User-Agent`` does not
    name a tool (:func:`~pwless_gate.useragents.names_tool`: Opera Mini's
    ``Opera/9.80``, an app's webview, none at all are browsers). Everything else
    is false and gets a 401 challenge: curl and wget (``*/*``), pip (JSON or
    HTML index types, not HTML first; a pip before 22.2 asked for
    ``text/html``, as ``pip/…``), Java's ``HttpURLConnection`` (``text/html``
    first, but ``Java/…``, and a bare ``*`` range no browser sends:
    :func:`java_default_accept`), git, WebDAV and CalDAV methods (PROPFIND, REPORT…),
    ``fetch()`` and XHR. ``method`` is read in any case, as the app's
    framework reads it.
    """
    mode = headers.get("HTTP_SEC_FETCH_MODE")
    if mode is not None:
        return bool(mode == "navigate")
    if "HTTP_SEC_FETCH_DEST" in headers or "HTTP_SEC_FETCH_SITE" in headers:
        return False
    if method.upper() not in NAVIGATION_METHODS or headers.get("HTTP_X_REQUESTED_WITH"):
        return False
    accept = headers.get("HTTP_ACCEPT")
    return (
        html_first(accept)
        and not names_tool(headers.get("HTTP_USER_AGENT"))
        and not java_default_accept(accept)
    )


def from_browser_script(headers: Mapping[str, Any]) -> bool:
    """A browser's own request that is not a navigation: ``fetch()``, XHR, a subresource.

    ``Sec-Fetch-Mode`` other than ``navigate`` from a ``User-Agent`` that does not
    name a tool (:func:`~pwless_gate.useragents.names_tool`), or
    ``X-Requested-With``. Such a request gets its 401 without a Basic challenge: a
    browser answers Basic with its own username/password dialog, which no gate
    credential fits. Node's ``fetch()`` sends ``Sec-Fetch-Mode: cors`` too, as
    ``node``: it is a tool, and is challenged.
    """
    mode = headers.get("HTTP_SEC_FETCH_MODE")
    if mode is not None:
        return mode != "navigate" and not names_tool(headers.get("HTTP_USER_AGENT"))
    return bool(headers.get("HTTP_X_REQUESTED_WITH"))


def java_default_accept(accept: object) -> bool:
    """``Accept`` holds a bare ``*`` range, as Java's ``HttpURLConnection`` sends by
    default (``text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2``) whatever
    ``User-Agent`` a tool built on it sets (Apache Ivy, Ant, Coursier, Gradle's
    wrapper): no browser sends one."""
    if not isinstance(accept, str):
        return False
    return any(part.partition(";")[0].strip() == "*" for part in accept.split(","))


def html_first(accept: object) -> bool:
    """``Accept`` lists ``text/html`` first (in order, not by ``q``), not with ``q=0``."""
    if not isinstance(accept, str):
        return False
    media, _, params = accept.partition(",")[0].partition(";")
    if media.strip().lower() != "text/html":
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip()) > 0
            except ValueError:
                return False
    return True


def wants_json(headers: Mapping[str, Any]) -> bool:
    """True for API clients: ``X-Requested-With``, fetch/XHR modes, or JSON-only ``Accept``."""
    if headers.get("HTTP_X_REQUESTED_WITH"):
        return True
    mode = headers.get("HTTP_SEC_FETCH_MODE")
    if mode == "navigate":
        return False
    if mode in ("cors", "same-origin", "no-cors") and headers.get("HTTP_SEC_FETCH_DEST") == "empty":
        return True
    accept = str(headers.get("HTTP_ACCEPT", ""))
    return "json" in accept and "html" not in accept


#: The media types of the form bodies a browser sends, which saved forms keep.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def keeps_form(method: str, headers: Mapping[str, Any]) -> bool:
    """A browser's form POST: a navigation (:func:`is_navigation`) with an urlencoded or
    multipart body. Only such a request may be kept while its sender signs in again;
    JSON, other bodies and requests from tools never are. (Whether it came from the
    site's own pages is checked when it is kept, from ``Sec-Fetch-Site``/``Origin``.)"""
    if method.upper() != "POST" or not is_navigation(method, headers):
        return False
    media = str(headers.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
    return media in FORM_TYPES


def is_preflight(method: str, headers: Mapping[str, Any]) -> bool:
    """A CORS preflight: ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``."""
    return (
        method.upper() == "OPTIONS"
        and "HTTP_ORIGIN" in headers
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in headers
    )


@dataclass(kw_only=True, slots=True)
class Decider:
    """Decides what the gate does with a request. One per gate, shared by threads.

    ``prefix`` is the gate's own path prefix; ``rules`` the access rules (the
    public paths among them); ``host_of`` reads the request's host (through
    trusted proxies) for rules limited to hosts; ``public_preflight`` lets CORS
    preflights through; ``authorize`` is the
    application's hook; ``logout_paths`` the app's own logout paths (exact
    ``PATH_INFO`` values, as :class:`~pwless_gate.config.GateConfig` checked
    them; each also matches with a trailing ``/``); ``clock`` tells when a
    session is due for renewal; ``machines``, when set, admits the bearer
    tokens of allowed machine clients (only asked for a request without a
    valid session).
    """

    prefix: str
    cookies: Cookies
    sessions: SessionCache
    rules: RuleSet
    clock: Callable[[], float]
    host_of: Callable[[Mapping[str, Any]], str] | None = None
    public_preflight: bool = False
    authorize: Authorize | None = None
    logout_paths: frozenset[str] = frozenset()
    machines: Machines | None = None
    #: App tokens (``app_tokens`` on): asked when a request has no usable session.
    tokens: TokenCheck | None = None
    prefix_slash: str = field(init=False)
    #: Neither a hook, logout paths nor rules that refuse: a verified session is
    #: simply forwarded.
    forward_only: bool = field(init=False)
    #: Some access rule refuses someone: every request is matched against the rules.
    restricted: bool = field(init=False)

    def __post_init__(self) -> None:
        self.prefix_slash = self.prefix + "/"
        self.logout_paths = logout_forms(self.logout_paths)
        self.restricted = self.rules.restricts
        self.forward_only = self.authorize is None and not self.logout_paths and not self.restricted

    def decide(self, facts: RequestFacts) -> Decision:
        """The decision for ``facts``. Exceptions of ``authorize`` propagate."""
        path = facts.path
        if path.startswith(self.prefix_slash) or path == self.prefix:
            return GATE_ROUTE
        rule = None
        if self.restricted:
            rule = self.rule_for(facts)
            if rule is not None and rule.closed:
                return self.closed_rule(facts, rule)
        value = (
            self.cookies.session_from_header(facts.cookie, facts.https, facts.mounted)
            if facts.cookie
            else None
        )
        if value is not None:
            try:
                entry = self.sessions.lookup(value)
            except StoreUnavailable as exc:  # e.g. "Redis at 127.0.0.1:6379: ConnectionError"
                log.warning("session store unavailable: %s", exc)
                return self._public(facts, rule) or UNAVAILABLE
            if entry is not None:
                if entry.refresh_at is not None and entry.refresh_at <= self.clock():
                    return Renew(value, entry)
                if self.forward_only:  # the hot path: one flag, whatever is configured
                    return Forward(entry)
                if self.authorize is None and (rule is None or rule.plain):
                    # Logout paths alone (or a rule that lets anyone in): no call.
                    if path in self.logout_paths:
                        return ForwardAndSignOut(entry, (value,))
                    return Forward(entry)
                return self._public_if_refused(
                    facts, self.admit(facts, entry, value=value, rule=rule), rule
                )
        public = self._public(facts, rule)
        if public is not None:
            return public  # there Authorization is the app's business
        if self.tokens is not None and "HTTP_AUTHORIZATION" in facts.headers:
            token = self._token(facts)
            if token is not None:
                return token
        if self.machines is not None:
            bearer = bearer_token(facts.headers)
            if bearer is not None:
                return self._machine(facts, self.machines, bearer)
        return self.challenge(facts)

    def _token(self, facts: RequestFacts) -> Decision | None:
        """The decision for a request with no session and an ``Authorization`` header,
        on a path that is not public (there the header may be the app's own business):
        None when the header holds no app token credentials."""
        assert self.tokens is not None
        try:
            found = self.tokens.check(facts.headers)
        except StoreUnavailable as exc:
            log.warning("app token store unavailable: %s", exc)
            return UNAVAILABLE
        if found is None:
            return None
        if type(found) is int:
            return BadToken(found)
        assert isinstance(found, CachedSession)
        if self.restricted:
            refused = self.apply_rules(facts, found, api=True)
            if refused is not None:
                return refused
        if self.authorize is not None and not self.authorize(facts.headers, found.user):
            return Deny(found.user, True)
        return ForwardToken(found)

    def admit(
        self,
        facts: RequestFacts,
        entry: CachedSession,
        cookie: str | None = None,
        *,
        value: str | None = None,
        rule: AccessRule | None = _UNMATCHED,
    ) -> Decision:
        """Forward a verified session, unless the access rules or ``authorize`` refuse it.

        ``value`` is the session's cookie value in the request, ``cookie`` a new
        one to set (a renewed session); ``rule`` the rule that matched, when
        :meth:`decide` already looked. On a logout path the answer is
        :class:`ForwardAndSignOut`, ending both.
        """
        logout = bool(self.logout_paths) and facts.path in self.logout_paths
        if self.restricted:
            refused = self.apply_rules(facts, entry, rule=rule)
            if refused is not None:
                if logout and type(refused) is StepUp:
                    # A new sign-in would come back here and end itself: sign out now.
                    api = not is_navigation(facts.method, facts.headers)
                    return SignOutOnly(entry, _ending(value, cookie), api)
                return refused
        if self.authorize is not None and not self.authorize(facts.headers, entry.user):
            return Deny(entry.user, wants_json(facts.headers))
        if logout:
            return ForwardAndSignOut(entry, _ending(value, cookie))
        return Forward(entry, cookie)

    def renewed(
        self,
        facts: RequestFacts,
        entry: CachedSession | None,
        cookie: str | None = None,
        *,
        value: str,
        unavailable: bool = False,
    ) -> Decision:
        """The decision for a request :class:`Renew` held back, once the renewal is
        done: ``entry`` the renewed session (``cookie`` its new value to set, if it
        moved), or None when the session ended (idle, refused by Auth0) or, with
        ``unavailable``, when Auth0 or the store did not answer.

        As in :meth:`decide`, a public path is answered as anyone is answered there:
        the person the ``authorize`` hook refuses, the one whose session just ended
        and the one whose session could not be renewed get :class:`Anonymous`, not a
        403, a sign-in or a 503 (nobody is let in who could not come in without the
        cookie). Elsewhere: :meth:`admit`, :meth:`challenge` or :data:`UNAVAILABLE`.
        """
        if entry is None:
            public = self._public(facts)
            if public is not None:
                return public
            return UNAVAILABLE if unavailable else self.challenge(facts)
        return self._public_if_refused(facts, self.admit(facts, entry, cookie, value=value))

    def _public_if_refused(
        self, facts: RequestFacts, decision: Decision, rule: AccessRule | None = _UNMATCHED
    ) -> Decision:
        """``decision``, unless it is a :class:`Deny` on a path that is public
        (:meth:`_public`): a public path stays public for the refused, too."""
        if type(decision) is Deny:
            return self._public(facts, rule) or decision
        return decision

    def challenge(self, facts: RequestFacts) -> Challenge:
        """The challenge for a request with no (usable) session: a redirect to the
        sign-in page only for a browser's navigation (:func:`is_navigation`)."""
        home = bool(self.logout_paths) and facts.path in self.logout_paths
        api = not is_navigation(facts.method, facts.headers)
        return Challenge(api, home, self._keeps_form(facts, api))

    def _keeps_form(self, facts: RequestFacts, api: bool) -> bool:
        """Whether a challenged request is a browser's form POST: kept while saved forms are
        on, and the sign-in page says what became of it either way."""
        return not api and keeps_form(facts.method, facts.headers)

    # -- machines (client-credentials bearer tokens) ---------------------------------

    def _machine(self, facts: RequestFacts, machines: Machines, token: str) -> Decision:
        """A machine's bearer token: admitted from the cache, or to be verified."""
        entry = machines.cached(token)
        if entry is None:
            return MachineToken(token)
        return self.admit_machine(facts, entry)

    def admit_machine(self, facts: RequestFacts, entry: CachedSession) -> Decision:
        """Forward a verified machine, unless the access rules or ``authorize`` refuse
        it (403 JSON).

        A machine has no email, phone or roles: a rule with an ``allow`` list refuses
        it, one with a ``max_age`` too (a token cannot sign in again); a rule that
        asks only for a sign-in lets it in. A machine has no gate session, so the
        app's logout paths end nothing.
        """
        if self.restricted:
            refused = self.apply_rules(facts, entry, api=True)
            if refused is not None:
                return refused
        if self.authorize is not None and not self.authorize(facts.headers, entry.user):
            return Deny(entry.user, True)
        return Forward(entry)

    # -- the access rules ----------------------------------------------------------

    def rule_for(self, facts: RequestFacts) -> AccessRule | None:
        """The access rule that decides ``facts``, or None (the global allow-lists do)."""
        return self.rules.lookup(facts.method, facts.path, facts.headers, self.host_of)

    def closed_rule(self, facts: RequestFacts, rule: AccessRule) -> Closed:
        """The answer to a request a ``deny`` rule closes, before any session is read."""
        return Closed(rule, wants_json(facts.headers))

    def apply_rules(
        self,
        facts: RequestFacts,
        entry: CachedSession,
        *,
        rule: AccessRule | None = _UNMATCHED,
        api: bool | None = None,
    ) -> Decision | None:
        """None when the access rules let ``entry``'s person make this request; else
        the refusal: :class:`Deny` (not on the rule's allow list; also an app or
        machine token on a ``max_age`` rule: a token cannot sign in again),
        :class:`Closed` or :class:`StepUp`. Every way in calls this before forwarding.
        """
        if rule is _UNMATCHED:
            rule = self.rule_for(facts)
        if rule is None or rule.plain:
            return None
        if rule.closed:
            return self.closed_rule(facts, rule)
        session = entry.session
        allow = rule.allow
        if rule.max_age is None:  # the common case, without the general verdict's call
            if allow is None or allow.admits(
                session.connection, session.remote_user, entry.user.roles
            ):
                return None
            said = Verdict.REFUSE
        else:
            method = entry.environ.get("pwless_gate.auth_method")
            said = verdict(
                rule,
                session.connection,
                session.remote_user,
                entry.user.roles,
                session.created_at if method == "session" else None,
                self.clock(),
            )
            if said == Verdict.ADMIT:
                return None
        if said == Verdict.STALE:
            assert rule.max_age is not None
            # Signing in again is a challenge: a redirect only for a navigation.
            again = bool(api) or not is_navigation(facts.method, facts.headers)
            return StepUp(entry.user, rule.max_age, again, self._keeps_form(facts, again))
        # A refusal is a 403 as ``authorize``'s: the page unless the client wants JSON.
        return Deny(entry.user, wants_json(facts.headers) if api is None else api, rule.label)

    def _public(
        self, facts: RequestFacts, rule: AccessRule | None = _UNMATCHED
    ) -> Anonymous | None:
        """The anonymous decision for ``facts``, or None if they need a session.

        :data:`ANONYMOUS` for a public path or rule (whatever the method, unless
        the rule names methods), else :data:`PREFLIGHT` for a CORS preflight with
        ``public_preflight``. ``rule`` is the matching rule when already known.
        """
        if self.rules:
            if rule is _UNMATCHED or (rule is None and not self.restricted):
                rule = self.rule_for(facts)
            if rule is not None and rule.public:
                return ANONYMOUS
        if self.public_preflight and is_preflight(facts.method, facts.headers):
            return PREFLIGHT
        return None
