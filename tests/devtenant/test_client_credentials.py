"""``POST /oauth/token`` with ``grant_type=client_credentials``: machine clients, as Auth0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from pwless_gate.devtenant import DevTenant, RunningTenant
from pwless_gate.devtenant.constants import CLIENT_GRANT_MISSING, NO_DEFAULT_AUDIENCE

from ..helpers import CLIENT_ID, CLIENT_SECRET, FakeClock
from ..procs import dev_tenant
from .calls import (
    EMAIL,
    OTP_GRANT,
    TIMEOUT,
    MakeTenant,
    assert_rate_headers,
    decode,
    log_in,
    start_email,
)

API = "https://api.test"
OTHER_API = "https://other.test"
MACHINE, MACHINE_SECRET = "machine-1", "machine-secret-1"
SCOPED, SCOPED_SECRET = "machine-2", "machine-secret-2"


@pytest.fixture
def m2m(make_tenant: MakeTenant) -> RunningTenant:
    """A tenant with two APIs, a machine client for both, and one granted scopes on one."""
    return make_tenant(
        apis=[API, OTHER_API],
        machine_clients={MACHINE: MACHINE_SECRET, SCOPED: SCOPED_SECRET},
        client_grants={SCOPED: {API: ["read:reports", "write:reports"]}},
    )


def grant(
    tenant: RunningTenant,
    client_id: str = MACHINE,
    secret: str | None = MACHINE_SECRET,
    as_json: bool = True,
    **fields: Any,
) -> requests.Response:
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    body.update(fields)
    body = {name: value for name, value in body.items() if value is not None}
    url = f"{tenant.url}/oauth/token"
    if as_json:
        return requests.post(url, json=body, timeout=TIMEOUT)
    return requests.post(url, data=body, timeout=TIMEOUT)


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "form"])
def test_a_machine_gets_a_token_naming_it_for_the_api(
    m2m: RunningTenant, clock: FakeClock, as_json: bool
) -> None:
    response = grant(m2m, audience=API, as_json=as_json)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 86400)
    claims = decode(m2m, body["access_token"], audience=API)
    assert claims == {
        "iss": f"{m2m.url}/",
        "sub": f"{MACHINE}@clients",
        "aud": API,
        "iat": int(clock()),
        "exp": int(clock()) + 86400,
        "gty": "client-credentials",
        "azp": MACHINE,
    }
    assert_rate_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_an_api_in_the_rfc9068_profile_issues_rfc9068_machine_tokens(
    make_tenant: MakeTenant, clock: FakeClock
) -> None:
    tenant = make_tenant(
        apis=[API, OTHER_API], rfc9068_apis=[API], machine_clients={MACHINE: MACHINE_SECRET}
    )
    first = grant(tenant, audience=API).json()
    second = grant(tenant, audience=API).json()
    other = grant(tenant, audience=OTHER_API).json()

    assert set(first) == {"access_token", "expires_in", "token_type"}
    header = jwt.get_unverified_header(first["access_token"])
    assert (header["typ"], header["alg"]) == ("at+jwt", "RS256")
    claims = decode(tenant, first["access_token"], audience=API)
    jti = claims.pop("jti")
    assert isinstance(jti, str)
    assert len(jti) >= 16
    assert claims == {
        "iss": f"{tenant.url}/",
        "sub": f"{MACHINE}@clients",
        "aud": API,
        "iat": int(clock()),
        "exp": int(clock()) + 86400,
        "client_id": MACHINE,
    }
    assert decode(tenant, second["access_token"], audience=API)["jti"] != jti
    # The profile is the API's: the other API keeps Auth0's.
    assert jwt.get_unverified_header(other["access_token"])["typ"] == "JWT"
    assert decode(tenant, other["access_token"], audience=OTHER_API)["gty"] == "client-credentials"


def test_a_persons_token_for_an_rfc9068_api_names_the_person(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(apis=[API], rfc9068_apis=[API])

    body = log_in(tenant, audience=API, scope="openid email")

    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    claims = decode(tenant, body["access_token"], audience=API)
    assert claims["sub"].startswith("email|")
    assert claims["client_id"] == CLIENT_ID
    assert "azp" not in claims
    assert "gty" not in claims
    assert claims["jti"]
    # The id_token is no access token: Auth0's own shape.
    assert jwt.get_unverified_header(body["id_token"])["typ"] == "JWT"
    assert decode(tenant, body["id_token"])["sub"] == claims["sub"]


def test_a_token_profile_for_an_unknown_api_is_refused() -> None:
    with pytest.raises(ValueError, match="profile"):
        DevTenant(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, apis=[API], rfc9068_apis=[OTHER_API]
        )


def test_granted_scopes_are_in_the_token_and_the_answer(m2m: RunningTenant) -> None:
    every = grant(m2m, SCOPED, SCOPED_SECRET, audience=API).json()
    asked = grant(m2m, SCOPED, SCOPED_SECRET, audience=API, scope="read:reports").json()

    assert every["scope"] == "read:reports write:reports"
    assert decode(m2m, every["access_token"], audience=API)["scope"] == every["scope"]
    assert asked["scope"] == "read:reports"
    assert decode(m2m, asked["access_token"], audience=API)["scope"] == "read:reports"


def test_scopes_not_granted_are_refused(m2m: RunningTenant) -> None:
    response = grant(m2m, SCOPED, SCOPED_SECRET, audience=API, scope="read:reports admin")

    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [(MACHINE, "wrong"), (MACHINE, None), (MACHINE, ""), ("nobody", MACHINE_SECRET)],
    ids=["secret-wrong", "secret-missing", "secret-empty", "client-unknown"],
)
def test_bad_machine_credentials_are_401_access_denied(
    m2m: RunningTenant, client_id: str, secret: str | None
) -> None:
    response = grant(m2m, client_id, secret, audience=API)

    assert response.status_code == 401
    assert response.json() == {"error": "access_denied", "error_description": "Unauthorized"}


@pytest.mark.parametrize(
    ("client_id", "secret", "audience"),
    [
        (MACHINE, MACHINE_SECRET, "https://not-an-api.example/"),
        (SCOPED, SCOPED_SECRET, OTHER_API),
        (CLIENT_ID, CLIENT_SECRET, API),
    ],
    ids=["not-an-api", "no-client-grant", "the-web-application"],
)
def test_an_audience_the_client_is_not_authorised_for_is_403(
    m2m: RunningTenant, client_id: str, secret: str, audience: str
) -> None:
    response = grant(m2m, client_id, secret, audience=audience)

    assert response.status_code == 403
    assert response.json() == {
        "error": "access_denied",
        "error_description": CLIENT_GRANT_MISSING.format(audience=audience),
    }
    assert response.json()["error_description"].startswith(
        f'Client is not authorized to access "{audience}". You need to create a "client-grant"'
    )


def test_no_audience_and_no_default_audience_is_403(m2m: RunningTenant) -> None:
    response = grant(m2m)

    assert response.status_code == 403
    assert response.json() == {
        "error": "access_denied",
        "error_description": "Non-global clients are not allowed access to APIv1",
    }
    assert response.json()["error_description"] == NO_DEFAULT_AUDIENCE


def test_a_machine_client_may_use_no_other_grant(m2m: RunningTenant) -> None:
    start_email(m2m)
    response = grant(
        m2m, grant_type=OTP_GRANT, username=EMAIL, otp="123456", realm="email", audience=API
    )

    assert response.status_code == 403
    assert response.json() == {
        "error": "unauthorized_client",
        "error_description": f"Grant type '{OTP_GRANT}' not allowed for the client.",
    }


def test_the_web_application_can_be_denied_the_grant(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(apis=[API], grant_types=(OTP_GRANT,))

    response = grant(tenant, CLIENT_ID, CLIENT_SECRET, audience=API)

    assert (response.status_code, response.json()["error"]) == (403, "unauthorized_client")


@pytest.mark.parametrize(
    "options",
    [
        {"machine_clients": {CLIENT_ID: "s"}},
        {"machine_clients": {MACHINE: ""}},
        {"machine_clients": {MACHINE: "s"}, "client_grants": {"nobody": {API: []}}},
        {"machine_clients": {MACHINE: "s"}, "client_grants": {MACHINE: {OTHER_API: []}}},
    ],
    ids=["the-app-id", "no-secret", "grant-for-unknown-client", "grant-for-unknown-api"],
)
def test_contradictory_machine_settings_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"client|API"):
        DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, apis=[API], **options)


def test_command_line_machine_clients_and_grants(tmp_path: Path) -> None:
    flags = ["--api", API, "--api", OTHER_API, "--m2m-client", f"{MACHINE}:{MACHINE_SECRET}"]
    flags += ["--m2m-client", f"{SCOPED}:{SCOPED_SECRET}", "--m2m-grant", f"{SCOPED}={API}=read:x"]
    with dev_tenant(tmp_path, *flags) as url:
        tenant: Any = type("Tenant", (), {"url": url})()
        either = [grant(tenant, audience=audience).status_code for audience in (API, OTHER_API)]
        scoped = grant(tenant, SCOPED, SCOPED_SECRET, audience=API).json()
        refused = grant(tenant, SCOPED, SCOPED_SECRET, audience=OTHER_API)
    assert either == [200, 200]
    assert scoped["scope"] == "read:x"
    assert refused.status_code == 403
    log = (tmp_path / "tenant.log").read_text()
    assert f"machine client {MACHINE}: client credentials for every API" in log
    assert MACHINE_SECRET not in log


def test_command_line_token_profiles_belong_to_the_api_before_them(tmp_path: Path) -> None:
    third = "https://third.test"
    flags = ["--api", API, "--token-profile", "rfc9068", "--api", OTHER_API]
    flags += ["--token-profile", "rfc9068", "--token-profile", "auth0", "--api", third]
    flags += ["--m2m-client", f"{MACHINE}:{MACHINE_SECRET}"]
    with dev_tenant(tmp_path, *flags) as url:
        tenant: Any = type("Tenant", (), {"url": url})()
        types = {
            audience: jwt.get_unverified_header(
                grant(tenant, audience=audience).json()["access_token"]
            )["typ"]
            for audience in (API, OTHER_API, third)
        }
    assert types == {API: "at+jwt", OTHER_API: "JWT", third: "JWT"}
    log = (tmp_path / "tenant.log").read_text()
    assert f"API {API} (token profile RFC 9068)" in log
    assert f"API {OTHER_API}\n" in log
