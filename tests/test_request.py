"""``GateRequest``: what it reads of a request is what Werkzeug reads."""

from __future__ import annotations

import io
from typing import Any

import pytest
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequestKeyError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from pwless_gate import PasswordlessGate
from pwless_gate.request import MAX_FORM_BYTES, GateRequest, Values
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
    assert isinstance(ours, type(theirs))


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


@pytest.mark.parametrize(
    ("key", "default", "convert"),
    [
        ("a", None, None),
        ("missing", None, None),
        ("missing", "fallback", None),
        ("n", None, int),
        ("a", -1, int),  # conversion fails: the default
        ("missing", -1, int),
        ("empty", "x", None),
    ],
)
def test_values_get_as_werkzeug(key: str, default: Any, convert: Any) -> None:
    items = [("a", "1"), ("a", "2"), ("n", "42"), ("empty", "")]
    ours, theirs = Values(items), ImmutableMultiDict(items)
    assert ours.get(key, default, convert) == theirs.get(key, default, convert)
    assert ours.get(key, default=default, type=convert) == theirs.get(key, default, convert)
    if key == "missing":
        with pytest.raises(BadRequestKeyError):
            ours[key]  # indexing still raises, as Werkzeug's


URLENCODED = "application/x-www-form-urlencoded"
FORM_BODIES = [
    b"",
    b"csrf_token=abc&email=a%40example.com&send=code",
    b"a=1&a=2&b=",
    b"a+b=c+d&e=%20f",
    b"novalue&=empty&c=3&&",
    b"a=%zz&b=%ff&c=%C3%A9",  # bad and raw escapes stay as they are
    b"a=1;b=2",
    b"email=\xff\xfe",  # not UTF-8: no form at all
    b"email=caf\xc3\xa9",
    b"x=" + b"y" * (MAX_FORM_BYTES - 2),
]
FORM_TYPES = [
    URLENCODED,
    URLENCODED + "; charset=UTF-8",
    "Application/X-WWW-Form-Urlencoded",
    "multipart/form-data; boundary=x",
    "text/plain",
    "",
]


@pytest.mark.parametrize("content_type", FORM_TYPES)
@pytest.mark.parametrize("body", FORM_BODIES, ids=lambda body: repr(body)[:40])
def test_forms_are_werkzeugs(gate: PasswordlessGate, body: bytes, content_type: str) -> None:
    environ = EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()
    if not content_type:
        del environ["CONTENT_TYPE"]
    ours = GateRequest({**environ, "wsgi.input": io.BytesIO(body)}, gate.views.deps)
    theirs = Request({**environ, "wsgi.input": io.BytesIO(body)})
    assert read(ours) == read(theirs)


def read(request: Request) -> object:
    """The form, the files and what is left of the body, or the kind of error raised."""
    try:
        form = request.form
        files = list(request.files.items(multi=True))
        immutable = isinstance(form, ImmutableMultiDict)
        return list(form.items(multi=True)), immutable, files, request.stream.read()
    except Exception as exc:  # a multipart body cut short, for one
        return type(exc)


def test_form_read_after_the_body_is_werkzeugs(gate: PasswordlessGate) -> None:
    body = b"a=1&b=2"
    environ = EnvironBuilder(method="POST", data=body, content_type=URLENCODED).get_environ()
    ours = GateRequest({**environ, "wsgi.input": io.BytesIO(body)}, gate.views.deps)
    theirs = Request({**environ, "wsgi.input": io.BytesIO(body)})
    assert ours.get_data() == theirs.get_data() == body
    assert list(ours.form.items(multi=True)) == list(theirs.form.items(multi=True))


@pytest.mark.parametrize("terminated", [False, True], ids=["length", "terminated"])
def test_a_form_over_the_limit_is_413(gate: PasswordlessGate, terminated: bool) -> None:
    body = b"x=" + b"y" * MAX_FORM_BYTES
    environ = EnvironBuilder(method="POST", data=body, content_type=URLENCODED).get_environ()
    environ["wsgi.input"] = io.BytesIO(body)
    if terminated:
        del environ["CONTENT_LENGTH"]
        environ["wsgi.input_terminated"] = True
    from werkzeug.exceptions import RequestEntityTooLarge

    with pytest.raises(RequestEntityTooLarge):
        GateRequest(environ, gate.views.deps).form  # noqa: B018
