"""Sessions, configs and cookies the benchmarks share.

No tenant is needed for the hot path: :func:`pwless_gate.testing.session_cookie`
saves a session through the gate's own store, as valid as one made by a login.
"""

from __future__ import annotations

import time
from typing import Any

from pwless_gate import PasswordlessGate
from pwless_gate.sessions import Session, new_session_id
from pwless_gate.testing import session_cookie
from tests.helpers import CLIENT_ID, CLIENT_SECRET

SECRET_KEY = "bench-secret-key-0123456789abcdef"
#: A loopback port nothing listens on: the hot path never calls Auth0.
CLOSED_AUTH0 = "http://127.0.0.1:9"
#: Other cookies a real browser sends along with the gate's.
OTHER_COOKIES = "_ga=GA1.1.123456789.1700000000; theme=dark"


def claims_for(i: int) -> dict[str, Any]:
    """Ten id_token-like claims, distinct per user ``i``."""
    now = int(time.time())
    return {
        "sub": f"email|{i:024x}",
        "email": f"user{i}@example.com",
        "email_verified": True,
        "name": f"user{i}@example.com",
        "nickname": f"user{i}",
        "picture": f"https://s.gravatar.com/avatar/{i:032x}?s=480&r=pg",
        "updated_at": "2025-01-01T00:00:00.000Z",
        "iss": f"{CLOSED_AUTH0}/",  # the gates' tenant: a session of another is refused
        "aud": CLIENT_ID,
        "iat": now,
    }


def make_session(i: int = 0, *, lifetime: float = 12 * 3600) -> Session:
    now = time.time()
    claims = claims_for(i)
    return Session(
        sid=new_session_id(),
        remote_user=claims["email"],
        connection="email",
        claims=claims,
        created_at=now,
        expires_at=now + lifetime,
    )


def gate_settings(**overrides: Any) -> dict[str, Any]:
    """``GateConfig`` keyword arguments for a gate whose Auth0 is a closed port."""
    return {
        "auth0_domain": CLOSED_AUTH0,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "secret_key": SECRET_KEY,
        "allowed_domains": ("*",),
        **({} if {"store", "redis_url"} & overrides.keys() else {"store": "cookie"}),
        **overrides,
    }


def gate_environment(store: str = "cookie") -> dict[str, str]:
    """The ``PWLESS_GATE_*`` variables of :func:`gate_settings` with ``store``, for gunicorn."""
    env = {
        "PWLESS_GATE_AUTH0_DOMAIN": CLOSED_AUTH0,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_SECRET_KEY": SECRET_KEY,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",
    }
    env["PWLESS_GATE_STORE"] = store
    return env


def browser_cookie(gate: PasswordlessGate, i: int = 0) -> str:
    """A browser's ``Cookie`` header: user ``i``'s session at ``gate`` among other cookies."""
    claims = claims_for(i)
    return f"{OTHER_COOKIES}; {session_cookie(gate, email=claims['email'], claims=claims)}"
