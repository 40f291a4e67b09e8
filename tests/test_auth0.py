"""The Auth0 client against the local tenant over loopback HTTP: results and typed errors."""

from __future__ import annotations

import importlib.metadata
import socket
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
import urllib3

from pwless_gate.auth0 import DEFAULT_RETRY_AFTER, MAX_RETRY_AFTER, Auth0Client, auth0_error
from pwless_gate.devtenant import DevTenant, serve_in_thread
from pwless_gate.errors import (
    AccessDenied,
    AccountBlocked,
    Auth0Error,
    Auth0Unavailable,
    ClientAuthError,
    CodeExpired,
    InvalidRequest,
    RateLimited,
    TooManyAttempts,
    UnknownAudience,
    WrongCode,
)
from pwless_gate.transport import TransportError

from .helpers import CLIENT_ID, CLIENT_SECRET, FakeClock, raw_server, wrong_code
from .procs import free_port

SCOPE = "openid profile email"


@pytest.fixture
def client(tenant: Any) -> Auth0Client:
    return Auth0Client(tenant.url, CLIENT_ID, CLIENT_SECRET, timeout=2.0)


def test_start_and_exchange(client: Auth0Client, tenant: Any) -> None:
    body = client.start(connection="email", identifier="ada@example.com")
    assert body["email"] == "ada@example.com"
    code = tenant.last_message().code
    tokens = client.exchange_otp(realm="email", username="ada@example.com", otp=code, scope=SCOPE)
    assert tokens.id_token.count(".") == 2
    assert tokens.refresh_token is None


@pytest.mark.parametrize(
    ("kwargs", "error_class", "error"),
    [
        ({"connection": "fax"}, InvalidRequest, "bad.connection"),
        ({"identifier": "not-an-email"}, InvalidRequest, "bad.email"),
        ({"connection": "sms", "identifier": "0044 20"}, InvalidRequest, "bad.phone_number"),
    ],
    ids=["bad-connection", "bad-email", "bad-phone"],
)
def test_start_errors(
    client: Auth0Client, kwargs: dict[str, str], error_class: type[Auth0Error], error: str
) -> None:
    args = {"connection": "email", "identifier": "ada@example.com", **kwargs}
    with pytest.raises(error_class) as caught:
        client.start(**args)
    assert caught.value.error == error
    assert caught.value.status_code == 400


def test_wrong_secret_is_client_auth_error(tenant: Any) -> None:
    client = Auth0Client(tenant.url, CLIENT_ID, "wrong-secret", timeout=2.0)
    with pytest.raises(ClientAuthError) as caught:
        client.start(connection="email", identifier="ada@example.com")
    assert caught.value.status_code == 401
    assert caught.value.error == "invalid_client"


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [(CLIENT_ID, "wrong-secret"), (CLIENT_ID, ""), ("someone-else", CLIENT_SECRET)],
    ids=["wrong-secret", "no-secret", "unknown-client"],
)
def test_refused_credentials_at_the_token_endpoint_are_client_auth_errors(
    tenant: Any, client_id: str, secret: str
) -> None:
    """Auth0 says ``401 access_denied`` there: still the gate's credentials, not a person."""
    client = Auth0Client(tenant.url, client_id, secret, timeout=2.0)
    with pytest.raises(ClientAuthError) as caught:
        client.exchange_otp(realm="email", username="ada@example.com", otp="123456", scope=SCOPE)
    assert (caught.value.status_code, caught.value.error) == (401, "access_denied")
    assert not isinstance(caught.value, AccessDenied)


@pytest.mark.parametrize(
    ("status", "error", "description"),
    [
        (401, "access_denied", "Unauthorized"),
        (401, "invalid_client", "Client authentication failed"),
        (401, "unauthorized", "anything else"),
        (501, "unsupported_grant_type", "Unsupported grant type: x"),
    ],
    ids=["401-access_denied", "401-invalid_client", "401-other", "unknown-grant"],
)
def test_refusals_of_the_gates_own_client(status: int, error: str, description: str) -> None:
    mapped = auth0_error(status, error, description, retry_after=1)
    assert type(mapped) is ClientAuthError
    assert (mapped.status_code, mapped.error) == (status, error)


def test_an_unknown_grant_is_an_answer_not_an_outage(tenant: Any) -> None:
    client = Auth0Client(tenant.url, CLIENT_ID, CLIENT_SECRET, timeout=2.0)
    body = {"grant_type": "x", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    with pytest.raises(ClientAuthError) as caught:
        client._post("/oauth/token", body, {})
    assert (caught.value.status_code, caught.value.error) == (501, "unsupported_grant_type")


BRUTE_FORCE = (
    "Your account has been blocked after multiple consecutive login attempts. We've sent "
    "you an email with instructions on how to unblock it."
)
SUSPICIOUS = (
    "We have detected suspicious login behavior and further attempts will be blocked. "
    "Please contact the administrator."
)


@pytest.mark.parametrize(
    ("status", "error", "description", "expected"),
    [
        (403, "access_denied", "user is blocked", AccessDenied),
        (429, "too_many_attempts", BRUTE_FORCE, AccountBlocked),
        (429, "too_many_attempts", SUSPICIOUS, RateLimited),
        (429, "too_many_requests", "Too many requests.", RateLimited),
    ],
    ids=["403-access_denied", "brute-force", "suspicious-ip", "rate-limit"],
)
def test_refusals_of_a_person(status: int, error: str, description: str, expected: type) -> None:
    mapped = auth0_error(status, error, description, retry_after=1)
    assert type(mapped) is expected
    assert (mapped.status_code, mapped.error) == (status, error)


def test_an_audience_the_tenant_does_not_have_is_the_gates_setting() -> None:
    mapped = auth0_error(403, "access_denied", "Service not found: https://api.typo.test")
    assert type(mapped) is UnknownAudience
    assert not isinstance(mapped, AccessDenied)
    assert (mapped.status_code, mapped.error) == (403, "access_denied")


def test_suspicious_ip_waits_minutes_not_the_endpoint_reset() -> None:
    mapped = auth0_error(429, "too_many_attempts", SUSPICIOUS, retry_after=1)
    assert isinstance(mapped, RateLimited)
    assert mapped.retry_after >= 900  # Auth0 gives one attempt back in about 15 minutes


def test_wrong_expired_and_dead_codes(client: Auth0Client, tenant: Any, clock: FakeClock) -> None:
    client.start(connection="email", identifier="bo@example.com")
    code = tenant.last_message().code
    wrong = wrong_code(code)
    for expected in (WrongCode, WrongCode, TooManyAttempts):
        with pytest.raises(expected) as caught:
            client.exchange_otp(realm="email", username="bo@example.com", otp=wrong, scope=SCOPE)
        assert type(caught.value) is expected
        assert caught.value.error == "invalid_grant"
    client.start(connection="email", identifier="bo@example.com")
    code = tenant.last_message().code
    clock.advance(200)
    with pytest.raises(CodeExpired):
        client.exchange_otp(realm="email", username="bo@example.com", otp=code, scope=SCOPE)


def test_rate_limit_is_typed_with_retry_after(client: Auth0Client, tenant: Any) -> None:
    tenant.app.add_fault("/passwordless/start", "429")
    with pytest.raises(RateLimited) as caught:
        client.start(connection="email", identifier="cy@example.com")
    assert caught.value.error == "too_many_requests"
    assert caught.value.retry_after >= 1


def test_forwarded_for_gives_each_user_their_own_limit(client: Auth0Client) -> None:
    for _ in range(50):
        client.start(connection="email", identifier="dee@example.com", forwarded_for="203.0.113.1")
    with pytest.raises(RateLimited):
        client.start(connection="email", identifier="dee@example.com", forwarded_for="203.0.113.1")
    client.start(connection="email", identifier="dee@example.com", forwarded_for="203.0.113.2")


@pytest.mark.parametrize("mode", ["500", "garbage"])
def test_server_errors_and_garbage_are_unavailable(
    client: Auth0Client, tenant: Any, mode: str
) -> None:
    tenant.app.add_fault("/passwordless/start", mode)
    with pytest.raises(Auth0Unavailable) as caught:
        client.start(connection="email", identifier="eve@example.com")
    assert caught.value.status_code == 502
    assert tenant.outbox() == []


def test_posts_are_never_retried(client: Auth0Client, tenant: Any) -> None:
    """A retried /start would send a second message; the fault fails only one call."""
    tenant.app.add_fault("/passwordless/start", "500", times=1)
    with pytest.raises(Auth0Unavailable):
        client.start(connection="email", identifier="fin@example.com")
    assert tenant.outbox() == []
    client.start(connection="email", identifier="fin@example.com")
    assert len(tenant.outbox()) == 1


def test_timeout_is_unavailable_within_the_timeout(clock: FakeClock) -> None:
    timeout = 0.5
    app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, fault_delay=5)
    with serve_in_thread(app) as tenant:
        client = Auth0Client(tenant.url, CLIENT_ID, CLIENT_SECRET, timeout=timeout)
        app.add_fault("/oauth/token", "timeout")
        started = time.monotonic()
        with pytest.raises(Auth0Unavailable) as caught:
            client.exchange_otp(realm="email", username="g@example.com", otp="123456", scope=SCOPE)
        assert caught.value.status_code == 503
        # A connect and a read, each bounded by the timeout, and half a second for the rest.
        assert time.monotonic() - started < timeout * 2 + 0.5
        app.add_fault("/.well-known/jwks.json", "timeout")
        with pytest.raises(Auth0Unavailable):
            client.jwks()


def test_connection_refused_is_unavailable() -> None:
    client = Auth0Client(f"http://127.0.0.1:{free_port()}", CLIENT_ID, CLIENT_SECRET, timeout=1)
    with pytest.raises(Auth0Unavailable) as caught:
        client.start(connection="email", identifier="h@example.com")
    assert caught.value.status_code == 503
    assert isinstance(caught.value.__cause__, Exception)


def test_jwks_and_discovery(client: Auth0Client, tenant: Any) -> None:
    assert client.discovery()["issuer"] == tenant.url + "/"
    keys = client.jwks()["keys"]
    assert keys
    assert keys[0]["kty"] == "RSA"


@contextmanager
def closed_port() -> Iterator[str]:
    yield f"http://127.0.0.1:{free_port()}"  # nothing listens: the connection is refused


@contextmanager
def full_backlog() -> Iterator[str]:
    """A listener whose queue of unaccepted connections is full: a connect is not answered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        with socket.create_connection(listener.getsockname(), timeout=2):  # the one place
            yield "http://{}:{}".format(*listener.getsockname())


@contextmanager
def stalled_tenant() -> Iterator[str]:
    app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, fault_delay=5)
    with serve_in_thread(app) as tenant:
        app.add_fault("/passwordless/start", "timeout")
        yield tenant.url
        app.interrupt_stalls()


@contextmanager
def replying(reply: bytes, scheme: str = "http") -> Iterator[str]:
    """A loopback server that reads what comes first, writes ``reply`` and hangs up."""

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(reply)

    with raw_server(answer, scheme) as url:
        yield url


NOT_GZIP = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope"
FAILURES: dict[str, tuple[Callable[[], AbstractContextManager[str]], str, int]] = {
    "refused": (closed_port, "unreachable: ConnectionError (ConnectionRefusedError)", 503),
    "connect-timeout": (full_backlog, "unreachable: ConnectTimeout", 503),
    "read-timeout": (stalled_tenant, "did not answer in time: ReadTimeout", 503),
    "hung-up": (lambda: replying(b""), "unreachable: ConnectionError (RemoteDisconnected)", 503),
    "not-tls": (
        lambda: replying(b"HTTP/1.1 400 Bad\r\n\r\n", "https"),
        "unreachable: SSLError",
        503,
    ),
    "bad-gzip": (lambda: replying(NOT_GZIP), "failed: DecodeError", 502),
}


@pytest.mark.parametrize("failure", list(FAILURES), ids=list(FAILURES))
def test_failures_to_reach_auth0_are_named(failure: str) -> None:
    """The names requests gave them (operators grep logs for them), and the cause kept."""
    if failure == "connect-timeout" and sys.platform != "linux":
        pytest.skip("a full listen queue drops new connections on Linux")
    served, named, status = FAILURES[failure]
    with served() as url:
        client = Auth0Client(url, CLIENT_ID, CLIENT_SECRET, timeout=0.3)
        with pytest.raises(Auth0Unavailable) as caught:
            client.start(connection="email", identifier="h@example.com")
    host = url.split("://")[1]
    assert str(caught.value) == f"Auth0 at {host} {named} (POST /passwordless/start)"
    assert caught.value.status_code == status
    cause = caught.value.__cause__
    assert isinstance(cause, TransportError)
    assert isinstance(cause.__cause__, OSError | zlib.error)


def answer(status: str, body: bytes, content_type: str, *headers: str) -> bytes:
    """An HTTP answer that closes the connection."""
    head = [
        f"HTTP/1.1 {status}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize("status", ["200 OK", "400 Bad Request"])
def test_a_body_nested_too_deeply_is_unavailable(status: str) -> None:
    """Python's JSON parser recurses: 100000 ``[`` end in RecursionError, not ValueError."""
    with replying(answer(status, b"[" * 100_000, "application/json")) as url:
        client = Auth0Client(url, CLIENT_ID, CLIENT_SECRET, timeout=2.0)
        with pytest.raises(Auth0Unavailable) as caught:
            client.start(connection="email", identifier="h@example.com")
    assert caught.value.status_code == 502
    assert "not JSON" in str(caught.value)


def test_a_429_in_html_is_still_a_rate_limit() -> None:
    """A CDN or firewall in front of Auth0 answers "too many" in its own words."""
    html = answer(
        "429 Too Many Requests", b"<html>slow down</html>", "text/html", "Retry-After: 120"
    )
    with replying(html) as url:
        client = Auth0Client(url, CLIENT_ID, CLIENT_SECRET, timeout=2.0)
        with pytest.raises(RateLimited) as caught:
            client.start(connection="email", identifier="h@example.com")
    assert (caught.value.status_code, caught.value.retry_after) == (429, 120)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Retry-After: 120", 120),
        ("Retry-After: 99999999", MAX_RETRY_AFTER),  # no rate limit lasts years
        ("x-ratelimit-reset: 9999999999", MAX_RETRY_AFTER),
        ("Retry-After: inf", DEFAULT_RETRY_AFTER),  # int(float("inf")) raises OverflowError
        ("Retry-After: 1e999", DEFAULT_RETRY_AFTER),
        ("Retry-After: nan", DEFAULT_RETRY_AFTER),
    ],
)
def test_a_rate_limits_wait_is_bounded(header: str, expected: int) -> None:
    """The wait read from Auth0's headers is passed on to people and clients as
    ``Retry-After``: a value no limit of Auth0's has is bounded, one that is no number
    is not read (it raised OverflowError: a 500)."""
    with replying(answer("429 Too Many Requests", b"{}", "application/json", header)) as url:
        client = Auth0Client(url, CLIENT_ID, CLIENT_SECRET, timeout=2.0)
        with pytest.raises(RateLimited) as caught:
            client.start(connection="email", identifier="h@example.com")
    assert caught.value.retry_after == expected


def test_the_gate_is_tested_on_the_urllib3_it_ships_with() -> None:
    """A test dependency that brings urllib3-future (niquests, caldav 2+) replaces the
    ``urllib3`` package itself: every test would then run the gate's Auth0 calls on
    another HTTP stack than production's."""
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("urllib3-future")
    assert urllib3.__version__ == importlib.metadata.version("urllib3")
