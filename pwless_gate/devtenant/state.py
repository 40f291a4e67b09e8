"""Everything the local tenant remembers, behind one lock."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from werkzeug.wrappers import Request

from .codes import AuthorizationCodes, OneTimeCodes, constant_time_equal
from .constants import (
    ACCESS_TOKEN_LIFETIME,
    DEFAULT_BASE_URL,
    REFRESH_ABSOLUTE_LIFETIME,
    REFRESH_IDLE_LIFETIME,
    REFRESH_REUSE_INTERVAL,
    SERVICE_NOT_FOUND,
)
from .faults import Faults
from .httpio import ApiError
from .keys import KeyRing
from .limits import BruteForceGuard, RateLimits, SuspiciousIps
from .messages import Message
from .refresh import RefreshTokens
from .tokens import TokenIssuer
from .users import Users


@dataclass(frozen=True)
class MachineClient:
    """A machine-to-machine application: its secret and its client grants.

    ``grants`` maps an API identifier to the scopes granted there; None grants
    every API of the tenant with no scopes (as if each had been authorised in
    the dashboard without picking permissions).
    """

    secret: str
    grants: Mapping[str, tuple[str, ...]] | None = None

    def granted(self, audience: str, apis: frozenset[str]) -> tuple[str, ...] | None:
        """The scopes granted for ``audience``, or None when not authorised for it."""
        if audience not in apis:
            return None
        if self.grants is None:
            return ()
        return self.grants.get(audience)


@dataclass(frozen=True)
class Settings:
    """The tenant's fixed configuration: one application and its connections."""

    client_id: str
    client_secret: str
    connections: frozenset[str]
    grant_types: frozenset[str]
    code_length: int
    code_lifetime: float
    #: Seconds an authorization code from a magic link may be redeemed in.
    authorization_code_lifetime: float
    id_token_lifetime: int
    trust_forwarded_for: bool
    allow_magiclink_verify_without_session: bool
    fault_delay: float
    #: Identifiers of the APIs the tenant knows; any other ``audience`` is refused.
    apis: frozenset[str] = frozenset()
    #: The APIs with "Allow Offline Access" on: only their audiences get refresh tokens.
    offline_access_apis: frozenset[str] = frozenset()
    #: The APIs whose "JSON Web Token (JWT) Profile" is RFC 9068 (the others: Auth0's).
    rfc9068_apis: frozenset[str] = frozenset()
    access_token_lifetime: int = ACCESS_TOKEN_LIFETIME
    refresh_reuse_interval: float = REFRESH_REUSE_INTERVAL
    refresh_absolute_lifetime: float = REFRESH_ABSOLUTE_LIFETIME
    refresh_idle_lifetime: float = REFRESH_IDLE_LIFETIME
    #: The custom claim a post-login Action puts the user's roles in (None: no Action).
    roles_claim: str | None = None
    #: Roles assigned to users, by identifier (lower-cased email or E.164 number).
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Machine-to-machine applications by client id (the client-credentials grant).
    machine_clients: Mapping[str, MachineClient] = field(default_factory=dict)

    def check_audience(self, audience: str | None) -> None:
        """Refuse an ``audience`` that names no API of the tenant, as Auth0 does."""
        if audience is not None and audience not in self.apis:
            raise ApiError(403, "access_denied", SERVICE_NOT_FOUND.format(audience=audience))

    def allows_offline_access(self, audience: str | None) -> bool:
        """True when a login for ``audience`` may get a refresh token (no audience: the
        ``/userinfo`` access token, which may)."""
        return audience is None or audience in self.offline_access_apis


class TenantState:
    """The tenant's mutable state. Hold ``lock`` while reading or changing any of it."""

    def __init__(
        self,
        settings: Settings,
        *,
        allowed_callbacks: Iterable[str],
        allowed_logout_urls: Iterable[str],
        clock: Callable[[], float],
        on_message: Callable[[Message], None] | None,
    ) -> None:
        self.lock = threading.RLock()
        self.settings = settings
        self.clock = clock
        self.base_url = DEFAULT_BASE_URL
        self.callbacks = set(allowed_callbacks)
        #: In order: ``/v2/logout`` without ``returnTo`` goes to the first.
        self.logout_urls = list(dict.fromkeys(allowed_logout_urls))
        self.codes = OneTimeCodes(settings.code_length, settings.code_lifetime, clock)
        self.authorization_codes = AuthorizationCodes(clock, settings.authorization_code_lifetime)
        self.users = Users(clock)
        refresh_tokens = RefreshTokens(
            clock,
            reuse_interval=settings.refresh_reuse_interval,
            absolute_lifetime=settings.refresh_absolute_lifetime,
            idle_lifetime=settings.refresh_idle_lifetime,
        )
        self.tokens = TokenIssuer(
            KeyRing(),
            clock,
            settings.id_token_lifetime,
            refresh_tokens=refresh_tokens,
            access_token_lifetime=settings.access_token_lifetime,
            roles_claim=settings.roles_claim,
            roles=settings.roles,
            rfc9068_apis=settings.rfc9068_apis,
        )
        self.rate_limits = RateLimits(clock)
        self.brute_force = BruteForceGuard(clock)
        self.suspicious_ips = SuspiciousIps(clock)
        self.faults = Faults()
        self.outbox: list[Message] = []
        #: Set when the server stops, to cut "timeout" fault stalls short.
        self.halt = threading.Event()
        self._on_message = on_message

    @property
    def issuer(self) -> str:
        """The ``iss`` of every token: the base URL with a trailing slash."""
        return self.base_url.rstrip("/") + "/"

    def url(self, path: str) -> str:
        """Return the absolute URL of one of the tenant's paths."""
        return self.base_url.rstrip("/") + path

    def send(self, message: Message) -> None:
        """Keep ``message`` in the outbox and hand it to the ``on_message`` callback."""
        self.outbox.append(message)
        if self._on_message is not None:
            self._on_message(message)

    def authenticated(self, body: dict[str, object]) -> bool:
        """Return True when ``body`` carries this application's id and correct secret."""
        client_id, secret = body.get("client_id"), body.get("client_secret")
        return (
            isinstance(client_id, str)
            and isinstance(secret, str)
            and constant_time_equal(client_id, self.settings.client_id)
            and constant_time_equal(secret, self.settings.client_secret)
        )

    def authenticated_client(self, body: dict[str, object]) -> str | None:
        """The id of the application (this one or a machine client) whose id and secret
        ``body`` carries, or None."""
        if self.authenticated(body):
            return self.settings.client_id
        client_id, secret = body.get("client_id"), body.get("client_secret")
        if not isinstance(client_id, str) or not isinstance(secret, str):
            return None
        machine = self.settings.machine_clients.get(client_id)
        if machine is None or not constant_time_equal(secret, machine.secret):
            return None
        return client_id

    def knows_client(self, client_id: object) -> bool:
        """Whether ``client_id`` names this application or one of the machine clients."""
        if not isinstance(client_id, str):
            return False
        return (
            constant_time_equal(client_id, self.settings.client_id)
            or client_id in self.settings.machine_clients
        )

    def client_ip(self, request: Request, body: dict[str, object]) -> str:
        """Return the IP a request counts against.

        The ``auth0-forwarded-for`` header names it only when the request is
        authenticated with the client secret and the application trusts the
        header; otherwise, or when the header is not one IP address, the
        peer's address does.
        """
        forwarded = request.headers.get("auth0-forwarded-for", "").strip()
        if forwarded and self.settings.trust_forwarded_for and self.authenticated(body):
            try:
                return str(ipaddress.ip_address(forwarded))
            except ValueError:
                pass
        return request.remote_addr or ""
