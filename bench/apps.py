"""The apps the benchmarks serve: a hello-world WSGI app, a do-nothing middleware,
and two Flask apps (bare, and behind Flask-Login) as a reference point.

gunicorn imports ``bench.apps:hello``, so this module imports nothing heavy
at the top.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

BODY = b"Hello, world!\n"
_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY)))]
FLASK_SECRET_KEY = "bench-flask-secret-key-0123456789"


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The smallest useful WSGI app: 200 and a constant body."""
    start_response("200 OK", list(_HEADERS))
    return [BODY]


class PassThrough:
    """A middleware that does nothing: the floor for any middleware's cost."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.app(environ, start_response)


def flask_hello() -> Any:
    """A bare Flask app with one plain-text view."""
    from flask import Flask

    app = Flask("bench_flask")

    @app.get("/")
    def index() -> tuple[bytes, int, dict[str, str]]:
        return BODY, 200, {"Content-Type": "text/plain; charset=utf-8"}

    return app


def flask_login_hello() -> Any:
    """A Flask app whose view needs ``@login_required``; the user comes from the session.

    ``GET /login`` signs in user ``"1"`` (to obtain a session cookie once).
    """
    from flask import Flask
    from flask_login import LoginManager, UserMixin, login_required, login_user

    class User(UserMixin):
        def __init__(self, user_id: str) -> None:
            self.id = user_id

    users = {"1": User("1")}
    app = Flask("bench_flask_login")
    app.secret_key = FLASK_SECRET_KEY
    manager = LoginManager(app)

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        return users.get(user_id)

    @app.get("/")
    @login_required
    def index() -> tuple[bytes, int, dict[str, str]]:
        return BODY, 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/login")
    def login() -> str:
        login_user(users["1"])
        return "signed in"

    return app
