"""A plain WSGI app behind pwless-gate, wrapped in Python.

``hello`` is an ordinary WSGI callable. ``make_app`` puts the gate in front of
it; once it is wrapped, ``hello`` only ever runs for a signed-in person (or a
public path), so it can read the user from the environ without checking.

With explicit settings instead of ``PWLESS_GATE_*`` variables::

    app = make_app(GateConfig(auth0_domain="acme.eu.auth0.com", client_id="...",
                              client_secret="...", secret_key="...",
                              allowed_domains=("example.com",)))

Run it (see README.md): ``python examples/plain_wsgi/hello.py``
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from typing import Any

from pwless_gate import GateConfig, PasswordlessGate


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Greet the signed-in person by what the gate put in the environ."""
    # REMOTE_USER is the verified email (or E.164 phone number): enough for
    # anything that only needs a user name.
    remote_user = environ["REMOTE_USER"]
    # pwless_gate.user has the rest: sub (Auth0's stable id), email,
    # phone_number, name, and the verified id_token claims.
    user = environ["pwless_gate.user"]
    page = (
        "<!doctype html><title>Hello</title>"
        f"<p>Hello <strong id='remote-user'>{html.escape(remote_user)}</strong>.</p>"
        f"<p>Your Auth0 id is <code id='sub'>{html.escape(user.sub)}</code>.</p>"
        # The gate's logout page asks for a confirming POST.
        "<p><a href='/_gate/logout'>Sign out</a></p>"
    )
    body = page.encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def make_app(config: GateConfig | None = None) -> PasswordlessGate:
    """``hello`` behind the gate: with ``config``, or else from ``PWLESS_GATE_*`` variables.

    Either way a missing or invalid setting raises ``ConfigError`` here, at
    start-up, not in the middle of a request.
    """
    if config is None:
        return PasswordlessGate.from_env(hello)
    return PasswordlessGate(hello, config)


if __name__ == "__main__":
    from werkzeug.serving import run_simple

    # Werkzeug's development server; in production serve it with gunicorn:
    #   gunicorn --chdir examples/plain_wsgi 'hello:make_app()'
    run_simple("127.0.0.1", int(os.environ.get("PORT", "8000")), make_app(), threaded=True)
