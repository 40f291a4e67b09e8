"""Machines with Auth0 client-credentials tokens, over real HTTP: the local tenant as a
process (``dev-tenant --api … --m2m-client …``), the gate under gunicorn with two workers
(and one for an API in the RFC 9068 token profile).

A machine asks the tenant for a token with its client id and secret, then calls
the gated app with ``requests`` and ``Authorization: Bearer``; the app sees the
machine. Every other token is refused with 401 ``invalid_token``, never 500.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from ..helpers import CLIENT_ID, CLIENT_SECRET
from ..procs import dev_tenant, gunicorn

pytestmark = pytest.mark.slow

API = "https://reports.internal.example/"
OTHER_API = "https://billing.internal.example/"
RFC9068_API = "https://inventory.internal.example/"
ROBOT, ROBOT_SECRET = "robot-1", "robot-secret-1"
STRANGER, STRANGER_SECRET = "stranger", "stranger-secret"
TIMEOUT = 10


def gate_env(tenant_url: str, audience: str) -> dict[str, str]:
    """The gate's settings: machines for ``audience``, admitting ``robot-1`` only."""
    return {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant_url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_SECRET_KEY": "machines-test-secret-key-0123",
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
        "PWLESS_GATE_AUDIENCE": audience,
        "PWLESS_GATE_ALLOWED_CLIENTS": f"{ROBOT}, someone-else",
        "PWLESS_GATE_PUBLIC_PATHS": "/health",
        "PWLESS_GATE_BRAND_NAME": "Acme tools",
    }


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tenant's URL: three APIs (``RFC9068_API`` in the RFC 9068 token profile, the
    others in Auth0's) and two machine clients."""
    logs = tmp_path_factory.mktemp("machines-tenant")
    flags = ["--api", API, "--api", OTHER_API, "--api", RFC9068_API, "--token-profile", "rfc9068"]
    flags += ["--m2m-client", f"{ROBOT}:{ROBOT_SECRET}"]
    flags += ["--m2m-client", f"{STRANGER}:{STRANGER_SECRET}"]
    with dev_tenant(logs, *flags) as tenant_url:
        yield tenant_url


@pytest.fixture(scope="module")
def stack(tenant: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(tenant URL, gate URL): the gate for ``API``, under gunicorn with two workers."""
    logs = tmp_path_factory.mktemp("machines")
    with gunicorn(
        'pwless_gate:gate("tests.apps:whoami")',
        env=gate_env(tenant, API),
        log=logs / "gunicorn.log",
        workers=2,
    ) as (gate_url, _):
        yield tenant, gate_url


@pytest.fixture(scope="module")
def rfc9068_stack(
    tenant: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(tenant URL, gate URL): a gate for ``RFC9068_API``, whose tokens have no ``gty``."""
    logs = tmp_path_factory.mktemp("machines-rfc9068")
    with gunicorn(
        'pwless_gate:gate("tests.apps:whoami")',
        env=gate_env(tenant, RFC9068_API),
        log=logs / "gunicorn.log",
        workers=1,
    ) as (gate_url, _):
        yield tenant, gate_url


def client_credentials(tenant_url: str, client_id: str, secret: str, audience: str) -> str:
    """A machine's token from the tenant, as Auth0's docs show the request."""
    answer = requests.post(
        f"{tenant_url}/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "audience": audience,
        },
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def call(gate_url: str, token: str, path: str = "/reports/q3") -> requests.Response:
    return requests.get(
        gate_url + path,
        headers={"Authorization": f"Bearer {token}", "Connection": "close"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def test_a_machine_with_a_client_credentials_token_reaches_the_app(
    stack: tuple[str, str],
) -> None:
    tenant_url, gate_url = stack
    token = client_credentials(tenant_url, ROBOT, ROBOT_SECRET, API)

    # At once, each holding its worker a moment: both workers see the token, cold then warm.
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: call(gate_url, token, "/r?sleep=0.3"), range(8)))

    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert "Set-Cookie" not in answer.headers
        body = answer.json()
        assert body["remote_user"] == f"{ROBOT}@clients"
        assert body["user_sub"] == f"{ROBOT}@clients"
        assert body["auth_method"] == "client-credentials"
        assert body["claims"]["gty"] == "client-credentials"
        assert body["claims"]["aud"] == API
    assert len({answer.json()["pid"] for answer in answers}) == 2


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def refused_tokens(tenant_url: str) -> dict[str, str]:
    """Every kind of token the gate must refuse, by name."""
    real = client_credentials(tenant_url, ROBOT, ROBOT_SECRET, API)
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})
    own_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    expired = {**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600}
    return {
        "other-audience": client_credentials(tenant_url, ROBOT, ROBOT_SECRET, OTHER_API),
        "other-client": client_credentials(tenant_url, STRANGER, STRANGER_SECRET, API),
        "a-persons-token": person_access_token(tenant_url),
        "forged": jwt.encode(claims, own_key, algorithm="RS256", headers={"kid": header["kid"]}),
        "expired-forged": jwt.encode(
            expired, own_key, algorithm="RS256", headers={"kid": header["kid"]}
        ),
        "alg-none": _unsigned({"alg": "none", "typ": "JWT", "kid": header["kid"]}, claims),
        "hs256": jwt.encode(claims, "k" * 32, algorithm="HS256", headers={"kid": header["kid"]}),
        "tampered": re.sub(r"^([^.]+)\.[^.]+\.", rf"\1.{_unsigned({}, expired)[3:-1]}.", real),
        "malformed": "eyJhbGciOiJSUzI1NiJ9.not-json.sig",
        "garbage": "hello",
    }


def person_access_token(tenant_url: str, audience: str = API) -> str:
    """A person's access token for the same API (passwordless OTP grant): not a machine's."""
    requests.post(
        f"{tenant_url}/passwordless/start",
        json={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "connection": "email",
            "email": "ada@example.com",
            "send": "code",
        },
        timeout=TIMEOUT,
    ).raise_for_status()
    messages = requests.get(f"{tenant_url}/_dev/outbox", timeout=TIMEOUT).json()["messages"]
    answer = requests.post(
        f"{tenant_url}/oauth/token",
        json={
            "grant_type": "http://auth0.com/oauth/grant-type/passwordless/otp",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "realm": "email",
            "username": "ada@example.com",
            "otp": messages[-1]["code"],
            "audience": audience,
            "scope": "openid email",
        },
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def test_every_other_token_is_401_invalid_token(stack: tuple[str, str]) -> None:
    tenant_url, gate_url = stack
    for name, token in refused_tokens(tenant_url).items():
        for path in ("/reports/q3", "/_gate/auth"):
            answer = call(gate_url, token, path)
            assert answer.status_code == 401, (name, path, answer.text)
            challenge = answer.headers["WWW-Authenticate"]
            assert challenge.startswith('Bearer realm="Acme tools"'), (name, challenge)
            assert 'error="invalid_token"' in challenge, (name, challenge)
            assert answer.json()["error"] == "invalid_token"
        # A public path stays public, for anyone.
        public = call(gate_url, token, "/health")
        assert public.status_code == 200
        assert public.json()["remote_user"] is None


def test_the_nginx_auth_endpoint_admits_the_machine(stack: tuple[str, str]) -> None:
    tenant_url, gate_url = stack
    token = client_credentials(tenant_url, ROBOT, ROBOT_SECRET, API)

    answer = call(gate_url, token, "/_gate/auth")

    assert answer.status_code == 202
    assert answer.headers["X-Auth-Request-User"] == f"{ROBOT}@clients"
    assert "X-Auth-Request-Email" not in answer.headers
    assert "Set-Cookie" not in answer.headers
    # Left on the request for nginx to pass on, as the gate passes it to a wrapped app
    # (pwless_gate.access_token): not the gate's own, and not sent back.
    assert "X-Auth-Request-Drop-Authorization" not in answer.headers
    assert "Authorization" not in answer.headers


def test_without_a_token_the_challenge_offers_basic_and_bearer(stack: tuple[str, str]) -> None:
    _, gate_url = stack
    answer = requests.get(gate_url + "/reports", allow_redirects=False, timeout=TIMEOUT)

    assert answer.status_code == 401
    challenges = answer.raw.headers.getlist("WWW-Authenticate")
    assert challenges == ['Basic realm="Acme tools", charset="UTF-8"', 'Bearer realm="Acme tools"']
    assert answer.json() == {"error": "unauthorized", "login_url": "/_gate/login"}
    no_auth = requests.get(f"{gate_url}/_gate/auth", timeout=TIMEOUT)
    assert no_auth.status_code == 401


def test_a_machine_token_in_the_rfc9068_profile_reaches_the_app(
    rfc9068_stack: tuple[str, str],
) -> None:
    tenant_url, gate_url = rfc9068_stack
    token = client_credentials(tenant_url, ROBOT, ROBOT_SECRET, RFC9068_API)
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"

    for path in ("/reports/q3", "/_gate/auth"):
        answer = call(gate_url, token, path)
        assert answer.status_code in (200, 202), (path, answer.text)
        assert "Set-Cookie" not in answer.headers
    body = call(gate_url, token).json()
    assert body["remote_user"] == f"{ROBOT}@clients"
    assert body["auth_method"] == "client-credentials"
    assert body["claims"]["client_id"] == ROBOT
    assert "gty" not in body["claims"]
    assert "azp" not in body["claims"]


def test_other_tokens_in_the_rfc9068_profile_are_401_invalid_token(
    rfc9068_stack: tuple[str, str],
) -> None:
    tenant_url, gate_url = rfc9068_stack
    real = client_credentials(tenant_url, ROBOT, ROBOT_SECRET, RFC9068_API)
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})
    own_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    person = person_access_token(tenant_url, RFC9068_API)
    assert jwt.get_unverified_header(person)["typ"] == "at+jwt"
    refused = {
        "a-persons-token": person,
        "other-client": client_credentials(tenant_url, STRANGER, STRANGER_SECRET, RFC9068_API),
        "auth0-profile-api": client_credentials(tenant_url, ROBOT, ROBOT_SECRET, API),
        "forged": jwt.encode(
            claims, own_key, algorithm="RS256", headers={"kid": header["kid"], "typ": "at+jwt"}
        ),
        "alg-none": _unsigned({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}, claims),
    }
    for name, token in refused.items():
        for path in ("/reports/q3", "/_gate/auth"):
            answer = call(gate_url, token, path)
            assert answer.status_code == 401, (name, path, answer.text)
            assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"], name
