"""Where sessions live between requests: signed cookies, a SQLite file or Redis.

Each store implements :class:`pwless_gate.sessions.SessionStore`; the
verified-session cache in :mod:`pwless_gate.sessions` sits in front of any of
them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError
from .cookie import CookieStore

if TYPE_CHECKING:
    from ..config import GateConfig

__all__ = ["CookieStore", "open_server_side"]


def open_server_side(
    config: GateConfig, cookie_store_cannot: str
) -> tuple[Literal["sqlite", "redis"], Any]:
    """The SQLite database or Redis client the gate's settings name, for the operators'
    commands; ``cookie_store_cannot`` says what the cookie store cannot do, in the
    :class:`ConfigError` raised for it."""
    if config.sqlite_path is not None:
        from .sqlite import SQLiteDatabase

        if not os.path.isfile(config.sqlite_path):
            # Never a new, empty store: "ended 0 sessions" there would hide that the
            # gate's own file is elsewhere (another working directory, another setting).
            raise ConfigError(
                config.store_setting,
                f"no SQLite file at {config.sqlite_path}: the gate keeps its state elsewhere "
                "or has not started yet; run this where the gate runs, with its settings",
            )
        return "sqlite", SQLiteDatabase(config.sqlite_path, setting=config.store_setting)
    if config.redis_url is not None:
        from .redis import connect

        redis = connect(
            config.redis_url, timeout=config.redis_timeout, setting=config.store_setting
        )
        return "redis", redis
    raise ConfigError(
        "PWLESS_GATE_STORE",
        f"{cookie_store_cannot}; use a SQLite file (sqlite:///path) or Redis (redis://…)",
    )
