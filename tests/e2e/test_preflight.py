"""An anonymous CORS preflight gets the app's CORS answer and nothing else, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import requests

from pwless_gate import PasswordlessGate
from pwless_gate.testing import session_cookie

from ..examples.support import TIMEOUT, serving
from ..helpers import gate_config

#: Nothing listens here: no request in this file needs a tenant.
NO_TENANT = "http://127.0.0.1:9"
BODY = b"OPTIONS page: build 4.2.1, db=primary"
PREFLIGHT = {"Origin": "https://ui.example", "Access-Control-Request-Method": "PUT"}
CORS = {
    "Access-Control-Allow-Origin": "https://ui.example",
    "Access-Control-Allow-Methods": "PUT, DELETE",
    "access-control-max-age": "600",
}


def app_headers() -> list[tuple[str, str]]:
    return [
        *CORS.items(),
        ("Vary", "Origin"),
        ("X-Secret", "1"),
        ("Set-Cookie", "app_session=secret; HttpOnly"),
        ("Allow", "GET, PUT, DELETE, OPTIONS"),
        ("Content-Type", "text/plain"),
        ("Content-Length", str(len(BODY))),
    ]


class Body:
    """A body iterable that records whether it was read and whether it was closed."""

    def __init__(self) -> None:
        self.read = False
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        self.read = True
        return iter([BODY])

    def close(self) -> None:
        self.closed = True


class CorsApp:
    """Answers every request with a body and headers a stranger must not see.

    ``lazy`` makes it a generator that calls start_response on its first chunk.
    """

    def __init__(self, status: str = "200 OK", lazy: bool = False) -> None:
        self.status = status
        self.lazy = lazy
        self.bodies: list[Body] = []
        self.generators_closed = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.lazy:
            return self._generate(start_response)
        start_response(self.status, app_headers())
        self.bodies.append(Body())
        return self.bodies[-1]

    def _generate(self, start_response: Any) -> Iterator[bytes]:
        try:
            start_response(self.status, app_headers())
            yield BODY
            yield b" and more"
        finally:
            self.generators_closed += 1


#: Serves an app behind a gate with ``public_preflight``; returns the base URL and the gate.
Serve = Callable[[CorsApp], tuple[str, PasswordlessGate]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    with ExitStack() as stack:

        def start(app: CorsApp) -> tuple[str, PasswordlessGate]:
            config = gate_config(
                NO_TENANT,
                allowed_domains=("example.com",),
                public_preflight=True,
                public_paths=("/public/",),
            )
            gate = PasswordlessGate(app, config)
            return stack.enter_context(serving(gate)), gate

        yield start


def options(base: str, path: str, **headers: str) -> requests.Response:
    return requests.options(
        base + path, headers={**PREFLIGHT, **headers}, allow_redirects=False, timeout=TIMEOUT
    )


def assert_whole_answer(answer: requests.Response) -> None:
    """The app's own answer, untouched by the preflight rule."""
    assert answer.status_code == 200
    assert answer.content == BODY
    assert answer.headers["X-Secret"] == "1"
    assert "app_session" in answer.headers["Set-Cookie"]


@pytest.mark.parametrize("lazy", [False, True], ids=["list-body", "generator"])
def test_an_anonymous_preflight_gets_only_the_cors_headers(serve: Serve, lazy: bool) -> None:
    app = CorsApp(lazy=lazy)
    base, _gate = serve(app)

    answer = options(base, "/api/items")

    assert answer.status_code == 200
    assert answer.content == b""
    for name, value in CORS.items():
        assert answer.headers[name] == value
    assert answer.headers["Vary"] == "Origin"
    assert answer.headers["Content-Length"] == "0"
    for secret in ("X-Secret", "Set-Cookie", "Allow", "Content-Type"):
        assert secret not in answer.headers, secret
    if lazy:
        assert app.generators_closed == 1
    else:
        assert [(b.read, b.closed) for b in app.bodies] == [(False, True)]


def test_the_apps_status_is_kept_without_a_length_on_a_204(
    serve: Serve,
) -> None:
    base, _gate = serve(CorsApp(status="204 No Content"))

    answer = options(base, "/api/items")

    assert answer.status_code == 204
    assert answer.content == b""
    assert answer.headers["Access-Control-Allow-Methods"] == "PUT, DELETE"
    assert "X-Secret" not in answer.headers
    assert "Content-Length" not in answer.headers


def test_a_signed_in_preflight_and_a_public_path_are_answered_by_the_app(
    serve: Serve,
) -> None:
    app = CorsApp()
    base, gate = serve(app)
    cookie = session_cookie(gate, email="ada@example.com")

    assert_whole_answer(options(base, "/api/items", Cookie=cookie))
    assert_whole_answer(options(base, "/public/items"))
    # Without the preflight headers, an OPTIONS needs a session like any request.
    bare = requests.options(base + "/api/items", allow_redirects=False, timeout=TIMEOUT)
    assert bare.status_code in (302, 401)
    assert "X-Secret" not in bare.headers
