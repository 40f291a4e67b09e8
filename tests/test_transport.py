"""The transport over loopback: pooling, no redirects, what is retried, TLS verified,
proxies read once."""

from __future__ import annotations

import base64
import datetime
import gzip
import importlib.util
import ipaddress
import json
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pwless_gate.auth0 import Auth0Client
from pwless_gate.devtenant import DevTenant, serve_in_thread
from pwless_gate.errors import Auth0Unavailable, ConfigError, RateLimited
from pwless_gate.pacing import PRIOR_SECONDS, PROBE_IDENTIFIER, DecoyTransport, Pacer
from pwless_gate.transport import PACED_PATH, Timeout, Transport, TransportError

from .examples.support import serving
from .helpers import CLIENT_ID, CLIENT_SECRET, FakeClock, raw_server
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
        body = json.dumps(self.body).encode()
        length = ("Content-Length", str(len(body)))  # the connection stays open for the next
        start_response(self.status, [("Content-Type", "application/json"), length, *self.headers])
        return [body]


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
    assert transport.connections.sent == 3
    assert transport.connections.opened == 1


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
        assert transport.connections.sent == 1
        app.interrupt_stalls()
    cause = caught.value.__cause__
    assert isinstance(cause, TransportError)
    assert (str(cause), cause.sent) == ("did not answer in time: ReadTimeout", True)
    assert caught.value.status_code == 503
    assert caught.value.outcome_unknown


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_connection_that_failed_to_open_is_tried_once_more(method: str) -> None:
    """Nothing was sent: a second try is safe, whatever the method."""
    transport = Transport(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TransportError) as caught:
        transport.request(
            method, "/oauth/token", json={} if method == "POST" else None, timeout=TIMEOUT
        )
    assert str(caught.value) == "unreachable: ConnectionError (ConnectionRefusedError)"
    assert not caught.value.sent
    assert transport.connections.opened == 2
    assert transport.connections.sent == 0


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


def _self_signed(folder: Path, *names: x509.GeneralName) -> tuple[str, str]:
    """A certificate (its own issuer) for ``names``, and its key: two PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pwless-gate test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@contextmanager
def serving_tls(cert_file: str, key_file: str, body: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """A loopback HTTPS server that answers every GET with ``body``, keeping each
    connection open until the client closes it; the requests it read, in order."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    seen: list[bytes] = []

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    while request := tls.recv(65536):
                        seen.append(request)
                        tls.sendall(reply(body))
            except (ssl.SSLError, OSError):
                return  # the client refused the certificate

    with raw_server(answer, "https") as url:
        yield url, seen


@pytest.mark.parametrize(
    ("names", "trusted", "failure"),
    [
        ([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], True, None),
        ([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], False, "SSLCertVerificationError"),
        ([x509.DNSName("auth0.example")], True, "SSLCertVerificationError"),
    ],
    ids=["verified", "unknown-issuer", "other-host"],
)
def test_tls_is_verified_against_the_ca_bundle_and_the_host(
    tmp_path: Path,
    no_proxies: pytest.MonkeyPatch,
    names: list[x509.GeneralName],
    trusted: bool,
    failure: str | None,
) -> None:
    """The bundle is certifi's (here pointed at a test CA when ``trusted``); a
    certificate it does not vouch for, or one for another host, is refused at once:
    trying again changes nothing."""
    cert_file, key_file = _self_signed(tmp_path, *names)
    if trusted:
        no_proxies.setattr(certifi, "where", lambda: cert_file)
    with serving_tls(cert_file, key_file, b'{"keys": []}') as (url, seen):
        transport = Transport(url)
        if failure is None:
            answers = [transport.request("GET", JWKS, timeout=TIMEOUT) for _ in range(3)]
            assert [answer.json() for answer in answers] == [{"keys": []}] * 3
            assert (transport.connections.opened, transport.connections.sent, len(seen)) == (
                1,
                3,
                3,
            )
            return
        with pytest.raises(TransportError) as caught:
            transport.request("GET", JWKS, timeout=TIMEOUT)
    assert str(caught.value) == f"unreachable: SSLError ({failure})"
    assert (caught.value.unreachable, caught.value.sent) == (True, False)
    assert (transport.connections.opened, seen) == (1, [])


@contextmanager
def answering(*replies: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server that answers each connection's first request with the next of
    ``replies`` and then closes that connection; the requests it read, in order, each
    added once its connection is closed."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        for reply in replies:
            conn, _ = listener.accept()
            with conn:
                request = conn.recv(65536)
                conn.sendall(reply)
            seen.append(request)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        listener.close()
        thread.join(5)


def reply(body: bytes, *headers: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", *headers]
    return ("\r\n".join(head) + f"\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def test_a_kept_connection_the_origin_closed_is_not_used() -> None:
    """Auth0 closes idle kept-alive connections: the next call opens a new one instead
    of failing on the closed one (a POST on it could not be sent again)."""
    with answering(reply(b'{"n": 1}'), reply(b'{"n": 2}')) as (url, seen):
        transport = Transport(url)
        first = transport.request("POST", "/oauth/token", json={}, timeout=TIMEOUT)
        for _ in range(500):  # until the server has closed the first connection
            if seen:
                break
            time.sleep(0.01)
        second = transport.request("POST", "/oauth/token", json={}, timeout=TIMEOUT)
    assert (first.json(), second.json()) == ({"n": 1}, {"n": 2})
    assert (transport.connections.opened, transport.connections.sent, len(seen)) == (2, 2, 2)


def test_an_answer_that_closes_its_connection_is_not_kept() -> None:
    with answering(reply(b"{}", "Connection: close"), reply(b"{}")) as (url, seen):
        transport = Transport(url)
        for _ in range(2):
            assert transport.request("GET", JWKS, timeout=TIMEOUT).status == 200
    assert (transport.connections.opened, len(seen)) == (2, 2)


def test_headers_and_body_leave_in_one_write_and_a_gzip_answer_is_read() -> None:
    """One write: a second small segment would wait on the peer's delayed ACK."""
    packed = gzip.compress(b'{"keys": []}')
    with answering(reply(packed, "Content-Encoding: gzip")) as (url, seen):
        answer = Transport(url).request("POST", "/oauth/token", json={"a": 1}, timeout=TIMEOUT)
    assert answer.json() == {"keys": []}
    [request] = seen
    assert request.startswith(b"POST /oauth/token HTTP/1.1\r\n")
    assert request.endswith(b'\r\n\r\n{"a": 1}')


EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"


@contextmanager
def hinting() -> Iterator[str]:
    """A loopback server that answers every request on a connection with a 103 and then
    the 200 that names the request: ``{"n": 1}``, ``{"n": 2}``, ..."""
    count = iter(range(1, 1000))

    def answer(conn: socket.socket) -> None:
        with conn:
            while conn.recv(65536):
                conn.sendall(EARLY_HINTS + reply(json.dumps({"n": next(count)}).encode()))

    with raw_server(answer) as url:
        yield url


def test_an_interim_answer_is_no_answer_and_never_reaches_the_next_call() -> None:
    """http.client passes up a 103 as if it were the answer, the real one still to come
    on the connection: kept, it would be the next call's (someone else's tokens)."""
    with hinting() as url:
        transport = Transport(url)
        for _ in range(2):
            with pytest.raises(TransportError) as caught:
                transport.request("POST", "/oauth/token", json={}, timeout=TIMEOUT)
            assert str(caught.value) == "failed: InterimAnswer (103)"
            assert (caught.value.unreachable, caught.value.sent) == (False, True)
    assert transport.connections.opened == 2  # each call on a connection of its own


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
@pytest.mark.parametrize("url", ["http://[::1]", "https://[::1]"])
def test_an_ipv6_tenant_on_its_default_port_is_called_there(url: str) -> None:
    """Nothing listens on ::1 port 80 or 443 here: the call is refused there (not sent to
    a host named after the address's end, nor a traceback)."""
    with pytest.raises(TransportError) as caught:
        Transport(url).request("GET", JWKS, timeout=TIMEOUT)
    assert str(caught.value) == "unreachable: ConnectionError (ConnectionRefusedError)"


@contextmanager
def tunnelling(cert_file: str, key_file: str, answer: bytes | None) -> Iterator[str]:
    """An https_proxy on loopback that accepts one CONNECT, ends the tunnel's TLS itself
    (as the origin), reads the request, then writes ``answer`` or (None) hangs up."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)  # CONNECT localhost:443
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(65536)
                if answer is not None:
                    tls.sendall(answer)
                    tls.recv(1)  # until the client hangs up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(5)


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (None, "unreachable: ConnectionError (RemoteDisconnected)"),
        (reply(b"nope", "Content-Encoding: gzip"), "failed: DecodeError"),
        (EARLY_HINTS + reply(b"{}"), "failed: InterimAnswer (103)"),
    ],
    ids=["hung-up", "bad-gzip", "interim"],
)
def test_through_a_proxy_a_call_that_reached_the_origin_may_have_been_carried_out(
    tmp_path: Path, no_proxies: pytest.MonkeyPatch, answer: bytes | None, named: str
) -> None:
    """A refresh whose answer is lost may have rotated the token: the gate must know."""
    cert_file, key_file = _self_signed(tmp_path, x509.DNSName("localhost"))
    no_proxies.setattr(certifi, "where", lambda: cert_file)
    with tunnelling(cert_file, key_file, answer) as proxy:
        no_proxies.setenv("https_proxy", proxy)
        transport = Transport("https://localhost")
        with pytest.raises(TransportError) as caught:
            transport.request("POST", "/oauth/token", json={}, timeout=TIMEOUT)
    assert (str(caught.value), caught.value.sent) == (named, True)


def test_several_codings_are_undone_last_first() -> None:
    packed = gzip.compress(zlib.compress(b'{"keys": []}'))
    with answering(reply(packed, "Content-Encoding: deflate, gzip")) as (url, _seen):
        answer = Transport(url).request("GET", JWKS, timeout=TIMEOUT)
    assert answer.json() == {"keys": []}


@contextmanager
def replying(*replies: bytes, close: bool = False) -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server that answers each request it reads with the next of ``replies``
    and (``close``) then hangs up; the requests it read."""
    seen: list[bytes] = []
    left = iter(replies)

    def answer(conn: socket.socket) -> None:
        with conn:
            while request := conn.recv(65536):
                seen.append(request)
                try:
                    conn.sendall(next(left, b""))
                except (BrokenPipeError, ConnectionResetError):
                    return  # the gate hung up before reading it all (an answer too large)
                if close:
                    return

    with raw_server(answer) as url:
        yield url, seen


CHUNKED = (
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"n":\r\n3\r\n 1}\r\n0\r\n\r\n'
)


@pytest.mark.parametrize(
    ("first", "kept"),
    [
        (b"HTTP/1.1 100 Continue\r\n\r\n" + reply(b'{"n": 1}'), True),
        (CHUNKED, True),
        (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"n": 1}', False),
        (b'HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\n{"n": 1}', False),
    ],
    ids=["100-continue", "chunked", "ended-by-close", "http-1.0"],
)
def test_an_answer_is_read_whole_and_its_connection_kept_when_it_can_be(
    first: bytes, kept: bool
) -> None:
    """An answer that ends when the connection does (no length, not chunked) and an
    HTTP/1.0 one leave no connection for the next call."""
    with replying(first, reply(b'{"n": 2}'), close=not kept) as (url, seen):
        transport = Transport(url)
        answers = [transport.request("GET", JWKS, timeout=TIMEOUT) for _ in range(2)]
    assert [answer.json() for answer in answers] == [{"n": 1}, {"n": 2}]
    assert (transport.connections.opened, len(seen)) == (1 if kept else 2, 2)


def test_repeated_header_fields_are_joined_and_read_in_any_case() -> None:
    with replying(reply(b"{}", "X-Seen: a", "x-seen: b", "Retry-After: 7")) as (url, _seen):
        answer = Transport(url).request("GET", JWKS, timeout=TIMEOUT)
    assert (answer.headers["X-SEEN"], answer.headers.get("retry-after")) == ("a, b", "7")


@pytest.mark.parametrize(
    ("sent", "named"),
    [
        (b"", "unreachable: ConnectionError (RemoteDisconnected)"),
        (
            b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut"',
            "unreachable: ConnectionError (IncompleteRead)",
        ),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "unreachable: ConnectionError (HttpParserError)"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n" + b" " * 2_000_000,
            "failed: AnswerTooLarge (over 1048576 bytes)",
        ),
    ],
    ids=["nothing", "cut-short", "not-http", "too-large"],
)
def test_an_answer_that_cannot_be_read_fails_the_call_as_maybe_carried_out(
    sent: bytes, named: str
) -> None:
    with replying(sent, close=True) as (url, seen):
        transport = Transport(url)
        with pytest.raises(TransportError) as caught:
            transport.request("POST", "/oauth/token", json={}, timeout=TIMEOUT)
    assert (str(caught.value), caught.value.sent) == (named, True)
    assert (transport.connections.opened, len(seen)) == (1, 1)


def test_what_follows_an_answer_never_reaches_the_next_call() -> None:
    """Bytes after the answer (an origin out of step) close the connection: a next call
    would otherwise read them as its own answer."""
    with replying(reply(b'{"n": 1}') + reply(b'{"n": "stale"}'), reply(b"{}")) as (url, seen):
        transport = Transport(url)
        first = transport.request("POST", "/oauth/token", json={}, timeout=TIMEOUT)
        second = transport.request("POST", "/oauth/token", json={}, timeout=TIMEOUT)
    assert (first.json(), second.json()) == ({"n": 1}, {})
    assert (transport.connections.opened, len(seen)) == (2, 2)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/oauth/token", {"X-A": "b\r\nX-Injected: 1"}),
        ("/oauth/token", {"X-A\r\nX-Injected": "1"}),
        ("/oauth/token", {"X-A": "ĳ"}),
        ("/oauth/token HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /", {}),
        ("/oauth/tökén", {}),
    ],
    ids=["value-line-break", "name-line-break", "value-not-latin-1", "path-line-break", "path"],
)
def test_a_request_that_cannot_be_sent_as_it_is_sends_nothing(
    path: str, headers: dict[str, str]
) -> None:
    with replying(reply(b"{}")) as (url, seen):
        transport = Transport(url)
        with pytest.raises(ValueError, match="cannot send"):
            transport.request("POST", path, json={}, headers=headers, timeout=TIMEOUT)
        assert transport.request("GET", JWKS, timeout=TIMEOUT).status == 200
    [request] = seen
    assert request.startswith(b"GET /.well-known/jwks.json HTTP/1.1\r\n")
    host = url.removeprefix("http://").encode()
    assert f"\r\nHost: {host.decode()}\r\n".encode() in request
    assert (transport.connections.opened, transport.connections.sent) == (1, 1)
