"""Every setting of the gate, its default, its validation, and ``from_env``.

:class:`GateConfig` is built once, validated in ``__post_init__`` and passed
down; nothing else reads the environment. A bad setting raises
:class:`~pwless_gate.errors.ConfigError` naming it, so start-up stops with one
clear line instead of a request failing later.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import hmac
import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import SplitResult, urlsplit

import idna
import phonenumbers

from . import redis_urls
from .errors import ConfigError
from .identity import (
    ANYONE,
    AllowList,
    InvalidIdentifier,
    email_domain,
    normalise_email,
    normalise_phone,
)
from .languages import SHIPPED, canonical
from .proxies import ProxyTrust, is_loopback, unmapped_network
from .public_paths import is_normal
from .rules import RuleSet, compile_path_regex, control_problem, pattern_problem
from .rules_file import load_rules

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
METHODS = ("email-code", "email-link", "sms-code")
COOKIE_SECURE_CHOICES = ("auto", "true", "false")
ENV_PREFIX = "PWLESS_GATE_"
MIN_SECRET_KEY = 16
#: More clock skew than this between the gate and Auth0 is a broken clock, not leeway.
MAX_CLOCK_LEEWAY = 300
#: The largest value each number setting takes: past it, a typo or ``inf`` (a date that
#: overflows when a cookie is written, a timeout that never ends) would pass start-up
#: and break every sign-in.
NUMBER_LIMITS: dict[str, float] = {
    "session_lifetime": 400 * 86400,  # browsers keep a cookie 400 days at most
    "session_idle_timeout": 400 * 86400,
    "session_cache_size": 10_000_000,
    "session_cache_ttl": 3600,
    "login_lifetime": 86400,
    "code_lifetime": 86400,
    "auth0_timeout": 300,
    "redis_timeout": 300,
    "jwks_min_refresh": 86400,
    "clock_leeway": MAX_CLOCK_LEEWAY,
    "saved_form_max_bytes": 64 * 1024 * 1024,
}
#: The local throttles: name → the setting that holds its ``count/seconds``.
THROTTLES = {
    "send-ip": "throttle_send_per_ip",
    "send-id": "throttle_send_per_identifier",
    "send-id-total": "throttle_send_per_identifier_total",
    "verify-login": "throttle_verify_per_login",
    "verify-id": "throttle_verify_per_identifier",
    "verify-id-total": "throttle_verify_per_identifier_total",
    "app-token-ip": "throttle_app_token_per_ip",
}
#: The longest lifetime ``app_token_max_days`` may allow (ten years).
MAX_APP_TOKEN_DAYS = 3650

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
#: An Auth0 client id (32 letters and digits there; the local tenant takes any such name).
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_COLOUR = re.compile(r"^#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits per ``period`` seconds. ``count == 0`` means no limit."""

    count: int
    period: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        """``"5/900"`` → five per 15 minutes; ``"off"`` → no limit. Raises ``ValueError``.

        Only ``off`` turns a limit off: ``0`` or ``none`` may be meant as "allow
        none", and reading them as "no limit" would open what was meant shut.
        """
        if text.strip().lower() == "off":
            return cls(0, 1)
        match = _LIMIT.match(text)
        if match is None or int(match.group(2)) <= 0 or int(match.group(1)) <= 0:
            raise ValueError(f"{text!r} is not a limit like 5/900 (count/seconds) or off")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def off(self) -> bool:
        return self.count == 0


@dataclass(frozen=True, kw_only=True)
class GateConfig:
    """The gate's settings. Each field maps to a ``PWLESS_GATE_<NAME>`` variable.

    Built once and validated here, in full: a bad setting raises
    :class:`~pwless_gate.errors.ConfigError` naming the variable, before any
    request is served. The allow-list (:attr:`allow`), the throttle limits
    (:attr:`limits`), the proxy trust (:attr:`proxies`) and the signing keys
    are derived here too, so nothing downstream parses a setting again.

    Example::

        config = GateConfig(
            auth0_domain="acme.eu.auth0.com",
            client_id="...",
            client_secret="...",
            secret_key="a long random string",
            methods=("email-code", "email-link"),
            allowed_domains=("acme.example",),
            trusted_proxies="for=1,proto=1",
        )
        config = GateConfig.from_env()  # the same, from PWLESS_GATE_* variables

    .. versionchanged:: 0.2.0
       ``trusted_proxies`` also takes counts per header
       (``"for=1,proto=1,host=1,port=0,prefix=0"``), read as Werkzeug's
       ProxyFix reads them; ``X-Forwarded-Port`` and ``-Prefix`` are
       honoured when trusted. ``redis_timeout`` must be positive and
       ``clock_leeway`` at most 300 seconds. ``allow``, ``limits``,
       ``proxies`` and ``signing_keys`` are derived here.
    """

    auth0_domain: str
    client_id: str
    client_secret: str = field(repr=False)
    methods: tuple[str, ...] = ("email-code",)
    secret_key: str | None = field(default=None, repr=False)
    previous_secret_keys: tuple[str, ...] = field(default=(), repr=False)
    audience: str | None = None
    scope: str = "openid profile email"
    allowed_emails: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    allowed_phones: tuple[str, ...] = ()
    public_paths: tuple[str, ...] = ()
    #: A TOML file of access rules by path, method and host (see :mod:`pwless_gate.rules`).
    rules_file: str | None = None
    #: The id_token claim that carries the person's roles (an Auth0 Action adds it
    #: under a namespace such as ``https://example.com/roles``).
    roles_claim: str | None = None
    public_preflight: bool = False
    logout_paths: tuple[str, ...] = ()
    prefix: str = "/_gate"
    public_url: str | None = None
    session_lifetime: int = 12 * 3600
    session_idle_timeout: int = 0
    session_cache_size: int = 10_000
    session_cache_ttl: float = 5.0
    login_lifetime: int = 900
    code_lifetime: int = 180
    #: Where sessions and throttle counters live: ``sqlite:///path``, ``cookie``,
    #: ``redis://…`` (``rediss://``, ``unix://``), ``redis+sentinel://h:p,h:p/service[/db]``
    #: or ``redis+cluster://h:p,h:p``. Left unset: ``redis_url`` if set, else the SQLite
    #: file ``pwless-gate.sqlite3`` in ``state_dir``.
    store: str | None = field(default=None, repr=False)  # a Redis URL may hold a password
    #: The directory of the default SQLite file (created 0700 if missing); unset: the
    #: working directory. Only for the default: an explicit ``store`` names its own file.
    state_dir: str | None = None
    #: An alias of a Redis ``store``, kept from 0.1.
    redis_url: str | None = field(default=None, repr=False)
    redis_timeout: float = 1.0
    throttle_send_per_ip: str = "30/3600"
    # Per identifier *and* client IP, so one IP cannot use up a person's limit;
    # the ``_total`` ceilings, per identifier alone, stop a guesser using many IPs.
    throttle_send_per_identifier: str = "5/900"
    throttle_send_per_identifier_total: str = "50/3600"
    throttle_verify_per_login: str = "5/900"
    throttle_verify_per_identifier: str = "10/900"
    throttle_verify_per_identifier_total: str = "100/3600"
    #: Refused app tokens per client IP (a wrong token in a tool's settings, or a guesser).
    throttle_app_token_per_ip: str = "10/300"  # noqa: S105 (a limit)
    #: Personal app tokens for tools that cannot sign in (pip, git, CalDAV, scripts).
    app_tokens: bool = False
    #: The longest lifetime a person may give an app token, in days.
    app_token_max_days: int = 90
    trusted_proxies: int | str = 0
    cookie_secure: Literal["auto", "true", "false"] = "auto"
    cookie_name: str = "pwless_gate"
    default_region: str | None = None
    auth0_timeout: float = 5.0
    pass_headers: bool = False
    federated_logout: bool = False
    metrics: bool = False
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    template_dir: str | None = None
    #: The languages pages are shown in (shipped tags, e.g. ``en,de,pt-BR``); the first is
    #: the one for a reader whose ``Accept-Language`` matches none. Default: all shipped.
    languages: tuple[str, ...] = tuple(SHIPPED)
    #: The largest form body kept when a session ended before it was sent (0: none kept).
    saved_form_max_bytes: int = 256 * 1024
    brand_name: str = "Internal tools"
    brand_color: str = "#3b5bdb"
    brand_logo_url: str | None = None
    support_contact: str | None = None
    jwks_min_refresh: float = 30.0
    clock_leeway: int = 60
    #: Machine clients (Auth0 client ids) admitted with a client-credentials bearer
    #: token for ``audience``.
    allowed_clients: tuple[str, ...] = ()
    # Derived in __post_init__; not settings.
    auth0_base_url: str = field(init=False, repr=False)
    issuer: str = field(init=False, repr=False)
    proxies: ProxyTrust = field(init=False, repr=False)
    #: From ``public_url``: ``scheme://host[:port]``, ``host[:port]`` and the path.
    public_origin: str | None = field(init=False, repr=False)
    public_host: str | None = field(init=False, repr=False)
    public_path: str = field(init=False, repr=False)
    limits: Mapping[str, Limit] = field(init=False, repr=False)
    allow: AllowList = field(init=False, repr=False)
    #: ``public_paths`` and the rules file, compiled.
    rules: RuleSet = field(init=False, repr=False)
    metrics_networks: tuple[IPNetwork, ...] = field(init=False, repr=False)
    #: From ``store``: ``cookie``, ``sqlite`` or ``redis``, and the SQLite file's absolute path.
    store_kind: Literal["cookie", "sqlite", "redis"] = field(init=False, repr=False)
    sqlite_path: str | None = field(init=False, repr=False)
    #: The variable that chose the store, for messages: ``PWLESS_GATE_STORE``, its alias,
    #: or ``PWLESS_GATE_STATE_DIR`` for the default file.
    store_setting: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        base_url = _auth0_base_url(self.auth0_domain)
        self._derive("auth0_base_url", base_url)
        self._derive("issuer", base_url + "/")
        self._check_client()
        self._check_methods()
        self._check_secrets()
        self._check_paths()
        self._check_machines()  # before the rules: their client: entries name machines
        self._build_rules()
        self._check_logout_paths()
        self._check_numbers()
        self._check_cookies()
        self._check_branding()
        self._check_languages()
        self._check_store()
        self._check_app_tokens()
        self._build_public_url()
        self._build_proxies()
        self._build_limits()
        self._build_allow_list()
        self._build_metrics_networks()
        self._check_region()

    @property
    def store_is_default(self) -> bool:
        """No store was chosen: state is in the default SQLite file."""
        return self.store_setting == _env("state_dir")

    def _derive(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _check_client(self) -> None:
        for name in ("client_id", "client_secret"):
            if not getattr(self, name).strip():
                raise ConfigError(_env(name), "must not be empty")
        if "openid" not in self.scope.split():
            raise ConfigError(_env("scope"), "must include 'openid'")

    def _check_methods(self) -> None:
        if not self.methods:
            raise ConfigError(_env("methods"), f"choose at least one of {', '.join(METHODS)}")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ConfigError(
                _env("methods"), f"unknown method {unknown[0]!r}; use {', '.join(METHODS)}"
            )
        self._derive("methods", tuple(dict.fromkeys(self.methods)))

    def _check_secrets(self) -> None:
        if self.secret_key is None and not is_loopback(
            urlsplit(self.auth0_base_url).hostname or ""
        ):
            raise ConfigError(
                _env("secret_key"),
                "is required (a random string: python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'); it may be left out only with the local "
                "tenant on loopback, since a key derived from the client secret lets anyone "
                "holding that secret mint sessions",
            )
        for name, keys in (
            ("secret_key", (self.secret_key,) if self.secret_key is not None else ()),
            ("previous_secret_keys", self.previous_secret_keys),
        ):
            if any(len(key) < MIN_SECRET_KEY for key in keys):
                raise ConfigError(_env(name), f"must be at least {MIN_SECRET_KEY} characters")

    def _check_paths(self) -> None:
        segments = self.prefix.split("/")[1:]
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", self.prefix) or {".", ".."} & set(segments):
            raise ConfigError(_env("prefix"), "must look like /_gate (a path, no trailing slash)")
        for entry in self.public_paths:
            _check_public_path(entry)
        if self.template_dir is not None and not os.path.isdir(self.template_dir):
            raise ConfigError(_env("template_dir"), f"{self.template_dir} is not a directory")

    def _build_rules(self) -> None:
        """The roles claim is a claim name; the public paths and the rules file compile."""
        claim = self.roles_claim
        if claim is not None:
            claim = claim.strip()
            if not claim or any(c.isspace() for c in claim):
                raise ConfigError(
                    _env("roles_claim"), "must be a claim name like https://example.com/roles"
                )
            self._derive("roles_claim", claim)
        rules_file = self.rules_file
        if rules_file is not None and (not rules_file.strip() or "\x00" in rules_file):
            raise ConfigError(_env("rules_file"), "must name a TOML file")
        self._derive(
            "rules", load_rules(rules_file, self.public_paths, claim, self.allowed_clients)
        )

    def _check_logout_paths(self) -> None:
        """The app's own logout paths: exact plain paths; a trailing ``/`` is dropped."""
        paths = []
        for entry in self.logout_paths:
            path = entry.strip()
            if (problem := control_problem(path)) is not None:
                raise ConfigError(_env("logout_paths"), problem)
            if not path.startswith("/") or not is_normal(path):
                raise ConfigError(
                    _env("logout_paths"), f"{entry!r} must be a plain path like /logout"
                )
            path = path.rstrip("/")
            if not path:
                raise ConfigError(_env("logout_paths"), "/ would sign everyone out on every visit")
            if path == self.prefix or path.startswith(self.prefix + "/"):
                raise ConfigError(
                    _env("logout_paths"),
                    f"{entry!r} is under the gate's prefix; the gate's own is {self.prefix}/logout",
                )
            paths.append(path)
        self._derive("logout_paths", tuple(dict.fromkeys(paths)))

    def _check_machines(self) -> None:
        """``allowed_clients``: Auth0 client ids, and an ``audience`` their tokens are for."""
        clients = tuple(dict.fromkeys(c.strip() for c in self.allowed_clients if c.strip()))
        for client in clients:
            if not _CLIENT_ID.match(client):
                raise ConfigError(
                    _env("allowed_clients"), f"{client!r} is not a client id (letters, digits, -_.)"
                )
        if clients and not (self.audience or "").strip():
            raise ConfigError(
                _env("allowed_clients"),
                f"needs {_env('audience')}: machines' tokens are checked against that API's "
                "identifier (the audience their client-credentials grant asks for)",
            )
        self._derive("allowed_clients", clients)

    def _check_region(self) -> None:
        """An ISO country code phonenumbers knows, upper-cased (numbers typed without + use it)."""
        if self.default_region is None:
            return
        region = self.default_region.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(
                _env("default_region"), f"{self.default_region!r} is not a country code like GB"
            )
        self._derive("default_region", region)

    def _check_numbers(self) -> None:
        for name, most in NUMBER_LIMITS.items():
            value = getattr(self, name)
            # NaN and infinity first: every comparison with NaN is false.
            if not math.isfinite(value) or value > most:
                raise ConfigError(_env(name), f"must be a number no larger than {most:g}")
        for name in ("session_lifetime", "login_lifetime", "code_lifetime", "session_cache_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(_env(name), "must be a positive number")
        if self.session_idle_timeout < 0:
            raise ConfigError(_env("session_idle_timeout"), "must not be negative")
        for name in ("session_cache_ttl", "auth0_timeout", "redis_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(_env(name), "must be a positive number of seconds")
        if self.jwks_min_refresh < 0:
            raise ConfigError(_env("jwks_min_refresh"), "must not be negative")
        if not 0 <= self.clock_leeway <= MAX_CLOCK_LEEWAY:
            raise ConfigError(
                _env("clock_leeway"),
                f"must be between 0 and {MAX_CLOCK_LEEWAY} seconds (more skew is a broken clock)",
            )

    def _check_cookies(self) -> None:
        if self.cookie_secure not in COOKIE_SECURE_CHOICES:
            raise ConfigError(_env("cookie_secure"), "must be auto, true or false")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,40}", self.cookie_name):
            raise ConfigError(_env("cookie_name"), "letters, digits and _ only")

    def _check_branding(self) -> None:
        if not _COLOUR.match(self.brand_color):
            raise ConfigError(_env("brand_color"), "must be a hex colour like #3b5bdb")
        logo = self.brand_logo_url
        if logo is not None and not (
            logo.startswith(("https://", "data:image/"))
            or (logo.startswith("/") and not logo.startswith("//"))
        ):
            raise ConfigError(_env("brand_logo_url"), "must be an https:// URL or a /path")

    def _check_languages(self) -> None:
        """Shipped languages only, each once, in the order given (the first is the fallback)."""
        tags = []
        for entry in self.languages:
            tag = canonical(entry)
            if tag is None:
                raise ConfigError(
                    _env("languages"),
                    f"{entry.strip()!r} is not a shipped language; use some of "
                    f"{', '.join(SHIPPED)}",
                )
            tags.append(tag)
        if not tags:
            raise ConfigError(_env("languages"), f"name at least one of {', '.join(SHIPPED)}")
        self._derive("languages", tuple(dict.fromkeys(tags)))
        if self.saved_form_max_bytes < 0:
            raise ConfigError(_env("saved_form_max_bytes"), "must not be negative (0: keep none)")

    def _build_public_url(self) -> None:
        origin = host = None
        path = ""
        if self.public_url is not None:
            origin, host, path = _public_url(self.public_url)
        self._derive("public_origin", origin)
        self._derive("public_host", host)
        self._derive("public_path", path)

    def _check_store(self) -> None:
        """``store`` and its alias ``redis_url`` agree; both end up normalised (the Redis
        URL in ``redis_url``, which the Redis store reads). Neither set: the SQLite file
        ``pwless-gate.sqlite3`` in ``state_dir`` or the working directory."""
        if self.redis_url is not None and not redis_urls.is_redis_url(self.redis_url):
            raise ConfigError(
                _env("redis_url"),
                "must be a redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URL",
            )
        store = self.store.strip() if self.store is not None else None
        if store and self.redis_url is not None and store != self.redis_url:
            raise ConfigError(
                _env("store"),
                f"and {_env('redis_url')} are both set and differ; set only {_env('store')}",
            )
        chosen = store or self.redis_url
        if chosen and self.state_dir is not None:
            raise ConfigError(
                _env("state_dir"),
                f"only places the default SQLite file; {_env('store')} names its own "
                "(set one of them)",
            )
        if chosen:
            setting = _env("store") if store else _env("redis_url")
        else:
            setting = _env("state_dir")
            chosen = "sqlite://" + _default_sqlite_path(self.state_dir)
        kind, path = _store(chosen)
        if kind == "redis":
            redis_urls.parse(chosen, setting)  # a malformed Sentinel or Cluster URL stops here
        self._derive("store", chosen)
        self._derive("store_kind", kind)
        self._derive("store_setting", setting)
        self._derive("sqlite_path", path)
        self._derive("redis_url", chosen if kind == "redis" else None)

    def _check_app_tokens(self) -> None:
        """App tokens need a store that keeps them: not the signed-cookie one."""
        if not 1 <= self.app_token_max_days <= MAX_APP_TOKEN_DAYS:
            raise ConfigError(
                _env("app_token_max_days"), f"must be between 1 and {MAX_APP_TOKEN_DAYS} days"
            )
        if self.app_tokens and self.store_kind == "cookie":
            raise ConfigError(
                f"{_env('app_tokens')}/{_env('store')}",
                "app tokens need a store that keeps them: set PWLESS_GATE_STORE to a "
                "SQLite file or Redis, or turn PWLESS_GATE_APP_TOKENS off",
            )

    def _build_proxies(self) -> None:
        try:
            self._derive("proxies", ProxyTrust.parse(self.trusted_proxies))
        except ValueError as exc:
            raise ConfigError(_env("trusted_proxies"), str(exc)) from None

    def _build_limits(self) -> None:
        limits: dict[str, Limit] = {}
        for name, setting in THROTTLES.items():
            try:
                limits[name] = Limit.parse(getattr(self, setting))
            except ValueError as exc:
                raise ConfigError(_env(setting), str(exc)) from None
        self._derive("limits", MappingProxyType(limits))

    def _build_allow_list(self) -> None:
        """Nobody may enter unless allowed: no list at all stops start-up."""
        self._derive("allowed_domains", tuple(_domain(d) for d in self.allowed_domains))
        try:
            emails = frozenset(normalise_email(e) for e in self.allowed_emails)
        except InvalidIdentifier as exc:
            raise ConfigError(_env("allowed_emails"), str(exc)) from None
        try:
            phones = frozenset(
                ANYONE if p.strip() == ANYONE else normalise_phone(p) for p in self.allowed_phones
            )
        except InvalidIdentifier as exc:
            raise ConfigError(_env("allowed_phones"), str(exc)) from None
        allow = AllowList(emails, self.allowed_domains, phones)
        if not (allow.admits_emails or allow.admits_phones):
            raise ConfigError(
                "PWLESS_GATE_ALLOWED_EMAILS/DOMAINS/PHONES",
                "nobody may sign in: list addresses, domains or numbers "
                "(PWLESS_GATE_ALLOWED_DOMAINS=* admits every email address and "
                "PWLESS_GATE_ALLOWED_PHONES=* every phone number, on purpose)",
            )
        email_methods = [m for m in self.methods if m.startswith("email-")]
        if email_methods and not allow.admits_emails:
            raise ConfigError(
                _env("allowed_domains"),
                f"{email_methods[0]} is enabled but no email address may sign in "
                "(set PWLESS_GATE_ALLOWED_EMAILS or _DOMAINS, or remove the method)",
            )
        if "sms-code" in self.methods and not allow.admits_phones:
            raise ConfigError(
                _env("allowed_phones"),
                "sms-code is enabled but no phone number may sign in "
                "(set PWLESS_GATE_ALLOWED_PHONES, or remove the method)",
            )
        self._derive("allow", allow)

    def _build_metrics_networks(self) -> None:
        if self.metrics:
            from . import metrics  # imports prometheus-client only when asked for

            if not metrics.AVAILABLE:
                raise ConfigError(
                    _env("metrics"), "needs prometheus-client: pip install 'pwless-gate[metrics]'"
                )
        self._derive("metrics_networks", self._networks("metrics_allow"))

    def _networks(self, setting: str) -> tuple[IPNetwork, ...]:
        """The IP networks ``setting`` lists, IPv4-mapped ones in their IPv4 form
        (:func:`~.proxies.unmapped_network`), as clients are read; raises
        ``ConfigError`` naming ``setting`` for an entry that is not one."""
        networks = []
        for entry in getattr(self, setting):
            try:
                networks.append(unmapped_network(entry))
            except ValueError as exc:
                raise ConfigError(_env(setting), str(exc)) from None
        return tuple(networks)

    def metrics_allowed(self, ip: str) -> bool:
        """Whether the client at ``ip`` may read ``{prefix}/metrics``. An IPv4-mapped
        address (``::ffff:127.0.0.1``: an IPv4 client on a dual-stack socket) is
        matched in its IPv4 form too."""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        forms: tuple[IPAddress, ...] = (address,)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            forms = (address, address.ipv4_mapped)
        return any(form in network for form in forms for network in self.metrics_networks)

    @property
    def signing_keys(self) -> list[bytes]:
        """The keys that sign cookies and transactions, oldest first.

        ``secret_key`` (after ``previous_secret_keys``) when set; otherwise a key
        derived from the client secret with a fixed label, never the secret itself.
        """
        if self.secret_key:
            return [k.encode() for k in (*self.previous_secret_keys, self.secret_key)]
        derived = hmac.new(
            self.client_secret.encode(), b"pwless-gate signing key v1", hashlib.sha256
        ).digest()
        return [derived]

    @property
    def session_cookie(self) -> str:
        return f"{self.cookie_name}_session"

    @property
    def browser_cookie(self) -> str:
        return f"{self.cookie_name}_browser"

    def cookie_names(self, secure: bool, mounted: bool = False) -> tuple[str, str]:
        """The (session, browser) cookie names.

        Secure cookies are ``__Host-`` prefixed (no subdomain can plant them);
        a gate mounted under a path scopes its cookies to that path, which
        ``__Host-`` forbids, so they are ``__Secure-`` prefixed there (which a
        sibling subdomain can plant: SECURITY.md, **Sessions**).
        """
        prefix = ("__Secure-" if mounted else "__Host-") if secure else ""
        return prefix + self.session_cookie, prefix + self.browser_cookie

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> GateConfig:
        """Build a config from ``PWLESS_GATE_*`` variables (``os.environ`` by default).

        ``overrides`` win over the environment. Raises :class:`ConfigError`.
        """
        environ = os.environ if environ is None else environ
        _refuse_unknown(environ)
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            raw = environ.get(_env(f.name))
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _parse(f.name, str(f.type), raw.strip())
        values.update(_overrides(cls, overrides))
        for required in ("auth0_domain", "client_id", "client_secret"):
            if required not in values:
                raise ConfigError(_env(required), "is required but not set")
        return cls(**values)  # type: ignore[arg-type]


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


#: The Python types each kind of field takes (``bool`` is an ``int``: refused for numbers).
_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "str | None": (str, type(None)),
    "int | str": (int, str),
}


def _overrides(cls: type[GateConfig], overrides: Mapping[str, object]) -> dict[str, object]:
    """Keyword settings (``gate(..., session_lifetime=3600)``) checked as the environment's
    are: a name that is no setting, or a value of the wrong kind, is one
    :class:`ConfigError` naming it (not a ``TypeError`` from deep inside); a string is
    read as the variable's would be."""
    fields = {f.name: str(f.type) for f in dataclasses.fields(cls) if f.init}
    checked: dict[str, object] = {}
    for name, value in overrides.items():
        kind = fields.get(name)
        if kind is None:
            close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"{name}=", f"is not a setting{hint}")
        if isinstance(value, str) and kind not in ("str", "str | None", "int | str"):
            value = _parse(name, kind, value.strip())
        allowed = _KINDS.get(kind)
        wrong_bool = isinstance(value, bool) and kind in ("int", "float")
        if kind.startswith("tuple"):
            if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{name}=", "must be a list of strings")
            value = tuple(value)
        elif allowed is not None and (wrong_bool or not isinstance(value, allowed)):
            raise ConfigError(f"{name}=", f"must be {kind}, not {type(value).__name__}")
        checked[name] = value
    return checked


def settings() -> list[str]:
    """The name of every ``PWLESS_GATE_*`` variable, sorted."""
    return sorted(_env(f.name) for f in dataclasses.fields(GateConfig) if f.init)


def _refuse_unknown(environ: Mapping[str, str]) -> None:
    """A ``PWLESS_GATE_*`` variable that is no setting is a typo: stop, naming the closest."""
    known = settings()
    suffixes = [k[len(ENV_PREFIX) :] for k in known]
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name[len(ENV_PREFIX) :], suffixes, n=1, cutoff=0.6)
            hint = f"; did you mean {ENV_PREFIX}{close[0]}?" if close else ""
            raise ConfigError(name, f"is not a setting{hint}")


def _parse(name: str, type_name: str, raw: str) -> object:
    """Turn one environment string into the field's type."""
    try:
        if type_name.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if type_name == "bool":
            lowered = raw.lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return lowered in ("1", "true", "yes", "on")
        if type_name == "int":
            return int(raw)
        if type_name == "int | str":  # a count, or counts per header (trusted_proxies)
            return int(raw) if raw.isascii() and raw.isdigit() else raw
        if type_name == "float":
            return float(raw)
        if name == "cookie_secure":
            return raw.lower()
    except ValueError:
        raise ConfigError(_env(name), f"cannot read {raw!r} as {type_name}") from None
    return raw


#: The default store's file name, in ``state_dir`` or the working directory.
DEFAULT_SQLITE_FILE = "pwless-gate.sqlite3"


def _default_sqlite_path(state_dir: str | None) -> str:
    if state_dir is not None and (not state_dir.strip() or "\x00" in state_dir):
        raise ConfigError(_env("state_dir"), "must name a directory")
    return os.path.join(os.path.abspath(state_dir or os.curdir), DEFAULT_SQLITE_FILE)


def _store(value: str) -> tuple[Literal["cookie", "sqlite", "redis"], str | None]:
    """``cookie``, a Redis URL, or ``sqlite:///absolute/path`` / ``sqlite://relative/path``
    (relative to the working directory): the kind of store and the SQLite file's path."""
    if value == "cookie":
        return "cookie", None
    if redis_urls.is_redis_url(value):
        return "redis", None
    if value.startswith("sqlite://"):
        path = value[len("sqlite://") :]
        if not path or path.endswith("/") or "?" in path or "#" in path or "\x00" in path:
            raise ConfigError(
                _env("store"), f"{value!r} must name a file, like sqlite:///var/lib/gate.sqlite3"
            )
        return "sqlite", os.path.abspath(path)
    # Only the scheme: a mistyped Redis URL may hold a password (redis:/:pw@host too).
    if "://" in value:
        shown = f"{value.partition('://')[0]}://…"
    elif ":" in value or "@" in value:
        shown = f"{value.partition(':')[0].partition('@')[0]}:…"
    else:
        shown = repr(value)
    raise ConfigError(
        _env("store"),
        f"{shown} is not cookie, sqlite:///path/to/file.sqlite3 "
        "or a redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URL",
    )


def _auth0_base_url(domain: str) -> str:
    """``acme.eu.auth0.com`` → ``https://acme.eu.auth0.com``; full URLs are checked.

    Plain http is accepted only for loopback hosts (the local tenant).
    """
    setting = _env("auth0_domain")
    value = domain.strip().rstrip("/")
    if not value:
        raise ConfigError(setting, "is required but empty")
    if "://" not in value:
        if not _HOSTNAME.match(value.lower()):
            raise ConfigError(setting, f"{domain!r} is not a host name like acme.eu.auth0.com")
        return "https://" + value.lower()
    parts, netloc = _web_url(setting, value, "https://host or a host name")
    if parts.path:
        raise ConfigError(setting, f"{domain!r} must not have a path, query or user")
    return f"{parts.scheme}://{netloc}"


def _web_url(setting: str, value: str, shape: str) -> tuple[SplitResult, str]:
    """Check an http(s) URL setting; return its parts and ``host[:port]``, the default
    port dropped. Plain http only for loopback hosts (local development)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ConfigError(setting, f"{value!r} is not a URL like {shape}") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(setting, f"{value!r} must look like {shape}")
    if not host.isascii():
        # Browsers send an internationalised host in its xn-- form (Host, Origin): so
        # is it compared, and put in the URLs the gate makes.
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise ConfigError(setting, f"{value!r} has a host name that is not valid") from None
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(setting, f"{value!r} must not have a path, query or user")
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigError(setting, "plain http is allowed only for loopback hosts")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}[parts.scheme]:
        netloc += f":{port}"
    return parts, netloc


def _public_url(value: str) -> tuple[str, str, str]:
    """``https://tools.acme.example/tools`` → its origin, ``host[:port]`` and path."""
    setting = _env("public_url")
    parts, netloc = _web_url(setting, value.strip(), "https://tools.acme.example[/path]")
    path = parts.path.rstrip("/")
    if path and not re.fullmatch(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+", path):
        raise ConfigError(setting, f"{parts.path!r} is not a plain path like /tools")
    return f"{parts.scheme}://{netloc}", netloc, path


def _domain(value: str) -> str:
    """An allowed email domain, lower-cased; a leading dot admits subdomains; ``*`` all."""
    domain = value.strip().lower()
    if domain == ANYONE:
        return domain
    dot = "." if domain.startswith(".") else ""
    bare = domain[len(dot) :]
    if not bare.isascii() or "xn--" in bare:
        # An internationalised domain, as Unicode or as its xn-- form: kept in the xn--
        # form addresses are normalised to (the one Auth0 is sent), so either one matches.
        try:
            bare = email_domain(bare)
        except InvalidIdentifier:
            raise ConfigError(
                _env("allowed_domains"), f"{value!r} is not a domain like example.com"
            ) from None
        return dot + bare
    if not _HOSTNAME.match(bare) or "." not in bare:
        raise ConfigError(_env("allowed_domains"), f"{value!r} is not a domain like example.com")
    return domain


def _check_public_path(entry: str) -> None:
    if (problem := control_problem(entry)) is not None:
        raise ConfigError(_env("public_paths"), problem)
    if entry.startswith("^"):
        try:
            compile_path_regex(entry)
        except re.error as exc:
            raise ConfigError(
                _env("public_paths"), f"{entry!r} is not a valid regex: {exc}"
            ) from None
    elif not entry.startswith("/"):
        raise ConfigError(_env("public_paths"), f"{entry!r} must start with / (or ^ for a regex)")
    elif entry.strip("/") == "":
        # A prefix: "/" is every path. Written for the home page, it opens the whole app.
        raise ConfigError(
            _env("public_paths"),
            f"{entry!r} would make every page public; for the home page alone write ^/$",
        )
    elif "%" in entry:
        raise ConfigError(
            _env("public_paths"),
            f"{entry!r} has a %-escape; write the path decoded, as the app sees it",
        )
    elif (problem := pattern_problem(entry)) is not None:
        raise ConfigError(_env("public_paths"), problem)
