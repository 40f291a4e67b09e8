"""Helpers for testing an application behind the gate, without a tenant.

In the spirit of Flask-Login's ``FlaskLoginClient``: :func:`session_cookie`
creates a session in the gate's own store and returns the ``Cookie`` header
value that carries it, so a test can call the app through the gate as a
signed-in person::

    from werkzeug.test import Client
    from pwless_gate import GateConfig, PasswordlessGate
    from pwless_gate.testing import session_cookie

    gate = PasswordlessGate(app, GateConfig(...))
    client = Client(gate)
    cookie = session_cookie(gate, email="ada@example.com")
    assert client.get("/reports", headers={"Cookie": cookie}).status_code == 200

The session is exactly what a real sign-in creates (same record, same
signature or store entry), so everything after the sign-in is tested for
real. Nothing here talks to Auth0, and nothing here belongs in production
code: anyone who can call it can mint sessions.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .middleware import PasswordlessGate
from .sessions import Session, new_session_id


def session_cookie(
    gate: PasswordlessGate,
    *,
    email: str | None = None,
    phone_number: str | None = None,
    claims: Mapping[str, Any] | None = None,
    lifetime: float | None = None,
    https: bool = False,
    now: float | None = None,
    roles: Sequence[str] | None = None,
) -> str:
    """A ``Cookie`` header value that ``gate`` admits as the given person.

    Give ``email`` or ``phone_number`` (E.164, such as ``+14155550123``).
    ``claims`` are added to (or override) the id_token claims the gate would
    have verified (``sub``, ``email``/``phone_number`` and their ``_verified``
    flags, ``iss``, ``aud``). ``lifetime`` defaults to the gate's
    ``session_lifetime``; ``now`` to the current time (pass the clock the gate
    uses, if it is not the real one). ``https`` picks the ``__Host-`` cookie
    name the gate expects over https. ``roles`` go in the claim the gate's
    ``roles_claim`` names. ``now`` is also the sign-in time rules with
    ``max_age`` look at.

    Raises ``ValueError`` when neither or both identifiers are given, or
    ``roles`` without a ``roles_claim``.

    .. versionchanged:: 0.2.0
       ``roles``.
    """
    if (email is None) == (phone_number is None):
        raise ValueError("give exactly one of email= or phone_number=")
    config = gate.config
    if roles is not None and config.roles_claim is None:
        raise ValueError("roles= needs a gate with roles_claim set")
    identifier = email.lower() if email is not None else str(phone_number)
    connection = "email" if email is not None else "sms"
    digest = hashlib.sha256(identifier.encode()).hexdigest()[:24]
    base: dict[str, Any] = {
        "sub": f"{connection}|{digest}",
        "iss": config.issuer,
        "aud": config.client_id,
    }
    if email is not None:
        base.update(email=identifier, email_verified=True)
    else:
        base.update(phone_number=identifier, phone_number_verified=True)
    if roles is not None and config.roles_claim is not None:
        base[config.roles_claim] = list(roles)
    base.update(claims or {})
    started = time.time() if now is None else now
    session = Session(
        sid=new_session_id(),
        remote_user=identifier,
        connection=connection,
        claims=base,
        created_at=started,
        expires_at=started + (config.session_lifetime if lifetime is None else lifetime),
    )
    value = gate.sessions.save(session)
    return "; ".join(
        header.split(";", 1)[0] for header in gate.cookies.session_headers(_scheme(https), value)
    )


def _scheme(https: bool) -> dict[str, str]:
    """The least environ that says which scheme the client used."""
    return {"wsgi.url_scheme": "https" if https else "http"}
