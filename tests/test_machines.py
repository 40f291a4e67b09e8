"""Machines' client-credentials bearer tokens, verified with a key set passed in."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from pwless_gate import TokenError
from pwless_gate.idtokens import AccessTokenVerifier, JwksCache
from pwless_gate.machines import Machines, bearer_token

from .helpers import FakeClock
from .test_tokens import ISSUER, Keys

API = "https://api.internal.example/"
ROBOT = "robot-1"


def claims(now: float, **changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "sub": f"{ROBOT}@clients",
        "aud": API,
        "iat": int(now),
        "exp": int(now) + 86400,
        "gty": "client-credentials",
        "azp": ROBOT,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


class Counting(AccessTokenVerifier):
    """Counts the tokens it really verifies."""

    calls = 0

    def verify(self, token: str) -> dict[str, Any]:
        self.calls += 1
        return super().verify(token)


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def machines(keys: Keys, clock: FakeClock) -> Machines:
    jwks = JwksCache(keys.fetch, clock=clock)
    verifier = Counting(issuer=ISSUER, audience=API, keys=jwks, clock=clock, leeway=60)
    return Machines(verifier, [ROBOT, "robot-2"], clock=clock, maxsize=4)


def test_a_valid_token_admits_the_machine(machines: Machines, keys: Keys, clock: FakeClock) -> None:
    token = keys.sign(claims(clock(), scope="read:reports"))

    entry = machines.verify(token)

    assert entry.environ["REMOTE_USER"] == f"{ROBOT}@clients"
    assert entry.environ["pwless_gate.auth_method"] == "client-credentials"
    assert entry.environ["pwless_gate.access_token"] == token
    assert entry.user.sub == f"{ROBOT}@clients"
    assert (entry.user.email, entry.user.phone_number) == (None, None)
    assert entry.user.claims["scope"] == "read:reports"
    assert entry.session.claims["azp"] == ROBOT


def test_an_audience_list_containing_the_api_is_accepted(
    machines: Machines, keys: Keys, clock: FakeClock
) -> None:
    token = keys.sign(claims(clock(), aud=[API, f"{ISSUER}userinfo"]))
    assert machines.verify(token).user.sub == f"{ROBOT}@clients"


def test_a_verified_token_is_cached_until_it_expires(
    machines: Machines, keys: Keys, clock: FakeClock
) -> None:
    token = keys.sign(claims(clock(), exp=int(clock()) + 600))
    verifier: Any = machines.verifier

    machines.verify(token)
    assert machines.cached(token) is not None
    machines.verify(token)
    assert verifier.calls == 1
    assert keys.fetches == 1

    clock.advance(600 + 60 + 1)  # past exp and the leeway
    assert machines.cached(token) is None
    with pytest.raises(TokenError):
        machines.verify(token)


def test_the_cache_is_bounded(machines: Machines, keys: Keys, clock: FakeClock) -> None:
    tokens = [keys.sign(claims(clock(), jti=str(n))) for n in range(6)]
    for token in tokens:
        machines.verify(token)
    assert machines.cached(tokens[0]) is None
    assert machines.cached(tokens[-1]) is not None


def rfc9068_claims(now: float, **changes: Any) -> dict[str, Any]:
    """A client-credentials token's claims in Auth0's RFC 9068 profile: ``client_id`` for
    ``azp``, a ``jti``, no ``gty`` (signed with header ``typ`` ``at+jwt``)."""
    profile = {"gty": None, "azp": None, "client_id": ROBOT, "jti": "73WakrfVbNJBaAmhQtEeDv"}
    return claims(now, **{**profile, **changes})


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
def test_a_token_in_the_rfc9068_profile_admits_the_machine(
    machines: Machines, keys: Keys, clock: FakeClock, typ: str
) -> None:
    token = keys.sign(rfc9068_claims(clock(), scope="read:reports"), typ=typ)

    entry = machines.verify(token)

    assert entry.environ["REMOTE_USER"] == f"{ROBOT}@clients"
    assert entry.environ["pwless_gate.auth_method"] == "client-credentials"
    assert entry.user.claims["client_id"] == ROBOT
    assert "gty" not in entry.session.claims


def test_client_id_beside_the_same_azp_is_accepted(
    machines: Machines, keys: Keys, clock: FakeClock
) -> None:
    token = keys.sign(claims(clock(), client_id=ROBOT))
    assert machines.verify(token).user.sub == f"{ROBOT}@clients"


#: (claims, header typ) of tokens refused whatever the profile.
REFUSED_PROFILES = {
    "no-gty-typ-jwt": ({}, "JWT"),
    "no-gty-no-typ": ({}, None),
    "no-gty-typ-other": ({}, "jwt+at"),
    "no-gty-a-persons-token": ({"sub": "email|abc"}, "at+jwt"),
    "no-gty-a-persons-token-with-clients-in-it": ({"sub": "email|abc@clients"}, "at+jwt"),
    "no-gty-sub-another-client": ({"sub": "robot-2@clients"}, "at+jwt"),
    "client-not-allowed": ({"client_id": "robot-9", "sub": "robot-9@clients"}, "at+jwt"),
    "client-id-not-a-string": ({"client_id": ["robot-1"]}, "at+jwt"),
    "no-client-id-nor-azp": ({"client_id": None}, "at+jwt"),
    "azp-and-client-id-differ": ({"azp": "robot-2"}, "at+jwt"),
    "azp-not-a-string-beside-client-id": ({"azp": 1}, "at+jwt"),
    "gty-null": ({"gty": None}, "at+jwt"),
    "gty-password": ({"gty": "password"}, "at+jwt"),
    "other-audience": ({"aud": "https://other.example/"}, "at+jwt"),
    "other-issuer": ({"iss": "https://evil.example/"}, "at+jwt"),
    "expired": ({"exp": -3600}, "at+jwt"),
}


@pytest.mark.parametrize(("changes", "typ"), REFUSED_PROFILES.values(), ids=REFUSED_PROFILES.keys())
def test_refused_tokens_without_gty(
    machines: Machines, keys: Keys, clock: FakeClock, changes: dict[str, Any], typ: str | None
) -> None:
    now = clock()
    if isinstance(changes.get("exp"), int):
        changes = {**changes, "exp": int(now) + changes["exp"]}
    body = rfc9068_claims(now, **{k: v for k, v in changes.items() if k != "gty"})
    if "gty" in changes:
        body["gty"] = changes["gty"]  # kept, even as null
    header: dict[str, Any] = {"typ": typ} if typ is not None else {"typ": None}
    token = keys.sign(body, **header)
    if typ is None:
        assert "typ" not in jwt.get_unverified_header(token)
    with pytest.raises(TokenError):
        machines.verify(token)
    assert machines.cached(token) is None


def _unsigned(header: dict[str, Any], body: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(body)}."


REFUSED = {
    "other-audience": {"aud": "https://other.example/"},
    "other-issuer": {"iss": "https://evil.example/"},
    "client-not-allowed": {"azp": "robot-9", "sub": "robot-9@clients"},
    "sub-not-the-client": {"sub": "robot-2@clients"},
    "a-person-not-a-machine": {"gty": None, "sub": "email|abc"},
    "password-grant": {"gty": "password"},
    "expired": {"exp": -3600},
    "not-yet-valid": {"iat": 3600},
    "no-exp": {"exp": None},
}


@pytest.mark.parametrize("changes", REFUSED.values(), ids=REFUSED.keys())
def test_refused_tokens(
    machines: Machines, keys: Keys, clock: FakeClock, changes: dict[str, Any]
) -> None:
    now = clock()
    for name in ("exp", "iat"):
        if isinstance(changes.get(name), int):
            changes = {**changes, name: int(now) + changes[name]}
    with pytest.raises(TokenError):
        machines.verify(keys.sign(claims(now, **changes)))
    assert machines.cached(keys.sign(claims(now, **changes))) is None


def test_forged_and_malformed_tokens_are_refused(
    machines: Machines, keys: Keys, clock: FakeClock
) -> None:
    good = claims(clock())
    forged_key = Keys(kid=keys.kid)  # the published kid, another key
    tampered = (
        keys.sign(good).rsplit(".", 1)[0] + "." + keys.sign(claims(clock(), x=1)).rsplit(".", 1)[1]
    )
    cases = [
        forged_key.sign(good),
        Keys(kid="k-unknown").sign(good),
        tampered,
        _unsigned({"alg": "none", "kid": keys.kid}, good),
        jwt.encode(good, "s" * 32, algorithm="HS256", headers={"kid": keys.kid}),
        "not-a-jwt",
        "a.b.c",
        "eyJhbGciOiJSUzI1NiJ9.e30.",
        "é.é.é",
        "x" * 9000,
        "",
    ]
    for token in cases:
        with pytest.raises(TokenError):
            machines.verify(token)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer eyJ.a.b", "eyJ.a.b"),
        ("bearer  eyJ.a.b ", "eyJ.a.b"),
        ("Bearer garbage", "garbage"),
        ("Bearer pwg_abc", None),
        ("Basic dXNlcjpwYXNz", None),
        ("", None),
    ],
    ids=["bearer", "scheme-case-and-spaces", "malformed-still-ours", "app-token", "basic", "empty"],
)
def test_which_bearer_tokens_are_machines(header: str, token: str | None) -> None:
    assert bearer_token({"HTTP_AUTHORIZATION": header}) == token
    assert bearer_token({}) is None
