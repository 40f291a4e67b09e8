"""``GateRequest``: what it reads of a request is what Werkzeug reads."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from pwless_gate import PasswordlessGate
from pwless_gate.request import GateRequest
from tests.helpers import gate_config

COOKIE_HEADERS = [
    None,
    "",
    "a=1",
    "a=1; b=2",
    "a=1; a=2",  # the first one counts
    ' a = "quoted \\"x\\"" ;b=2;',
    "a=1, b=2",  # two lines joined by a server
    "x=\xe9t\xe9; y=caf\xc3\xa9",  # latin-1 text, as WSGI carries it
    "novalue; =empty; c=3",
    ";;;",
]


def hello(environ: object, start_response: object) -> list[bytes]:
    return []


@pytest.fixture(scope="module")
def gate() -> PasswordlessGate:
    return PasswordlessGate(
        hello,  # type: ignore[arg-type]
        gate_config("http://127.0.0.1:9", languages=("en", "de", "fr")),
    )


@pytest.mark.parametrize("header", COOKIE_HEADERS, ids=repr)
def test_cookies_are_werkzeugs(gate: PasswordlessGate, header: str | None) -> None:
    builder = EnvironBuilder()
    environ = builder.get_environ()
    if header is not None:
        environ["HTTP_COOKIE"] = header
    ours = GateRequest(dict(environ), gate.views.deps).cookies
    theirs = Request(dict(environ)).cookies
    assert list(ours.items(multi=True)) == list(theirs.items(multi=True))
    assert type(ours) is type(theirs)


@pytest.mark.parametrize(
    ("cookie", "accept", "language"),
    [
        (None, None, "en"),
        (None, "de-AT, fr;q=0.5", "de"),
        (None, "fr;q=0.5, de;q=0", "fr"),
        ("de", "fr", "de"),
        ("xx", "fr", "fr"),
        (None, "de", "de"),  # asked again: the same answer
        (None, "es", "en"),
    ],
)
def test_the_language_is_the_cookies_else_the_headers(
    gate: PasswordlessGate, cookie: str | None, accept: str | None, language: str
) -> None:
    headers = {} if accept is None else {"Accept-Language": accept}
    if cookie is not None:
        name = gate.views.deps.cookies._small[(False, False)][0]
        headers["Cookie"] = f"{name}={cookie}"
    environ = EnvironBuilder(headers=headers).get_environ()
    assert GateRequest(environ, gate.views.deps).language == language
