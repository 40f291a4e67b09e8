"""The local tenant, over real loopback HTTP, against the facts in AUTH0-API.md."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from pwless_gate.devtenant import DevTenant, Message, RunningTenant, serve_in_thread

# The credentials the conftest ``tenant`` fixture gives its tenant.
CLIENT_ID = "gate-test-client"
CLIENT_SECRET = "gate-test-secret-0123456789abcdef"
OTP_GRANT = "http://auth0.com/oauth/grant-type/passwordless/otp"
CALLBACK = "http://app.test/_gate/callback"
LOGOUT_URL = "http://app.test/bye"
EMAIL = "ada@example.com"
PHONE = "+15551234567"
WRONG_EMAIL = "Wrong email or verification code."
WRONG_PHONE = "Wrong phone number or verification code."
MAX_ATTEMPTS = "You've reached the maximum number of attempts. Please try to login again."
EXPIRED = "The verification code has expired. Please try to login again."
SAME_DEVICE = (
    "The link must be opened on the same device and browser from which you submitted "
    "your email address."
)
RATE_LIMIT_BODY = {
    "error": "too_many_requests",
    "error_description": "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining "
    "and X-RateLimit-Reset headers.",
}
TIMEOUT = 5

MakeTenant = Callable[..., RunningTenant]


class FakeClock(Protocol):
    """The conftest ``clock`` fixture: a clock the tests move by hand."""

    now: float

    def __call__(self) -> float: ...

    def advance(self, seconds: float) -> None: ...


@pytest.fixture
def make_tenant(clock: FakeClock) -> Iterator[MakeTenant]:
    """Build and serve a tenant with non-default settings; stopped after the test."""
    running: list[RunningTenant] = []

    def make(**options: Any) -> RunningTenant:
        options.setdefault("clock", clock)
        app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **options)
        running.append(serve_in_thread(app))
        return running[-1]

    yield make
    for tenant in running:
        tenant.stop()


# --- calls the tests make ------------------------------------------------------------------


def start(
    tenant: RunningTenant, headers: dict[str, str] | None = None, **fields: Any
) -> requests.Response:
    """POST /passwordless/start as JSON with the client credentials, minus fields set to None."""
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **fields}
    body = {name: value for name, value in body.items() if value is not None}
    return requests.post(
        f"{tenant.url}/passwordless/start", json=body, headers=headers, timeout=TIMEOUT
    )


def start_email(tenant: RunningTenant, email: str = EMAIL, **fields: Any) -> Message:
    fields.setdefault("send", "code")
    response = start(tenant, connection="email", email=email, **fields)
    assert response.status_code == 200, response.text
    return tenant.last_message()


def start_sms(tenant: RunningTenant, phone: str = PHONE, **fields: Any) -> Message:
    response = start(tenant, connection="sms", phone_number=phone, send="code", **fields)
    assert response.status_code == 200, response.text
    return tenant.last_message()


def start_link(tenant: RunningTenant, email: str = EMAIL, **auth_params: str) -> Message:
    params = {
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "state-123",
        "scope": "openid profile email",
        **auth_params,
    }
    return start_email(tenant, email, send="link", authParams=params)


def token(tenant: RunningTenant, as_json: bool = False, **fields: Any) -> requests.Response:
    """POST /oauth/token (form-encoded unless ``as_json``) with the client credentials."""
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **fields}
    body = {name: value for name, value in body.items() if value is not None}
    url = f"{tenant.url}/oauth/token"
    if as_json:
        return requests.post(url, json=body, timeout=TIMEOUT)
    return requests.post(url, data=body, timeout=TIMEOUT)


def otp(
    tenant: RunningTenant,
    username: str,
    code: str | None,
    realm: str = "email",
    scope: str = "openid profile email",
    **fields: Any,
) -> requests.Response:
    """Redeem a one-time code through the passwordless OTP grant."""
    return token(
        tenant,
        grant_type=OTP_GRANT,
        username=username,
        otp=code,
        realm=realm,
        scope=scope,
        **fields,
    )


def log_in(tenant: RunningTenant, email: str = EMAIL, **fields: Any) -> dict[str, Any]:
    message = start_email(tenant, email)
    response = otp(tenant, email, message.code, **fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def follow(link: str) -> requests.Response:
    return requests.get(link, allow_redirects=False, timeout=TIMEOUT)


def redirect_query(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def decode(tenant: RunningTenant, token_: str, audience: str = CLIENT_ID) -> dict[str, Any]:
    """Verify a JWT with the tenant's published JWKS, as a relying party would."""
    keys = jwt.PyJWKSet.from_dict(
        requests.get(f"{tenant.url}/.well-known/jwks.json", timeout=TIMEOUT).json()
    )
    key = keys[jwt.get_unverified_header(token_)["kid"]]
    return jwt.decode(
        token_, key.key, algorithms=["RS256"], audience=audience, issuer=f"{tenant.url}/"
    )


def assert_rate_headers(response: requests.Response) -> None:
    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert response.headers[name].isdigit(), name


# --- /passwordless/start -----------------------------------------------------------------


def test_start_email_code_answers_the_documented_body(tenant: RunningTenant) -> None:
    response = start(tenant, connection="email", email=EMAIL, send="code")

    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{24}", body.pop("_id"))
    assert body == {"email": EMAIL, "email_verified": False}
    assert_rate_headers(response)
    message = tenant.last_message()
    assert (message.channel, message.to, message.link) == ("email", EMAIL, None)
    assert message.code is not None
    assert re.fullmatch(r"[0-9]{6}", message.code)


def test_start_sms_answers_the_documented_body(tenant: RunningTenant) -> None:
    response = start(
        tenant,
        connection="sms",
        phone_number=PHONE,
        send="code",
        headers={"x-request-language": "fr"},
    )

    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{24}", body.pop("_id"))
    assert body == {"phone_number": PHONE, "phone_verified": False, "request_language": "fr"}
    message = tenant.last_message()
    assert (message.channel, message.to, message.link, message.language) == (
        "sms",
        PHONE,
        None,
        "fr",
    )


def test_start_sends_a_link_when_send_is_absent(tenant: RunningTenant) -> None:
    response = start(tenant, connection="email", email=EMAIL, authParams={"state": "s"})

    assert response.status_code == 200
    message = tenant.last_message()
    assert message.code is not None
    assert message.link is not None
    query = parse_qs(urlsplit(message.link).query)
    assert query["verification_code"] == [message.code]
    assert query["state"] == ["s"]


def test_start_sms_without_send_sends_a_code(tenant: RunningTenant) -> None:
    response = start(tenant, connection="sms", phone_number=PHONE)

    assert response.status_code == 200
    assert tenant.last_message().link is None


def test_start_link_flattens_auth_params_into_the_query(tenant: RunningTenant) -> None:
    message = start_link(tenant, nonce="n-1", audience="https://api.test")

    assert message.link is not None
    parts = urlsplit(message.link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"{tenant.url}/passwordless/verify_redirect"
    )
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert query == {
        "client_id": CLIENT_ID,
        "connection": "email",
        "email": EMAIL,
        "verification_code": message.code,
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "state-123",
        "scope": "openid profile email",
        "nonce": "n-1",
        "audience": "https://api.test",
    }


def sms(changes: dict[str, object]) -> dict[str, object]:
    """Body changes for an SMS start (no email, no send)."""
    return {"connection": "sms", "email": None, "send": None, **changes}


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        pytest.param({"client_id": None}, 400, "bad.client_id", id="client_id-missing"),
        pytest.param({"client_id": "someone-else"}, 400, "bad.client_id", id="client_id-unknown"),
        pytest.param({"client_id": 7}, 400, "bad.client_id", id="client_id-not-string"),
        pytest.param({"client_secret": None}, 403, "unauthorized_client", id="secret-missing"),
        pytest.param({"client_secret": ""}, 403, "unauthorized_client", id="secret-empty"),
        pytest.param({"client_secret": "nope"}, 401, "invalid_client", id="secret-wrong"),
        pytest.param(
            {"client_secret": "s\u00e9cret"}, 401, "invalid_client", id="secret-not-ascii"
        ),
        pytest.param({"connection": None}, 400, "bad.connection", id="connection-missing"),
        pytest.param(
            {"connection": "Username-Password-Authentication"},
            400,
            "bad.connection",
            id="connection-unknown",
        ),
        pytest.param({"email": None}, 400, "bad.email", id="email-missing"),
        pytest.param({"email": "ada.example.com"}, 400, "bad.email", id="email-no-at"),
        pytest.param({"email": "ada@localhost"}, 400, "bad.email", id="email-no-domain-dot"),
        pytest.param({"email": " ada@example.com"}, 400, "bad.email", id="email-spaces"),
        pytest.param({"email": [EMAIL]}, 400, "bad.email", id="email-not-string"),
        pytest.param(sms({}), 400, "bad.phone_number", id="phone-missing"),
        pytest.param(
            sms({"phone_number": "15551234567"}), 400, "bad.phone_number", id="phone-no-plus"
        ),
        pytest.param(
            sms({"phone_number": "+1234567890123456"}), 400, "bad.phone_number", id="phone-too-long"
        ),
        pytest.param(
            sms({"phone_number": "+1555CALLME"}), 400, "bad.phone_number", id="phone-letters"
        ),
        pytest.param({"authParams": "state=1"}, 400, "bad.authParams", id="authParams-string"),
        pytest.param({"authParams": ["state"]}, 400, "bad.authParams", id="authParams-list"),
        pytest.param(
            {"authParams": {"state": {"a": 1}}}, 400, "bad.authParams", id="authParams-nested"
        ),
        pytest.param({"username": "ada"}, 400, "bad.request", id="unknown-property"),
        pytest.param({"send": "carrier-pigeon"}, 400, "bad.send", id="send-unknown"),
        pytest.param({"send": 1}, 400, "bad.send", id="send-not-string"),
        pytest.param(sms({"phone_number": PHONE, "send": "link"}), 400, "bad.send", id="sms-link"),
        pytest.param(
            sms({"phone_number": "+991234567"}), 400, "sms_provider_error", id="sms-refused"
        ),
    ],
)
def test_start_refuses_bad_requests(
    tenant: RunningTenant, changes: dict[str, object], status: int, error: str
) -> None:
    fields: dict[str, Any] = {"connection": "email", "email": EMAIL, "send": "code", **changes}

    response = start(tenant, **fields)

    assert (response.status_code, response.json()["error"]) == (status, error)
    assert_rate_headers(response)
    assert tenant.outbox() == []


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        pytest.param(
            {"client_secret": None}, "Client authentication is required", id="secret-missing"
        ),
        pytest.param(
            {"connection": None}, "Missing required property: connection", id="connection-missing"
        ),
        pytest.param({"connection": "nope"}, "Connection does not exist", id="connection-unknown"),
        pytest.param({"email": None}, "Missing required property: email", id="email-missing"),
        pytest.param(
            {"email": "ada.example.com"},
            "error in email - email format validation failed: ada.example.com",
            id="email-format",
        ),
        pytest.param(sms({}), "Missing required property: phone_number", id="phone-missing"),
        pytest.param(
            sms({"phone_number": "555"}),
            r"String does not match pattern: ^\+[0-9]{1,15}$",
            id="phone-pattern",
        ),
        pytest.param(
            {"username": "ada", "password": "x"},
            "the following properties are not allowed: username, password",
            id="unknown-properties",
        ),
    ],
)
def test_start_errors_carry_the_documented_descriptions(
    tenant: RunningTenant, changes: dict[str, object], description: str
) -> None:
    fields: dict[str, Any] = {"connection": "email", "email": EMAIL, "send": "code", **changes}

    assert start(tenant, **fields).json()["error_description"] == description


def test_start_refuses_a_connection_the_tenant_has_not_enabled(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(connections=("email",))

    response = start(tenant, connection="sms", phone_number=PHONE, send="code")

    assert (response.status_code, response.json()["error"]) == (400, "bad.connection")


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


@pytest.mark.parametrize(("content_type", "raw"), GARBAGE)
def test_start_answers_garbage_bodies_with_bad_request(
    tenant: RunningTenant, content_type: str, raw: bytes
) -> None:
    response = requests.post(
        f"{tenant.url}/passwordless/start",
        data=raw,
        headers={"Content-Type": content_type},
        timeout=TIMEOUT,
    )

    assert (response.status_code, response.json()["error"]) == (400, "bad.request")
    assert_rate_headers(response)


@pytest.mark.parametrize(("content_type", "raw"), GARBAGE)
def test_token_answers_garbage_bodies_with_invalid_request(
    tenant: RunningTenant, content_type: str, raw: bytes
) -> None:
    response = requests.post(
        f"{tenant.url}/oauth/token",
        data=raw,
        headers={"Content-Type": content_type},
        timeout=TIMEOUT,
    )

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert_rate_headers(response)


def test_start_refuses_a_body_that_is_too_large(tenant: RunningTenant) -> None:
    response = requests.post(
        f"{tenant.url}/passwordless/start",
        data=b"{" + b" " * 70_000 + b"}",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 413
    assert response.json()["error"]


def test_code_length_follows_the_setting(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(code_length=8)

    message = start_email(tenant)

    assert message.code is not None
    assert re.fullmatch(r"[0-9]{8}", message.code)


def test_on_message_receives_every_message(make_tenant: MakeTenant) -> None:
    seen: list[Message] = []
    tenant = make_tenant(on_message=seen.append)

    start_email(tenant)
    start_sms(tenant)

    assert seen == tenant.outbox()
    assert [message.channel for message in seen] == ["email", "sms"]


# --- one-time codes through the OTP grant ------------------------------------------------


def test_otp_grant_answers_the_documented_body(tenant: RunningTenant) -> None:
    message = start_email(tenant)

    response = otp(tenant, EMAIL, message.code)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "id_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "Bearer",
        86400,
        "openid profile email",
    )
    assert_rate_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_otp_grant_accepts_json_and_form_bodies(tenant: RunningTenant, as_json: bool) -> None:
    message = start_email(tenant)

    response = token(
        tenant,
        as_json=as_json,
        grant_type=OTP_GRANT,
        username=EMAIL,
        otp=message.code,
        realm="email",
        scope="openid",
    )

    assert response.status_code == 200, response.text


def test_third_failed_attempt_kills_the_code(tenant: RunningTenant) -> None:
    message = start_email(tenant)
    wrong = "000000" if message.code != "000000" else "111111"

    answers = [otp(tenant, EMAIL, wrong) for _ in range(4)]
    with_right_code = otp(tenant, EMAIL, message.code)

    assert [(a.status_code, a.json()["error"]) for a in answers] == [(403, "invalid_grant")] * 4
    assert [a.json()["error_description"] for a in answers] == [
        WRONG_EMAIL,
        WRONG_EMAIL,
        MAX_ATTEMPTS,
        MAX_ATTEMPTS,
    ]
    assert with_right_code.json()["error_description"] == MAX_ATTEMPTS
    fresh = start_email(tenant)
    assert otp(tenant, EMAIL, fresh.code).status_code == 200


def test_wrong_phone_code_names_the_phone_number(tenant: RunningTenant) -> None:
    message = start_sms(tenant)
    wrong = "000000" if message.code != "000000" else "111111"

    response = otp(tenant, PHONE, wrong, realm="sms")

    assert response.status_code == 403
    assert response.json() == {"error": "invalid_grant", "error_description": WRONG_PHONE}


def test_a_code_is_single_use(tenant: RunningTenant) -> None:
    message = start_email(tenant)
    assert otp(tenant, EMAIL, message.code).status_code == 200

    again = otp(tenant, EMAIL, message.code)

    assert again.status_code == 403
    assert again.json() == {"error": "invalid_grant", "error_description": WRONG_EMAIL}


def test_only_the_latest_code_is_valid(tenant: RunningTenant) -> None:
    first = start_email(tenant)
    second = start_email(tenant)
    if first.code == second.code:
        pytest.skip("the two random codes happened to be equal")

    old = otp(tenant, EMAIL, first.code)
    new = otp(tenant, EMAIL, second.code)

    assert (old.status_code, old.json()["error_description"]) == (403, WRONG_EMAIL)
    assert new.status_code == 200


def test_a_new_start_resets_the_attempt_count(tenant: RunningTenant) -> None:
    start_email(tenant)
    for _ in range(3):
        otp(tenant, EMAIL, "not-the-code")

    message = start_email(tenant)

    assert otp(tenant, EMAIL, message.code).status_code == 200


def test_code_expires_after_its_lifetime(tenant: RunningTenant, clock: FakeClock) -> None:
    message = start_email(tenant)
    clock.advance(179)
    assert otp(tenant, EMAIL, "not-the-code").json()["error_description"] == WRONG_EMAIL
    clock.advance(2)

    response = otp(tenant, EMAIL, message.code)

    assert response.status_code == 403
    assert response.json() == {"error": "invalid_grant", "error_description": EXPIRED}


def test_code_lifetime_follows_the_setting(make_tenant: MakeTenant, clock: FakeClock) -> None:
    tenant = make_tenant(code_lifetime=600)
    message = start_email(tenant)
    clock.advance(500)

    assert otp(tenant, EMAIL, message.code).status_code == 200


def test_realm_must_match_the_connection_used_at_start(tenant: RunningTenant) -> None:
    message = start_sms(tenant)

    response = otp(tenant, PHONE, message.code, realm="email")

    assert (response.status_code, response.json()["error"]) == (403, "invalid_grant")


def test_an_email_code_is_checked_case_insensitively(tenant: RunningTenant) -> None:
    message = start_email(tenant, "Ada@Example.COM")

    assert otp(tenant, "ada@EXAMPLE.com", message.code).status_code == 200


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        pytest.param({"grant_type": None}, 400, "invalid_request", id="grant_type-missing"),
        pytest.param({"client_id": None}, 400, "invalid_request", id="client_id-missing"),
        pytest.param({"client_id": "someone-else"}, 401, "invalid_client", id="client-unknown"),
        pytest.param({"client_secret": None}, 401, "invalid_client", id="secret-missing"),
        pytest.param({"client_secret": "nope"}, 401, "invalid_client", id="secret-wrong"),
        pytest.param(
            {"grant_type": "password"}, 400, "unsupported_grant_type", id="grant-unsupported"
        ),
        pytest.param({"username": None}, 400, "invalid_request", id="username-missing"),
        pytest.param({"otp": None}, 400, "invalid_request", id="otp-missing"),
        pytest.param({"realm": None}, 400, "invalid_request", id="realm-missing"),
        pytest.param(
            {"realm": "Username-Password-Authentication"},
            400,
            "invalid_request",
            id="realm-not-a-connection",
        ),
        pytest.param({"username": "bob@example.com"}, 403, "invalid_grant", id="never-sent"),
    ],
)
def test_token_refuses_bad_requests(
    tenant: RunningTenant, fields: dict[str, object], status: int, error: str
) -> None:
    message = start_email(tenant)
    body: dict[str, Any] = {
        "grant_type": OTP_GRANT,
        "username": EMAIL,
        "otp": message.code,
        "realm": "email",
        **fields,
    }

    response = token(tenant, **body)

    assert (response.status_code, response.json()["error"]) == (status, error)
    assert_rate_headers(response)


def test_token_refuses_a_parameter_that_is_not_a_string(tenant: RunningTenant) -> None:
    message = start_email(tenant)
    assert message.code is not None

    response = token(
        tenant,
        as_json=True,
        grant_type=OTP_GRANT,
        username=EMAIL,
        otp=int(message.code),
        realm="email",
    )

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_realm_of_a_disabled_connection_is_not_found(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(connections=("email",))

    response = otp(tenant, PHONE, "123456", realm="sms")

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_grant_type_not_allowed_for_the_client(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(grant_types=("authorization_code",))
    message = start_email(tenant)

    response = otp(tenant, EMAIL, message.code)

    assert response.status_code == 403
    assert response.json() == {
        "error": "unauthorized_client",
        "error_description": f"Grant type '{OTP_GRANT}' not allowed for the client.",
    }


def test_a_blocked_user_is_denied(tenant: RunningTenant) -> None:
    tenant.app.block_user("ADA@example.com")
    message = start_email(tenant)

    response = otp(tenant, EMAIL, message.code)

    assert (response.status_code, response.json()["error"]) == (403, "access_denied")


def test_brute_force_protection_blocks_the_user_from_that_ip(tenant: RunningTenant) -> None:
    other_ip = {"auth0-forwarded-for": "203.0.113.9"}
    for _ in range(3):
        start_email(tenant)
        for _ in range(3):
            otp(tenant, EMAIL, "bad")
    start_email(tenant)
    assert otp(tenant, EMAIL, "bad").json()["error"] == "invalid_grant"  # the 10th failure
    message = start_email(tenant)

    blocked = otp(tenant, EMAIL, message.code)
    elsewhere = requests.post(
        f"{tenant.url}/oauth/token",
        data={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": OTP_GRANT,
            "username": EMAIL,
            "otp": message.code,
            "realm": "email",
        },
        headers=other_ip,
        timeout=TIMEOUT,
    )

    assert (blocked.status_code, blocked.json()["error"]) == (429, "too_many_attempts")
    assert elsewhere.status_code == 200


# --- users and tokens --------------------------------------------------------------------


def test_a_user_keeps_its_sub(tenant: RunningTenant) -> None:
    first = decode(tenant, log_in(tenant, "Ada@Example.com")["id_token"])
    second = decode(tenant, log_in(tenant, "ada@example.com")["id_token"])
    other = decode(tenant, log_in(tenant, "bob@example.com")["id_token"])

    assert re.fullmatch(r"email\|[0-9a-f]{24}", first["sub"])
    assert first["sub"] == second["sub"] != other["sub"]
    assert first["sid"] != second["sid"]


def test_email_id_token_claims(tenant: RunningTenant, clock: FakeClock) -> None:
    body = log_in(tenant, EMAIL, scope="openid profile email")

    claims = decode(tenant, body["id_token"])

    assert claims["iss"] == f"{tenant.url}/"
    assert claims["aud"] == CLIENT_ID
    assert claims["iat"] == int(clock.now)
    assert claims["exp"] - claims["iat"] == 36000
    assert claims["sid"]
    assert "nonce" not in claims
    assert (claims["email"], claims["email_verified"]) == (EMAIL, True)
    assert (claims["name"], claims["nickname"]) == (EMAIL, "ada")
    assert claims["picture"].startswith("https://")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", claims["updated_at"])
    assert jwt.get_unverified_header(body["id_token"])["alg"] == "RS256"


def test_sms_id_token_claims(tenant: RunningTenant) -> None:
    message = start_sms(tenant)

    body = otp(tenant, PHONE, message.code, realm="sms", scope="openid profile phone").json()
    claims = decode(tenant, body["id_token"])

    assert re.fullmatch(r"sms\|[0-9a-f]{24}", claims["sub"])
    assert (claims["name"], claims["nickname"]) == (PHONE, PHONE)
    assert (claims["phone_number"], claims["phone_number_verified"]) == (PHONE, True)
    assert claims["picture"].startswith("https://")
    assert "email" not in claims


def test_claims_follow_the_scopes(tenant: RunningTenant) -> None:
    claims = decode(tenant, log_in(tenant, scope="openid email")["id_token"])

    assert "email" in claims
    assert "name" not in claims
    assert "picture" not in claims


def test_id_token_lifetime_follows_the_setting(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(id_token_lifetime=600)

    claims = decode(tenant, log_in(tenant)["id_token"])

    assert claims["exp"] - claims["iat"] == 600


def test_no_id_token_without_openid(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="profile email")

    assert "id_token" not in body
    assert "access_token" in body


def test_offline_access_adds_a_refresh_token_that_refreshes(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="openid email offline_access")
    sid = decode(tenant, body["id_token"])["sid"]

    refreshed = token(tenant, grant_type="refresh_token", refresh_token=body["refresh_token"])

    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert "refresh_token" not in new
    assert new["access_token"] != body["access_token"]
    claims = decode(tenant, new["id_token"])
    assert (claims["sid"], claims["email"]) == (sid, EMAIL)


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        pytest.param({"refresh_token": "not-a-token"}, 403, "invalid_grant", id="unknown-token"),
        pytest.param({"refresh_token": None}, 400, "invalid_request", id="missing-token"),
        pytest.param({"scope": "openid email phone"}, 403, "invalid_scope", id="wider-scope"),
        pytest.param({"client_secret": "nope"}, 401, "invalid_client", id="wrong-secret"),
    ],
)
def test_refresh_grant_refuses(
    tenant: RunningTenant, fields: dict[str, object], status: int, error: str
) -> None:
    body = log_in(tenant, scope="openid email offline_access")
    request = {"refresh_token": body["refresh_token"], **fields}

    response = token(tenant, grant_type="refresh_token", **request)

    assert (response.status_code, response.json()["error"]) == (status, error)


def test_refresh_grant_may_narrow_the_scope(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="openid email offline_access")

    response = token(
        tenant, grant_type="refresh_token", refresh_token=body["refresh_token"], scope="openid"
    )

    assert response.json()["scope"] == "openid"
    assert "email" not in decode(tenant, response.json()["id_token"])


def test_an_audience_makes_the_access_token_a_jwt(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="openid email", audience="https://api.test")

    claims = decode(tenant, body["access_token"], audience="https://api.test")

    assert claims["aud"] == ["https://api.test", f"{tenant.url}/userinfo"]
    assert (claims["azp"], claims["scope"]) == (CLIENT_ID, "openid email")
    userinfo = requests.get(
        f"{tenant.url}/userinfo",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=TIMEOUT,
    )
    assert userinfo.json()["email"] == EMAIL


def test_without_an_audience_the_access_token_is_opaque(tenant: RunningTenant) -> None:
    access_token = log_in(tenant)["access_token"]

    with pytest.raises(jwt.DecodeError):
        jwt.get_unverified_header(access_token)


# --- magic links -------------------------------------------------------------------------


@pytest.fixture
def link_tenant(tenant: RunningTenant) -> RunningTenant:
    tenant.app.allow_callback(CALLBACK)
    return tenant


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


def test_magic_link_works_once(link_tenant: RunningTenant) -> None:
    message = start_link(link_tenant)
    assert message.link is not None
    redirect_query(follow(message.link))

    second = redirect_query(follow(message.link))

    assert second == {
        "error": "access_denied",
        "error_description": WRONG_EMAIL,
        "state": "state-123",
    }


def test_an_expired_magic_link_redirects_with_an_error(
    link_tenant: RunningTenant, clock: FakeClock
) -> None:
    message = start_link(link_tenant)
    assert message.link is not None
    clock.advance(181)

    answer = redirect_query(follow(message.link))

    assert (answer["error"], answer["error_description"]) == ("access_denied", EXPIRED)


def test_a_superseded_magic_link_redirects_with_an_error(link_tenant: RunningTenant) -> None:
    first = start_link(link_tenant)
    second = start_link(link_tenant)
    assert first.link is not None
    if first.code == second.code:
        pytest.skip("the two random codes happened to be equal")

    answer = redirect_query(follow(first.link))

    assert (answer["error"], answer["error_description"]) == ("access_denied", WRONG_EMAIL)


def test_magic_link_code_also_works_in_the_code_flow(link_tenant: RunningTenant) -> None:
    message = start_link(link_tenant)
    assert message.link is not None

    assert otp(link_tenant, EMAIL, message.code).status_code == 200
    assert redirect_query(follow(message.link))["error"] == "access_denied"


def test_magic_link_refused_without_a_session_when_the_flag_is_off(
    make_tenant: MakeTenant,
) -> None:
    tenant = make_tenant(allow_magiclink_verify_without_session=False)
    tenant.app.allow_callback(CALLBACK)
    message = start_link(tenant)
    assert message.link is not None

    answer = redirect_query(follow(message.link))

    assert answer == {
        "error": "access_denied",
        "error_description": SAME_DEVICE,
        "state": "state-123",
    }


def test_wrong_link_codes_count_as_attempts(link_tenant: RunningTenant) -> None:
    message = start_link(link_tenant)
    assert message.link is not None
    tampered = message.link.replace(f"verification_code={message.code}", "verification_code=x")

    descriptions = [redirect_query(follow(tampered))["error_description"] for _ in range(3)]

    assert descriptions == [WRONG_EMAIL, WRONG_EMAIL, MAX_ATTEMPTS]
    assert redirect_query(follow(message.link))["error_description"] == MAX_ATTEMPTS


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


def test_authorization_code_requires_the_same_redirect_uri(link_tenant: RunningTenant) -> None:
    message = start_link(link_tenant)
    assert message.link is not None
    code = redirect_query(follow(message.link))["code"]

    mismatch = token(
        link_tenant,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://app.test/elsewhere",
    )

    assert (mismatch.status_code, mismatch.json()["error"]) == (403, "invalid_grant")


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


def test_authorization_code_missing_is_invalid_request(tenant: RunningTenant) -> None:
    response = token(tenant, grant_type="authorization_code", redirect_uri=CALLBACK)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


# --- rate limits -------------------------------------------------------------------------


def test_start_allows_a_burst_of_50_then_429(tenant: RunningTenant, clock: FakeClock) -> None:
    remaining = []
    for _ in range(50):
        response = start(tenant, connection="email", email=EMAIL, send="code")
        assert response.status_code == 200
        remaining.append(int(response.headers["x-ratelimit-remaining"]))

    refused = start(tenant, connection="email", email=EMAIL, send="code")

    assert remaining == list(range(49, -1, -1))
    assert refused.status_code == 429
    assert refused.json() == RATE_LIMIT_BODY
    assert refused.headers["x-ratelimit-limit"] == "50"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert int(refused.headers["x-ratelimit-reset"]) > clock.now
    assert int(refused.headers["Retry-After"]) == 72  # 3600 s / 50
    assert len(tenant.outbox()) == 50
    clock.advance(72)
    assert start(tenant, connection="email", email=EMAIL, send="code").status_code == 200
    assert start(tenant, connection="email", email=EMAIL, send="code").status_code == 429


def test_refused_starts_count_against_the_limit(tenant: RunningTenant) -> None:
    for _ in range(50):
        start(tenant, connection="email", email="not-an-email")

    assert start(tenant, connection="email", email=EMAIL).status_code == 429


def exhaust_start(tenant: RunningTenant, headers: dict[str, str], **fields: Any) -> None:
    for _ in range(50):
        start(tenant, headers=headers, connection="email", email=EMAIL, send="code", **fields)


def test_forwarded_for_is_honoured_with_the_secret(tenant: RunningTenant) -> None:
    exhaust_start(tenant, {"auth0-forwarded-for": "198.51.100.1"})

    same = start(
        tenant,
        headers={"auth0-forwarded-for": "198.51.100.1"},
        connection="email",
        email=EMAIL,
        send="code",
    )
    other = start(
        tenant,
        headers={"auth0-forwarded-for": "198.51.100.2"},
        connection="email",
        email=EMAIL,
        send="code",
    )
    server_ip = start(tenant, connection="email", email=EMAIL, send="code")

    assert (same.status_code, other.status_code, server_ip.status_code) == (429, 200, 200)


def test_forwarded_for_is_ignored_without_the_secret(tenant: RunningTenant) -> None:
    exhaust_start(tenant, {"auth0-forwarded-for": "198.51.100.1"}, client_secret=None)

    other = start(
        tenant,
        headers={"auth0-forwarded-for": "198.51.100.2"},
        connection="email",
        email=EMAIL,
        send="code",
        client_secret=None,
    )
    trusted = start(
        tenant,
        headers={"auth0-forwarded-for": "198.51.100.3"},
        connection="email",
        email=EMAIL,
        send="code",
    )

    assert other.status_code == 429
    assert trusted.status_code == 200


def test_forwarded_for_is_ignored_when_the_app_does_not_trust_it(
    make_tenant: MakeTenant,
) -> None:
    tenant = make_tenant(trust_forwarded_for=False)
    exhaust_start(tenant, {"auth0-forwarded-for": "198.51.100.1"})

    other = start(
        tenant,
        headers={"auth0-forwarded-for": "198.51.100.2"},
        connection="email",
        email=EMAIL,
        send="code",
    )

    assert other.status_code == 429


def test_token_allows_30_per_second(tenant: RunningTenant, clock: FakeClock) -> None:
    # A different user each time, so brute-force protection stays out of the way.
    answers = [otp(tenant, f"user{n}@example.com", "123456") for n in range(30)]

    refused = otp(tenant, "late@example.com", "123456")

    assert {a.status_code for a in answers} == {403}
    assert [int(a.headers["x-ratelimit-remaining"]) for a in answers] == list(range(29, -1, -1))
    assert refused.status_code == 429
    assert refused.json() == RATE_LIMIT_BODY
    assert refused.headers["x-ratelimit-limit"] == "30"
    assert refused.headers["Retry-After"] == "1"
    clock.advance(1)
    assert otp(tenant, "late@example.com", "123456").status_code == 403


# --- userinfo, logout, discovery ---------------------------------------------------------


def test_userinfo_returns_the_claims_of_the_token(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="openid profile email")
    claims = decode(tenant, body["id_token"])

    response = requests.get(
        f"{tenant.url}/userinfo",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    info = response.json()
    assert info["sub"] == claims["sub"]
    assert (info["email"], info["email_verified"], info["nickname"]) == (EMAIL, True, "ada")


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic YTpi", "Bearer ", "Bearer not-a-token", "EXPIRED"],
    ids=["missing", "basic", "empty-bearer", "unknown-token", "expired"],
)
def test_userinfo_requires_a_live_access_token(
    tenant: RunningTenant, clock: FakeClock, authorization: str | None
) -> None:
    if authorization == "EXPIRED":
        authorization = f"Bearer {log_in(tenant)['access_token']}"
        clock.advance(86401)
    headers = {"Authorization": authorization} if authorization else {}

    response = requests.get(f"{tenant.url}/userinfo", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


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


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"client_id": CLIENT_ID, "returnTo": "http://evil.test/"}, 400),
        ({"returnTo": LOGOUT_URL}, 400),
        ({"client_id": "someone-else", "returnTo": LOGOUT_URL}, 400),
        ({"client_id": CLIENT_ID}, 200),
    ],
    ids=["unlisted-url", "no-client-id", "unknown-client", "no-return-to"],
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


def test_discovery_document_points_at_the_tenant(tenant: RunningTenant) -> None:
    config = requests.get(f"{tenant.url}/.well-known/openid-configuration", timeout=TIMEOUT).json()

    assert config["issuer"] == f"{tenant.url}/"
    assert config["token_endpoint"] == f"{tenant.url}/oauth/token"
    assert config["userinfo_endpoint"] == f"{tenant.url}/userinfo"
    assert config["jwks_uri"] == f"{tenant.url}/.well-known/jwks.json"
    assert config["end_session_endpoint"].startswith(tenant.url)
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert tenant.app.issuer == config["issuer"]


def test_jwks_publishes_one_rsa_signing_key(tenant: RunningTenant) -> None:
    keys = requests.get(f"{tenant.url}/.well-known/jwks.json", timeout=TIMEOUT).json()["keys"]

    assert len(keys) == 1
    key = keys[0]
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
    assert key["kid"]
    assert key["n"]
    assert key["e"] == "AQAB"
    id_token = log_in(tenant)["id_token"]
    assert jwt.get_unverified_header(id_token)["kid"] == key["kid"]


# --- the development endpoints -----------------------------------------------------------


def test_outbox_endpoint_lists_and_clears_messages(tenant: RunningTenant) -> None:
    start_email(tenant)
    start_sms(tenant)
    url = f"{tenant.url}/_dev/outbox"

    listed = requests.get(url, timeout=TIMEOUT).json()["messages"]
    kept = tenant.outbox()
    cleared = requests.delete(url, timeout=TIMEOUT)

    assert listed == [message.to_json() for message in kept]
    assert [m["channel"] for m in listed] == ["email", "sms"]
    assert set(listed[0]) == {"channel", "to", "code", "link", "language"}
    assert cleared.status_code == 204
    assert requests.get(url, timeout=TIMEOUT).json() == {"messages": []}


def test_last_message_filters_by_recipient(tenant: RunningTenant) -> None:
    with pytest.raises(LookupError):
        tenant.last_message()
    start_email(tenant, "ada@example.com")
    start_email(tenant, "bob@example.com")

    assert tenant.last_message().to == "bob@example.com"
    assert tenant.last_message("ADA@example.com").to == "ada@example.com"
    with pytest.raises(LookupError):
        tenant.last_message("carol@example.com")


def test_message_console_line_shows_code_and_link() -> None:
    message = Message("email", EMAIL, "123456", "http://t/l", None)

    assert message.console_line() == f"[dev-tenant] email to {EMAIL}: code 123456  link http://t/l"


def add_fault(tenant: RunningTenant, **fault: object) -> requests.Response:
    return requests.post(f"{tenant.url}/_dev/faults", json=fault, timeout=TIMEOUT)


def test_fault_500_answers_an_html_error_then_recovers(tenant: RunningTenant) -> None:
    assert add_fault(tenant, path="/oauth/token", mode="500").status_code == 201

    failed = otp(tenant, EMAIL, "123456")
    recovered = otp(tenant, EMAIL, "123456")

    assert failed.status_code == 500
    assert failed.headers["Content-Type"].startswith("text/html")
    assert recovered.status_code == 403


def test_fault_garbage_answers_200_with_a_body_that_is_not_json(tenant: RunningTenant) -> None:
    add_fault(tenant, path="/passwordless/start", mode="garbage")

    response = start(tenant, connection="email", email=EMAIL, send="code")

    assert response.status_code == 200
    with pytest.raises(ValueError):  # noqa: PT011 - requests raises its JSONDecodeError
        response.json()
    assert tenant.outbox() == []


def test_fault_429_answers_the_documented_rate_limit(tenant: RunningTenant) -> None:
    add_fault(tenant, path="/passwordless/start", mode="429")

    response = start(tenant, connection="email", email=EMAIL, send="code")

    assert response.status_code == 429
    assert response.json() == RATE_LIMIT_BODY
    assert_rate_headers(response)
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["Retry-After"]) > 0


def test_fault_repeats_the_given_number_of_times(tenant: RunningTenant) -> None:
    tenant.app.add_fault("/.well-known/jwks.json", "500", times=2)
    url = f"{tenant.url}/.well-known/jwks.json"

    statuses = [requests.get(url, timeout=TIMEOUT).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]


def test_faults_can_be_listed_and_cleared(tenant: RunningTenant) -> None:
    add_fault(tenant, path="/oauth/token", mode="500", times=3)
    url = f"{tenant.url}/_dev/faults"
    assert requests.get(url, timeout=TIMEOUT).json() == {
        "faults": [{"path": "/oauth/token", "mode": "500", "times": 3}]
    }

    assert requests.delete(url, timeout=TIMEOUT).status_code == 204

    assert requests.get(url, timeout=TIMEOUT).json() == {"faults": []}
    assert otp(tenant, EMAIL, "123456").status_code == 403
    tenant.app.add_fault("/oauth/token", "500")
    tenant.app.clear_faults()
    assert otp(tenant, EMAIL, "123456").status_code == 403


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"path": "/oauth/token", "mode": "teapot"}, id="mode-unknown"),
        pytest.param({"path": "/oauth/token"}, id="mode-missing"),
        pytest.param({"path": "oauth/token", "mode": "500"}, id="path-relative"),
        pytest.param({"path": "/_dev/faults", "mode": "500"}, id="path-dev"),
        pytest.param({"path": "/oauth/token", "mode": "500", "times": 0}, id="times-zero"),
        pytest.param({"path": "/oauth/token", "mode": "500", "times": "2"}, id="times-string"),
        pytest.param({"path": "/oauth/token", "mode": "500", "times": True}, id="times-bool"),
        pytest.param({"path": "/oauth/token", "mode": "500", "when": "now"}, id="unknown-field"),
    ],
)
def test_bad_fault_requests_are_refused(tenant: RunningTenant, fault: dict[str, object]) -> None:
    response = add_fault(tenant, **fault)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert requests.get(f"{tenant.url}/_dev/faults", timeout=TIMEOUT).json() == {"faults": []}


@pytest.mark.parametrize(
    ("path", "mode", "times"),
    [("/oauth/token", "teapot", 1), ("oauth/token", "500", 1), ("/oauth/token", "500", 0)],
    ids=["mode-unknown", "path-relative", "times-zero"],
)
def test_add_fault_refuses_bad_faults(
    tenant: RunningTenant, path: str, mode: str, times: int
) -> None:
    with pytest.raises(ValueError, match="must"):
        tenant.app.add_fault(path, mode, times)


def test_fault_body_that_is_not_json_is_refused(tenant: RunningTenant) -> None:
    response = requests.post(
        f"{tenant.url}/_dev/faults",
        data=b"{",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 400


def test_fault_timeout_stalls_then_answers(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(fault_delay=0.5)
    tenant.app.add_fault("/oauth/token", "timeout", times=2)

    with pytest.raises(requests.Timeout):
        requests.post(f"{tenant.url}/oauth/token", data={}, timeout=0.1)
    patient = requests.post(f"{tenant.url}/oauth/token", data={}, timeout=TIMEOUT)

    assert patient.status_code == 400  # stalled, then answered as usual


def test_stop_cuts_a_stalled_fault_short(clock: FakeClock) -> None:
    app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, fault_delay=600)
    running = serve_in_thread(app)
    app.add_fault("/oauth/token", "timeout")
    answers: list[int] = []

    def call() -> None:
        response = requests.post(f"{running.url}/oauth/token", data={}, timeout=30)
        answers.append(response.status_code)

    caller = threading.Thread(target=call)
    caller.start()
    faults_url = f"{running.url}/_dev/faults"
    for _ in range(1000):  # until the call has taken the fault and is stalled in it
        if not requests.get(faults_url, timeout=TIMEOUT).json()["faults"]:
            break
        time.sleep(0.01)
    running.stop()
    caller.join(timeout=10)

    assert not caller.is_alive()
    assert answers == [400]


# --- the edges ---------------------------------------------------------------------------


def test_unknown_path_is_a_json_404(tenant: RunningTenant) -> None:
    response = requests.get(f"{tenant.url}/authorize", timeout=TIMEOUT)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/oauth/token"), ("PUT", "/passwordless/start"), ("POST", "/userinfo")],
    ids=["get-token", "put-start", "post-userinfo"],
)
def test_wrong_method_is_a_json_405(tenant: RunningTenant, method: str, path: str) -> None:
    response = requests.request(method, f"{tenant.url}{path}", timeout=TIMEOUT)

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["Allow"]


def test_a_failure_inside_the_tenant_is_a_json_500(make_tenant: MakeTenant) -> None:
    def explode(message: Message) -> None:
        raise RuntimeError("mail relay down")

    tenant = make_tenant(on_message=explode)

    response = start(tenant, connection="email", email=EMAIL, send="code")

    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert "Traceback" not in response.text


def test_an_unknown_audience_is_refused(tenant: RunningTenant) -> None:
    start(tenant, connection="email", email="aud@example.com", send="code")
    code = tenant.last_message(to="aud@example.com").code
    response = requests.post(
        f"{tenant.url}/oauth/token",
        json={
            "grant_type": "http://auth0.com/oauth/grant-type/passwordless/otp",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "realm": "email",
            "username": "aud@example.com",
            "otp": code,
            "scope": "openid",
            "audience": "https://not-registered.example/",
        },
        timeout=TIMEOUT,
    )
    assert (response.status_code, response.json()["error"]) == (403, "access_denied")
    assert "Service not found" in response.json()["error_description"]
