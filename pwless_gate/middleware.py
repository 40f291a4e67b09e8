"""``PasswordlessGate``: the WSGI middleware, and the ``gate("module:app")`` factory.

Every request takes the four steps of the design:

1. scrub what a client could use to impersonate someone;
2. requests under the gate prefix go to the gate's own routes;
3. a valid session puts the user in the environ and calls the wrapped app;
   so does a public path, with or without a session;
4. anything else is challenged: browsers are redirected to the login page,
   API clients get a 401 JSON body. The wrapped app is never called.

Step 3 is the hot path. It reads the raw ``Cookie`` header with one regex,
looks the value up in the verified-session cache and copies a few prepared
keys into the environ; it builds no request object and, warm, touches no
network.

The gate authenticates; it is not a web application firewall.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import metrics
from .auth0 import Auth0Client
from .config import GateConfig
from .cookies import Cookies
from .errors import ConfigError, StoreUnavailable
from .identity import AllowList, InvalidIdentifier
from .paths import PublicPaths
from .redis_store import RedisStore, connect
from .renew import Renewer
from .respond import Deps
from .security import CsrfGuard
from .sessions import CachedSession, CookieStore, SessionCache, SessionStore
from .throttle import MemoryThrottle, RedisThrottle, Throttle
from .tokens import TokenVerifier
from .transactions import TransactionSigner
from .views import GateViews

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: Environ keys a client (or anything before the gate) must never set: the
#: identity headers the gate and other identity-aware proxies use. WSGI servers
#: fold case and turn ``-`` (and, for some, ``_``) into ``_``, so
#: ``X_Forwarded_User`` and ``x-forwarded-user`` arrive as the same key.
SCRUBBED_KEYS = tuple(
    ["REMOTE_USER", "pwless_gate.user", "pwless_gate.claims", "pwless_gate.access_token"]
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


def signing_keys(config: GateConfig) -> list[bytes]:
    """The keys that sign cookies and transactions, oldest first.

    ``secret_key`` (after ``previous_secret_keys``) when set; otherwise a key
    derived from the client secret with a fixed label, never the secret itself.
    """
    if config.secret_key:
        return [k.encode() for k in (*config.previous_secret_keys, config.secret_key)]
    derived = hmac.new(
        config.client_secret.encode(), b"pwless-gate signing key v1", hashlib.sha256
    ).digest()
    return [derived]


class PasswordlessGate:
    """Wrap ``app`` so only people signed in through Auth0 Passwordless reach it."""

    def __init__(
        self,
        app: WSGIApplication,
        config: GateConfig,
        *,
        auth0: Auth0Client | None = None,
        store: SessionStore | None = None,
        throttle: Throttle | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.config = config
        if config.metrics and not metrics.AVAILABLE:
            raise ConfigError(
                "PWLESS_GATE_METRICS", "needs prometheus-client: pip install 'pwless-gate[metrics]'"
            )
        keys = signing_keys(config)
        try:
            allow = AllowList.build(
                config.allowed_emails, config.allowed_domains, config.allowed_phones
            )
        except InvalidIdentifier as exc:
            raise ConfigError("PWLESS_GATE_ALLOWED_EMAILS/PHONES", str(exc)) from None
        self.auth0 = auth0 or Auth0Client(
            config.auth0_base_url,
            config.client_id,
            config.client_secret,
            timeout=config.auth0_timeout,
            clock=clock,
        )
        if config.redis_url and (store is None or throttle is None):
            redis = connect(config.redis_url, timeout=config.redis_timeout)
            store = store or RedisStore(redis, clock=clock)
            throttle = throttle or RedisThrottle(redis, clock=clock)
        self.sessions = SessionCache(
            store or CookieStore(keys),
            maxsize=config.session_cache_size,
            ttl=config.session_cache_ttl,
            idle_timeout=config.session_idle_timeout,
            clock=clock,
        )
        self.cookies = Cookies(config)
        self.views = GateViews(
            Deps(
                config=config,
                auth0=self.auth0,
                verifier=TokenVerifier(
                    issuer=config.issuer,
                    client_id=config.client_id,
                    fetch_jwks=self.auth0.jwks,
                    clock=clock,
                    leeway=config.clock_leeway,
                    min_refresh=config.jwks_min_refresh,
                ),
                sessions=self.sessions,
                allow=allow,
                transactions=TransactionSigner(keys, config.login_lifetime, clock=clock),
                csrf=CsrfGuard(keys[-1]),
                cookies=self.cookies,
                throttle=throttle or MemoryThrottle(clock=clock),
                clock=clock,
            )
        )
        self._renewer = Renewer(
            auth0=self.auth0,
            sessions=self.sessions,
            clock=clock,
            idle_timeout=config.session_idle_timeout,
        )
        self._clock = clock
        self._prefix = config.prefix
        self._prefix_slash = config.prefix + "/"
        self._public = PublicPaths(config.public_paths)
        self._preflight = config.public_preflight
        self._pass_headers = config.pass_headers

    def sign_out_everywhere(self, sub: str) -> int:
        """End every session of the user ``sub``; returns how many were ended.

        Needs the Redis store (a signed-cookie session cannot be revoked).
        Other processes stop accepting them within ``session_cache_ttl``.
        """
        return self.sessions.revoke_user(sub)

    @classmethod
    def from_env(cls, app: WSGIApplication, **overrides: Any) -> PasswordlessGate:
        """Wrap ``app`` with a config read from ``PWLESS_GATE_*`` variables."""
        return cls(app, GateConfig.from_env(**overrides))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not _SCRUBBED.isdisjoint(environ):
            for key in _SCRUBBED.intersection(environ):
                del environ[key]
        path = environ.get("PATH_INFO") or "/"
        if path.startswith(self._prefix_slash) or path == self._prefix:
            return self.views(environ, start_response)
        value = self.cookies.session_from_environ(environ)
        if value is not None:
            try:
                entry = self.sessions.lookup(value)
            except StoreUnavailable:
                if self._is_public(environ, path):
                    return self._anonymous(environ, start_response)
                return self.views.unavailable(environ, start_response)
            if entry is not None:
                if entry.refresh_at is not None and entry.refresh_at <= self._clock():
                    return self._renew(environ, start_response, value, entry)
                return self._forward(environ, start_response, entry)
        if self._is_public(environ, path):
            return self._anonymous(environ, start_response)
        return self.views.challenge(environ, start_response)

    def _is_public(self, environ: WSGIEnvironment, path: str) -> bool:
        """A public path, or (with ``public_preflight``) a CORS preflight request."""
        if self._public and self._public.matches(path):
            return True
        return self._preflight and _is_preflight(environ)

    def _anonymous(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Call the wrapped app without a user (public paths only)."""
        self.cookies.strip_own(environ)
        return self.app(environ, start_response)

    def _forward(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        entry: CachedSession,
    ) -> Iterable[bytes]:
        """Call the wrapped app with the verified user in the environ."""
        environ.update(entry.environ)
        environ["pwless_gate.claims"] = dict(entry.session.claims)
        if self._pass_headers:
            _add_headers(environ, entry)
        self.cookies.strip_own(environ)
        return self.app(environ, start_response)

    def _renew(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        value: str,
        entry: CachedSession,
    ) -> Iterable[bytes]:
        """The session needs attention (token refresh, idle timeout) before it is used."""
        result = self._renewer.renew(value, entry)
        if result.unavailable:
            return self.views.unavailable(environ, start_response)
        if result.entry is None:
            return self.views.challenge(environ, start_response)
        if result.cookie is None:
            return self._forward(environ, start_response, result.entry)
        headers = self.cookies.session_headers(environ, result.cookie)

        def with_cookie(
            status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            response_headers.extend(("Set-Cookie", h) for h in headers)
            return start_response(status, response_headers, exc_info)

        return self._forward(environ, with_cookie, result.entry)


def _is_preflight(environ: WSGIEnvironment) -> bool:
    return (
        environ.get("REQUEST_METHOD") == "OPTIONS"
        and "HTTP_ORIGIN" in environ
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
    )


def _add_headers(environ: WSGIEnvironment, entry: CachedSession) -> None:
    environ["HTTP_X_FORWARDED_USER"] = entry.session.remote_user
    if entry.user.email:
        environ["HTTP_X_FORWARDED_EMAIL"] = entry.user.email
    if entry.user.phone_number:
        environ["HTTP_X_FORWARDED_PHONE"] = entry.user.phone_number


def load_app(spec: str) -> WSGIApplication:
    """Import ``"package.module:attribute"`` and return the WSGI app it names."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError("app", f"{spec!r} must look like 'package.module:application'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError("app", f"cannot import {module_name!r}: {exc}") from None
    target: Any = module
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ConfigError("app", f"{module_name!r} has no attribute {attribute!r}")
    if not callable(target):
        raise ConfigError("app", f"{spec!r} is not a WSGI application")
    app: WSGIApplication = target
    return app


def gate(app: str | WSGIApplication, **overrides: Any) -> PasswordlessGate:
    """The app factory for gunicorn: ``gunicorn 'pwless_gate:gate("legacy.wsgi:app")'``.

    ``app`` is a WSGI callable or an import string; the config comes from the
    ``PWLESS_GATE_*`` variables, with ``overrides`` winning.
    """
    config = GateConfig.from_env(**overrides)
    wsgi_app = load_app(app) if isinstance(app, str) else app
    return PasswordlessGate(wsgi_app, config)
