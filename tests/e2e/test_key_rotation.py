"""Auth0 rotates its signing key: the gate signs people in before and after."""

from __future__ import annotations

import requests

from ..helpers import Harness


def published_kids(harness: Harness) -> list[str]:
    jwks = requests.get(f"{harness.tenant.url}/.well-known/jwks.json", timeout=10).json()
    return [key["kid"] for key in jwks["keys"]]


def test_tokens_signed_with_either_published_key_are_accepted(harness: Harness) -> None:
    first, second = published_kids(harness)
    assert harness.login("ada@example.com").status_code == 303  # signed with the first
    # The JWKS cannot be fetched again from here on: the second key must be known already.
    harness.tenant.app.add_fault("/.well-known/jwks.json", "500", times=0)

    harness.tenant.app.rotate_signing_key()
    after = harness.login("bob@example.com", client=harness.new_browser())

    harness.tenant.app.clear_faults()
    assert published_kids(harness)[0] == second != first  # now signed with the second
    assert after.status_code == 303


def test_a_gate_started_after_rotations_accepts_the_current_key(harness: Harness) -> None:
    harness.tenant.app.rotate_signing_key()
    harness.tenant.app.rotate_signing_key()

    assert len(published_kids(harness)) == 4  # current, next and two retired
    assert harness.login("cy@example.com").status_code == 303
