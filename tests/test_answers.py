"""Handing the gate's answers to the server: the same status, headers and body as Werkzeug."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from pwless_gate.answers import PLAIN_TEXT, location_uri, see_other, send

HOSTILE = json.loads((Path(__file__).parent / "data" / "hostile_redirects.json").read_text())


def page() -> Response:
    response = Response("<p>Hello</p>", status=200, mimetype="text/html")
    response.headers.extend([("Content-Language", "en"), ("Cache-Control", "no-store")])
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    return response


def redirect(location: str, status: int = 303) -> Callable[[], Response]:
    def make() -> Response:
        response = see_other(location)
        response.status_code = status
        return response

    return make


def body_then_header() -> Response:
    response = Response(b"x" * 10)
    del response.headers["Content-Length"]  # Werkzeug works it out again
    return response


def lower_case_location() -> Response:
    response = Response(status=302)
    response.headers.add("location", "/a b")
    return response


def two_locations() -> Response:
    response = Response(status=302)
    response.headers.add("Location", "/first")
    response.headers.add("Location", "/second")
    return response


def content_location() -> Response:
    response = Response("x")
    response.headers["Content-Location"] = "/\u00e9t\u00e9"
    return response


def streamed() -> Response:
    return Response(iter([b"a", b"b"]))


def text_chunks() -> Response:
    return Response(["a", "\u00e9"])


def passthrough() -> Response:
    return Response([b"abc"], direct_passthrough=True)


CLOSED: list[str] = []


def on_close() -> Response:
    response = Response("x")
    response.call_on_close(lambda: CLOSED.append("closed"))
    return response


ANSWERS: dict[str, Callable[[], Response]] = {
    "page": page,
    "json": lambda: Response('{"a":1}', status=401, mimetype="application/json"),
    "empty 202": lambda: Response(status=202, headers={"Cache-Control": "no-store"}),
    "see other": redirect("/docs?a=1"),
    "found": redirect("/", 302),
    "space in location": redirect("/a b?c=d e"),
    "non-ASCII location": redirect("/\u00e9t\u00e9?q=\u00fc"),
    "empty query": redirect("/x?"),
    "question marks": redirect("/x??y?"),
    "fragment": redirect("/x#frag"),
    "escapes": redirect("/a%2Fb%zz?x=%41"),
    "absolute": redirect(
        "https://Tenant.Example:443/v2/logout?returnTo=https%3A%2F%2Fa.example%2F"
    ),
    "user info": redirect("https://u:p@tenant.example/"),
    "IDN": redirect("https://b\u00fccher.example/"),
    "backslash": redirect("/a\\b"),
    "no length": body_then_header,
    "lower-case location": lower_case_location,
    "two locations": two_locations,
    "content location": content_location,
    "streamed": streamed,
    "text chunks": text_chunks,
    "direct passthrough": passthrough,
    "call on close": on_close,
    "no content": lambda: Response("x", status=204),
    "not modified": lambda: Response("x", status=304),
    "informational": lambda: Response(status=103),
}


def answered(
    answer: Callable[[Any, Any], Iterable[bytes]], environ: dict[str, Any]
) -> tuple[str, list[tuple[str, str]], bytes]:
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, list(headers)))
        return lambda data: None

    body = answer(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    [(status, headers)] = started
    return status, headers, data


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("name", list(ANSWERS))
def test_send_answers_as_werkzeug_does(name: str, method: str) -> None:
    environ = EnvironBuilder(path="/_gate/login", method=method).get_environ()
    CLOSED.clear()
    ours = answered(lambda e, s: send(ANSWERS[name](), e, s), dict(environ)), list(CLOSED)
    CLOSED.clear()
    theirs = answered(ANSWERS[name](), dict(environ)), list(CLOSED)
    assert ours == theirs


@pytest.mark.parametrize(
    "location",
    [
        *HOSTILE,
        "/",
        "/docs?a=1&b=%20",
        "/x?",
        "/x??",
        "/x#",
        "/x?#y",
        "/;a=b/@c:d",
        "/~user/a-b_c.d!$&'()*+,",
        "/a b",
        '/a"b',
        "/a<b>",
        "/a{b}|c^",
        "/caf\u00e9",
        "/x?q=caf\u00e9",
        "/a\nb",
        "",
    ],
    ids=lambda location: repr(location)[:60],
)
def test_location_uri_is_iri_to_uri(location: str) -> None:
    assert outcome(location_uri, location) == outcome(iri_to_uri, location)


def outcome(convert: Callable[[str], str], location: str) -> object:
    """What ``convert`` makes of ``location``: the URI, or the kind of error it raises."""
    try:
        return convert(location)
    except Exception as exc:  # a name IDNA cannot encode, for one
        return type(exc)


def test_redirects_name_werkzeugs_default_content_type() -> None:
    assert see_other("/x").headers["Content-Type"] == PLAIN_TEXT == Response().content_type
