"""A Flask app behind pwless-gate.

The gate wraps ``app.wsgi_app``, not ``app``: the Flask object stays the
Flask object (``app.test_client()``, ``flask run`` and extensions keep
working) while every request passes the gate before Flask sees it. Views
read the user from ``request.environ``; they never run for a visitor who has
not signed in.

Run it (see README.md): ``flask --app examples/flask_app/notes run --port 8000``
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template_string, request
from flask.typing import ResponseReturnValue

from pwless_gate import GateConfig, PasswordlessGate, User

PAGE = """<!doctype html>
<title>Notes</title>
<h1>Notes</h1>
<p>Signed in as <strong id="email">{{ user.email or user.phone_number }}</strong>
({{ user.name or "no name" }}).</p>
<p><a href="{{ logout }}">Sign out</a></p>
"""


def current_user() -> User:
    """The person the gate verified for this request."""
    user: User = request.environ["pwless_gate.user"]
    return user


def create_app(config: GateConfig | None = None) -> Flask:
    """The Flask app, gated; ``config`` defaults to the ``PWLESS_GATE_*`` variables."""
    app = Flask(__name__)

    @app.get("/")
    def index() -> ResponseReturnValue:
        # Jinja2 escapes the values: an email address is user input too.
        return render_template_string(PAGE, user=current_user(), logout="/_gate/logout")

    @app.get("/api/me")
    def me() -> ResponseReturnValue:
        user = current_user()
        return jsonify(
            remote_user=request.environ["REMOTE_USER"],
            sub=user.sub,
            email=user.email,
            name=user.name,
        )

    # Wrapping wsgi_app keeps the gate outside Flask's request handling, so
    # the gate's own pages (/_gate/...) never reach Flask's routing.
    if config is None:
        app.wsgi_app = PasswordlessGate.from_env(app.wsgi_app)  # type: ignore[method-assign]
    else:
        app.wsgi_app = PasswordlessGate(app.wsgi_app, config)  # type: ignore[method-assign]
    return app
