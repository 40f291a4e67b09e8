"""Helpers for testing an application behind the gate, without a tenant.

In the spirit of Flask-Login's ``FlaskLoginClient``: :func:`sign_in` creates
a session in the gate's own store and puts its cookie in a Werkzeug (or
Flask) test client, so the test calls the app through the gate as a
signed-in person::

    from werkzeug.test import Client
    from pwless_gate import GateConfig, PasswordlessGate
    from pwless_gate.testing import sign_in

    gate = PasswordlessGate(app, GateConfig(...))
    client = Client(gate)
    sign_in(client, gate, email="ada@example.com")
    assert client.get("/reports").status_code == 200

:func:`session_cookie` returns the same as a ``Cookie`` header value, for
clients without a cookie jar (``requests``, curl, a Werkzeug ``Client`` made
with ``use_cookies=False``: one with a jar replaces a ``Cookie`` header of the
test's own with the jar's cookies); :func:`session_cookies` as name → value.

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

from werkzeug.test import Client

from .middleware import PasswordlessGate
from .sessions import Session, new_session_id


def session_cookies(
    gate: PasswordlessGate,
    *,
    email: str | None = None,
    phone_number: str | None = None,
    claims: Mapping[str, Any] | None = None,
    lifetime: float | None = None,
    https: bool = False,
    now: float | None = None,
    roles: Sequence[str] | None = None,
    mount: str = "",
) -> dict[str, str]:
    """The cookies (name → value) that ``gate`` admits as the given person: one, or
    two for a long signed-cookie session.

    Give ``email`` or ``phone_number`` (E.164, such as ``+14155550123``).
    ``claims`` are added to (or override) the id_token claims the gate would
    have verified (``sub``, ``email``/``phone_number`` and their ``_verified``
    flags, ``iss``, ``aud``). ``lifetime`` defaults to the gate's
    ``session_lifetime``; ``now`` to the current time (pass the clock the gate
    uses, if it is not the real one). ``https`` picks the ``__Host-`` cookie
    name the gate expects over https; ``mount``, the path a gate mounted under
    one is called at (its ``SCRIPT_NAME``, such as ``/tools``), the names it
    expects there (``__Secure-`` over https). ``roles`` go in the claim the
    gate's ``roles_claim`` names. ``now`` is also the sign-in time rules with
    ``max_age`` look at.

    Raises ``ValueError`` when neither or both identifiers are given, or
    ``roles`` without a ``roles_claim``; :class:`~pwless_gate.errors.SessionTooLarge`
    when the claims do not fit in the signed-cookie store's cookies.

    .. versionadded:: 0.2.0
    """
    value = _save(gate, email, phone_number, claims, lifetime, now, roles)
    return dict(gate.cookies.session_pairs(_environ(https, mount), value))


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
    mount: str = "",
) -> str:
    """A ``Cookie`` header value that ``gate`` admits as the given person.

    For clients without a cookie jar (``requests``, a Werkzeug ``Client`` made with
    ``use_cookies=False``); with a Werkzeug or Flask test client use
    :func:`sign_in`. The arguments, and what is raised, are those of
    :func:`session_cookies`.

    .. versionchanged:: 0.2.0
       ``roles``, ``mount``.
    """
    cookies = session_cookies(
        gate,
        email=email,
        phone_number=phone_number,
        claims=claims,
        lifetime=lifetime,
        https=https,
        now=now,
        roles=roles,
        mount=mount,
    )
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def sign_in(
    client: Client,
    gate: PasswordlessGate,
    *,
    email: str | None = None,
    phone_number: str | None = None,
    claims: Mapping[str, Any] | None = None,
    lifetime: float | None = None,
    https: bool = False,
    now: float | None = None,
    roles: Sequence[str] | None = None,
    mount: str = "",
    domain: str = "localhost",
) -> None:
    """Sign the person in on a Werkzeug (or Flask) test ``client`` of ``gate``: its
    later requests carry the session cookie, as a browser's would.

    ``domain`` is the host the client's requests go to (Werkzeug's default,
    ``localhost``, unless they name another with ``base_url``); the other
    arguments, and what is raised, are those of :func:`session_cookies`. Raises
    ``TypeError`` for a client made with ``use_cookies=False`` (send
    :func:`session_cookie` as its ``Cookie`` header instead).

    .. versionadded:: 0.2.0
    """
    environ = _environ(https, mount)
    cookies = session_cookies(
        gate,
        email=email,
        phone_number=phone_number,
        claims=claims,
        lifetime=lifetime,
        https=https,
        now=now,
        roles=roles,
        mount=mount,
    )
    path = gate.cookies.session_path(environ)
    for name, value in cookies.items():
        client.set_cookie(name, value, domain=domain, path=path)


def _save(
    gate: PasswordlessGate,
    email: str | None,
    phone_number: str | None,
    claims: Mapping[str, Any] | None,
    lifetime: float | None,
    now: float | None,
    roles: Sequence[str] | None,
) -> str:
    """Save the session a sign-in of this person would start; return its cookie value."""
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
    return gate.sessions.save(session)


def _environ(https: bool, mount: str) -> dict[str, str]:
    """The least environ that says which scheme the client used and where the gate is."""
    return {"wsgi.url_scheme": "https" if https else "http", "SCRIPT_NAME": mount}
