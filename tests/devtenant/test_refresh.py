"""Refresh tokens as Auth0 issues them: offline access per API, rotation, reuse, expiry."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pwless_gate.devtenant import DevTenant, RunningTenant

from ..helpers import CLIENT_ID, CLIENT_SECRET, FakeClock
from .calls import EMAIL, MakeTenant, log_in, token

OFFLINE_API = "https://offline.test"
ONLINE_API = "https://online.test"
UNKNOWN_REFRESH = {
    "error": "invalid_grant",
    "error_description": "Unknown or invalid refresh token.",
}
THIRTY_DAYS = 30 * 86400


def refresh(tenant: RunningTenant, refresh_token: str, **fields: Any) -> requests.Response:
    return token(tenant, grant_type="refresh_token", refresh_token=refresh_token, **fields)


def rotated(tenant: RunningTenant, refresh_token: str) -> str:
    """Exchange ``refresh_token``; return the new one."""
    response = refresh(tenant, refresh_token)
    assert response.status_code == 200, response.text
    new: str = response.json()["refresh_token"]
    assert new != refresh_token
    return new


def assert_refused(tenant: RunningTenant, *refresh_tokens: str) -> None:
    for refresh_token in refresh_tokens:
        response = refresh(tenant, refresh_token)
        assert (response.status_code, response.json()) == (403, UNKNOWN_REFRESH)


@pytest.fixture
def apis_tenant(make_tenant: MakeTenant) -> RunningTenant:
    return make_tenant(apis=[OFFLINE_API, ONLINE_API], offline_access_apis=[OFFLINE_API])


@pytest.mark.parametrize(
    ("audience", "scope", "refreshable"),
    [
        pytest.param(OFFLINE_API, "openid offline_access", True, id="api-allows-offline"),
        pytest.param(ONLINE_API, "openid offline_access", False, id="api-without-offline"),
        pytest.param(None, "openid offline_access", True, id="no-audience-userinfo"),
        pytest.param(OFFLINE_API, "openid", False, id="scope-without-offline_access"),
    ],
)
def test_a_refresh_token_needs_offline_access_on_the_api_and_in_the_scope(
    apis_tenant: RunningTenant, audience: str | None, scope: str, refreshable: bool
) -> None:
    body = log_in(apis_tenant, audience=audience, scope=scope)

    assert ("refresh_token" in body) is refreshable
    assert ("offline_access" in body["scope"].split()) is refreshable


def test_offline_access_apis_must_be_apis_of_the_tenant() -> None:
    with pytest.raises(ValueError, match=r"unknown\.test"):
        DevTenant(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            apis=[OFFLINE_API],
            offline_access_apis=["https://unknown.test"],
        )


def test_each_exchange_rotates_and_the_newest_token_keeps_working(
    tenant: RunningTenant,
) -> None:
    first = log_in(tenant, scope="openid email offline_access")["refresh_token"]

    second = rotated(tenant, first)
    third = rotated(tenant, second)

    assert len({first, second, third}) == 3
    assert tenant.app.refresh_exchanges == 2
    assert tenant.app.revoked_refresh_families == 0


def test_reuse_revokes_the_whole_family_by_default(tenant: RunningTenant) -> None:
    """Auth0's reuse interval is off by default: even a reuse in the same second."""
    first = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    other_login = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    second = rotated(tenant, first)

    assert_refused(tenant, first)

    assert_refused(tenant, second, first)
    assert tenant.app.revoked_refresh_families == 1
    rotated(tenant, other_login)  # another family is untouched


def test_the_previous_token_may_be_reused_within_the_reuse_interval(
    make_tenant: MakeTenant, clock: FakeClock
) -> None:
    tenant = make_tenant(refresh_reuse_interval=10)
    first = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    second = rotated(tenant, first)

    clock.advance(9)
    sibling = rotated(tenant, first)  # a concurrent request that lost the race

    assert sibling != second
    rotated(tenant, second)
    rotated(tenant, sibling)
    assert tenant.app.revoked_refresh_families == 0


def test_reuse_after_the_reuse_interval_revokes_the_family(
    make_tenant: MakeTenant, clock: FakeClock
) -> None:
    tenant = make_tenant(refresh_reuse_interval=10)
    first = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    second = rotated(tenant, first)

    clock.advance(10)

    assert_refused(tenant, first, second)
    assert tenant.app.revoked_refresh_families == 1


def test_only_the_token_retired_last_may_be_reused(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(refresh_reuse_interval=10)
    first = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    second = rotated(tenant, first)
    third = rotated(tenant, second)

    assert_refused(tenant, first)  # the second-to-last: breach detection

    assert_refused(tenant, third, second)


@pytest.mark.parametrize(
    "refusal",
    ["scope-not-granted", "user-blocked", "scope-not-a-string"],
)
def test_reuse_is_detected_before_anything_else_in_the_request(
    tenant: RunningTenant, clock: FakeClock, refusal: str
) -> None:
    """A reused token revokes its family even when the request would be refused anyway."""
    first = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    second = rotated(tenant, first)
    clock.advance(5)
    fields: dict[str, Any] = {}
    if refusal == "scope-not-granted":
        fields["scope"] = "openid admin"
    elif refusal == "scope-not-a-string":
        fields["scope"] = ["openid"]
    else:
        tenant.app.block_user(EMAIL)

    response = token(
        tenant, as_json=True, grant_type="refresh_token", refresh_token=first, **fields
    )

    assert (response.status_code, response.json()) == (403, UNKNOWN_REFRESH)
    assert tenant.app.revoked_refresh_families == 1
    assert_refused(tenant, second)


def test_the_absolute_lifetime_is_not_extended_by_rotation(
    make_tenant: MakeTenant, clock: FakeClock
) -> None:
    tenant = make_tenant(refresh_absolute_lifetime=100, refresh_idle_lifetime=60)
    current = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    clock.advance(50)
    current = rotated(tenant, current)
    clock.advance(49)  # 99 s after the login
    current = rotated(tenant, current)

    clock.advance(1)

    assert_refused(tenant, current)
    assert tenant.app.revoked_refresh_families == 0  # expired, not revoked


def test_a_token_not_used_for_the_idle_lifetime_expires(
    make_tenant: MakeTenant, clock: FakeClock
) -> None:
    tenant = make_tenant(refresh_absolute_lifetime=1000, refresh_idle_lifetime=60)
    current = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    clock.advance(59)
    current = rotated(tenant, current)  # each exchange starts a new idle period
    clock.advance(59)
    current = rotated(tenant, current)

    clock.advance(60)

    assert_refused(tenant, current)


def test_auth0s_default_lifetimes_for_rotating_tokens_are_thirty_days(
    tenant: RunningTenant, clock: FakeClock
) -> None:
    """Absolute and idle lifetime both default to 2,592,000 s (see constants.py)."""
    idle = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    current = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    clock.advance(THIRTY_DAYS - 1)
    current = rotated(tenant, current)

    clock.advance(1)

    assert_refused(tenant, current, idle)


def test_a_refused_exchange_does_not_use_the_token_up(tenant: RunningTenant) -> None:
    first = log_in(tenant, scope="openid email offline_access")["refresh_token"]

    wider = refresh(tenant, first, scope="openid email phone offline_access")

    assert (wider.status_code, wider.json()["error"]) == (403, "invalid_scope")
    rotated(tenant, first)
    assert tenant.app.revoked_refresh_families == 0


def test_a_blocked_users_live_token_is_denied_and_not_revoked(tenant: RunningTenant) -> None:
    first = log_in(tenant, scope="openid email offline_access")["refresh_token"]
    tenant.app.block_user(EMAIL)

    denied = refresh(tenant, first)

    assert (denied.status_code, denied.json()["error"]) == (403, "access_denied")
    assert tenant.app.revoked_refresh_families == 0


def test_access_token_lifetime_is_a_setting_that_may_change(
    make_tenant: MakeTenant,
) -> None:
    tenant = make_tenant(access_token_lifetime=120)
    body = log_in(tenant, scope="openid email offline_access")
    assert body["expires_in"] == 120

    tenant.app.access_token_lifetime = 3600

    assert refresh(tenant, body["refresh_token"]).json()["expires_in"] == 3600
