"""One-time codes, typed in or carried by a magic link, and the authorization codes links lead to.

A code is checked the same way whichever way it comes back: three attempts,
single use, only the latest one, a lifetime. The tests that hold for both
run once per :class:`Flow`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from pwless_gate.devtenant import Message, RunningTenant

from ..helpers import FakeClock, wrong_code
from .calls import (
    CALLBACK,
    EMAIL,
    EXPIRED,
    MAX_ATTEMPTS,
    WRONG_EMAIL,
    MakeTenant,
    follow,
    otp,
    redirect_query,
    start_email,
    start_link,
    token,
)


@dataclass(frozen=True)
class Redeemed:
    """What handing a code back came to: accepted or not, the status and what was said."""

    accepted: bool
    status: int
    said: dict[str, Any]


class ByCode:
    """The code typed in: ``/passwordless/start`` with ``send=code``, then the OTP grant."""

    def send(self, tenant: RunningTenant) -> Message:
        return start_email(tenant)

    def redeem(self, tenant: RunningTenant, message: Message, code: str | None = None) -> Redeemed:
        response = otp(tenant, EMAIL, message.code if code is None else code)
        return Redeemed(response.status_code == 200, response.status_code, response.json())

    def refused(self, description: str) -> Redeemed:
        return Redeemed(False, 403, {"error": "invalid_grant", "error_description": description})


class ByLink:
    """The magic link opened: ``/passwordless/verify_redirect`` redirects to the callback."""

    def send(self, tenant: RunningTenant) -> Message:
        return start_link(tenant)

    def redeem(self, tenant: RunningTenant, message: Message, code: str | None = None) -> Redeemed:
        assert message.link is not None
        link = message.link
        if code is not None:
            link = link.replace(f"verification_code={message.code}", f"verification_code={code}")
            assert link != message.link
        response = follow(link)
        query = redirect_query(response)
        return Redeemed(set(query) == {"code", "state"}, response.status_code, query)

    def refused(self, description: str) -> Redeemed:
        said = {"error": "unauthorized", "error_description": description, "state": "state-123"}
        return Redeemed(False, 302, said)


Flow = ByCode | ByLink
FLOWS = [pytest.param(ByCode(), id="code"), pytest.param(ByLink(), id="link")]


def code_of(message: Message) -> str:
    assert message.code is not None
    return message.code


@pytest.mark.parametrize("flow", FLOWS)
def test_third_failed_attempt_kills_the_code(link_tenant: RunningTenant, flow: Flow) -> None:
    message = flow.send(link_tenant)
    wrong = wrong_code(code_of(message))

    answers = [flow.redeem(link_tenant, message, wrong) for _ in range(4)]
    with_right_code = flow.redeem(link_tenant, message)

    assert answers == [
        flow.refused(WRONG_EMAIL),
        flow.refused(WRONG_EMAIL),
        flow.refused(MAX_ATTEMPTS),
        flow.refused(MAX_ATTEMPTS),
    ]
    assert with_right_code == flow.refused(MAX_ATTEMPTS)
    fresh = flow.send(link_tenant)
    assert flow.redeem(link_tenant, fresh).accepted


@pytest.mark.parametrize("flow", FLOWS)
def test_a_code_is_single_use(link_tenant: RunningTenant, flow: Flow) -> None:
    message = flow.send(link_tenant)
    assert flow.redeem(link_tenant, message).accepted

    again = flow.redeem(link_tenant, message)

    assert again == flow.refused(WRONG_EMAIL)


@pytest.mark.parametrize("flow", FLOWS)
def test_only_the_latest_code_is_valid(link_tenant: RunningTenant, flow: Flow) -> None:
    first = flow.send(link_tenant)
    second = flow.send(link_tenant)
    if first.code == second.code:
        pytest.skip("the two random codes happened to be equal")

    old = flow.redeem(link_tenant, first)
    new = flow.redeem(link_tenant, second)

    assert old == flow.refused(WRONG_EMAIL)
    assert new.accepted


@pytest.mark.parametrize("flow", FLOWS)
def test_code_expires_after_its_lifetime(
    link_tenant: RunningTenant, clock: FakeClock, flow: Flow
) -> None:
    message = flow.send(link_tenant)
    clock.advance(179)
    wrong = flow.redeem(link_tenant, message, wrong_code(code_of(message)))
    assert wrong == flow.refused(WRONG_EMAIL)
    clock.advance(2)

    response = flow.redeem(link_tenant, message)

    assert response == flow.refused(EXPIRED)


def test_code_length_follows_the_setting(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(code_length=8)

    message = start_email(tenant)

    assert message.code is not None
    assert re.fullmatch(r"[0-9]{8}", message.code)


def test_a_new_start_resets_the_attempt_count(tenant: RunningTenant) -> None:
    start_email(tenant)
    for _ in range(3):
        otp(tenant, EMAIL, "not-the-code")

    message = start_email(tenant)

    assert otp(tenant, EMAIL, message.code).status_code == 200


def test_code_lifetime_follows_the_setting(make_tenant: MakeTenant, clock: FakeClock) -> None:
    tenant = make_tenant(code_lifetime=600)
    message = start_email(tenant)
    clock.advance(500)

    assert otp(tenant, EMAIL, message.code).status_code == 200


def test_magic_link_code_also_works_in_the_code_flow(link_tenant: RunningTenant) -> None:
    message = start_link(link_tenant)
    assert message.link is not None

    assert otp(link_tenant, EMAIL, message.code).status_code == 200
    assert redirect_query(follow(message.link))["error"] == "unauthorized"


def test_authorization_code_is_single_use(link_tenant: RunningTenant) -> None:
    message = start_link(link_tenant)
    assert message.link is not None
    code = redirect_query(follow(message.link))["code"]
    fields: dict[str, Any] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
    }
    assert token(link_tenant, **fields).status_code == 200

    again = token(link_tenant, **fields)

    assert again.status_code == 403
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid authorization code",
    }


def test_authorization_code_expires(link_tenant: RunningTenant, clock: FakeClock) -> None:
    message = start_link(link_tenant)
    assert message.link is not None
    code = redirect_query(follow(message.link))["code"]
    clock.advance(601)

    response = token(link_tenant, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)

    assert (response.status_code, response.json()["error"]) == (403, "invalid_grant")
