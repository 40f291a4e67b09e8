"""The local tenant as one WSGI application: routing, fault injection and the error edge."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from . import browser, discovery, grants, quotas, start
from .constants import (
    ACCESS_TOKEN_LIFETIME,
    ALL_GRANTS,
    AUTHORIZATION_CODE_LIFETIME,
    BODY_TOO_LARGE,
    BODY_TOO_LARGE_ERROR,
    FAULT_RETRY_AFTER,
    MAX_BODY_BYTES,
    METHOD_NOT_ALLOWED,
    METHOD_NOT_ALLOWED_ERROR,
    NOT_FOUND,
    NOT_FOUND_ERROR,
    RATE_LIMITED,
    REFRESH_ABSOLUTE_LIFETIME,
    REFRESH_IDLE_LIFETIME,
    REFRESH_REUSE_INTERVAL,
    TENANT_FAILED,
    TENANT_FAILED_ERROR,
)
from .faults import Fault, make_fault, parse_fault
from .httpio import ApiError, json_response, read_body
from .limits import Family, Quota
from .messages import Message
from .state import MachineClient, Settings, TenantState
from .users import normalise

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

Handler = Callable[[TenantState, Request], Response]


class _Request(Request):
    max_content_length = MAX_BODY_BYTES


def _read_ahead(request: Request) -> bool:
    """Read the body before the tenant's lock is taken (a slow client must not hold
    it); return False when it is too large to read."""
    try:
        request.get_data(cache=True)
    except RequestEntityTooLarge:
        return False
    return True


def _outbox(state: TenantState, request: Request) -> Response:
    if request.method == "DELETE":
        state.outbox.clear()
        return Response(status=204)
    return json_response({"messages": [message.to_json() for message in state.outbox]})


def _faults(state: TenantState, request: Request) -> Response:
    if request.method == "DELETE":
        state.faults.clear()
        return Response(status=204)
    if request.method == "GET":
        return json_response({"faults": state.faults.listing()})
    try:
        fault = parse_fault(read_body(request, "invalid_request"))
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from exc
    state.faults.add(fault)
    return json_response(fault.to_json(), 201)


_ROUTES: dict[str, dict[str, Handler]] = {
    "/passwordless/start": {"POST": start.passwordless_start},
    "/oauth/token": {"POST": grants.oauth_token},
    "/passwordless/verify_redirect": {"GET": browser.verify_redirect},
    "/v2/logout": {"GET": browser.v2_logout},
    "/oidc/logout": {"GET": browser.oidc_logout},
    "/userinfo": {"GET": discovery.userinfo},
    "/.well-known/jwks.json": {"GET": discovery.jwks},
    "/.well-known/openid-configuration": {"GET": discovery.openid_configuration},
    "/_dev/outbox": {"GET": _outbox, "DELETE": _outbox},
    "/_dev/faults": {"GET": _faults, "POST": _faults, "DELETE": _faults},
}


#: Domains Auth0 keeps for itself: a custom claim named under them is dropped.
RESERVED_CLAIM_DOMAINS = ("auth0.com", "webtask.io", "webtask.run")


def check_roles_claim(claim: str) -> None:
    """Raise ValueError unless ``claim`` is a namespaced claim Auth0 would keep: an
    http(s) URL whose host is not one of Auth0's own domains."""
    parts = urlsplit(claim)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"roles claim {claim!r} must be a URL like https://example.com/roles")
    if any(host == d or host.endswith("." + d) for d in RESERVED_CLAIM_DOMAINS):
        raise ValueError(f"roles claim {claim!r}: Auth0 drops claims named under {host}")


def _roles_by_identifier(roles: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Roles keyed by the identifier as the tenant stores it (emails lower-cased)."""
    merged: dict[str, tuple[str, ...]] = {}
    for who, named in roles.items():
        key = normalise("sms" if who.strip().startswith("+") else "email", who.strip())
        merged[key] = tuple(dict.fromkeys((*merged.get(key, ()), *named)))
    return merged


class DevTenant:
    """A local, Auth0-compatible passwordless tenant with one regular web application.

    Construct it with the application's credentials and settings; serve it
    with :func:`serve_in_thread` or ``pwless-gate dev-tenant``, which set
    :attr:`base_url` (the issuer is ``base_url + "/"``). Everything it keeps
    is in memory and guarded by one lock.

    ``trust_forwarded_for`` is the application's "Trust Token Endpoint IP
    Header" setting and ``allow_magiclink_verify_without_session`` the tenant
    flag of that name: both off, as in a new Auth0 tenant. ``code_lifetime`` is
    a one-time code's (and link's), ``authorization_code_lifetime`` that of the
    authorization code a link leads to. ``clock`` drives code, token and
    rate-limit times.
    ``on_message`` is called with every message sent. ``fault_delay`` is how
    long a "timeout" fault stalls. ``grant_types`` are the grants the
    application may use (all three by default). ``apis`` are the API identifiers an
    ``audience`` may name; any other is refused. ``offline_access_apis`` (some of
    ``apis``) have "Allow Offline Access" on: only logins for them (or for no
    audience) get a refresh token with ``offline_access``. ``rfc9068_apis`` (some of
    ``apis``) have the RFC 9068 access token profile; the others Auth0's, the
    default (see ``constants.py``). ``access_token_lifetime``
    is the APIs' "Token Expiration". Refresh tokens rotate; ``refresh_reuse_interval``,
    ``refresh_absolute_lifetime`` and ``refresh_idle_lifetime`` default to Auth0's
    (see ``constants.py``).

    ``roles_claim`` and ``roles`` stand for a post-login Action that adds the
    user's roles (``roles`` maps an email address or E.164 number to its roles)
    to id_tokens and access tokens under that namespaced claim; Auth0 drops
    custom claims named under its own domains, so those are refused.

    ``machine_clients`` maps the client ids of machine-to-machine applications to
    their secrets: they may use only the client-credentials grant, for every API
    in ``apis``, with no scopes, unless ``client_grants`` lists the APIs (and the
    scopes there) a client is authorised for: ``{client_id: {audience: scopes}}``.
    Their tokens carry no roles (the post-login Action does not run for them).

    Raises ValueError when ``offline_access_apis``, ``rfc9068_apis`` or
    ``client_grants`` name an API not in ``apis``, a machine client has the
    application's id or no secret,
    ``roles_claim`` is not an http(s) URL outside Auth0's domains, or ``roles``
    are given without it.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        allowed_callbacks: Iterable[str] = (),
        allowed_logout_urls: Iterable[str] = (),
        connections: Iterable[str] = ("email", "sms"),
        code_length: int = 6,
        code_lifetime: float = 180,
        authorization_code_lifetime: float = AUTHORIZATION_CODE_LIFETIME,
        id_token_lifetime: int = 36000,
        trust_forwarded_for: bool = False,
        allow_magiclink_verify_without_session: bool = False,
        clock: Callable[[], float] = time.time,
        on_message: Callable[[Message], None] | None = None,
        fault_delay: float = 30.0,
        grant_types: Iterable[str] = ALL_GRANTS,
        apis: Iterable[str] = (),
        offline_access_apis: Iterable[str] = (),
        rfc9068_apis: Iterable[str] = (),
        access_token_lifetime: int = ACCESS_TOKEN_LIFETIME,
        refresh_reuse_interval: float = REFRESH_REUSE_INTERVAL,
        refresh_absolute_lifetime: float = REFRESH_ABSOLUTE_LIFETIME,
        refresh_idle_lifetime: float = REFRESH_IDLE_LIFETIME,
        roles_claim: str | None = None,
        roles: Mapping[str, Iterable[str]] | None = None,
        machine_clients: Mapping[str, str] | None = None,
        client_grants: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
    ) -> None:
        apis, offline_access_apis = frozenset(apis), frozenset(offline_access_apis)
        if roles and roles_claim is None:
            raise ValueError("roles need a roles claim (--roles-claim URL)")
        if roles_claim is not None:
            check_roles_claim(roles_claim)
        if not offline_access_apis <= apis:
            unknown = ", ".join(sorted(offline_access_apis - apis))
            raise ValueError(f"offline access for APIs the tenant does not have: {unknown}")
        rfc9068_apis = frozenset(rfc9068_apis)
        if not rfc9068_apis <= apis:
            unknown = ", ".join(sorted(rfc9068_apis - apis))
            raise ValueError(f"a token profile for APIs the tenant does not have: {unknown}")
        machines = _machine_clients(client_id, apis, machine_clients or {}, client_grants or {})
        settings = Settings(
            client_id=client_id,
            client_secret=client_secret,
            connections=frozenset(connections),
            grant_types=frozenset(grant_types),
            code_length=code_length,
            code_lifetime=code_lifetime,
            authorization_code_lifetime=authorization_code_lifetime,
            id_token_lifetime=id_token_lifetime,
            trust_forwarded_for=trust_forwarded_for,
            allow_magiclink_verify_without_session=allow_magiclink_verify_without_session,
            fault_delay=fault_delay,
            apis=apis,
            offline_access_apis=offline_access_apis,
            rfc9068_apis=rfc9068_apis,
            access_token_lifetime=access_token_lifetime,
            refresh_reuse_interval=refresh_reuse_interval,
            refresh_absolute_lifetime=refresh_absolute_lifetime,
            refresh_idle_lifetime=refresh_idle_lifetime,
            roles_claim=roles_claim,
            roles=_roles_by_identifier(roles or {}),
            machine_clients=machines,
        )
        self._state = TenantState(
            settings,
            allowed_callbacks=allowed_callbacks,
            allowed_logout_urls=allowed_logout_urls,
            clock=clock,
            on_message=on_message,
        )

    @property
    def base_url(self) -> str:
        """The URL the tenant is reached at, without a trailing slash."""
        return self._state.base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        with self._state.lock:
            self._state.base_url = url.rstrip("/")

    @property
    def issuer(self) -> str:
        """The ``iss`` of every token: :attr:`base_url` with a trailing slash."""
        return self._state.issuer

    @property
    def access_token_lifetime(self) -> int:
        """``expires_in`` of the access tokens issued from now on (changeable, as an
        API's "Token Expiration" is)."""
        return self._state.tokens.access_token_lifetime

    @access_token_lifetime.setter
    def access_token_lifetime(self, seconds: int) -> None:
        with self._state.lock:
            self._state.tokens.access_token_lifetime = seconds

    @property
    def refresh_exchanges(self) -> int:
        """How many refresh-token exchanges were asked for, refused ones included."""
        with self._state.lock:
            return self._state.tokens.refresh_tokens.exchanges

    @property
    def revoked_refresh_families(self) -> int:
        """How many refresh token families were revoked for a reused token."""
        with self._state.lock:
            return self._state.tokens.refresh_tokens.revoked_families

    @property
    def outbox(self) -> list[Message]:
        """A copy of every message sent, oldest first."""
        with self._state.lock:
            return list(self._state.outbox)

    def allow_callback(self, url: str) -> None:
        """Add ``url`` to the application's allowed callback URLs."""
        with self._state.lock:
            self._state.callbacks.add(url)

    def allow_logout_url(self, url: str) -> None:
        """Add ``url`` to the end of the application's allowed logout URLs."""
        with self._state.lock:
            if url not in self._state.logout_urls:
                self._state.logout_urls.append(url)

    def rotate_signing_key(self) -> None:
        """Sign with the published next key from now on, as Auth0's key rotation does.

        The old key stays published (what it signed still verifies) and a
        new next key is published.
        """
        with self._state.lock:
            self._state.tokens.key.rotate()

    def rotate_client_secret(self, secret: str) -> None:
        """Give the application a new client secret, as the dashboard's "Rotate" does:
        the old one is refused from now on (``401 access_denied``)."""
        with self._state.lock:
            self._state.settings = dataclasses.replace(self._state.settings, client_secret=secret)

    def revoke_retired_keys(self) -> None:
        """Stop publishing the keys retired by :meth:`rotate_signing_key`."""
        with self._state.lock:
            self._state.tokens.key.revoke_retired()

    def block_user(self, identifier: str) -> None:
        """Block the user with this email or ``+`` phone number: logins get ``access_denied``."""
        connection = "sms" if identifier.startswith("+") else "email"
        with self._state.lock:
            self._state.users.block(connection, normalise(connection, identifier))

    def add_fault(self, path: str, mode: str, times: int = 1, ms: int | None = None) -> None:
        """Make the next ``times`` requests to ``path`` (0: all, until cleared) fail in
        ``mode``, or, for ``latency``, wait ``ms`` milliseconds first.

        Raises ValueError for an unknown mode, a path not starting with ``/``
        (or under ``/_dev``), a ``times`` below 0, or ``ms`` without ``latency``.
        """
        fault = make_fault(path, mode, times, ms)
        with self._state.lock:
            self._state.faults.add(fault)

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._state.lock:
            self._state.faults.clear()

    def interrupt_stalls(self) -> None:
        """Cut short every "timeout" fault stall, now and until :meth:`allow_stalls`."""
        self._state.halt.set()

    def allow_stalls(self) -> None:
        """Let "timeout" faults stall again (the server serves anew)."""
        self._state.halt.clear()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _Request(environ)
        quota: Quota | None = None
        try:
            response = self._fault(request)
            if response is None:
                readable = _read_ahead(request)
                with self._state.lock:
                    quota = quotas.count(self._state, request, readable)
                response = self._respond(request, readable, quota)
        except ApiError as exc:
            response = exc.response()
        except HTTPException as exc:
            response = json_response(
                {
                    "error": (exc.name or "error").lower().replace(" ", "_"),
                    "error_description": exc.description or "",
                },
                exc.code or 500,
            )
        except Exception:
            # The edge: the tenant's own bug must not become a traceback page.
            logger.exception("dev tenant failed on %s %s", request.method, request.path)
            response = json_response(
                {"error": TENANT_FAILED_ERROR, "error_description": TENANT_FAILED},
                500,
            )
        if quota is not None:  # every answer of a counted request says what is left
            for name, value in quota.headers():
                response.headers[name] = value
        return response(environ, start_response)

    def _fault(self, request: Request) -> Response | None:
        """Wait out, or answer with, the fault pending for the request's path, if any."""
        with self._state.lock:
            fault = self._state.faults.take(request.path)
        return None if fault is None else self._fault_response(fault, request.path)

    def _respond(self, request: Request, readable: bool, quota: Quota | None) -> Response:
        """Answer a request counted as ``quota`` (None: not counted); ``readable`` is False
        for a body too large to read."""
        if quota is not None and not quota.allowed:
            raise ApiError(429, "too_many_requests", RATE_LIMITED)
        methods = _ROUTES.get(request.path)
        if methods is None:
            return json_response({"error": NOT_FOUND_ERROR, "error_description": NOT_FOUND}, 404)
        method = "GET" if request.method == "HEAD" else request.method
        handler = methods.get(method)
        if handler is None:
            response = json_response(
                {"error": METHOD_NOT_ALLOWED_ERROR, "error_description": METHOD_NOT_ALLOWED}, 405
            )
            response.headers["Allow"] = ", ".join(methods)
            return response
        if not readable:
            raise ApiError(413, BODY_TOO_LARGE_ERROR, BODY_TOO_LARGE.format(limit=MAX_BODY_BYTES))
        with self._state.lock:
            return handler(self._state, request)

    def _fault_response(self, fault: Fault, path: str) -> Response | None:
        mode = fault.mode
        if mode == "latency":
            self._state.halt.wait(fault.ms / 1000)
            return None  # then answer as usual
        if mode == "timeout":
            self._state.halt.wait(self._state.settings.fault_delay)
            return None  # then answer as usual
        if mode == "garbage":
            return Response(
                "<html><body>502 Bad Gateway</body></html>", 200, mimetype="application/json"
            )
        if mode == "429":
            family = quotas.family_of(path) or Family.GLOBAL
            with self._state.lock:
                quota = self._state.rate_limits[family].exhausted(FAULT_RETRY_AFTER)
            return ApiError(429, "too_many_requests", RATE_LIMITED).response(quota.headers())
        return Response(
            "<html><head><title>500 Internal Server Error</title></head>"
            "<body><h1>Internal Server Error</h1></body></html>",
            500,
            mimetype="text/html",
        )


def _machine_clients(
    client_id: str,
    apis: frozenset[str],
    secrets: Mapping[str, str],
    grants: Mapping[str, Mapping[str, Iterable[str]]],
) -> dict[str, MachineClient]:
    """The machine clients of ``DevTenant(machine_clients=..., client_grants=...)``."""
    for machine_id, secret in secrets.items():
        if not machine_id or machine_id == client_id:
            raise ValueError(f"machine client id {machine_id!r} must differ from the app's")
        if not secret:
            raise ValueError(f"machine client {machine_id!r} needs a secret")
    unknown = sorted(set(grants) - set(secrets))
    if unknown:
        raise ValueError(f"client grants for clients the tenant does not have: {unknown[0]}")
    clients = {}
    for machine_id, secret in secrets.items():
        granted = grants.get(machine_id)
        if granted is None:
            clients[machine_id] = MachineClient(secret)
            continue
        missing = sorted(set(granted) - apis)
        if missing:
            raise ValueError(f"a client grant for an API the tenant does not have: {missing[0]}")
        scopes = {audience: tuple(dict.fromkeys(s)) for audience, s in granted.items()}
        clients[machine_id] = MachineClient(secret, scopes)
    return clients
