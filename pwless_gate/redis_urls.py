"""Reading the Redis URLs of ``PWLESS_GATE_STORE``: one server, Sentinel, or Cluster.

``redis://``, ``rediss://`` and ``unix://`` are redis-py's own URLs and are
handed to ``redis.Redis.from_url`` as they are. redis-py has no URL for its
Sentinel and Cluster clients, so this module reads two of its own::

    redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/service[/db]
    redis+cluster://[[user]:password@]host[:port][,host[:port]…]

The hosts are the sentinels (port 26379 when left out) or some of the
cluster's nodes (6379), the way ``redis.sentinel.Sentinel`` and
``redis.cluster.RedisCluster(startup_nodes=…)`` take them. A user and
password are read as redis-py reads them (percent-decoded) and are sent to
the Redis servers that hold the data, not to the sentinels. ``db`` is a
database number on the master; a cluster has only database 0, so a cluster
URL takes no path. Query options are not read, so they are refused rather
than ignored.

Errors are :class:`~pwless_gate.errors.ConfigError` naming the setting, and
never repeat the URL: it may hold a password. This module imports nothing
from redis-py: the settings are checked without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

from .errors import ConfigError

#: The schemes redis-py reads itself, and the two read here.
PLAIN_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
SCHEMES = (*PLAIN_SCHEMES, SENTINEL_SCHEME, CLUSTER_SCHEME)

_DEFAULT_PORT = {SENTINEL_SCHEME: 26379, CLUSTER_SCHEME: 6379}
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_HOST = re.compile(r"^(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::(?P<port>.*))?$")


@dataclass(frozen=True)
class RedisTarget:
    """What a Redis URL points at. ``kind`` is ``redis`` for redis-py's own URLs
    (then only ``url`` matters), ``sentinel`` or ``cluster``."""

    kind: Literal["redis", "sentinel", "cluster"]
    url: str = field(repr=False)
    hosts: tuple[tuple[str, int], ...] = ()
    service: str | None = None
    db: int = 0
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """``Redis Sentinel mymaster at 10.0.0.1:26379,10.0.0.2:26379`` or
        ``Redis Cluster at 10.0.0.1:6379,…``: hosts only, never the password."""
        hosts = ",".join(host_port(host, port) for host, port in self.hosts)
        if self.kind == "sentinel":
            return f"Redis Sentinel {self.service} at {hosts}"
        if self.kind == "cluster":
            return f"Redis Cluster at {hosts}"
        return "Redis"


def host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_redis_url(value: str) -> bool:
    return value.partition("://")[0] in SCHEMES and "://" in value


#: The path of a plain Redis URL naming a database: ``/0`` to ``/99999``.
_DB_PATH = re.compile(r"/[0-9]{1,5}")


def parse(url: str, setting: str) -> RedisTarget:
    """Read ``url``; a malformed Sentinel or Cluster URL raises ConfigError(setting, …)."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ConfigError(setting, f"must be one of {', '.join(s + '://' for s in SCHEMES)} URLs")
    if scheme in PLAIN_SCHEMES:
        if scheme != "unix":
            # redis-py reads /abc as database 0 and /1/2 as 12: a typo would pick another
            # database without a word. Only /N (or nothing) names one here.
            after = url.partition("://")[2].split("?", 1)[0].split("#", 1)[0]
            _, slash, database = after.rpartition("@")[2].partition("/")
            if slash and database and not _DB_PATH.fullmatch("/" + database):
                raise ConfigError(setting, "a Redis URL ends in /db, a number (…:6379/0)")
        return RedisTarget("redis", url)
    what = "a Redis Sentinel URL" if scheme == SENTINEL_SCHEME else "a Redis Cluster URL"
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError(setting, f"{what} that cannot be read (a stray bracket?)") from None
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigError(setting, f"{what} takes no query options")
    userinfo, at, netloc = parts.netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    hosts = tuple(
        _host(part, n, _DEFAULT_PORT[scheme], what, setting)
        for n, part in enumerate(netloc.split(","), 1)
    )
    segments = parts.path.split("/")[1:] if parts.path else []
    if scheme == CLUSTER_SCHEME:
        if any(segments):
            raise ConfigError(setting, f"{what} takes no path: a cluster has only database 0")
        return RedisTarget("cluster", url, hosts, username=username, password=password)
    if not segments or not segments[0]:
        raise ConfigError(
            setting, f"{what} needs the service name after the hosts: …/mymaster[/db]"
        )
    service, db = unquote(segments[0]), 0
    if not _NAME.match(service):
        raise ConfigError(setting, f"{what} has a service name that is not a plain name")
    if len(segments) > 2 or (
        len(segments) == 2 and not (segments[1].isascii() and segments[1].isdigit())
    ):
        raise ConfigError(setting, f"{what} ends in /service/db: db must be a number")
    if len(segments) == 2:
        db = int(segments[1])
    return RedisTarget("sentinel", url, hosts, service, db, username, password)


def _host(part: str, n: int, default_port: int, what: str, setting: str) -> tuple[str, int]:
    """``host[:port]``; messages say which host by its place, not its text (a password
    with a stray ``/`` or ``@`` would end up here)."""
    if not part:
        raise ConfigError(setting, f"{what} needs host:port[,host:port…] (host {n} is empty)")
    found = _HOST.match(part)
    if found is None:
        raise ConfigError(setting, f"{what}: host {n} is not a name or address")
    port = found["port"]
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(setting, f"{what}: host {n} has a port that is not 1-65535")
    return found["ip6"] or found["name"], int(port) if port else default_port
