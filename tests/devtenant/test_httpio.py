"""Request bodies as the tenant reads them: JSON or forms with ``qs`` brackets, nothing else."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from pwless_gate.devtenant import RunningTenant

from ..helpers import CLIENT_ID, CLIENT_SECRET
from .calls import (
    CALLBACK,
    EMAIL,
    TIMEOUT,
    assert_rate_headers,
)


def test_start_accepts_form_bodies_with_bracketed_auth_params(tenant: RunningTenant) -> None:
    form = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "connection": "email",
        "email": EMAIL,
        "send": "link",
        "authParams[state]": "xyz",
        "authParams[redirect_uri]": CALLBACK,
    }

    response = requests.post(f"{tenant.url}/passwordless/start", data=form, timeout=TIMEOUT)

    assert response.status_code == 200, response.text
    link = tenant.last_message().link
    assert link is not None
    query = parse_qs(urlsplit(link).query)
    assert (query["state"], query["redirect_uri"]) == (["xyz"], [CALLBACK])


GARBAGE = [
    pytest.param("application/json", b'{"client_id": ', id="json-broken"),
    pytest.param("application/json", b"[1, 2]", id="json-array"),
    pytest.param("application/json", b"\xff\xfe\x00", id="json-not-utf8"),
    pytest.param("application/json", b"[" * 30000 + b"]" * 30000, id="json-deeply-nested"),
    pytest.param("application/x-www-form-urlencoded", b"email=\xff", id="form-not-utf8"),
    pytest.param(
        "application/x-www-form-urlencoded", b"authParams=1&authParams[a]=2", id="form-shapes-clash"
    ),
    pytest.param("text/plain", b"client_id=x", id="text-plain"),
    pytest.param("multipart/form-data; boundary=x", b"--x--", id="multipart"),
]


@pytest.mark.parametrize(
    ("path", "error"),
    [
        pytest.param("/passwordless/start", "bad.request", id="start"),
        pytest.param("/oauth/token", "invalid_request", id="token"),
    ],
)
@pytest.mark.parametrize(("content_type", "raw"), GARBAGE)
def test_garbage_bodies_are_refused_as_bad_requests(
    tenant: RunningTenant, content_type: str, raw: bytes, path: str, error: str
) -> None:
    response = requests.post(
        f"{tenant.url}{path}",
        data=raw,
        headers={"Content-Type": content_type},
        timeout=TIMEOUT,
    )

    assert (response.status_code, response.json()["error"]) == (400, error)
    assert_rate_headers(response)
