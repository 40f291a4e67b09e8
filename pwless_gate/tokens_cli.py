"""``pwless-gate tokens list|revoke``: the operators' view of the app tokens.

Reads the same ``PWLESS_GATE_*`` settings as the gate and opens the same
store (a SQLite file or Redis). ``--user`` takes the person's Auth0 ``sub``,
or the email address or phone number they sign in with, as
``pwless-gate sessions`` does. ``list`` prints one line per live token
(owner, name, made, expires, last used, token id) and a count; ``revoke``
revokes one person's tokens (``--user``) or one token (``--token-id``) and
prints how many. Running gates refuse a revoked token within
``session_cache_ttl``. The tokens themselves are never shown: the store
does not have them.

With the cookie store there are no app tokens: one line on stderr naming
``PWLESS_GATE_STORE``, exit status 2.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from .apptokens import AppToken, TokenStore, newest_first
from .config import GateConfig
from .sessions_cli import identifier
from .stores import open_server_side


def open_tokens(config: GateConfig) -> TokenStore:
    """The token store the gate uses; raises :class:`ConfigError` for the cookie store."""
    kind, backend = open_server_side(config, "the cookie store keeps no app tokens")
    if kind == "sqlite":
        from .stores.sqlite import SQLiteTokenStore

        return SQLiteTokenStore(backend)
    from .stores.redis import RedisTokenStore

    return RedisTokenStore(backend)


def find(store: TokenStore, user: str, default_region: str | None = None) -> list[AppToken]:
    """The live tokens of ``user``: a ``sub``, or an email address or phone number."""
    found = {t.token_id: t for t in store.tokens_of(user)}
    wanted = identifier(user, default_region)
    if wanted is not None:
        for token in store.all_tokens():
            if token.remote_user.casefold() == wanted:
                found.setdefault(token.token_id, token)
    return sorted(found.values(), key=newest_first)


def revoke(store: TokenStore, tokens: Iterable[AppToken]) -> int:
    """Revoke ``tokens`` (grouped by owner); returns how many the store revoked."""
    by_sub: dict[str, set[str]] = {}
    for token in tokens:
        by_sub.setdefault(token.sub, set()).add(token.token_id)
    return sum(store.revoke_tokens(sub, _id_in(ids)) for sub, ids in by_sub.items())


def _id_in(ids: set[str]) -> Callable[[AppToken], bool]:
    return lambda token: token.token_id in ids


def line(token: AppToken) -> str:
    """One token for ``list``: owner, name, made, expires, last used, token id."""
    used = _minute(token.used_at) if token.used_at else "never"
    fields = (
        token.remote_user,
        repr(token.name),
        _minute(token.created_at),
        _minute(token.expires_at),
        used,
        token.token_id,
    )
    return "  ".join(fields)


def run(
    config: GateConfig,
    action: str,
    *,
    user: str | None = None,
    token_id: str | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """``list`` or ``revoke``; returns the exit status (0, or 1 when ``--token-id``
    names no live token). Raises :class:`ConfigError` and
    :class:`~pwless_gate.errors.StoreUnavailable`."""
    store = open_tokens(config)
    tokens = store.all_tokens() if user is None else find(store, user, config.default_region)
    if token_id is not None:
        tokens = [t for t in tokens if t.token_id == token_id]
    if action == "list":
        for token in tokens:
            print(line(token), file=out)
        print(_count(len(tokens)), file=out)
        return 0
    if user is None and token_id is None:
        raise ValueError("revoke needs --user or --token-id")
    count = revoke(store, tokens)
    print(f"revoked {_count(count)}", file=out)
    return 0 if count or token_id is None else 1


def _count(n: int) -> str:
    return f"{n} token" if n == 1 else f"{n} tokens"


def _minute(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%MZ", time.gmtime(at))
