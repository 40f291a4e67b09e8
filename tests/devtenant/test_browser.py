"""What a browser visits: the magic-link target ``/passwordless/verify_redirect`` and logout."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from pwless_gate.devtenant import RunningTenant

from ..helpers import CLIENT_ID, FakeClock
from .calls import (
    CALLBACK,
    EMAIL,
    EXPIRED,
    LOGOUT_URL,
    SAME_DEVICE,
    TIMEOUT,
    WRONG_EMAIL,
    MakeTenant,
    decode,
    follow,
    log_in,
    otp,
    redirect_query,
    start_link,
    token,
)


def test_magic_link_redirects_with_a_code_and_the_state(link_tenant: RunningTenant) -> None:
    message = start_link(link_tenant, nonce="nonce-1", scope="openid email offline_access")
    assert message.link is not None

    answer = redirect_query(follow(message.link))
    exchanged = token(
        link_tenant, grant_type="authorization_code", code=answer["code"], redirect_uri=CALLBACK
    )

    assert set(answer) == {"code", "state"}
    assert answer["state"] == "state-123"
    assert exchanged.status_code == 200, exchanged.text
    body = exchanged.json()
    assert "refresh_token" not in body  # never after a magic link
    claims = decode(link_tenant, body["id_token"])
    assert (claims["nonce"], claims["email"]) == ("nonce-1", EMAIL)


def test_magic_link_without_nonce_gives_no_nonce(link_tenant: RunningTenant) -> None:
    message = start_link(link_tenant)
    assert message.link is not None
    answer = redirect_query(follow(message.link))

    body = token(
        link_tenant, grant_type="authorization_code", code=answer["code"], redirect_uri=CALLBACK
    ).json()

    assert "nonce" not in decode(link_tenant, body["id_token"])


def test_magic_link_to_an_unlisted_callback_is_refused(tenant: RunningTenant) -> None:
    message = start_link(tenant)
    assert message.link is not None

    response = follow(message.link)

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Callback URL mismatch" in response.text
    assert otp(tenant, EMAIL, message.code).status_code == 200  # the code was not spent


@pytest.mark.parametrize("options", [{}, {"allow_magiclink_verify_without_session": False}])
def test_magic_link_ends_on_an_error_page_when_the_flag_is_off(
    make_tenant: MakeTenant, options: dict[str, bool]
) -> None:
    tenant = make_tenant(**options)  # off unless asked: a new tenant's default
    tenant.app.allow_callback(CALLBACK)
    message = start_link(tenant)
    assert message.link is not None

    response = follow(message.link)

    assert response.status_code == 403
    assert "Location" not in response.headers  # the browser never returns to the app
    assert response.headers["Content-Type"].startswith("text/html")
    assert SAME_DEVICE in response.text
    assert otp(tenant, EMAIL, message.code).status_code == 200  # the code was not spent


@pytest.mark.parametrize(
    ("spoil", "description"),
    [
        pytest.param("used", WRONG_EMAIL, id="used"),
        pytest.param("superseded", WRONG_EMAIL, id="superseded"),
        pytest.param("expired", EXPIRED, id="expired"),
        pytest.param("blocked", "user is blocked", id="user-blocked"),
    ],
)
def test_a_refused_link_redirects_with_unauthorized(
    link_tenant: RunningTenant, clock: FakeClock, spoil: str, description: str
) -> None:
    message = start_link(link_tenant)
    assert message.link is not None
    if spoil == "used":
        redirect_query(follow(message.link))
    elif spoil == "superseded":
        start_link(link_tenant)
    elif spoil == "expired":
        clock.advance(180)
    else:
        link_tenant.app.block_user(EMAIL)

    answer = redirect_query(follow(message.link))

    assert answer == {
        "error": "unauthorized",
        "error_description": description,
        "state": "state-123",
    }


def test_a_head_request_uses_a_magic_link_up(link_tenant: RunningTenant) -> None:
    """Assumed in constants.py: a HEAD (a mail scanner's) is answered as the GET."""
    message = start_link(link_tenant)
    assert message.link is not None

    scanned = requests.head(message.link, allow_redirects=False, timeout=TIMEOUT)
    opened = redirect_query(follow(message.link))

    assert "code" in redirect_query(scanned)
    assert (opened["error"], opened["error_description"]) == ("unauthorized", WRONG_EMAIL)


@pytest.mark.parametrize("lifetime", [None, 60], ids=["default-600s", "60s"])
def test_authorization_code_lifetime(
    make_tenant: MakeTenant, clock: FakeClock, lifetime: int | None
) -> None:
    options = {} if lifetime is None else {"authorization_code_lifetime": lifetime}
    tenant = make_tenant(allow_magiclink_verify_without_session=True, **options)
    tenant.app.allow_callback(CALLBACK)
    seconds = lifetime or 600
    codes = []
    for email in ("ada@example.com", "bob@example.com"):
        message = start_link(tenant, email)
        assert message.link is not None
        codes.append(redirect_query(follow(message.link))["code"])
    clock.advance(seconds - 1)
    in_time = token(tenant, grant_type="authorization_code", code=codes[0], redirect_uri=CALLBACK)
    clock.advance(1)
    too_late = token(tenant, grant_type="authorization_code", code=codes[1], redirect_uri=CALLBACK)

    assert in_time.status_code == 200, in_time.text
    assert too_late.status_code == 403
    assert too_late.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid authorization code",
    }


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # an int: the status of an error page; a str: the error of a redirect
        pytest.param({"client_id": "someone-else"}, 400, id="client-unknown"),
        pytest.param({"redirect_uri": None}, 400, id="redirect_uri-missing"),
        pytest.param({"response_type": None}, "invalid_request", id="response_type-missing"),
        pytest.param(
            {"response_type": "token"}, "unsupported_response_type", id="response_type-token"
        ),
        pytest.param({"connection": "sms"}, "invalid_request", id="connection-sms"),
        pytest.param({"email": None}, "invalid_request", id="email-missing"),
        pytest.param({"verification_code": None}, "invalid_request", id="code-missing"),
    ],
)
def test_verify_redirect_refuses_bad_links(
    link_tenant: RunningTenant, changes: dict[str, str | None], expected: int | str
) -> None:
    message = start_link(link_tenant)
    assert message.link is not None
    query: dict[str, str | None] = {
        name: values[0] for name, values in parse_qs(urlsplit(message.link).query).items()
    }
    query.update(changes)
    params = {name: value for name, value in query.items() if value is not None}

    response = requests.get(
        f"{link_tenant.url}/passwordless/verify_redirect",
        params=params,
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    if isinstance(expected, int):
        assert response.status_code == expected
        assert "Location" not in response.headers
    else:
        assert redirect_query(response)["error"] == expected


def test_logout_redirects_to_an_allowed_url(tenant: RunningTenant) -> None:
    tenant.app.allow_logout_url(LOGOUT_URL)

    response = requests.get(
        f"{tenant.url}/v2/logout",
        params={"client_id": CLIENT_ID, "returnTo": LOGOUT_URL},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 302
    assert response.headers["Location"] == LOGOUT_URL


def test_logout_without_return_to_goes_to_the_first_allowed_url(tenant: RunningTenant) -> None:
    tenant.app.allow_logout_url(LOGOUT_URL)
    tenant.app.allow_logout_url("http://app.test/other")

    response = requests.get(
        f"{tenant.url}/v2/logout",
        params={"client_id": CLIENT_ID},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "http://localhost/"  # the conftest tenant's first


def test_logout_without_return_to_or_urls_says_ok(make_tenant: MakeTenant) -> None:
    tenant = make_tenant()

    response = requests.get(
        f"{tenant.url}/v2/logout", params={"client_id": CLIENT_ID}, timeout=TIMEOUT
    )

    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "OK" in response.text


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"client_id": CLIENT_ID, "returnTo": "http://evil.test/"}, 400),
        ({"returnTo": LOGOUT_URL}, 400),
        ({"client_id": "someone-else", "returnTo": LOGOUT_URL}, 400),
        ({}, 200),
    ],
    ids=["unlisted-url", "no-client-id", "unknown-client", "nothing"],
)
def test_logout_without_an_allowed_target_does_not_redirect(
    tenant: RunningTenant, params: dict[str, str], status: int
) -> None:
    tenant.app.allow_logout_url(LOGOUT_URL)

    response = requests.get(
        f"{tenant.url}/v2/logout", params=params, allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == status
    assert "Location" not in response.headers


def test_oidc_logout_redirects_with_the_state(tenant: RunningTenant) -> None:
    tenant.app.allow_logout_url(LOGOUT_URL)
    id_token = log_in(tenant, scope="openid")["id_token"]

    response = requests.get(
        f"{tenant.url}/oidc/logout",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": LOGOUT_URL, "state": "s"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"{LOGOUT_URL}?state=s"
