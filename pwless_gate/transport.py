"""The HTTP transport under the Auth0 client: one pool of kept-alive connections, over urllib3.

A :class:`Transport` speaks to one origin (the tenant) through one urllib3
connection pool built once: up to :data:`POOL_SIZE` kept-alive connections,
TLS verified against certifi's CA bundle, or through the proxy the
environment names for the scheme, read once here (``getproxies()``, unless
``proxy_bypass`` exempts the host). Each call reuses prebuilt retry and
header objects and returns an :class:`Answer`: the status, the headers and
the whole body. With a :class:`~pwless_gate.pacing.Pacer`, each
``POST /passwordless/start`` that Auth0 answers with 200 is timed for it.

What it does not do: follow a redirect (a 307 would re-post the client
secret elsewhere), send a request again once anything of it may have been
sent (only a connection that failed to open is tried once more), read the
environment, ``.netrc`` or cookies on a call, or judge an answer: what a
status or a body means, and which failure is which, is
:mod:`pwless_gate.auth0`'s business. urllib3's exceptions reach the caller
unchanged. Nor does urllib3 log about them: its warning before a connection is
tried again ("Retrying (Retry(total=0, ...)) after connection broken by ...")
is dropped for the gate's own calls (:class:`OwnRetries`), which the gate
logs once, when the call fails for good; other callers' records stay.
"""

from __future__ import annotations

import json as _json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
from urllib3 import HTTPConnectionPool, PoolManager, ProxyManager, Timeout
from urllib3.util import Retry, make_headers

from .errors import ConfigError

if TYPE_CHECKING:
    from .pacing import Pacer

POOL_SIZE = 20
USER_AGENT = "pwless-gate"
#: The path whose round trips are measured for the pacer (and imitated by its decoy).
PACED_PATH = "/passwordless/start"
#: A connection that failed to open sent nothing: it is tried once more, whatever the
#: method. A read that failed or timed out is never tried again (``read=0``; for a POST,
#: ``allowed_methods`` says so too), so no call outlives its timeout twice and nothing
#: reaches Auth0 twice. Statuses are answers, never retried; redirects are not followed
#: (``redirect=False`` on each call).
RETRY = Retry(
    total=1,
    connect=1,
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


#: The one filter, on urllib3's pool logger once a :class:`Transport` is built.
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
        body; returns the :class:`Answer`. Raises urllib3's exceptions."""
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
    """Requests to the origin of ``base_url`` through one pool of ``pool_size``
    kept-alive connections (more are opened when all are busy, not kept).

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
        options: dict[str, Any] = {
            "maxsize": pool_size,
            "block": False,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": certifi.where(),
        }
        self._manager = (
            PoolManager(1, **options) if proxy is None else _proxied(proxy, parts.scheme, options)
        )
        #: The pool every call goes through (to the proxy for a proxied plain-http origin).
        self.pool: HTTPConnectionPool = self._manager.connection_from_url(base_url)
        #: A proxy forwarding plain http is sent the absolute URL; everyone else the path.
        forwarded = isinstance(self._manager, ProxyManager) and parts.scheme == "http"
        self._prefix = base_url.rstrip("/") if forwarded else parts.path.rstrip("/")
        self._pacer = pacer
        logging.getLogger(POOL_LOGGER).addFilter(OWN_RETRIES)  # once: a filter is added once

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: Timeout,
    ) -> Answer:
        started = time.perf_counter()
        OWN_RETRIES.sending(True)
        try:
            response = self.pool.urlopen(
                method,
                self._prefix + path,
                body=body,
                headers=headers,
                retries=RETRY,
                timeout=timeout,
                redirect=False,
                assert_same_host=False,
            )
        finally:
            OWN_RETRIES.sending(False)
        answer = Answer(response.status, response.headers, response.data)
        if self._pacer is not None and answer.status == 200 and _paced(method, path):
            self._pacer.observe(time.perf_counter() - started)
        return answer

    def close(self) -> None:
        self._manager.clear()


def _paced(method: str, path: str) -> bool:
    return method == "POST" and path.startswith(PACED_PATH)


def _proxied(proxy: str, scheme: str, options: dict[str, Any]) -> PoolManager:
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
