"""The transport over loopback: pooling, no redirects, what is retried, proxies read once."""

from __future__ import annotations

import base64
import importlib.util
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from urllib3 import Timeout
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from pwless_gate.auth0 import Auth0Client
from pwless_gate.devtenant import DevTenant, serve_in_thread
from pwless_gate.errors import Auth0Unavailable, ConfigError, RateLimited
from pwless_gate.pacing import PRIOR_SECONDS, PROBE_IDENTIFIER, DecoyTransport, Pacer
from pwless_gate.transport import PACED_PATH, Transport

from .examples.support import serving
from .helpers import CLIENT_ID, CLIENT_SECRET, FakeClock
from .procs import free_port

TIMEOUT = Timeout(connect=2.0, read=2.0)
JWKS = "/.well-known/jwks.json"


class Recorder:
    """A WSGI app that remembers each request and answers ``status`` with a JSON ``body``."""

    def __init__(
        self,
        status: str = "200 OK",
        headers: Iterable[tuple[str, str]] = (),
        body: object = None,
    ) -> None:
        self.status = status
        self.headers = list(headers)
        self.body = {"keys": []} if body is None else body
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k[:5] == "HTTP_"
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        self.seen.append(
            {
                "target": environ["REQUEST_URI"],
                "headers": headers,
                "body": environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)),
            }
        )
        start_response(self.status, [("Content-Type", "application/json"), *self.headers])
        return [json.dumps(self.body).encode()]


@contextmanager
def recording(recorder: Recorder) -> Iterator[str]:
    with serving(recorder) as url:
        yield url


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_one_pooled_connection_is_reused(tenant: Any) -> None:
    transport = Transport(tenant.url)
    client = Auth0Client(tenant.url, CLIENT_ID, CLIENT_SECRET, timeout=2.0, http=transport)
    client.jwks()
    client.discovery()
    client.start(connection="email", identifier="ada@example.com")
    assert transport.pool.num_requests == 3
    assert transport.pool.num_connections == 1


def test_a_redirect_is_not_followed() -> None:
    """A 307 would make a client re-post the body, client secret included, to the Location."""
    target = Recorder()
    with recording(target) as elsewhere:
        redirector = Recorder("307 Temporary Redirect", [("Location", elsewhere + "/oauth/token")])
        with recording(redirector) as url:
            client = Auth0Client(url, CLIENT_ID, CLIENT_SECRET, timeout=2.0)
            with pytest.raises(Auth0Unavailable) as caught:
                client.refresh("a-refresh-token")
            answer = Transport(url).request("POST", "/oauth/token", json={}, timeout=TIMEOUT)
    assert caught.value.status_code == 502  # an answer that makes no sense, not an outage
    assert answer.status == 307
    assert [seen["target"] for seen in redirector.seen] == ["/oauth/token"] * 2
    assert target.seen == []


def call(client: Auth0Client, path: str) -> object:
    if path == PACED_PATH:
        return client.start(connection="email", identifier="ada@example.com")
    return client.jwks()


@pytest.mark.parametrize("path", [PACED_PATH, JWKS], ids=["post", "get"])
def test_a_read_that_timed_out_is_not_tried_again(clock: FakeClock, path: str) -> None:
    """A start sent again would send a second message and kill the first code."""
    app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, fault_delay=5)
    with serve_in_thread(app) as tenant:
        transport = Transport(tenant.url)
        client = Auth0Client(tenant.url, CLIENT_ID, CLIENT_SECRET, timeout=0.3, http=transport)
        app.add_fault(path, "timeout", times=1)  # a second try would be answered at once
        with pytest.raises(Auth0Unavailable) as caught:
            call(client, path)
        assert app.outbox == []
        assert transport.pool.num_requests == 1
        app.interrupt_stalls()
    cause = caught.value.__cause__
    reason = cause.reason if isinstance(cause, MaxRetryError) else cause
    assert isinstance(reason, ReadTimeoutError)
    assert caught.value.status_code == 503


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_connection_that_failed_to_open_is_tried_once_more(method: str) -> None:
    """Nothing was sent: a second try is safe, whatever the method."""
    transport = Transport(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(MaxRetryError) as caught:
        transport.request(
            method, "/oauth/token", json={} if method == "POST" else None, timeout=TIMEOUT
        )
    assert isinstance(caught.value.reason, NewConnectionError)
    assert transport.pool.num_connections == 2


def test_the_proxy_is_read_once_and_sent_the_absolute_url(no_proxies: pytest.MonkeyPatch) -> None:
    proxy = Recorder()
    with recording(proxy) as proxy_url:
        user_url = proxy_url.replace("://", "://gate:p%40ss@")
        no_proxies.setenv("http_proxy", user_url)
        closed = f"127.0.0.1:{free_port()}"  # reached only through the proxy
        transport = Transport(f"http://{closed}")
        no_proxies.delenv("http_proxy")  # read at construction, not on each call
        answer = transport.request("GET", JWKS, timeout=TIMEOUT)
    assert answer.status == 200
    assert answer.json() == {"keys": []}
    [seen] = proxy.seen
    assert (seen["target"], seen["headers"]["host"]) == (f"http://{closed}{JWKS}", closed)
    credentials = base64.b64encode(b"gate:p@ss").decode()
    assert seen["headers"]["proxy-authorization"] == f"Basic {credentials}"


def test_a_proxy_named_after_construction_is_not_used(
    tenant: Any, no_proxies: pytest.MonkeyPatch
) -> None:
    proxy = Recorder()
    with recording(proxy) as proxy_url:
        transport = Transport(tenant.url)
        no_proxies.setenv("http_proxy", proxy_url)
        assert transport.request("GET", JWKS, timeout=TIMEOUT).status == 200
    assert proxy.seen == []


def test_a_bypassed_host_is_called_directly(tenant: Any, no_proxies: pytest.MonkeyPatch) -> None:
    proxy = Recorder()
    with recording(proxy) as proxy_url:
        no_proxies.setenv("http_proxy", proxy_url)
        no_proxies.setenv("no_proxy", "127.0.0.1")
        client = Auth0Client(tenant.url, CLIENT_ID, CLIENT_SECRET, timeout=2.0)
        assert client.jwks()["keys"]
    assert proxy.seen == []


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.DependencyWarning")
@pytest.mark.skipif(importlib.util.find_spec("socks") is not None, reason="PySocks is installed")
def test_a_socks_proxy_without_pysocks_is_a_config_error(
    no_proxies: pytest.MonkeyPatch,
) -> None:
    no_proxies.setenv("https_proxy", f"socks5://127.0.0.1:{free_port()}")
    with pytest.raises(ConfigError) as caught:
        Transport("https://127.0.0.1:8443")
    assert caught.value.setting == "https_proxy"


def test_json_bodies_and_headers() -> None:
    recorder = Recorder()
    with recording(recorder) as url:
        transport = Transport(url)
        transport.request(
            "POST", "/oauth/token", json={"a": "é"}, headers={"x-b": "c"}, timeout=TIMEOUT
        )
        transport.request("GET", JWKS, timeout=TIMEOUT)
    posted, got = recorder.seen
    assert json.loads(posted["body"]) == {"a": "é"}
    assert posted["headers"]["content-type"] == "application/json"
    assert posted["headers"]["x-b"] == "c"
    assert "content-type" not in got["headers"]
    assert "x-b" not in got["headers"]  # one call's headers are not kept for the next
    for seen in (posted, got):
        assert seen["headers"]["user-agent"] == "pwless-gate"
        assert seen["headers"]["accept"] == "application/json"


def test_a_start_answered_200_is_timed_for_the_pacer(tenant: Any) -> None:
    pacer = Pacer()
    client = Auth0Client(tenant.url, CLIENT_ID, CLIENT_SECRET, timeout=2.0, pacer=pacer)
    client.jwks()
    tenant.app.add_fault(PACED_PATH, "429")
    with pytest.raises(RateLimited):
        client.start(connection="email", identifier="ada@example.com")
    assert pacer.sample() == PRIOR_SECONDS  # neither a GET nor a refused start counts
    client.start(connection="email", identifier="ada@example.com")
    assert pacer.sample() < PRIOR_SECONDS  # a loopback round trip, not the prior


@pytest.mark.parametrize(
    ("field", "identifier"), [("email", "eve@example.com"), ("phone_number", "+14155550123")]
)
def test_the_decoy_answers_like_a_start_and_sends_nothing(
    tenant: Any, field: str, identifier: str
) -> None:
    """Auth0 refuses the decoy's identifier, as it must: the answer is a send's."""
    pacer = Pacer(sleep=lambda seconds: None)
    pacer.observe(0.0)
    connection = "sms" if field == "phone_number" else "email"
    body = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "connection": connection,
        field: identifier,
        "send": "code",
    }
    decoy = DecoyTransport(Transport(tenant.url), pacer)
    answer = decoy.request("POST", PACED_PATH, json=body, timeout=TIMEOUT)
    assert tenant.outbox() == []
    real = Transport(tenant.url).request("POST", PACED_PATH, json=body, timeout=TIMEOUT)
    assert answer.status == real.status == 200
    assert answer.headers["content-type"] == real.headers["content-type"]
    decoyed, sent = answer.json(), real.json()
    assert isinstance(decoyed, dict)
    assert isinstance(sent, dict)
    assert sent.keys() == decoyed.keys()
    assert decoyed[field] == identifier
    assert len(tenant.outbox()) == 1


def test_the_decoy_asks_auth0_without_the_identifier_and_passes_up_other_answers() -> None:
    """Auth0 gets the same start, headers and all, but neither the identifier nor the
    link's state (which names it); an answer other than the refusal of that identifier
    (here a 429) comes back as it came."""
    refusal = {"error": "too_many_requests", "error_description": "Too many requests."}
    recorder = Recorder("429 Too Many Requests", [("Retry-After", "72")], body=refusal)
    state = "W1siZW1haWwiLCJldmVAZXhhbXBsZS5jb20iXQ.aBcD.signature-part"
    params = {"redirect_uri": "http://localhost/_gate/callback", "state": state, "nonce": "n"}
    body = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "connection": "email",
        "email": "eve@example.com",
        "send": "link",
        "authParams": params,
    }
    headers = {"auth0-forwarded-for": "192.0.2.1", "x-request-language": "de"}
    with recording(recorder) as url:
        decoy = DecoyTransport(Transport(url))
        answer = decoy.request("POST", PACED_PATH, json=body, headers=headers, timeout=TIMEOUT)
        Transport(url).request("POST", PACED_PATH, json=body, headers=headers, timeout=TIMEOUT)
    assert (answer.status, answer.headers["Retry-After"], answer.json()) == (429, "72", refusal)
    probe, real = recorder.seen
    assert probe["target"] == real["target"] == PACED_PATH
    assert probe["headers"] == real["headers"]
    assert b"eve@example.com" not in probe["body"]
    assert state.encode() not in probe["body"]
    asked = json.loads(probe["body"])
    assert asked["email"] == PROBE_IDENTIFIER
    assert len(asked["authParams"].pop("state")) == len(state)
    without_state = {name: value for name, value in params.items() if name != "state"}
    assert asked == {**body, "email": PROBE_IDENTIFIER, "authParams": without_state}
