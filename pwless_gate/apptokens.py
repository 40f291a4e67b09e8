"""Personal app tokens: for pip, git, calendars and scripts, which cannot sign in.

A signed-in person makes a token on ``{prefix}/tokens`` and gives it to a
tool; the tool sends it as HTTP Basic (user name ``__token__``, none, or the
owner's email or phone number, in any form sign-in takes, the token as
password; or the token as user name and no password, as in pip's
``https://pwg_…@host/``) or as
``Authorization: Bearer pwg_…``. The app then sees the owner exactly as
after a browser sign-in (the claims kept from their session when the token
was made), with ``pwless_gate.auth_method`` = ``app-token``. No cookie is
set and no session is made.

A token is ``pwg_``, 32 random bytes in base62 (43 characters), then a
CRC32 of those characters in base62 (6): 53 characters that secret
scanners can recognise, and that are refused without asking the store when
mistyped. The store keeps only the SHA-256 of a token, beside its record
(owner, name, created, expires, last used to the minute).

:class:`AppTokens` checks the ``Authorization`` header. Verified tokens are
cached by their SHA-256 for ``session_cache_ttl`` (a revoke is seen within
it), so a warm check is one hash and one dictionary read. A refused token
is counted on the per-IP throttle (``app-token-ip``), once per window: the
same wrong credentials sent again are refused without asking the store and
without counting (a calendar retrying a stale token costs nothing; guessing
needs new tokens), and the throttle remembers which it counted
(``app-token-miss``), so another process, or nginx asking a second time,
does not count them again. An IP over the limit is answered 429 without
asking the store, except for a token this process verified before (no
guess); once an IP was refused its next new attempts are counted before the
store is asked: a wrong token reaches the store at most once per window and
process, and an IP at most the limit's count of times. Bearer tokens that
do not start with ``pwg_`` (JWTs from Auth0) and other schemes are left
alone: ``check`` answers None for them.

This module does not decide what to answer (see :mod:`pwless_gate.decide`)
nor render the tokens page (:mod:`pwless_gate.tokens_page`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
import re
import secrets
import string
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cachetools import FIFOCache

from .config import Limit
from .identity import InvalidIdentifier, normalise_phone
from .sessions import CachedSession, Session, User

if TYPE_CHECKING:
    from .throttle import Throttle

log = logging.getLogger("pwless_gate.sessions")

PREFIX = "pwg_"
#: The throttle limit a refused token counts on (per client IP).
THROTTLE_NAME = "app-token-ip"
#: What the refused credentials of each IP are remembered by, shared by processes (so
#: each is counted on the IP's limit once per window).
MISS_NAME = "app-token-miss"
#: The user name that says "the password is a token" (as PyPI's).
TOKEN_USER = "__token__"  # noqa: S105 (a user name, not a secret)
#: How often, at most, a token's "last used" is written (seconds).
USED_EVERY = 60
#: The longest token name kept.
MAX_NAME = 100
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_BYTES = 32
_BODY = 43  # 62**43 > 2**256
_CHECK = 6  # 62**6 > 2**32
TOKEN = re.compile(rf"^{PREFIX}[0-9A-Za-z]{{{_BODY + _CHECK}}}$")
#: What a token id looks like: 96 bits, URL-safe base64 (as a session handle).
TOKEN_ID = re.compile(r"^[A-Za-z0-9_-]{16}$")
_ALNUM = string.ascii_letters + string.digits
#: Negative-cache and per-IP block entries kept in memory at most.
_MAX_REMEMBERED = 10_000


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK)


def new_token() -> str:
    """A new token: ``pwg_``, 256 random bits in base62, a CRC32 checksum in base62."""
    body = _base62(int.from_bytes(secrets.token_bytes(_RANDOM_BYTES), "big"), _BODY)
    return PREFIX + body + _checksum(body)


def well_formed(token: str) -> bool:
    """Whether ``token`` has the shape of a token and its checksum matches."""
    if not TOKEN.match(token):
        return False
    body, check = token[len(PREFIX) : -_CHECK], token[-_CHECK:]
    return hmac.compare_digest(_checksum(body), check)


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of a token: all the store knows of it."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token_id() -> str:
    """The id a token is listed and revoked by: 16 random URL-safe characters (about 96
    bits), not derived from the token. It never starts with ``-``, which a command line
    would take for an option (``pwless-gate tokens revoke --token-id -x…``)."""
    return secrets.choice(_ALNUM) + secrets.token_urlsafe(12)[1:]


@dataclass(frozen=True, slots=True)
class AppToken:
    """One app token as stored: never the token itself, only its hash (``key``)."""

    key: str
    token_id: str
    sub: str
    remote_user: str
    connection: str
    claims: Mapping[str, Any]
    name: str
    created_at: float
    expires_at: float
    #: Last used, to the minute (0: never).
    used_at: float = 0.0

    def to_record(self) -> dict[str, Any]:
        """The stored record (without ``key`` and ``used_at``, which are kept beside it)."""
        return {
            "id": self.token_id,
            "sub": self.sub,
            "u": self.remote_user,
            "c": self.connection,
            "cl": dict(self.claims),
            "n": self.name,
            "ca": int(self.created_at),
            "ex": int(self.expires_at),
        }

    @classmethod
    def from_record(cls, key: str, record: Mapping[str, Any], used_at: float = 0.0) -> AppToken:
        """Raises ``KeyError``/``TypeError``/``ValueError`` on a malformed record."""
        claims = record["cl"]
        if not isinstance(claims, dict) or claims.get("sub") != record["sub"]:
            raise ValueError("token record has no claims")
        if not TOKEN_ID.match(str(record["id"])):
            raise ValueError("token record has no id")
        return cls(
            key=key,
            token_id=str(record["id"]),
            sub=str(record["sub"]),
            remote_user=str(record["u"]),
            connection=str(record["c"]),
            claims=claims,
            name=str(record["n"])[:MAX_NAME],
            created_at=float(record["ca"]),
            expires_at=float(record["ex"]),
            used_at=float(used_at or 0),
        )


def newest_first(token: AppToken) -> tuple[float, str]:
    """The sort key of listings: the newest token first (a stable order)."""
    return (-token.created_at, token.token_id)


@runtime_checkable
class TokenStore(Protocol):
    """Where app tokens live (SQLite or Redis), keyed by the token's SHA-256."""

    def add_token(self, token: AppToken) -> None:
        """Store a new token."""

    def find_token(self, key: str) -> AppToken | None:
        """The live token whose SHA-256 is ``key``, or None."""

    def mark_token_used(self, key: str, at: float) -> bool | None:
        """Record a use at ``at``: True for the first use, False for a later one,
        None when the token is gone."""

    def tokens_of(self, sub: str) -> list[AppToken]:
        """The live tokens of the user ``sub``, newest first."""

    def all_tokens(self) -> list[AppToken]:
        """Every live token, newest first (a scan: for operators)."""

    def revoke_tokens(self, sub: str, select: Callable[[AppToken], bool]) -> int:
        """Delete the live tokens of ``sub`` that ``select`` picks; return how many."""


#: ``audit(event, ip=…, identifier=…, reason=…)``, as :class:`~pwless_gate.audit.Audit`.
AuditFn = Callable[..., None]


def credentials(header: str) -> tuple[str | None, str] | None:
    """The (user name, token) an ``Authorization`` header carries, or None if it is
    not for app tokens (another scheme, a Bearer token not starting with ``pwg_``).

    A Basic header whose password is no token gives ``(user, "")``: credentials
    that are ours to refuse (and the app's own, unless :func:`holds_token` says
    they hold a token). A Bearer token gives a user name of None. An empty user
    name is :data:`TOKEN_USER`'s, and so is a token as the user name with an empty
    password (``https://pwg_…@host/simple/``, the form pip's documentation shows
    for tokens); with a password (``pwg_…:x-oauth-basic``) it gives
    ``(token, "")``, refused.
    """
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer":
        return (None, value) if value.startswith(PREFIX) else None
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return ("", "")
    user, _, password = decoded.partition(":")
    if not password and user.startswith(PREFIX):
        return (TOKEN_USER, user)
    return (user or TOKEN_USER, password) if password.startswith(PREFIX) else (user, "")


def holds_token(header: str) -> bool:
    """Whether an ``Authorization`` header carries app token credentials (a token, right
    or wrong, as the password, the Bearer token or the Basic user name, whatever the
    password beside it): the gate's own, which never reach the app."""
    found = credentials(header)
    if found is None:
        return False
    user, token = found
    return bool(token) or (user is not None and user.startswith(PREFIX))


def _user_matches(user: str | None, token: AppToken, default_region: str | None) -> bool:
    """The Basic user name goes with the token: ``__token__`` or the owner's identifier."""
    if user is None or user == TOKEN_USER:
        return True
    return _names(user, token.remote_user, token.connection, default_region)


def _names(user: str, remote_user: str, connection: str, default_region: str | None) -> bool:
    """Whether a Basic user name names the owner ``remote_user`` (of ``connection``): an
    email address in any case; a phone number as the sign-in form reads it (spaces,
    dashes, a national form in ``default_region``), one it cannot read naming nobody."""
    if user.strip().casefold() == remote_user.casefold():
        return True
    if connection != "sms":
        return False
    try:
        return normalise_phone(user, default_region) == remote_user
    except InvalidIdentifier:
        return False


def _cached(token: AppToken, fresh_until: float, roles_claim: str | None = None) -> CachedSession:
    """The token as the hot path forwards it: the owner as after a browser sign-in."""
    session = Session(
        sid="",
        remote_user=token.remote_user,
        connection=token.connection,
        claims=token.claims,
        created_at=token.created_at,
        expires_at=token.expires_at,
        handle=token.token_id,
    )
    user = User.from_claims(token.claims, roles_claim)
    return CachedSession(
        session=session,
        user=user,
        environ={
            "REMOTE_USER": token.remote_user,
            "pwless_gate.user": user,
            "pwless_gate.auth_method": "app-token",
        },
        fresh_until=min(fresh_until, token.expires_at),
    )


class AppTokens:
    """Checks app tokens in ``Authorization`` headers and keeps the verified ones cached.

    ``store`` keeps the tokens; ``throttle`` and ``limit`` count refused
    attempts per client IP (``client_ip`` reads it from the environ, through
    trusted proxies); ``admit`` says whether the allow-list still admits a
    token's owner; ``issued_here`` whether a token's claims (kept from the
    session it was made in) come from the gate's tenant and client, so a token
    made under another tenant or client is refused (reason ``other_client``);
    ``audit`` writes the audit events; ``roles_claim`` names the claim the
    owners' roles are read from; ``default_region`` reads phone numbers given as
    user names without ``+``. One per gate, shared by
    threads: reads of the cache take no lock, as in
    :class:`~pwless_gate.sessions.SessionCache`.
    """

    def __init__(
        self,
        store: TokenStore,
        *,
        throttle: Throttle,
        limit: Limit,
        client_ip: Callable[[Mapping[str, Any]], str],
        admit: Callable[[AppToken], bool] | None = None,
        issued_here: Callable[[Mapping[str, Any]], bool] | None = None,
        audit: AuditFn | None = None,
        max_days: int = 90,
        ttl: float = 5.0,
        maxsize: int = 10_000,
        clock: Callable[[], float] = time.time,
        roles_claim: str | None = None,
        default_region: str | None = None,
    ) -> None:
        self.store = store
        self.roles_claim = roles_claim
        self.default_region = default_region
        self.max_days = max_days
        self._throttle = throttle
        self._limit = limit
        self._client_ip = client_ip
        self._admit = admit
        self._issued_here = issued_here
        self._audit = audit
        self._ttl = ttl
        self._clock = clock
        self._cache: FIFOCache[str, CachedSession] = FIFOCache(maxsize=maxsize)
        self._lock = threading.Lock()
        #: Refused hashes → until when they are refused without asking the store.
        self._misses: FIFOCache[str, float] = FIFOCache(maxsize=_MAX_REMEMBERED)
        #: Client IPs over the limit → until when (refused without asking the store).
        self._blocked: FIFOCache[str, float] = FIFOCache(maxsize=_MAX_REMEMBERED)
        #: Client IPs refused lately → until when their attempts are counted before lookups.
        self._suspects: FIFOCache[str, float] = FIFOCache(maxsize=_MAX_REMEMBERED)
        #: How long a refused token is remembered: the throttle's window (or the cache TTL).
        self._miss_for = float(limit.period) if not limit.off else ttl

    def __len__(self) -> int:
        return len(self._cache)

    # -- checking ---------------------------------------------------------------------

    def check(self, headers: Mapping[str, Any]) -> CachedSession | int | None:
        """The owner of the token in ``headers["HTTP_AUTHORIZATION"]``, as a cached entry;
        or, when the header carries credentials that fail, the seconds to wait (0: 401,
        more: 429); or None when there are no credentials of ours.

        Raises :class:`~pwless_gate.errors.StoreUnavailable` when the store (or the
        throttle's store) does not answer.
        """
        header = headers.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        found = credentials(header)
        if found is None:
            return None
        user, token = found
        key = token_hash(token) if token else ""
        try:
            entry: CachedSession | None = self._cache[key]
        except KeyError:
            entry = None
        now = self._clock()
        if (
            entry is not None
            and now < entry.fresh_until
            and (user is None or user == TOKEN_USER or self._same(user, entry))
        ):
            return entry
        return self._check_slowly(headers, header, user, token, key, now)

    def _check_slowly(
        self,
        headers: Mapping[str, Any],
        header: str,
        user: str | None,
        token: str,
        key: str,
        now: float,
    ) -> CachedSession | int:
        ip = self._client_ip(headers)
        formed = well_formed(token)
        # The credentials as sent: what a refusal that is not the token's own (no token,
        # a wrong user name for a good one) is remembered by.
        sent = token_hash(header.strip())
        with self._lock:
            blocked = self._blocked.get(ip, 0.0)
            missed = self._misses.get(sent, 0.0) > now or (
                formed and self._misses.get(key, 0.0) > now
            )
            suspect = self._suspects.get(ip, 0.0) > now
            # Verified here before (and not refused since): no guess, whoever sends it.
            known = formed and key in self._cache
        if blocked > now and not known:
            return max(1, math.ceil(blocked - now))
        if missed:
            # Refused lately: refused again without the store, and not counted. A client
            # retrying a stale token costs nothing, and guessing needs new tokens.
            return self._refuse(ip, user, "", "repeat", now)
        if not formed:
            return self._refuse(ip, user, sent, "malformed" if not token else "unknown", now)
        counted = False
        if suspect and not known:
            # This IP was refused lately: count the attempt before asking the store,
            # so the attempt past the limit is never looked up.
            wait = self._count(ip, now)
            if wait:
                return wait
            counted = True
        found = self.store.find_token(key)
        if found is None or found.expires_at <= now:
            self.forget(key)
            return self._refuse(ip, user, key, "unknown", now, counted=counted)
        if self._issued_here is not None and not self._issued_here(found.claims):
            self.forget(key)
            return self._refuse(
                ip, user or found.remote_user, key, "other_client", now, counted=counted
            )
        if self._admit is not None and not self._admit(found):
            self.forget(key)
            return self._refuse(
                ip, user or found.remote_user, key, "allow_list", now, counted=counted
            )
        if not _user_matches(user, found, self.default_region):
            return self._refuse(ip, user, sent, "wrong_user", now, counted=counted)
        if now - found.used_at >= USED_EVERY:
            self._used(found, ip, now)
        entry = _cached(found, now + self._ttl, self.roles_claim)
        with self._lock:
            self._cache[key] = entry
            if suspect:
                # A good token from this IP: its next uses are not counted as attempts
                # (a calendar polling after one mistyped password would run into 429).
                self._suspects.pop(ip, None)
        return entry

    def _same(self, user: str, entry: CachedSession) -> bool:
        session = entry.session
        return _names(user, session.remote_user, session.connection, self.default_region)

    def _used(self, token: AppToken, ip: str, now: float) -> None:
        first = self.store.mark_token_used(token.key, now - now % USED_EVERY)
        if first and self._audit is not None:
            self._audit("app_token_first_use", ip=ip, identifier=token.remote_user)

    def _refuse(
        self,
        ip: str,
        user: str | None,
        miss: str,
        reason: str,
        now: float,
        *,
        counted: bool = False,
    ) -> int:
        """Refuse credentials remembered as ``miss`` (a hash; "" when they were refused
        lately already); 0 (answer 401), or the seconds the IP must wait (429).

        Credentials are counted on the IP's limit once per window, in whichever process
        refuses them first (unless ``counted`` already): a repeat costs the store
        nothing, so only new credentials, which guessing needs, count.
        """
        if self._audit is not None:
            # A token sent as the user name (with a password) is no one's name to log.
            who = user if user and user != TOKEN_USER and not user.startswith(PREFIX) else None
            self._audit("app_token_refused", ip=ip, identifier=who, reason=reason)
        if not miss:
            return 0
        with self._lock:
            self._misses[miss] = now + self._miss_for
        if self._limit.off:
            return 0
        # Another process (or this one's earlier memory) may have counted them: nginx's
        # error_page asks the gate again after {prefix}/auth refused, maybe another worker.
        new = self._throttle.first(MISS_NAME, f"{ip} {miss}", self._limit.period)
        if not new:
            return 0
        with self._lock:
            self._suspects[ip] = now + self._miss_for
        return 0 if counted else self._count(ip, now)

    def _count(self, ip: str, now: float) -> int:
        """One hit on the IP's limit; the seconds to wait when it is used up (0: counted)."""
        wait = self._throttle.hit(THROTTLE_NAME, ip, self._limit)
        if wait:
            with self._lock:
                self._blocked[ip] = now + wait
        return wait

    def forget(self, key: str) -> None:
        with self._lock:
            self._cache.pop(key, None)

    # -- the owner's tokens -----------------------------------------------------------

    def create(self, owner: Session, name: str, days: int, *, ip: str = "") -> tuple[str, AppToken]:
        """Make a token for the owner of ``owner`` (their session: its claims are kept);
        returns the token (shown once, never stored) and its record."""
        token = new_token()
        now = self._clock()
        record = AppToken(
            key=token_hash(token),
            token_id=new_token_id(),
            sub=str(owner.claims["sub"]),
            remote_user=owner.remote_user,
            connection=owner.connection,
            claims=dict(owner.claims),
            name=name,
            created_at=now,
            expires_at=now + days * 86400,
        )
        self.store.add_token(record)
        if self._audit is not None:
            self._audit(
                "app_token_created", ip=ip, identifier=owner.remote_user, reason=f"days:{days}"
            )
        return token, record

    def tokens_of(self, sub: str) -> list[AppToken]:
        return self.store.tokens_of(sub)

    def revoke_where(
        self,
        sub: str,
        select: Callable[[AppToken], bool],
        *,
        ip: str = "",
        who: str | None = None,
        how: str = "",
    ) -> int:
        """Revoke the tokens of ``sub`` that ``select`` picks, here and in the store;
        returns how many the store revoked. Other processes see it within the TTL."""
        picked = {t.token_id for t in self.store.tokens_of(sub) if select(t)}
        with self._lock:
            mine = [
                k
                for k, v in self._cache.items()
                if v.session.claims.get("sub") == sub and v.session.handle in picked
            ]
            for key in mine:
                self._cache.pop(key, None)
        count = self.store.revoke_tokens(sub, lambda t: t.token_id in picked) if picked else 0
        if count and self._audit is not None:
            self._audit("app_token_revoked", ip=ip, identifier=who, reason=f"{how}:{count}")
        return count

    def revoke_user(
        self, sub: str, *, ip: str = "", who: str | None = None, how: str = "all"
    ) -> int:
        """Revoke every token of ``sub``; returns how many."""
        return self.revoke_where(sub, lambda _: True, ip=ip, who=who, how=how)
