"""What a client's request looks like from the outside, through trusted proxies.

A reverse proxy in front of the gate tells it the client's address, scheme,
host, port and mount path in ``X-Forwarded-*`` headers. A client can send the
same headers itself, so each is believed only from as many proxy hops as the
operator says sit in front of the gate, counted per header exactly as
Werkzeug's :class:`~werkzeug.middleware.proxy_fix.ProxyFix` counts them: with
``n`` trusted hops, the ``n``-th value from the right of the comma list.

What common proxies set (each appends or overwrites one hop):

- nginx: only what the config says; the usual ``proxy_set_header`` lines give
  ``X-Forwarded-For`` (``$proxy_add_x_forwarded_for``) and
  ``X-Forwarded-Proto``; ``X-Forwarded-Host`` and ``-Port`` only when added.
- Caddy (``reverse_proxy``): ``X-Forwarded-For``, ``-Proto`` and ``-Host``.
- Traefik: ``X-Forwarded-For``, ``-Proto``, ``-Host``, ``-Port``, ``-Server``;
  ``X-Forwarded-Prefix`` with a StripPrefix middleware.
- Cloud load balancers (AWS ALB, Google Cloud LB, Azure Front Door):
  ``X-Forwarded-For`` and ``-Proto`` (ALB also ``-Port``); the ``Host``
  header is passed through.

Trust only the headers your proxies overwrite: a header a proxy passes on
untouched is the client's to choose. A forwarded prefix must be a clean
absolute path (:func:`clean_prefix`); any other is ignored, so a client
cannot make the mount lead off the site. This module reads; it never rewrites
the environ the wrapped app sees (wrap the app in ProxyFix for that).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from .redirects import url_path

log = logging.getLogger("pwless_gate.proxies")

#: The headers that can be trusted, by the names ``PWLESS_GATE_TRUSTED_PROXIES`` uses.
HEADERS = {
    "for": "HTTP_X_FORWARDED_FOR",
    "proto": "HTTP_X_FORWARDED_PROTO",
    "host": "HTTP_X_FORWARDED_HOST",
    "port": "HTTP_X_FORWARDED_PORT",
    "prefix": "HTTP_X_FORWARDED_PREFIX",
}
_PART = re.compile(r"^\s*(for|proto|host|port|prefix|uri)\s*=\s*(\d{1,2})\s*$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}
#: An absolute path of non-empty segments of URL path characters and escapes.
_CLEAN_PATH = re.compile(r"(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+)+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: ``SCRIPT_NAME`` → the mount as the browser writes it (single dict reads and writes
#: are atomic in CPython: no lock needed).
_MOUNTS: dict[str, str] = {}
_MOUNTS_SIZE = 64
#: The prefix of IPv4-mapped IPv6 addresses (``::ffff:0:0/96``), where a dual-stack
#: socket puts IPv4 clients.
_MAPPED_PREFIX = 96

Environ = Mapping[str, Any]


def _hop(environ: Environ, header: str, trusted: int) -> str | None:
    """The value the ``trusted``-th proxy from the gate put in ``header``, else None."""
    if trusted <= 0:
        return None
    raw = environ.get(header)
    if not raw:
        return None
    values = [v.strip() for v in str(raw).split(",")]
    if len(values) >= trusted:
        return values[-trusted] or None
    return None


@dataclass(frozen=True)
class ProxyTrust:
    """How many proxy hops to believe for each ``X-Forwarded-*`` header.

    Example::

        ProxyTrust.parse(1)                      # nginx adding all five headers
        ProxyTrust.parse("for=1,proto=1")        # an ALB: client IP and scheme only
        ProxyTrust.parse("for=2,proto=1,host=1") # CDN → nginx → gate

    ``uri`` is not a count of hops: any number above 0 believes the original
    request's ``X-Original-URI``/``-Method`` (nginx ``auth_request``) and
    ``X-Forwarded-Uri``/``-Method`` (Traefik ``forwardAuth``) that the proxy
    next to the gate sets on its questions to ``{prefix}/auth`` (one value,
    never a list: a URI may hold commas).

    .. versionchanged:: 0.2.0
       ``uri``.
    """

    x_for: int = 0
    x_proto: int = 0
    x_host: int = 0
    x_port: int = 0
    x_prefix: int = 0
    x_uri: int = 0
    #: The headers whose refused values were logged: once each, as a client may send
    #: them with every request.
    _logged: set[str] = field(default_factory=set, init=False, compare=False, repr=False)

    @classmethod
    def parse(cls, value: int | str) -> ProxyTrust:
        """``1`` (the same count for every header) or ``"for=1,proto=1,host=0"``.

        Raises ``ValueError`` naming what it could not read.
        """
        text = str(value).strip()
        if text.isascii() and text.isdigit():
            if len(text) > 2:
                raise ValueError(f"{text} proxy hops is not a plausible count")
            n = int(text)
            return cls(n, n, n, n, n, n)
        counts: dict[str, int] = {}
        for part in text.split(","):
            match = _PART.match(part)
            if match is None:
                raise ValueError(
                    f"{part.strip()!r} is not a count like 1 or for=1,proto=1,host=1,prefix=0,uri=1"
                )
            counts["x_" + match.group(1)] = int(match.group(2))
        return cls(**counts)

    def __bool__(self) -> bool:
        return any((self.x_for, self.x_proto, self.x_host, self.x_port, self.x_prefix, self.x_uri))

    def client_ip(self, environ: Environ) -> str:
        """The end user's IP: the trusted ``X-Forwarded-For`` hop, else ``REMOTE_ADDR``;
        an IPv4-mapped address in its IPv4 form (:func:`unmapped`)."""
        forwarded = _hop(environ, HEADERS["for"], self.x_for)
        return unmapped(forwarded or str(environ.get("REMOTE_ADDR") or ""))

    def scheme(self, environ: Environ) -> str:
        """``http`` or ``https`` as the client used it."""
        proto = _hop(environ, HEADERS["proto"], self.x_proto)
        if proto in ("http", "https"):
            return proto
        return str(environ.get("wsgi.url_scheme") or "http")

    def host(self, environ: Environ) -> str:
        """``host[:port]`` as the client addressed it."""
        host = _hop(environ, HEADERS["host"], self.x_host)
        if not host:
            host = str(environ.get("HTTP_HOST") or "")
        if not host:
            host = str(environ.get("SERVER_NAME") or "localhost")
            server_port = str(environ.get("SERVER_PORT") or "")
            if server_port and server_port not in ("80", "443"):
                host = f"{host}:{server_port}"
        port = _hop(environ, HEADERS["port"], self.x_port)
        if port and _PORT.match(port):
            if ":" in host and not host.endswith("]"):
                host = host.rsplit(":", 1)[0]
            host = f"{host}:{port}"
        return host

    def origin(self, environ: Environ) -> str:
        """``scheme://host[:port]`` as the browser sees the gate, and writes it in
        ``Origin``: without the scheme's default port, which a proxy may name
        (``X-Forwarded-Port: 443``, ``X-Forwarded-Host: tools.example:443``)."""
        scheme = self.scheme(environ)
        host = self.host(environ)
        default = _DEFAULT_PORTS.get(scheme)
        if default is not None and host.endswith(default):
            host = host[: -len(default)]
        return f"{scheme}://{host}"

    def script_name(self, environ: Environ) -> str:
        """Where the app is mounted as the browser sees it, ``""`` at the root: a trusted
        ``X-Forwarded-Prefix`` that is a clean absolute path, else ``SCRIPT_NAME``
        percent-encoded from its bytes; without a trailing slash."""
        if self.x_prefix:
            prefix = _hop(environ, HEADERS["prefix"], self.x_prefix)
            if prefix is not None:
                clean = clean_prefix(prefix)
                if clean is not None:
                    return clean
                self._log_refused("X-Forwarded-Prefix", prefix, "not a clean absolute path")
        script_name = environ.get("SCRIPT_NAME")
        if not script_name:
            return ""
        # On the hot path when mounted: a server uses one or a few, remembered.
        mount = _MOUNTS.get(script_name)
        if mount is None:
            mount = url_path(str(script_name)).rstrip("/")
            if len(_MOUNTS) >= _MOUNTS_SIZE:
                _MOUNTS.clear()
            _MOUNTS[script_name] = mount
        return mount

    def _log_refused(self, header: str, value: str, why: str) -> None:
        if header in self._logged:
            return
        self._logged.add(header)
        log.warning(
            "ignored %s %r: %s (logged once; if no proxy of yours sets this header, have "
            "the proxy clear it, or trust 0 hops of it in PWLESS_GATE_TRUSTED_PROXIES)",
            header,
            value[:100],
            why,
        )


@lru_cache(maxsize=256)
def clean_prefix(value: str) -> str | None:
    """A forwarded prefix as a mount (without a trailing slash, ``""`` for ``/``) when it
    is a clean absolute path: one leading ``/``, non-empty segments of printable URL
    characters and percent-escapes, no ``.`` or ``..`` segment, no ``?`` or ``#``, and,
    escapes decoded, still no control character, backslash or ``//``. Else None."""
    path = value[:-1] if value.endswith("/") else value
    if not path:
        return ""
    if not _CLEAN_PATH.fullmatch(path):
        return None
    decoded = unquote(path)
    if "//" in decoded or "\\" in decoded or _CONTROL.search(decoded):
        return None
    if any(segment in (".", "..") for segment in decoded.split("/")):
        return None
    return path


def unmapped(ip: str) -> str:
    """``ip`` in its IPv4 form when it is an IPv4-mapped IPv6 address (``::ffff:192.0.2.7``,
    as a dual-stack socket names an IPv4 client); any other value as it is.

    So an IPv4 client has one address whichever socket it came through: in the
    audit log, as a throttle's key, sent to Auth0, matched against
    ``metrics_allow`` (whose mapped networks are IPv4 too: :func:`unmapped_network`).
    """
    if "ffff" not in ip.lower():  # neither mapped, nor worth parsing
        return ip
    try:
        mapped = ipaddress.IPv6Address(ip).ipv4_mapped
    except ValueError:
        return ip
    return ip if mapped is None else str(mapped)


def unmapped_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The network ``text`` names (``10.0.0.0/8``, ``2001:db8::/32``, one address;
    host bits ignored), in its IPv4 form when written as IPv4-mapped IPv6:
    ``::ffff:10.0.0.0/104`` is ``10.0.0.0/8``, ``::ffff:127.0.0.1`` is ``127.0.0.1/32``.

    Clients are read in their IPv4 form (:func:`unmapped`): a mapped network kept
    as written would match none of them. Raises ``ValueError`` when ``text`` is
    not a network, or is written as a mapped address with a prefix shorter than
    /96 (``::ffff:10.0.0.0/80``): that spans more than the mapped range, so it has
    no IPv4 form.
    """
    try:
        interface = ipaddress.ip_interface(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an IP network like 10.0.0.0/8") from None
    written, network = interface.ip, interface.network
    ipv4 = written.ipv4_mapped if isinstance(written, ipaddress.IPv6Address) else None
    if ipv4 is None:
        return network
    if network.prefixlen < _MAPPED_PREFIX:
        raise ValueError(
            f"{text!r} is IPv4-mapped with a prefix shorter than /96 (wider than all of "
            "IPv4): write the IPv4 network instead, like 10.0.0.0/8"
        )
    return ipaddress.IPv4Network((ipv4, network.prefixlen - _MAPPED_PREFIX), strict=False)


def is_loopback(host: str) -> bool:
    """``localhost``, a loopback address, with or without a port or brackets:
    ``127.0.0.1:8000``, ``[::1]:8000``, ``::1``."""
    name = host
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
