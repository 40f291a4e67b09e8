"""id_token verification against forged tokens, with a key set passed in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pwless_gate import Auth0Unavailable, TokenError
from pwless_gate.errors import Auth0Error, RateLimited
from pwless_gate.idtokens import RETRY_FAILED_FETCH, TokenVerifier, issued_for

ISSUER = "https://tenant.example/"
CLIENT = "client-123"
NOW = 1_800_000_000


class Keys:
    """An RSA key, its JWKS, and a fetcher that counts its calls."""

    def __init__(self, kid: str = "k1") -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.fetches = 0
        self.published = [self.jwk()]

    def jwk(self) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        data.update(kid=self.kid, use="sig", alg="RS256")
        return dict(data)

    def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        return {"keys": list(self.published)}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm="RS256", headers={"kid": self.kid, **header}
        )


def claims(**changes: Any) -> dict[str, Any]:
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "email|abc", "iat": NOW, "exp": NOW + 36000}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def verifier(keys: Keys) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, client_id=CLIENT, fetch_jwks=keys.fetch, clock=lambda: NOW)


def test_valid_token(verifier: TokenVerifier, keys: Keys) -> None:
    got = verifier.verify(keys.sign(claims(nonce="n1")), nonce="n1", connection="email")
    assert got["sub"] == "email|abc"
    verifier.verify(keys.sign(claims()))
    assert keys.fetches == 1


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


FORGED: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "forged_tokens.json").read_text()
)


def _time(value: Any) -> Any:
    """``"NOW-61"`` in the data file means 61 seconds before the frozen now."""
    if isinstance(value, str) and value.startswith("NOW"):
        return NOW + int(value[3:])
    return value


def forge(case: dict[str, Any], keys: Keys) -> str:
    """Build the token a data-file case describes."""
    body = claims(**{k: _time(v) for k, v in case.get("claims", {}).items()})
    header = {"alg": "RS256", "kid": keys.kid, "typ": "JWT", **case.get("header", {})}
    header = {k: v for k, v in header.items() if v is not None}
    sign = case.get("sign", "rs256")
    if sign == "raw":
        return str(case["raw"])
    if sign == "none":
        alg = case.get("header", {}).get("alg", "none")
        return f"{b64({**header, 'alg': alg})}.{b64(body)}."
    if sign == "hs256-public-key":
        public_pem = keys.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        head = b64({**header, "alg": "HS256"})
        mac = hmac.new(public_pem, f"{head}.{b64(body)}".encode(), hashlib.sha256).digest()
        return f"{head}.{b64(body)}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    if sign == "other-key":
        return Keys(kid=keys.kid).sign(body)
    signed_body = claims() if sign == "swap-payload" else body
    signing_input = f"{b64(header)}.{b64(signed_body)}"
    signature = keys.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    genuine = f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    if sign == "strip-signature":
        return genuine.rsplit(".", 1)[0] + "."
    if sign == "swap-payload":
        head, _, signature = genuine.split(".")
        return f"{head}.{b64(body)}.{signature}"
    return genuine


@pytest.mark.parametrize("case", FORGED, ids=[c["id"] for c in FORGED])
def test_forged_tokens_are_refused(
    verifier: TokenVerifier, keys: Keys, case: dict[str, Any]
) -> None:
    token = forge(case, keys)
    with pytest.raises(TokenError):
        verifier.verify(token, nonce=case.get("nonce"), connection=case.get("connection"))


#: Segments at every edge of PyJWT's check: padding, alphabet, length, canonical bits.
SEGMENTS = [
    b"", b"=", b"==", b"===", b"A", b"AA", b"AAA", b"AAAA", b"AA==", b"AAA=", b"AA=",
    b"AAAA====", b"AB", b"AQ", b"AR", b"QQ", b"QR", b"QQ==", b"QR==", b"eyJhIjoxfQ",
    b"eyJhIjoxfQ==", b"eyJhIjoxfQ=", b"ey Jh", b"ey+J", b"ey/J", b"ey.J", b"eyJ\n",
    b"\neyJ", b"eyJ\x00", b"ey\xc3\xa9J", b"!!!!", b"_-_-", b"-_==", b"=AAA", b"A=AA",
]  # fmt: skip


def _read(read: Any, segment: bytes) -> tuple[str, bytes | str]:
    try:
        return "ok", read(segment, "payload")
    except jwt.DecodeError as exc:
        return "DecodeError", str(exc)


def test_segments_are_read_as_pyjwt_reads_them() -> None:
    """The gate's segment reading (one regex, not PyJWT's loop over the characters)
    accepts and refuses exactly what PyJWT's does, with the same errors."""
    import random

    from pwless_gate.idtokens import _Jws

    theirs, ours = jwt.PyJWS._decode_base64url_segment, _Jws._decode_base64url_segment
    rng = random.Random(7)
    alphabet = b"AQRegw09-_=+/. \n\xff"
    made = [bytes(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(3000)]
    for segment in SEGMENTS + made:
        assert _read(ours, segment) == _read(theirs, segment), segment
    outcomes = {_read(ours, segment)[0] for segment in SEGMENTS + made}
    assert outcomes == {"ok", "DecodeError"}


def test_verifying_a_token_reads_its_segments_with_the_gate_s_reader(
    verifier: TokenVerifier, keys: Keys
) -> None:
    """PyJWT reads a token's segments through the method the gate replaces, and never
    through its own: a PyJWT that renamed it would run its slower check, and fail this."""
    from pwless_gate.idtokens import _Jws

    ours = _Jws._decode_base64url_segment.__code__
    theirs = jwt.PyJWS._decode_base64url_segment.__code__
    read: list[tuple[str, str]] = []

    def watch(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code in (ours, theirs):
            read.append(("ours" if frame.f_code is ours else "theirs", frame.f_locals["name"]))

    sys.setprofile(watch)
    try:
        verified = verifier.verify(keys.sign(claims()))
    finally:
        sys.setprofile(None)
    assert verified["sub"] == "email|abc"
    assert sorted(read) == [("ours", "crypto"), ("ours", "header"), ("ours", "payload")]


def test_forge_helper_makes_valid_tokens_without_changes(
    verifier: TokenVerifier, keys: Keys
) -> None:
    """The forging above starts from a token the verifier accepts."""
    assert verifier.verify(forge({"id": "genuine"}, keys))["sub"] == "email|abc"


def test_leeway_allows_small_skew(verifier: TokenVerifier, keys: Keys) -> None:
    verifier.verify(keys.sign(claims(exp=NOW - 30, iat=NOW + 30)))


def test_nonce_mismatch_and_missing(verifier: TokenVerifier, keys: Keys) -> None:
    with pytest.raises(TokenError):
        verifier.verify(keys.sign(claims(nonce="other")), nonce="mine")
    with pytest.raises(TokenError):
        verifier.verify(keys.sign(claims()), nonce="mine")


def test_unknown_kid_refetches_once_then_is_rate_limited(keys: Keys) -> None:
    now = [float(NOW)]
    verifier = TokenVerifier(
        issuer=ISSUER, client_id=CLIENT, fetch_jwks=keys.fetch, clock=lambda: now[0], min_refresh=30
    )
    verifier.verify(keys.sign(claims()))
    rotated = Keys(kid="k2")
    keys.published.append(rotated.jwk())
    # A new kid right away is within min_refresh: refused without a refetch.
    with pytest.raises(TokenError):
        verifier.verify(rotated.sign(claims()))
    assert keys.fetches == 1
    now[0] += 31
    assert verifier.verify(rotated.sign(claims()))["sub"] == "email|abc"
    assert keys.fetches == 2
    forged = Keys(kid="k-forged")
    for _ in range(20):
        with pytest.raises(TokenError):
            verifier.verify(forged.sign(claims()))
    assert keys.fetches == 2


def test_a_failed_key_fetch_is_not_retried_at_once(keys: Keys) -> None:
    """While the tenant is down, tokens signed with keys not yet known are answered
    "unavailable" (503) at once: one fetch waits out the timeout, not one per request."""
    now = [float(NOW)]
    attempts = []

    def fetch() -> dict[str, Any]:
        attempts.append(now[0])
        if len(attempts) <= 2:
            raise Auth0Unavailable("Auth0 at tenant unreachable: ConnectTimeout", status_code=503)
        return keys.fetch()

    verifier = TokenVerifier(
        issuer=ISSUER, client_id=CLIENT, fetch_jwks=fetch, clock=lambda: now[0], min_refresh=30
    )
    token = keys.sign(claims())
    for _ in range(20):
        with pytest.raises(Auth0Unavailable) as caught:
            verifier.verify(token)
        assert caught.value.status_code == 503
    assert len(attempts) == 1
    now[0] += RETRY_FAILED_FETCH  # the next try, and it fails again
    with pytest.raises(Auth0Unavailable):
        verifier.verify(token)
    assert len(attempts) == 2
    now[0] += RETRY_FAILED_FETCH - 1
    with pytest.raises(Auth0Unavailable):
        verifier.verify(token)
    assert len(attempts) == 2
    now[0] += 1  # the tenant is back
    assert verifier.verify(token)["sub"] == "email|abc"
    assert len(attempts) == 3


@pytest.mark.parametrize(
    "refusal",
    [
        RateLimited(429, "too_many_requests", "Too many requests.", retry_after=30),
        Auth0Error(404, "not_found", "Not Found"),
        Auth0Unavailable("the JWKS answered a list, not an object"),
        {"keys": []},
        {"keys": [{"kty": "EC", "kid": "x"}]},
    ],
    ids=["429", "404", "garbage", "no keys", "no usable key"],
)
def test_every_failed_key_fetch_waits_before_the_next(keys: Keys, refusal: Any) -> None:
    """Made-up ``kid`` values cost the tenant one fetch per RETRY_FAILED_FETCH seconds
    whatever it answers: a 429 or another refusal, or a key set with no usable key
    (which does not replace the keys known so far)."""
    now = [float(NOW)]
    attempts = []
    answers = iter([{"keys": list(keys.published)}])

    def fetch() -> dict[str, Any]:
        attempts.append(now[0])
        answer = next(answers, refusal)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    verifier = TokenVerifier(
        issuer=ISSUER, client_id=CLIENT, fetch_jwks=fetch, clock=lambda: now[0], min_refresh=30
    )
    assert verifier.verify(keys.sign(claims()))["sub"] == "email|abc"
    now[0] += 31  # a new kid may be fetched for
    forged = Keys(kid="k-made-up")
    for _ in range(20):
        with pytest.raises(Auth0Unavailable) as caught:
            verifier.verify(forged.sign(claims()))
        assert caught.value.status_code in (502, 503)
    assert len(attempts) == 2
    assert verifier.verify(keys.sign(claims()))["sub"] == "email|abc"  # still known


def test_a_known_key_does_not_wait_for_a_fetch(keys: Keys) -> None:
    """A fetch for an unknown ``kid`` waiting on a slow tenant holds up no token whose
    key is known."""
    started, release = threading.Event(), threading.Event()
    calls = [0]

    def fetch() -> dict[str, Any]:
        calls[0] += 1
        if calls[0] > 1:
            started.set()
            release.wait(10)
        return {"keys": list(keys.published)}

    now = [float(NOW)]
    verifier = TokenVerifier(
        issuer=ISSUER, client_id=CLIENT, fetch_jwks=fetch, clock=lambda: now[0], min_refresh=30
    )
    assert verifier.verify(keys.sign(claims()))
    now[0] += 31
    unknown = Keys("k2").sign(claims())

    def ask_unknown() -> None:
        with pytest.raises(TokenError):
            verifier.verify(unknown)

    slow = threading.Thread(target=ask_unknown)
    slow.start()
    try:
        assert started.wait(10)
        assert verifier.verify(keys.sign(claims()))["sub"] == "email|abc"  # not blocked
        assert slow.is_alive()  # the fetch is still waiting
    finally:
        release.set()
        slow.join(10)


def test_real_time_default_clock(keys: Keys) -> None:
    verifier = TokenVerifier(issuer=ISSUER, client_id=CLIENT, fetch_jwks=keys.fetch)
    fresh = int(time.time())
    assert verifier.verify(keys.sign(claims(iat=fresh, exp=fresh + 60)))


#: The forged cases that differ from a genuine token in ``iss``, ``aud`` or ``azp`` alone.
NOT_FOR_US = [
    case
    for case in FORGED
    if case.get("claims")
    and set(case["claims"]) <= {"iss", "aud", "azp"}
    and not {"sign", "header", "nonce", "connection"} & case.keys()
]


@pytest.mark.parametrize("case", NOT_FOR_US, ids=[c["id"] for c in NOT_FOR_US])
def test_kept_claims_the_verifier_would_refuse_are_not_issued_here(
    verifier: TokenVerifier, keys: Keys, case: dict[str, Any]
) -> None:
    """A session's or app token's claims are checked again as the id_token was."""
    kept = claims(**case["claims"])
    with pytest.raises(TokenError):
        verifier.verify(keys.sign(kept))
    assert not issued_for(kept, issuer=ISSUER, client_id=CLIENT)


@pytest.mark.parametrize(
    "kept",
    [
        claims(),
        claims(aud=[CLIENT]),
        claims(azp=CLIENT),
        claims(aud=[CLIENT, "https://api.test"], azp=CLIENT),
    ],
    ids=["aud", "aud-list-of-one", "azp", "aud-list-with-azp"],
)
def test_kept_claims_of_this_tenant_and_client_are_issued_here(
    verifier: TokenVerifier, keys: Keys, kept: dict[str, Any]
) -> None:
    verifier.verify(keys.sign(kept))
    assert issued_for(kept, issuer=ISSUER, client_id=CLIENT)


@pytest.mark.parametrize(
    "kept",
    [claims(aud=None), claims(aud={"client": CLIENT}), {"sub": "email|abc"}],
    ids=["no-aud", "aud-not-a-string-or-list", "no-iss-no-aud"],
)
def test_kept_claims_without_a_readable_audience_are_not_issued_here(kept: dict[str, Any]) -> None:
    assert not issued_for(kept, issuer=ISSUER, client_id=CLIENT)
