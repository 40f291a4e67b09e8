"""``PasswordlessGate``: the WSGI adapter around the decision core, and ``gate()``.

For every request the adapter scrubs what a client could use to impersonate
someone, hands the facts to :class:`~pwless_gate.decide.Decider`, and carries
out its decision: call the app with the verified user (the hot path; its
answer marked private to shared caches), end the session and still call the
app with the user (one of the app's own logout paths), renew the session
first, call the app without a user (public paths; for an anonymous CORS
preflight, pass on only its CORS headers), let the gate's views answer, or
refuse. Warm, the hot path reads the raw ``Cookie`` header, does one cache
lookup and copies a few prepared keys into the environ; it builds no request
object and touches no network.

The gate authenticates; it is not a web application firewall.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import metrics as metrics_module
from .answers import send
from .apptokens import THROTTLE_NAME, AppTokens, TokenStore, holds_token
from .audit import Audit
from .auth0 import Auth0Client
from .boot import gunicorn_loading, stop_gunicorn_boot
from .caching import private, private_setting_cookies
from .config import GateConfig
from .cookies import Cookies
from .csrf import CsrfGuard
from .decide import (
    INVALID_TOKEN,
    Anonymous,
    Authorize,
    BadToken,
    Challenge,
    Closed,
    Decider,
    Decision,
    Deny,
    Forward,
    ForwardAndSignOut,
    ForwardToken,
    GateRoute,
    InvalidToken,
    MachineToken,
    Renew,
    RequestFacts,
    SignOutOnly,
    StepUp,
    Unavailable,
)
from .deps import Deps, Hooks, UserCallback
from .errors import Auth0Unavailable, ConfigError, StoreUnavailable, TokenError
from .idtokens import AccessTokenVerifier, JwksCache, TokenVerifier, issued_for
from .languages import Languages
from .loading import load_app
from .machines import Machines
from .pacing import Pacer
from .preflight import preflight_answer
from .renew import Renewal, Renewer
from .savedforms import FormStore, SavedForms, is_send_press
from .sessions import (
    SEEN_EVERY,
    CachedSession,
    Session,
    SessionCache,
    SessionIndex,
    SessionStore,
)
from .stores import CookieStore
from .throttle import MemoryThrottle, Throttle
from .transactions import TransactionSigner
from .views import GateViews

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("pwless_gate.views")

#: Environ keys a client (or anything before the gate) must never set: the
#: identity headers the gate and other identity-aware proxies use. WSGI servers
#: fold case and turn ``-`` (and, for some, ``_``) into ``_``, so
#: ``X_Forwarded_User`` and ``x-forwarded-user`` arrive as the same key.
SCRUBBED_KEYS = tuple(
    [
        "REMOTE_USER",
        "pwless_gate.user",
        "pwless_gate.claims",
        "pwless_gate.access_token",
        "pwless_gate.auth_method",
    ]
    + [
        f"HTTP_{prefix}_{field}"
        for prefix in ("X_FORWARDED", "X_AUTH_REQUEST", "X_REMOTE", "REMOTE")
        for field in (
            "USER",
            "EMAIL",
            "PHONE",
            "PREFERRED_USERNAME",
            "GROUPS",
            "ACCESS_TOKEN",
            "NAME",
        )
    ]
)
_SCRUBBED = frozenset(SCRUBBED_KEYS)


class PasswordlessGate:
    """Wrap ``app`` so only people signed in through Auth0 Passwordless reach it.

    Example::

        from pwless_gate import GateConfig, PasswordlessGate

        config = GateConfig(
            auth0_domain="acme.eu.auth0.com",
            client_id="...",
            client_secret="...",
            secret_key="...",
            allowed_domains=("acme.example",),
        )
        application = PasswordlessGate(legacy_app, config)

    The app receives ``REMOTE_USER``, ``pwless_gate.user`` (a :class:`User`)
    and ``pwless_gate.claims``. The application's hooks, all optional:

    ``authorize(environ, user) -> bool``
        Asked before each request of a signed-in person reaches the app; a
        false answer gives a browser a 403 page ("signed in as …, closed to
        you") and an API client 403 JSON, and the app is not called. An
        exception is logged and answered 500 (fail closed). Keep it fast: it
        is on the hot path. ::

            def authorize(environ, user):
                if environ["PATH_INFO"].startswith("/admin"):
                    return user.email in {"boss@acme.example"}
                return True

    ``on_login(user, environ)``
        Called once a sign-in is verified, before the session is created (an
        exception refuses the sign-in with a 500 page and leaves no session). ::

            def on_login(user, environ):
                db.users.upsert(email=user.email, last_login=datetime.now(UTC))

    ``on_logout(user, environ)``
        Called when a signed-in person signs out with the gate's sign-out
        form or on one of the app's ``logout_paths``, after the session is
        ended (on a logout path, before the app is called). ::

            def on_logout(user, environ):
                log.info("%s signed out", user.email)

    The other keyword arguments replace collaborators (tests pass their own):
    ``auth0``, ``store``, ``throttle``, ``token_store`` (the app tokens' store, with
    ``app_tokens`` on), ``clock`` and ``metrics_registry``
    (the Prometheus registry for ``metrics=true``; the default one if None).

    .. versionchanged:: 0.2.0
       ``authorize``, ``on_login``, ``on_logout`` and ``metrics_registry``.
    """

    def __init__(
        self,
        app: WSGIApplication,
        config: GateConfig,
        *,
        authorize: Authorize | None = None,
        on_login: UserCallback | None = None,
        on_logout: UserCallback | None = None,
        auth0: Auth0Client | None = None,
        store: SessionStore | None = None,
        throttle: Throttle | None = None,
        token_store: TokenStore | None = None,
        form_store: FormStore | None = None,
        clock: Callable[[], float] = time.time,
        metrics_registry: Any = None,
    ) -> None:
        self.app = app
        self.config = config
        metrics = _metrics(config, metrics_registry)
        # An operator's catalogs are checked here: a bad one stops start-up before a store opens.
        languages = Languages(config.languages, config.template_dir)
        keys = config.signing_keys
        pacer = Pacer()
        self.auth0 = auth0 or Auth0Client(
            config.auth0_base_url,
            config.client_id,
            config.client_secret,
            timeout=config.auth0_timeout,
            clock=clock,
            metrics=metrics,
            pacer=pacer,
        )
        need_tokens = config.app_tokens and token_store is None
        # Saved forms live beside the sessions: in the default stores, or where the caller says.
        need_forms = bool(config.saved_form_max_bytes) and form_store is None and store is None
        if config.sqlite_path and (store is None or throttle is None or need_tokens):
            from .stores.sqlite import (
                SQLiteDatabase,
                SQLiteFormStore,
                SQLiteStore,
                SQLiteTokenStore,
            )
            from .throttle import SQLiteThrottle

            database = SQLiteDatabase(config.sqlite_path, clock=clock, setting=config.store_setting)
            default = f" (the default; {config.store_setting} moves it)"
            logging.getLogger("pwless_gate.sessions").info(
                "sessions%s and throttle counters in %s%s",
                ", app tokens" if config.app_tokens else "",
                database.location,
                default if config.store_is_default else "",
            )
            store = store or SQLiteStore(database, keys=keys, clock=clock)
            throttle = throttle or SQLiteThrottle(database, clock=clock)
            if need_tokens:
                token_store = SQLiteTokenStore(database, clock=clock)
            if need_forms:
                form_store = SQLiteFormStore(database, clock=clock)
        if config.redis_url and (store is None or throttle is None or need_tokens):
            from .stores.redis import RedisFormStore, RedisStore, RedisTokenStore, connect
            from .throttle import RedisThrottle

            redis = connect(
                config.redis_url, timeout=config.redis_timeout, setting=config.store_setting
            )
            store = store or RedisStore(redis, keys=keys, clock=clock)
            throttle = throttle or RedisThrottle(redis, clock=clock)
            if need_tokens:
                token_store = RedisTokenStore(redis, clock=clock)
            if need_forms:
                form_store = RedisFormStore(redis, clock=clock)
        self.sessions = SessionCache(
            store or CookieStore(keys),
            maxsize=config.session_cache_size,
            ttl=config.session_cache_ttl,
            idle_timeout=config.session_idle_timeout,
            clock=clock,
            admit=lambda session: _allowed(config, session),
            # A store that lists sessions shows "last seen": written once a minute at most.
            touch_every=SEEN_EVERY if isinstance(store, SessionIndex) else 0,
            roles_claim=config.roles_claim,
        )
        self.cookies = Cookies(config)
        self._renewer = Renewer(
            auth0=self.auth0,
            sessions=self.sessions,
            clock=clock,
            idle_timeout=config.session_idle_timeout,
            # One refresh: the Auth0 call's connect and read timeouts, and a second to spare.
            refresh_wait=2 * config.auth0_timeout + 1,
        )
        throttle = throttle or MemoryThrottle(clock=clock)
        audit = Audit(metrics)
        self.tokens: AppTokens | None = None
        if config.app_tokens:
            if token_store is None:
                raise ConfigError(_env_name("app_tokens"), "needs a store that keeps app tokens")
            self.tokens = AppTokens(
                token_store,
                throttle=throttle,
                limit=config.limits[THROTTLE_NAME],
                client_ip=config.proxies.client_ip,
                admit=lambda token: _allowed_person(config, token.connection, token.remote_user),
                issued_here=lambda claims: _issued_here(config, claims),
                audit=audit,
                max_days=config.app_token_max_days,
                ttl=config.session_cache_ttl,
                maxsize=config.session_cache_size,
                clock=clock,
                roles_claim=config.roles_claim,
                default_region=config.default_region,
            )
        self.saved_forms: SavedForms | None = None
        if config.saved_form_max_bytes:
            self.saved_forms = SavedForms(
                form_store,
                self.cookies,
                max_bytes=config.saved_form_max_bytes,
                lifetime=config.login_lifetime,
                session_lifetime=config.session_lifetime,
                clock=clock,
            )
        jwks = JwksCache(self.auth0.jwks, clock=clock, min_refresh=config.jwks_min_refresh)
        self.machines = _machines(config, jwks, clock)
        self.views = GateViews(
            Deps(
                config=config,
                auth0=self.auth0,
                verifier=TokenVerifier(
                    issuer=config.issuer,
                    client_id=config.client_id,
                    clock=clock,
                    leeway=config.clock_leeway,
                    keys=jwks,
                ),
                sessions=self.sessions,
                transactions=TransactionSigner(keys, config.login_lifetime, clock=clock),
                csrf=CsrfGuard(keys),
                cookies=self.cookies,
                throttle=throttle,
                audit=audit,
                clock=clock,
                hooks=Hooks(authorize=authorize, on_login=on_login, on_logout=on_logout),
                metrics=metrics,
                renewer=self._renewer,
                pacer=pacer,
                tokens=self.tokens,
                languages=languages,
                saved_forms=self.saved_forms,
                machines=self.machines,
            )
        )
        self.decider = Decider(
            prefix=config.prefix,
            cookies=self.cookies,
            sessions=self.sessions,
            rules=config.rules,
            host_of=config.proxies.host,
            public_preflight=config.public_preflight,
            authorize=authorize,
            logout_paths=frozenset(config.logout_paths),
            clock=clock,
            tokens=self.tokens,
            machines=self.machines,
        )
        self._proxied_proto = bool(config.proxies.x_proto)
        self._proxied_prefix = bool(config.proxies.x_prefix)
        self._fixed_secure = {"true": True, "false": False}.get(config.cookie_secure)
        self._pass_headers = config.pass_headers

    def sign_out_everywhere(self, sub: str, *, app_tokens: bool = False) -> int:
        """End every session of the user ``sub``; returns how many were ended.

        With ``app_tokens``, their app tokens are revoked too. Needs the SQLite or
        Redis store (a signed-cookie session cannot be revoked). Other processes
        stop accepting them within ``session_cache_ttl``.
        """
        if app_tokens and self.tokens is not None:
            self.tokens.revoke_user(sub, how="everywhere")
        return self.sessions.revoke_user(sub)

    @classmethod
    def from_env(cls, app: WSGIApplication, **overrides: Any) -> PasswordlessGate:
        """Wrap ``app`` with a config read from ``PWLESS_GATE_*`` variables.

        ``overrides`` are settings (``GateConfig`` fields) that win over the
        environment; raises :class:`~pwless_gate.errors.ConfigError`.
        """
        return cls(app, GateConfig.from_env(**overrides))

    # -- the WSGI adapter -----------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not _SCRUBBED.isdisjoint(environ):
            for key in _SCRUBBED.intersection(environ):
                del environ[key]
        https = self._fixed_secure
        if https is None:
            https = environ.get("wsgi.url_scheme") == "https" or (
                self._proxied_proto and self.config.proxies.scheme(environ) == "https"
            )
        facts = RequestFacts(
            environ.get("REQUEST_METHOD") or "GET",
            environ.get("PATH_INFO") or "/",
            environ.get("HTTP_COOKIE"),
            https,
            environ,
            # Mounted under a path: only then is the mount worth working out.
            bool(self.cookies.mount(environ))
            if self._proxied_prefix or environ.get("SCRIPT_NAME")
            else False,
        )
        try:
            decision = self.decider.decide(facts)
        except Exception as exc:  # a hook's bug: logged, 500, the app is not called
            return self.views.failed(environ, start_response, exc)
        if type(decision) is Forward:  # the hot path, without one more call
            return self._forward(environ, start_response, decision.entry, decision.cookie)
        return self.carry_out(decision, facts, environ, start_response)

    def carry_out(
        self,
        decision: Decision,
        facts: RequestFacts,
        environ: WSGIEnvironment,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """Answer the request as ``decision`` says."""
        if type(decision) is Forward:
            return self._forward(environ, start_response, decision.entry, decision.cookie)
        if type(decision) is ForwardToken:
            return self._forward_token(environ, start_response, decision.entry)
        if type(decision) is Renew:
            return self._renew(facts, environ, start_response, decision.value, decision.entry)
        if type(decision) is ForwardAndSignOut:
            return self._sign_out(environ, start_response, decision)
        views = self.views
        if type(decision) is Deny:
            return views.deny(environ, start_response, decision.user, decision.api, decision.rule)
        if type(decision) is Closed:
            return views.closed(environ, start_response, decision.api)
        if type(decision) is StepUp:
            return views.step_up(
                environ, start_response, decision.max_age, decision.api, decision.form
            )
        if type(decision) is Unavailable:
            return views.unavailable(environ, start_response)
        if type(decision) is BadToken:
            return views.bad_token(environ, start_response, decision.retry_after)
        if type(decision) is Challenge:
            return views.challenge(
                environ, start_response, decision.api, decision.home, decision.form
            )
        if type(decision) is GateRoute:
            return views(environ, start_response)
        if type(decision) is SignOutOnly:
            return self._sign_out(environ, start_response, decision)
        if type(decision) is MachineToken:
            return self._machine(facts, environ, start_response, decision.token)
        if type(decision) is InvalidToken:
            return views.invalid_token(environ, start_response)
        # Anonymous: a public path or preflight, no user.
        if is_send_press(environ):
            return views.form_not_sent(environ, start_response)  # no session to send it as
        self.cookies.strip_own(environ)
        if type(decision) is Anonymous and decision.preflight:
            return preflight_answer(self.app, environ, start_response)
        return self.app(environ, start_response)

    def _forward(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        entry: CachedSession,
        cookie: str | None = None,
    ) -> Iterable[bytes]:
        """Call the wrapped app with the verified user in the environ.

        Its answer is marked ``private`` and ``Vary: Cookie`` (and ``no-store``
        when ``cookie``, a renewed session, is set): see :mod:`pwless_gate.caching`.
        """
        environ.update(entry.environ)
        environ["pwless_gate.claims"] = dict(entry.session.claims)
        authorization = environ.get("HTTP_AUTHORIZATION")
        if authorization is not None and self.tokens is not None and holds_token(authorization):
            # An app token beside the session cookie (a browser that kept Basic
            # credentials from a token URL): a token never reaches the app.
            del environ["HTTP_AUTHORIZATION"]
        refusal: Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]] | None = None
        if environ.get("REQUEST_METHOD") != "GET" and is_send_press(environ):
            # The Send button of a kept form: the app gets the kept body (once), or is not
            # called at all (a second press, a stale page): the press's own fields are not
            # the form, and whoever is signed in now may not be who kept it.
            saved = self.saved_forms
            sub = str(entry.session.claims["sub"])
            try:
                replaying = saved.replay(environ, sub, start_response) if saved else None
            except StoreUnavailable as exc:
                log.warning("a kept form could not be sent: %s", exc)
                refusal = self.views.unavailable
            else:
                if replaying is None:
                    refusal = self.views.form_not_sent
                else:
                    start_response = replaying
        if cookie is None:
            start_response = private(start_response)
        else:
            start_response = private_setting_cookies(
                start_response, self.cookies.session_headers(environ, cookie)
            )
        if refusal is not None:
            return refusal(environ, start_response)
        if self._pass_headers:
            _add_headers(environ, entry)
        self.cookies.strip_own(environ)
        return self.app(environ, start_response)

    def _forward_token(
        self, environ: WSGIEnvironment, start_response: StartResponse, entry: CachedSession
    ) -> Iterable[bytes]:
        """Call the app as an app token's owner. The token itself is not passed on."""
        environ.pop("HTTP_AUTHORIZATION", None)
        return self._forward(environ, start_response, entry)

    def _sign_out(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        decision: ForwardAndSignOut | SignOutOnly,
    ) -> Iterable[bytes]:
        """One of the app's logout paths: end the gate's session, then forward as usual
        (:class:`ForwardAndSignOut`: the app still gets the user, so its own logout runs)
        or answer as a signed-out request there is (:class:`SignOutOnly`). Either answer
        deletes the gate's session cookie (chunks included) and is ``no-store``.
        """
        failed = self.views.end_session(environ, decision.entry, decision.values)
        if failed is not None:
            return send(failed, environ, start_response)
        # Read before _forward strips the gate's cookies from the environ.
        clearing = private_setting_cookies(start_response, self.cookies.clear_headers(environ))
        if type(decision) is SignOutOnly:
            return self.views.challenge(environ, clearing, decision.api, True, False)
        return self._forward(environ, clearing, decision.entry)

    def _renew(
        self,
        facts: RequestFacts,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        value: str,
        entry: CachedSession,
    ) -> Iterable[bytes]:
        """Token refresh or idle timeout first, then the decision for the renewed session
        (:meth:`~pwless_gate.decide.Decider.renewed`). A session that ended is answered
        as a request without one (anonymously on a public path, else challenged), and its
        cookie deleted."""
        try:
            result = self._renewer.renew(value, entry)
        except StoreUnavailable as exc:  # answered in renew(); a 503, never a 500, if not
            log.warning("session store unavailable: %s", exc)
            result = Renewal(None, unavailable=True)
        try:
            decision = self.decider.renewed(
                facts, result.entry, result.cookie, value=value, unavailable=result.unavailable
            )
        except Exception as exc:
            return self.views.failed(environ, start_response, exc)
        if type(decision) is Unavailable:
            return self.views.unavailable(environ, start_response, result.retry_after)
        if result.entry is None and not result.unavailable:
            # Ended: the cookie goes, on a public path and with the challenge alike, or the
            # browser would send the dead session on every request (an unrenewed session
            # is kept for a later request).
            start_response = private_setting_cookies(
                start_response, self.cookies.clear_headers(environ)
            )
        return self.carry_out(decision, facts, environ, start_response)

    def _machine(
        self,
        facts: RequestFacts,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        token: str,
    ) -> Iterable[bytes]:
        """A machine's bearer token not seen before: verify it, then admit or refuse."""
        assert self.machines is not None  # the decision is only made with machines
        try:
            entry = self.machines.verify(token)
            decision = self.decider.admit_machine(facts, entry)
        except TokenError as exc:
            log.info("bearer token refused: %s", exc)
            decision = INVALID_TOKEN
        except Auth0Unavailable as exc:
            log.warning("bearer token not verified, the tenant's keys are unavailable: %s", exc)
            return self.views.unavailable(environ, start_response)
        except Exception as exc:  # a hook's bug: logged, 500, the app is not called
            return self.views.failed(environ, start_response, exc)
        return self.carry_out(decision, facts, environ, start_response)


def _machines(config: GateConfig, jwks: JwksCache, clock: Callable[[], float]) -> Machines | None:
    """The verifier of machines' bearer tokens, with ``allowed_clients`` (and so an audience)."""
    if not config.allowed_clients or config.audience is None:
        return None
    verifier = AccessTokenVerifier(
        issuer=config.issuer,
        audience=config.audience,
        keys=jwks,
        clock=clock,
        leeway=config.clock_leeway,
    )
    return Machines(
        verifier, config.allowed_clients, clock=clock, maxsize=config.session_cache_size
    )


def _metrics(config: GateConfig, registry: Any) -> metrics_module.Metrics | None:
    if not config.metrics:
        return None  # with metrics on, the config made sure prometheus-client is there
    return metrics_module.Metrics.for_registry(registry)


def _allowed(config: GateConfig, session: Session) -> bool:
    """The session was made by this gate's tenant and client, and the allow-list of this
    start-up still admits its person.

    Checked each time a process loads a session from the store, so a person
    removed from the list is refused on their next request after a restart,
    and a session made under another tenant or client (the same state directory
    or Redis, pointed at a new tenant) is no session, whatever store holds it.
    """
    return _issued_here(config, session.claims) and _allowed_person(
        config, session.connection, session.remote_user
    )


def _issued_here(config: GateConfig, claims: Mapping[str, Any]) -> bool:
    """The claims of a session or app token come from this gate's tenant and client."""
    return issued_for(claims, issuer=config.issuer, client_id=config.client_id)


def _allowed_person(config: GateConfig, connection: str, remote_user: str) -> bool:
    """The allow-list admits ``remote_user`` (signed in through ``connection``)."""
    if connection == "sms":
        return config.allow.allows_phone(remote_user)
    return config.allow.allows_email(remote_user)


def _env_name(field: str) -> str:
    return f"PWLESS_GATE_{field.upper()}"


def _add_headers(environ: WSGIEnvironment, entry: CachedSession) -> None:
    environ["HTTP_X_FORWARDED_USER"] = entry.session.remote_user
    if entry.user.email:
        environ["HTTP_X_FORWARDED_EMAIL"] = entry.user.email
    if entry.user.phone_number:
        environ["HTTP_X_FORWARDED_PHONE"] = entry.user.phone_number


def gate(
    app: str | WSGIApplication,
    *,
    authorize: Authorize | None = None,
    on_login: UserCallback | None = None,
    on_logout: UserCallback | None = None,
    **overrides: Any,
) -> PasswordlessGate:
    """The app factory for gunicorn: ``gunicorn 'pwless_gate:gate("legacy.wsgi:app")'``.

    ``app`` is a WSGI callable or an app string as gunicorn reads them
    (``"pkg.mod:application"``, or a factory called with literal arguments:
    ``"pkg.mod:create_app(debug=False)"``; see
    :func:`~pwless_gate.loading.load_app`); the config comes from the
    ``PWLESS_GATE_*`` variables, with ``overrides`` (``GateConfig`` fields)
    winning. The hooks are those of :class:`PasswordlessGate`. Example, in a
    ``wsgi.py`` of your own::

        from pwless_gate import gate

        def authorize(environ, user):
            admin = environ["PATH_INFO"].startswith("/admin")
            return not admin or user.email == "boss@acme.example"

        application = gate("legacy.wsgi:application", authorize=authorize)

    Raises :class:`~pwless_gate.errors.ConfigError`, except while gunicorn
    loads the app: there a bad setting or app string prints one line
    (``pwless-gate: <setting>: <problem>``) on stderr and exits the worker
    with gunicorn's "app failed to load" status, which stops gunicorn.

    .. versionchanged:: 0.2.0
       ``authorize``, ``on_login`` and ``on_logout``; factory calls in app
       strings; one line and a stop under gunicorn.
    """
    try:
        config = GateConfig.from_env(**overrides)
        wsgi_app = load_app(app) if isinstance(app, str) else app
        return PasswordlessGate(
            wsgi_app, config, authorize=authorize, on_login=on_login, on_logout=on_logout
        )
    except ConfigError as exc:
        where = gunicorn_loading()
        if where is not None:  # one line, and gunicorn stops (pwless_gate.boot)
            stop_gunicorn_boot(exc, where)
        raise


__all__ = ["SCRUBBED_KEYS", "PasswordlessGate", "gate", "load_app"]
