"""Benchmarks 2 and 5: the gate over HTTP, with wrk against gunicorn.

Benchmark 2 compares gunicorn (2 sync workers) serving the bare app, the
gated app (cookie store, Redis store), and an nginx hop in front of the bare
and the gated app: the least any out-of-process gatekeeper costs. Benchmark
5 serves the gated app with 1, 2 and 4 workers. Every variant stays up for
the whole benchmark and short measured runs alternate between them many
times, so load from elsewhere on the machine, which comes and goes, falls on
all of them alike. wrk runs on the same two cores, so it
competes with the server; its share of the CPU is reported.
"""

from __future__ import annotations

import http.client
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pwless_gate import GateConfig, PasswordlessGate

from .apps import hello
from .fixtures import browser_cookie, gate_environment, gate_settings
from .servers import Server, WrkResult, start_gunicorn, start_nginx, wrk

WARMUP_S = 2
MEASURE_S = 1
ROUNDS = 12
CONNECTIONS = 8
GATED_APP = 'pwless_gate:gate("bench.apps:hello")'
TARGET_RATIO = 0.95


@dataclass
class Target:
    """One server under load, and the request headers that get a 200 from it."""

    name: str
    server: Server
    headers: Mapping[str, str]
    runs: list[WrkResult] = field(default_factory=list)

    @property
    def requests_per_s(self) -> float:
        return statistics.median(r.requests_per_s for r in self.runs)


def probe(target: Target) -> None:
    """One request; raises unless it is answered 200 (wrk counts a 302 as success)."""
    connection = http.client.HTTPConnection("127.0.0.1", target.server.port, timeout=5)
    try:
        connection.request("GET", "/", headers=dict(target.headers))
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"{target.name}: GET / answered {response.status} {body[:200]!r}")


def measure(targets: Sequence[Target], *, rounds: int = ROUNDS) -> None:
    """Warm every target up, then alternate measured runs between them."""
    for target in targets:
        probe(target)
        wrk(target.server, WARMUP_S, connections=CONNECTIONS, headers=target.headers)
    for r in range(rounds):
        shift = r % len(targets)
        for target in [*targets[shift:], *targets[:shift]]:
            target.runs.append(
                wrk(target.server, MEASURE_S, connections=CONNECTIONS, headers=target.headers)
            )
        for target in targets:
            probe(target)


def _cookie_headers(i: int, **settings: str) -> dict[str, str]:
    """A session of user ``i`` that the gunicorn-served gates with ``settings`` accept."""
    gate = PasswordlessGate(hello, GateConfig(**gate_settings(**settings)))
    return {"Cookie": browser_cookie(gate, i)}


def over_http(workdir: Path, redis_url: str | None) -> list[Target]:
    """Benchmark 2. The returned targets carry their runs; the first one is the bare app."""
    cookie = _cookie_headers(1)
    sqlite = f"sqlite://{workdir / 'gate.sqlite3'}"
    servers: list[Server] = []
    try:
        bare = start_gunicorn("bare", "bench.apps:hello", workdir)
        servers.append(bare)
        gated = start_gunicorn("gated-cookie", GATED_APP, workdir, env=gate_environment())
        servers.append(gated)
        sqlite_gated = start_gunicorn(
            "gated-sqlite", GATED_APP, workdir, env=gate_environment(sqlite)
        )
        servers.append(sqlite_gated)
        targets = [
            Target("bare app", bare, cookie),
            Target("gated, cookie store", gated, cookie),
            # The session is saved in the same file by a gate in this process.
            Target("gated, SQLite store", sqlite_gated, _cookie_headers(3, store=sqlite)),
        ]
        if redis_url:
            redis_gated = start_gunicorn(
                "gated-redis", GATED_APP, workdir, env=gate_environment(redis_url)
            )
            servers.append(redis_gated)
            redis_cookie = _cookie_headers(2, redis_url=redis_url)
            targets.append(Target("gated, Redis store", redis_gated, redis_cookie))
        nginx_bare = start_nginx("nginx-bare", bare, workdir)
        servers.append(nginx_bare)
        nginx_gated = start_nginx("nginx-gated", gated, workdir)
        servers.append(nginx_gated)
        targets += [
            Target("nginx hop → bare app", nginx_bare, cookie),
            Target("nginx hop → gated, cookie store", nginx_gated, cookie),
        ]
        measure(targets)
        return targets
    finally:
        for server in reversed(servers):
            server.stop()


def scale(workdir: Path, workers: Sequence[int] = (1, 2, 4)) -> list[Target]:
    """Benchmark 5: the gated app with 1, 2 and 4 sync workers, cookie and SQLite stores."""
    sqlite = f"sqlite://{workdir / 'scale.sqlite3'}"
    stores = {
        "cookie": ("cookie", _cookie_headers(1)),
        "SQLite": (sqlite, _cookie_headers(3, store=sqlite)),
    }
    servers: list[Server] = []
    try:
        targets = []
        for label, (store, cookie) in stores.items():
            for count in workers:
                server = start_gunicorn(
                    f"scale-{label}-{count}",
                    GATED_APP,
                    workdir,
                    workers=count,
                    env=gate_environment(store),
                )
                servers.append(server)
                workers_text = f"{count} worker{'s' if count > 1 else ''}"
                targets.append(Target(f"{label} store, {workers_text}", server, cookie))
        measure(targets)
        return targets
    finally:
        for server in reversed(servers):
            server.stop()
