"""``pwless-gate sessions list|revoke``: the operators' view of the session store.

Reads the same ``PWLESS_GATE_*`` settings as the gate and opens the same
store (a SQLite file or Redis). ``--user`` takes the person's Auth0 ``sub``
(``email|…``, ``sms|…``: found through the store's per-user index), or the
email address or phone number they sign in with (found by scanning every
session: the store indexes users by a hash of ``sub`` only). A phone number
without ``+`` is read in ``PWLESS_GATE_DEFAULT_REGION``.

``list`` prints one line per session (user, started, last seen, IP at
sign-in, browser, handle) and a count; ``revoke`` ends the sessions of one
person (``--user``) or everyone's (``--all``) and prints how many. Running
gates stop accepting an ended session within ``session_cache_ttl``.

With the cookie store there is nothing to list or end: one line on stderr
naming ``PWLESS_GATE_STORE``, exit status 2.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from .config import GateConfig
from .identity import InvalidIdentifier, normalise_email, normalise_phone
from .sessions import Session, SessionIndex, oldest_first
from .stores import open_server_side
from .useragents import UNKNOWN


def open_index(config: GateConfig) -> SessionIndex:
    """The store the gate uses, opened for listing; raises :class:`ConfigError` for the
    cookie store (nothing to list) or a store that cannot be opened."""
    kind, backend = open_server_side(
        config,
        "the cookie store keeps each session in its browser, so sessions cannot be listed or ended",
    )
    if kind == "sqlite":
        from .stores.sqlite import SQLiteStore

        return SQLiteStore(backend, keys=config.signing_keys)
    from .stores.redis import RedisStore

    return RedisStore(backend, keys=config.signing_keys)


def find(index: SessionIndex, user: str, default_region: str | None = None) -> list[Session]:
    """The live sessions of ``user``: a ``sub``, or an email address or phone number."""
    found = {s.handle: s for s in index.sessions_of(user)}
    wanted = identifier(user, default_region)
    if wanted is not None:
        for session in index.all_sessions():
            if session.remote_user.casefold() == wanted:
                found.setdefault(session.handle, session)
    return sorted(found.values(), key=oldest_first)


class UnreadableUser(ValueError):
    """A ``--user`` that is neither an email address, a phone number nor a ``sub``."""

    def __init__(self, user: str) -> None:
        super().__init__(
            f"--user {user!r}: cannot read it as an email address, a phone number "
            "(+ and the country code, or set PWLESS_GATE_DEFAULT_REGION) or an Auth0 sub "
            "(email|…, sms|…)"
        )


def identifier(user: str, default_region: str | None = None) -> str | None:
    """``user`` as the gate records who signed in (a lower-case email address, an
    E.164 number), or None for a ``sub`` (it holds ``|``, as Auth0's do).

    Raises :class:`UnreadableUser` when it is none of these: it would match nobody, and
    "0 sessions" would read as an answer."""
    try:
        if "@" in user:
            return normalise_email(user).casefold()
        if "|" not in user:
            return normalise_phone(user, default_region)
    except InvalidIdentifier:
        if "|" not in user:
            raise UnreadableUser(user) from None
    return None


def revoke(index: SessionIndex, sessions: Iterable[Session]) -> int:
    """End ``sessions`` (grouped by person); returns how many the store ended."""
    by_sub: dict[str, set[str]] = {}
    for session in sessions:
        by_sub.setdefault(str(session.claims["sub"]), set()).add(session.handle)
    ended = 0
    for sub, handles in by_sub.items():
        ended += index.revoke_where(sub, _handle_in(handles))
    return ended


def _handle_in(handles: set[str]) -> Callable[[Session], bool]:
    return lambda session: session.handle in handles


def line(session: Session) -> str:
    """One session for ``list``: user, started, last seen, IP, browser, handle."""
    fields = (
        session.remote_user,
        _minute(session.created_at),
        _minute(session.seen_at),
        session.ip or "-",
        session.agent or UNKNOWN,
        session.handle,
    )
    return "  ".join(fields)


def run(
    config: GateConfig,
    action: str,
    *,
    user: str | None = None,
    everyone: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """``list`` or ``revoke``; returns the exit status (0). Raises :class:`ConfigError`
    (the cookie store, a store that cannot be opened) and
    :class:`~pwless_gate.errors.StoreUnavailable`."""
    index = open_index(config)
    if user is not None:
        sessions = find(index, user, config.default_region)
    else:
        sessions = index.all_sessions()
    if action == "list":
        for session in sessions:
            print(line(session), file=out)
        print(_count(len(sessions)), file=out)
        return 0
    if user is None and not everyone:
        raise ValueError("revoke needs --user or --all")
    print(f"ended {_count(revoke(index, sessions))}", file=out)
    return 0


def _count(n: int) -> str:
    return f"{n} session" if n == 1 else f"{n} sessions"


def _minute(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%MZ", time.gmtime(at))
