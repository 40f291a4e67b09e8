"""The HTTP transport under the Auth0 client: kept-alive connections to one origin.

A :class:`Transport` speaks to one origin (the tenant). Called directly, it
keeps up to :data:`POOL_SIZE` idle connections of its own, TLS verified
against certifi's CA bundle (the host name checked), and reads each answer
with httptools (llhttp, the HTTP parser of Node.js). Through the proxy the
environment names for the scheme, read once here (``getproxies()``, unless
``proxy_bypass`` exempts the host), it goes through one urllib3 pool, which
knows CONNECT tunnels, HTTPS and SOCKS proxies. Each call returns an
:class:`Answer`: the status, the headers and the whole body (a gzip or
deflate body decoded). With a :class:`~pwless_gate.pacing.Pacer`, each
``POST /passwordless/start`` that Auth0 answers with 200 is timed for it.

Why not urllib3 or http.client for the direct calls: on a quiet gate every
sign-in pays its two calls with cold CPU caches, and there a call through
http.client (which parses headers with the ``email`` package) costs about
2.5 times the CPU of one written in one piece and read by llhttp; urllib3 adds
its own layers on top (measured in ``bench/``).

What it does not do: follow a redirect (a 307 would re-post the client
secret elsewhere), send a request again once anything of it may have been
sent (only a connection that failed to open is tried once more), read the
environment, ``.netrc`` or cookies on a call, read an answer over
:data:`MAX_ANSWER`, or judge an answer: what a status or a body means is
:mod:`pwless_gate.auth0`'s business. A call that gets no answer raises
:class:`TransportError`, named as requests named its failures
(``ConnectTimeout``, ``ReadTimeout``, ``ConnectionError``, ``SSLError``,
``ProxyError``). urllib3 does not log about the proxied calls: its warning
before a connection is tried again ("Retrying (Retry(total=0, ...)) after
connection broken by ...") is dropped for the gate's own calls
(:class:`OwnRetries`), which the gate logs once, when the call fails for
good; other callers' records stay.
"""

from __future__ import annotations

import http.client
import json as _json
import logging
import re
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
import httptools
from urllib3 import HTTPConnectionPool, PoolManager, ProxyManager
from urllib3 import Timeout as PoolTimeout
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.util import Retry, make_headers

from .errors import ConfigError

if TYPE_CHECKING:
    from .pacing import Pacer

POOL_SIZE = 20
USER_AGENT = "pwless-gate"
#: The path whose round trips are measured for the pacer (and imitated by its decoy).
PACED_PATH = "/passwordless/start"
#: How many times a connection that failed to open is tried: it sent nothing, so a
#: second try is safe whatever the method. Nothing else is tried again.
CONNECT_TRIES = 2
#: The proxied calls' urllib3 retries, the same rule: a read that failed or timed out
#: is never tried again (``read=0``; for a POST, ``allowed_methods`` says so too), so no
#: call outlives its timeout twice and nothing reaches Auth0 twice. Statuses are
#: answers, never retried; redirects are not followed (``redirect=False`` on each call).
RETRY = Retry(
    total=CONNECT_TRIES - 1,
    connect=CONNECT_TRIES - 1,
    read=0,
    status=0,
    other=0,
    allowed_methods=frozenset({"GET"}),
    raise_on_status=False,
)
_HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}
#: The logger urllib3's pools write their warnings to.
POOL_LOGGER = "urllib3.connectionpool"
_JSON_HEADERS = {**_HEADERS, "Content-Type": "application/json"}
#: Content codings decoded (Auth0 is not asked for any; a proxy may apply one).
_ZLIB_CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 0}


@dataclass(frozen=True)
class Timeout:
    """Seconds to open a connection (TLS handshake included), and to wait for an answer."""

    connect: float
    read: float


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole: ``status``, ``headers`` (case-insensitive), ``body``."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> object:
        """The body parsed as JSON. Raises ValueError when it is not JSON, or nested
        too deeply to parse (``[[[[…``)."""
        try:
            return _json.loads(self.body)
        except RecursionError as exc:
            raise ValueError("a JSON body nested too deeply") from exc


class TransportError(Exception):
    """A call that got no answer that could be read. ``str()`` names the failure as
    requests named it, with its cause (operators grep logs for these):
    ``unreachable: ConnectionError (ConnectionRefusedError)``, ``did not answer in
    time: ReadTimeout``, ``failed: DecodeError``. ``unreachable``: the origin could not
    be reached, or did not answer in time; else it answered something unreadable.
    ``sent``: the request may have reached the origin (and been carried out)."""

    def __init__(self, text: str, *, unreachable: bool, sent: bool) -> None:
        super().__init__(text)
        self.unreachable = unreachable
        self.sent = sent


def unreachable(name: str, cause: BaseException | None, *, sent: bool) -> TransportError:
    """``unreachable: name (cause's class)``; the cause's class only when it says more."""
    inner = None if cause is None else type(cause).__name__
    text = f"unreachable: {name} ({inner})" if inner and inner != name else f"unreachable: {name}"
    return TransportError(text, unreachable=True, sent=sent)


def _interim(status: int) -> TransportError:
    return TransportError(f"failed: InterimAnswer ({status})", unreachable=False, sent=True)


def read_timeout() -> TransportError:
    return TransportError("did not answer in time: ReadTimeout", unreachable=True, sent=True)


class OwnRetries(logging.Filter):
    """Drops urllib3's "Retrying ... after connection broken" warnings about the
    gate's own calls: those logged in a thread while it is inside
    :meth:`Transport.send` (urllib3 logs them in the calling thread, during
    ``urlopen``). Every other record passes, whoever else logs it."""

    def __init__(self) -> None:
        super().__init__()
        self._sending = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(self._sending, "active", False):
            return True
        return not str(record.msg).startswith("Retrying")

    def sending(self, active: bool) -> None:
        """Mark this thread as inside (or out of) one of the gate's calls."""
        self._sending.active = active


#: The one filter, on urllib3's pool logger once a proxied :class:`Transport` is built.
OWN_RETRIES = OwnRetries()


class BaseTransport:
    """What both transports share: a request's body and headers are built alike."""

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout,
    ) -> Answer:
        """``method`` ``path`` (with its query, under the origin), with ``json`` as the
        body; returns the :class:`Answer`. Raises :class:`TransportError`, or ValueError
        for a header or path that cannot be sent."""
        body = None if json is None else _json.dumps(json).encode()
        sent = _HEADERS if json is None else _JSON_HEADERS
        if headers:
            sent = {**sent, **headers}
        return self.send(method, path, body, sent, timeout)

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: Timeout,
    ) -> Answer:
        """Send the built request; return the :class:`Answer`."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the kept-alive connections."""


class Transport(BaseTransport):
    """Requests to the origin of ``base_url``, directly (:class:`Direct`) or through
    the environment's proxy (:class:`Proxied`), keeping up to ``pool_size`` idle
    connections (more are opened when all are busy, not kept).

    Raises :class:`~pwless_gate.errors.ConfigError` when the environment names a
    SOCKS proxy and PySocks is not installed.
    """

    def __init__(
        self, base_url: str, *, pool_size: int = POOL_SIZE, pacer: Pacer | None = None
    ) -> None:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        proxy = None
        if not host or not proxy_bypass(host):
            proxy = getproxies().get(parts.scheme)
        self.connections: Direct | Proxied = (
            Direct(parts, pool_size) if proxy is None else Proxied(base_url, proxy, pool_size)
        )
        self._pacer = pacer

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: Timeout,
    ) -> Answer:
        started = time.perf_counter()
        answer = self.connections.send(method, path, body, headers, timeout)
        if self._pacer is not None and answer.status == 200 and _paced(method, path):
            self._pacer.observe(time.perf_counter() - started)
        return answer

    def close(self) -> None:
        self.connections.close()


class Direct:
    """Kept-alive connections to the origin of ``parts``, at most ``size`` of them idle;
    an idle one the origin has closed meanwhile is dropped unused.

    A request is written in one piece (head and body: a second small write would wait
    on the peer's delayed ACK, and make a second TLS record); the answer is read with
    httptools (llhttp, the parser of Node.js) until it is whole.
    """

    def __init__(self, parts: SplitResult, size: int) -> None:
        self._host = parts.hostname or ""
        default = 443 if parts.scheme == "https" else 80
        self._port = parts.port or default
        self._tls = (
            ssl.create_default_context(cafile=certifi.where()) if parts.scheme == "https" else None
        )
        self._host_header = _host_header(self._host, None if self._port == default else self._port)
        self._prefix = parts.path.rstrip("/")
        self._size = size
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()
        #: How many connections were opened (or tried), and requests sent (or tried).
        self.opened = 0
        self.sent = 0

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: Timeout,
    ) -> Answer:
        request = _request(method, self._prefix + path, self._host_header, headers, body)
        conn = self._reused() or self._connect(timeout.connect)
        try:
            conn.settimeout(timeout.read)
            self.sent += 1
            conn.sendall(request)
            answer, keep = read_answer(conn)
        except TimeoutError as exc:
            conn.close()
            raise read_timeout() from exc
        except ssl.SSLError as exc:
            conn.close()
            raise unreachable("SSLError", exc, sent=True) from exc
        except (OSError, http.client.HTTPException, httptools.HttpParserError) as exc:
            # A reset, an answer cut short or never begun, one that is not HTTP: the
            # request may have been carried out.
            conn.close()
            raise unreachable("ConnectionError", exc, sent=True) from exc
        except BaseException:
            conn.close()
            raise
        if keep:
            self._keep(conn)  # the answer is read whole: the connection can serve the next
        else:
            conn.close()
        return answer

    def _reused(self) -> socket.socket | None:
        """An idle connection the origin has not closed, if any."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            if not _readable(conn):
                return conn
            conn.close()  # closed by the origin, or it sent what nobody asked for

    def _connect(self, timeout: float) -> socket.socket:
        """A new connection, tried :data:`CONNECT_TRIES` times: nothing was sent yet."""
        tries = CONNECT_TRIES
        while True:
            self.opened += 1
            try:
                return self._open(timeout)
            except ssl.SSLError as exc:  # a handshake refused: trying again changes nothing
                raise unreachable("SSLError", exc, sent=False) from exc
            except OSError as exc:  # timed out, refused, no route, a name that does not resolve
                tries -= 1
                if tries:
                    continue
                if isinstance(exc, TimeoutError):
                    raise unreachable("ConnectTimeout", None, sent=False) from exc
                raise unreachable("ConnectionError", exc, sent=False) from exc

    def _open(self, timeout: float) -> socket.socket:
        """A connection to the origin, its TLS handshake (if any) done within ``timeout``."""
        conn = socket.create_connection((self._host, self._port), timeout)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is None:
                return conn
            return self._tls.wrap_socket(conn, server_hostname=self._host)
        except BaseException:
            conn.close()
            raise

    def _keep(self, conn: socket.socket) -> None:
        """Keep ``conn`` for the next call, unless enough are kept."""
        with self._lock:
            if len(self._idle) < self._size:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _host_header(host: str, port: int | None) -> str:
    """The ``Host`` header for ``host`` (an IPv6 address in brackets) and ``port`` (None
    for the scheme's default, left out as browsers do)."""
    named = f"[{host}]" if ":" in host else host
    named = named.encode("idna").decode("ascii") if not named.isascii() else named
    return named if port is None else f"{named}:{port}"


#: What a request target, a method or a header may not hold (RFC 9110, 9112): a line
#: break or a control character would end the line early and start one of the caller's.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(r"[\x21-\x7e]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
#: Bodies are sent with their length by every method that can carry one.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _request(
    method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    """The request, head and body, as bytes. Raises ValueError for a method, target,
    header name or value that cannot be sent as it is (nothing is sent then)."""
    if not _TOKEN.fullmatch(method) or not _TARGET.fullmatch(target):
        raise ValueError(f"cannot send {method!r} {target!r}")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise ValueError(f"cannot send the header {name!r}")
        lines.append(f"{name}: {value}")
    if body is not None or method in _BODY_METHODS:
        lines.append(f"Content-Length: {len(body or b'')}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


#: The most read of one answer, head and body (Auth0's are a few KiB): an origin
#: sending more fails the call instead of filling the gate's memory.
MAX_ANSWER = 1 << 20


class _Reading:
    """httptools' callbacks for one answer: the status, the header fields and the body,
    skipping ``100 Continue``. Anything after the answer is noted, not read."""

    __slots__ = ("chunks", "done", "fields", "headed", "keep", "more", "parser", "status")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.fields: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.headed = self.done = self.more = self.keep = False
        self.status = 0

    def on_message_begin(self) -> None:
        if self.done:
            self.more = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.done:
            self.fields.append((name, value))

    def on_headers_complete(self) -> None:
        if not self.done:
            self.headed = True
            self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if not self.done:
            self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.done:
            return
        if self.status == 100:  # the answer follows
            self.fields.clear()
            self.headed = False
            return
        self.done = True
        # Asked here: once the message is complete, the parser starts over.
        self.keep = self.parser.should_keep_alive()

    def ended_by_close(self) -> bool:
        """Whether the origin closing the connection ends this answer: its head is read
        and says neither its length nor that it comes in chunks."""
        names = {name.lower() for name, _ in self.fields}
        return self.headed and not names & {b"content-length", b"transfer-encoding"}


def read_answer(conn: socket.socket) -> tuple[Answer, bool]:
    """The answer read from ``conn``, and whether the connection can carry another call.

    Raises OSError or an ``http.client`` exception when the connection ends before the
    answer (``RemoteDisconnected`` when nothing came, ``IncompleteRead`` when part
    did), ``httptools.HttpParserError`` for what is no HTTP answer, and
    :class:`TransportError` for an interim answer, one over :data:`MAX_ANSWER` or a
    body that cannot be decoded.
    """
    reading = _Reading()
    received = 0
    while not reading.done:
        data = conn.recv(65536)
        if not data:
            if reading.ended_by_close():
                break
            if not received:
                raise http.client.RemoteDisconnected("closed without answering")
            raise http.client.IncompleteRead(b"".join(reading.chunks))
        received += len(data)
        if received > MAX_ANSWER:
            raise TransportError(
                f"failed: AnswerTooLarge (over {MAX_ANSWER} bytes)", unreachable=False, sent=True
            )
        reading.parser.feed_data(data)
    status = reading.status
    if status < 200:
        # An interim answer other than 100 (103 Early Hints) is not the answer, which
        # would follow on this connection: it must not reach the next call.
        raise _interim(status)
    headers = AnswerHeaders(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in reading.fields
    )
    body = _decoded(headers, b"".join(reading.chunks))
    keep = reading.keep and not reading.more
    return Answer(status, headers, body), keep


class AnswerHeaders(Mapping[str, str]):
    """An answer's header fields by name in any case; a repeated field's values joined
    by ``", "``."""

    def __init__(self, fields: Iterable[tuple[str, str]]) -> None:
        joined: dict[str, str] = {}
        for name, value in fields:
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        self._fields = joined

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


def _readable(sock: socket.socket) -> bool:
    """Whether ``sock`` has something to read at once: on an idle connection, the
    origin closed it (or sent what was not asked for)."""
    if not hasattr(select, "poll"):  # Windows; select() takes any socket there
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()  # unlike select(), not limited to descriptors under 1024
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _decoded(headers: Mapping[str, str], content: bytes) -> bytes:
    """The body with its gzip or deflate codings undone, the last applied first; a body
    in any other coding is left as it came (it is then no JSON)."""
    header = headers.get("Content-Encoding")
    if not header or not content:
        return content
    codings = [c.strip().lower() for c in header.split(",") if c.strip().lower() != "identity"]
    if any(coding not in _ZLIB_CODINGS for coding in codings):
        return content
    try:
        for coding in reversed(codings):
            content = _undone(content, _ZLIB_CODINGS[coding])
    except zlib.error as exc:
        raise TransportError("failed: DecodeError", unreachable=False, sent=True) from exc
    return content


def _undone(content: bytes, wbits: int) -> bytes:
    if wbits:
        return zlib.decompress(content, wbits)
    try:
        return zlib.decompress(content)  # zlib-wrapped, as the standard says
    except zlib.error:
        return zlib.decompress(content, -zlib.MAX_WBITS)  # raw deflate, as some send


class Proxied:
    """Calls through the proxy ``proxy`` (``host:port`` or a URL) for the origin of
    ``base_url``: one urllib3 pool; urllib3's failures raised as :class:`TransportError`."""

    def __init__(self, base_url: str, proxy: str, size: int) -> None:
        parts = urlsplit(base_url)
        options: dict[str, Any] = {
            "maxsize": size,
            "block": False,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": certifi.where(),
        }
        self._manager = _proxy_manager(proxy, parts.scheme, options)
        #: The pool every call goes through (to the proxy for a plain-http origin).
        self.pool: HTTPConnectionPool = self._manager.connection_from_url(base_url)
        #: A proxy forwarding plain http is sent the absolute URL; everyone else the path.
        forwarded = isinstance(self._manager, ProxyManager) and parts.scheme == "http"
        self._prefix = base_url.rstrip("/") if forwarded else parts.path.rstrip("/")
        logging.getLogger(POOL_LOGGER).addFilter(OWN_RETRIES)  # once: a filter is added once

    @property
    def opened(self) -> int:
        """As :attr:`Direct.opened`."""
        return self.pool.num_connections

    @property
    def sent(self) -> int:
        """As :attr:`Direct.sent`."""
        return self.pool.num_requests

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: Timeout,
    ) -> Answer:
        OWN_RETRIES.sending(True)
        try:
            response = self.pool.urlopen(
                method,
                self._prefix + path,
                body=body,
                headers=headers,
                retries=RETRY,
                timeout=PoolTimeout(connect=timeout.connect, read=timeout.read),
                redirect=False,
                assert_same_host=False,
            )
            if response.status < 200:  # as for Direct; its connection is back in the pool
                self._manager.clear()
                raise _interim(response.status)
            return Answer(response.status, response.headers, response.data)
        except HTTPError as exc:
            raise _named(exc) from exc
        finally:
            OWN_RETRIES.sending(False)

    def close(self) -> None:
        self._manager.clear()


def _named(exc: HTTPError) -> TransportError:
    """urllib3's failure ``exc`` named as :class:`Direct` names its own.

    urllib3 wraps a failure it retried (a connect; a GET's read) in ``MaxRetryError``,
    whose ``reason`` is the failure.
    """
    reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    sent = isinstance(reason, (ReadTimeoutError, ProtocolError, DecodeError))
    if isinstance(reason, ReadTimeoutError):
        return read_timeout()
    if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
        return unreachable("ConnectTimeout", None, sent=False)
    if isinstance(reason, ProxyError) and isinstance(_cause(reason), _LOST_AFTER_SENDING):
        # urllib3 blames the proxy for a connection through it that broke after the
        # request went out: it may have been carried out.
        name, sent = "ConnectionError", True
    elif isinstance(reason, ProxyError):
        name = "ProxyError"
    elif isinstance(reason, SSLError):
        name = "SSLError"
    elif isinstance(reason, (NewConnectionError, ProtocolError, ClosedPoolError)) or (
        reason is not exc and not isinstance(reason, ResponseError)
    ):
        name = "ConnectionError"
    else:
        return TransportError(f"failed: {type(reason).__name__}", unreachable=False, sent=sent)
    return unreachable(name, _cause(reason), sent=sent)


#: Failures of a connection that was open and had the request (a reset, an answer cut
#: short or never begun): the request may have reached the origin.
_LOST_AFTER_SENDING = (http.client.HTTPException, ConnectionResetError, BrokenPipeError)


def _cause(exc: BaseException) -> BaseException | None:
    """The error under urllib3's wrappers (``ConnectionRefusedError``, ``gaierror``,
    ``RemoteDisconnected``, ``SSLCertVerificationError``), if any."""
    for _ in range(4):
        # urllib3 keeps it as the cause (a new connection) or the last argument.
        inner = exc.__cause__ or (exc.args[-1] if exc.args else None)
        if not isinstance(inner, BaseException):
            return None
        if not isinstance(inner, HTTPError):
            return inner
        exc = inner
    return None


def _paced(method: str, path: str) -> bool:
    return method == "POST" and path.startswith(PACED_PATH)


def _proxy_manager(proxy: str, scheme: str, options: dict[str, Any]) -> PoolManager:
    """A manager for ``proxy`` (``host:port`` or a URL), the one ``{scheme}_proxy`` names;
    its credentials, if any, are sent as ``Proxy-Authorization``."""
    if "://" not in proxy:
        proxy = "http://" + proxy
    parts = urlsplit(proxy)
    if parts.scheme.startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError:
            raise ConfigError(
                f"{scheme}_proxy", "names a SOCKS proxy, which needs PySocks (pip install PySocks)"
            ) from None
        return SOCKSProxyManager(proxy, num_pools=1, **options)
    auth = None
    if parts.username:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = make_headers(proxy_basic_auth=credentials)
    return ProxyManager(proxy, num_pools=1, proxy_headers=auth, **options)
