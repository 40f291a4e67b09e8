"""Users: one ``sub`` per identifier, e-mail addresses without case, blocking, claims by scope."""

from __future__ import annotations

import re

from pwless_gate.devtenant import RunningTenant

from .calls import (
    EMAIL,
    decode,
    log_in,
    otp,
    start_email,
)


def test_a_user_keeps_its_sub(tenant: RunningTenant) -> None:
    first = decode(tenant, log_in(tenant, "Ada@Example.com")["id_token"])
    second = decode(tenant, log_in(tenant, "ada@example.com")["id_token"])
    other = decode(tenant, log_in(tenant, "bob@example.com")["id_token"])

    assert re.fullmatch(r"email\|[0-9a-f]{24}", first["sub"])
    assert first["sub"] == second["sub"] != other["sub"]
    assert first["sid"] != second["sid"]


def test_an_email_code_is_checked_case_insensitively(tenant: RunningTenant) -> None:
    message = start_email(tenant, "Ada@Example.COM")

    assert otp(tenant, "ada@EXAMPLE.com", message.code).status_code == 200


def test_a_blocked_user_is_denied(tenant: RunningTenant) -> None:
    tenant.app.block_user("ADA@example.com")
    message = start_email(tenant)

    response = otp(tenant, EMAIL, message.code)

    assert (response.status_code, response.json()["error"]) == (403, "access_denied")


def test_claims_follow_the_scopes(tenant: RunningTenant) -> None:
    claims = decode(tenant, log_in(tenant, scope="openid email")["id_token"])

    assert "email" in claims
    assert "name" not in claims
    assert "picture" not in claims
