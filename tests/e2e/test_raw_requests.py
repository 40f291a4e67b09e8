"""Requests as they arrive on the wire: chunked form bodies to the gate's routes and
unsafe characters in the query of a challenged request through real gunicorn, and raw
non-ASCII query bytes (which gunicorn refuses) in-process, as uWSGI passes them."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

import pytest

from pwless_gate.request import MAX_FORM_BYTES

from ..helpers import (
    BROWSER,
    BROWSER_ACCEPT,
    BROWSER_UA,
    CLIENT_ID,
    CLIENT_SECRET,
    Harness,
    hidden,
    http_sign_in,
)
from ..procs import gunicorn

pytestmark = pytest.mark.slow

TIMEOUT = 10


@pytest.fixture
def gate_url(tenant: Any, tmp_path: Path) -> Iterator[str]:
    env = {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
    }
    with gunicorn(
        'pwless_gate:gate("tests.apps:whoami")', env=env, log=tmp_path / "gunicorn.log"
    ) as (base, _):
        yield base


def connect(base: str) -> http.client.HTTPConnection:
    host, _, port = urlsplit(base).netloc.partition(":")
    return http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)


def send_chunked(base: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    """POST ``body`` with ``Transfer-Encoding: chunked`` (no ``Content-Length``), in
    chunks of 4 KiB; the status and the text of the answer."""
    connection = connect(base)
    try:
        chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))
        connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def login_form(base: str) -> tuple[dict[str, str], str]:
    """The headers of a browser posting the sign-in form (its cookie and origin), and the
    form's CSRF token."""
    connection = connect(base)
    try:
        connection.request("GET", "/_gate/login", headers={"Accept": BROWSER_ACCEPT})
        page = connection.getresponse()
        text = page.read().decode()
        cookie = page.getheader("Set-Cookie", "").split(";")[0]
    finally:
        connection.close()
    return {
        "Accept": BROWSER_ACCEPT,
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": cookie,
        "Origin": base,
    }, hidden(text, "csrf_token")


def padded_login(csrf: str, size: int, tail: bytes) -> bytes:
    """A sign-in form of exactly ``size`` bytes, padded in the middle, ``tail`` last."""
    head = f"csrf_token={csrf}&email=ada%40example.com&pad=".encode()
    body = head + b"p" * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    return body


@pytest.mark.parametrize("size", [MAX_FORM_BYTES + 1, 3 * MAX_FORM_BYTES], ids=["limit+1", "48k"])
def test_a_chunked_form_over_the_limit_is_refused_whole(gate_url: str, size: int) -> None:
    headers, csrf = login_form(gate_url)
    body = padded_login(csrf, size, b"&send=link&next=%2Ftarget")
    status, text = send_chunked(gate_url, "/_gate/login", headers, body)
    assert status == 413, text
    assert "Request Entity Too Large" in text  # the gate's own page, not a bare error


def test_a_chunked_form_under_the_limit_is_read(gate_url: str, tenant: Any) -> None:
    headers, csrf = login_form(gate_url)
    body = padded_login(csrf, MAX_FORM_BYTES, b"&next=%2Ftarget")
    status, text = send_chunked(gate_url, "/_gate/login", headers, body)
    assert status == 200, text
    assert hidden(text, "tx")  # the code page: the whole form was read
    assert tenant.last_message(to="ada@example.com").code


def raw_get(base: str, target: bytes) -> tuple[int, dict[str, str]]:
    """GET ``target`` exactly as given on the request line; the status and headers."""
    host, _, port = urlsplit(base).netloc.partition(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: " + f"{host}:{port}".encode() + b"\r\n"
            b"Accept: "
            + BROWSER_ACCEPT.encode()
            + b"\r\nUser-Agent: "
            + BROWSER_UA.encode()
            + b"\r\nConnection: close\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    return status, dict(line.split(": ", 1) for line in head[1:])


def test_unsafe_query_characters_come_back_as_the_same_bytes(gate_url: str, tenant: Any) -> None:
    # gunicorn takes printable ASCII on the request line (it refuses bytes above 0x7e: see
    # the next test); a browser escapes these characters itself, curl or a link may not.
    raw = b'a=x|z"<>{}^`&b=%26+c;d'
    status, headers = raw_get(gate_url, b"/deep/page?" + raw)
    assert status == 302
    location = urlsplit(headers["Location"])
    assert location.path == "/_gate/login"
    next_url = parse_qs(location.query)["next"][0]
    # Escaped where a URL cannot carry them; escapes and delimiters untouched.
    query = "a=x%7Cz%22%3C%3E%7B%7D%5E%60&b=%26+c;d"
    assert next_url == "/deep/page?" + query
    assert unquote_to_bytes(query) == unquote_to_bytes(raw)
    browser, done = http_sign_in(gate_url, tenant, "ada@example.com", next=next_url)
    assert done.status_code == 303, done.text
    assert done.headers["Location"] == next_url
    landed = browser.get(gate_url + done.headers["Location"], headers=BROWSER, timeout=TIMEOUT)
    assert landed.status_code == 200
    assert landed.json()["query"] == query


def test_raw_query_bytes_come_back_as_the_same_bytes(harness: Harness) -> None:
    # The bytes FF FE on the request line, as uWSGI or mod_wsgi pass them (PEP 3333: one
    # latin-1 character per byte); gunicorn and waitress refuse such a request line.
    client = harness.client
    challenged = client.get("/deep/page", environ_overrides={"QUERY_STRING": "a=\xff\xfe&b=%41"})
    assert challenged.status_code == 302
    next_url = parse_qs(urlsplit(challenged.headers["Location"]).query)["next"][0]
    assert next_url == "/deep/page?a=%FF%FE&b=%41"  # not the UTF-8 of "\xff\xfe"
    page = client.get("/_gate/login", query_string={"next": next_url}).get_data(as_text=True)
    sent = client.post(
        "/_gate/login",
        data={
            "csrf_token": hidden(page, "csrf_token"),
            "next": next_url,
            "email": "ada@example.com",
        },
    )
    assert sent.status_code == 200, sent.get_data(as_text=True)
    done = harness.submit_code(sent, harness.tenant.last_message(to="ada@example.com").code)
    assert done.status_code == 303
    assert done.headers["Location"] == next_url
    assert client.get(next_url).status_code == 200
    query = harness.app.calls[-1]["QUERY_STRING"]
    assert query == "a=%FF%FE&b=%41"
    assert unquote_to_bytes(query) == b"a=\xff\xfe&b=A"
