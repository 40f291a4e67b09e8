"""Benchmark 1: the hot path in process.

The same hello-world app called bare, through a do-nothing middleware, and
through :class:`PasswordlessGate` with a valid session cookie (cookie, SQLite
and Redis stores, cache warm; SQLite and Redis also with every call missing
the verified-session cache, so the store is read each time), a tool's request
with a valid app token (cache warm), plus a bare Flask app and a Flask-Login
``@login_required`` app as a reference. Wrong app tokens: how often they reach
the token store. Then where the gate's time goes: the
hot path split at the gate's own methods, each timed on its own, and a
cProfile of the whole call.
"""

from __future__ import annotations

import cProfile
import pstats
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder, run_wsgi_app

from pwless_gate import GateConfig, PasswordlessGate
from pwless_gate.decide import RequestFacts

from .apps import PassThrough, flask_hello, flask_login_hello, hello
from .fixtures import browser_cookie, gate_settings, make_session
from .timing import Variant, call, interleaved, per_call, start_response

ROUNDS = 10
PER_ROUND = 20_000
#: The Flask references are 10-100 times slower: fewer calls keep the run short.
FLASK_PER_ROUND = 2_000
#: A cache miss reads the store: fewer calls too.
MISS_PER_ROUND = 2_000
TARGET_ADDED_US = 2.5
#: What a call that misses the verified-session cache may add (SQLite store).
TARGET_MISS_US = 50.0
#: What a request with a valid app token may add, cache warm (issue 13).
TARGET_TOKEN_US = 10.0
#: What a file of 50 access rules may add to the warm hot path (issue 14).
TARGET_RULES_US = 1.0
#: The request the rules row makes: under rule 38 of :func:`fifty_rules`.
RULES_PATH = "/tool37/reports/q3"

BROWSER_HEADERS = {
    "Host": "tools.example.com",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.5",
    "Accept-Encoding": "gzip, deflate, br",
}


def browser_environ(cookie: str | None = None, path: str = "/") -> dict[str, Any]:
    """A realistic browser GET, as a WSGI server would build it."""
    headers = dict(BROWSER_HEADERS)
    if cookie:
        headers["Cookie"] = cookie
    builder = EnvironBuilder(path=path, headers=headers, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _flask_login_cookie(app: Any) -> str:
    """Sign in once through ``GET /login``; return the Flask session cookie."""
    _body, _status, headers = run_wsgi_app(app, browser_environ(path="/login"))
    for header in headers.getlist("Set-Cookie"):
        match = re.match(r"session=([^;]+)", header)
        if match:
            return f"session={match.group(1)}"
    raise RuntimeError("Flask-Login set no session cookie")


@dataclass
class Gates:
    """The gates under test, with the cookie headers that get through them."""

    cookie: PasswordlessGate
    cookie_environ: dict[str, Any]
    sqlite: PasswordlessGate
    sqlite_environ: dict[str, Any]
    redis: PasswordlessGate | None
    redis_environ: dict[str, Any] | None
    #: A SQLite gate with app tokens on, and a tool's GET with a valid token.
    tokens: PasswordlessGate | None = None
    token_environ: dict[str, Any] | None = None
    #: A cookie-store gate with 50 access rules, and a GET one of them lets through.
    rules: PasswordlessGate | None = None
    rules_environ: dict[str, Any] | None = None
    #: The same request through the plain cookie-store gate (the rules row's baseline).
    rules_baseline_environ: dict[str, Any] | None = None


def fifty_rules(workdir: Path) -> Path:
    """A rules file of 50 rules as teams write them: public health checks, tools each
    for a few people or a domain, a role, methods and hosts limits, a regex or two, a
    closed export, and ``max_age`` on payroll."""
    rules = [
        '[[rules]]\npath = "/healthz"\npolicy = "public"',
        '[[rules]]\npath = "/old-export"\npolicy = "deny"',
        '[[rules]]\npath = "/payroll"\nallow = ["role:payroll"]\nmax_age = 900',
    ]
    for i in range(44):
        allow = f'["boss@example.com", "ops{i}@example.com", "@example.com", "role:t{i}"]'
        limits = '\nmethods = ["POST", "PUT", "DELETE"]' if i % 7 == 3 else ""
        limits += '\nhosts = ["tools.example.com"]' if i % 11 == 5 else ""
        rules.append(f'[[rules]]\npath = "/tool{i}"\nallow = {allow}{limits}')
    rules += [
        '[[rules]]\npath = "/admin/audit"\nallow = ["boss@example.com"]',
        '[[rules]]\npath = "/admin"\nallow = ["boss@example.com", "ops@example.com"]',
        "[[rules]]\npath = '^/api/v[0-9]+/private(/.*)?$'\npolicy = \"deny\"",
    ]
    assert len(rules) == 50
    path = workdir / "rules.toml"
    path.write_text("\n\n".join(rules) + "\n")
    return path


def build_gates(redis_url: str | None, workdir: Path) -> Gates:
    gate = PasswordlessGate(hello, GateConfig(**gate_settings()))
    cookie_env = browser_environ(browser_cookie(gate, 1))
    sqlite_gate = PasswordlessGate(
        hello, GateConfig(**gate_settings(store=f"sqlite://{workdir / 'hotpath.sqlite3'}"))
    )
    sqlite_env = browser_environ(browser_cookie(sqlite_gate, 3))
    redis_gate = redis_env = None
    if redis_url:
        redis_gate = PasswordlessGate(hello, GateConfig(**gate_settings(redis_url=redis_url)))
        redis_env = browser_environ(browser_cookie(redis_gate, 2))
    token_gate = PasswordlessGate(
        hello,
        GateConfig(
            **gate_settings(store=f"sqlite://{workdir / 'tokens.sqlite3'}", app_tokens=True)
        ),
    )
    rules_gate = PasswordlessGate(
        hello,
        GateConfig(
            **gate_settings(
                rules_file=str(fifty_rules(workdir)), roles_claim="https://example.com/roles"
            )
        ),
    )
    return Gates(
        gate,
        cookie_env,
        sqlite_gate,
        sqlite_env,
        redis_gate,
        redis_env,
        token_gate,
        tool_environ(f"Bearer {app_token(token_gate, 4)}"),
        rules_gate,
        browser_environ(browser_cookie(rules_gate, 5), path=RULES_PATH),
        browser_environ(browser_cookie(gate, 5), path=RULES_PATH),
    )


def app_token(gate: PasswordlessGate, i: int) -> str:
    """A valid app token of user ``i``, made through the gate's own token store."""
    assert gate.tokens is not None
    token, _ = gate.tokens.create(make_session(i), "bench", 30)
    return token


def tool_environ(authorization: str, ip: str = "10.1.2.4") -> dict[str, Any]:
    """A tool's GET (curl-like headers) with an ``Authorization`` header."""
    headers = {
        "Host": "tools.example.com",
        "User-Agent": "curl/8.5.0",
        "Accept": "*/*",
        "Authorization": authorization,
    }
    builder = EnvironBuilder(path="/", headers=headers, environ_base={"REMOTE_ADDR": ip})
    try:
        return builder.get_environ()
    finally:
        builder.close()


class CacheMiss:
    """The gate, with its verified-session cache emptied of this session before each call,
    so every call reads the store (the cost a process pays once per session and
    ``session_cache_ttl``)."""

    def __init__(self, gate: PasswordlessGate, environ: dict[str, Any]) -> None:
        self.gate = gate
        match = re.search(r"pwless_gate_session=([^;]+)", environ["HTTP_COOKIE"])
        if match is None:
            raise RuntimeError("no session cookie in the environ")
        self.value = match.group(1)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.gate.sessions.forget(self.value)
        return self.gate(environ, start_response)


def _check(variant: Variant) -> None:
    status, headers = call(variant.app, variant.environ)
    if not status.startswith("200") or any(k.lower() == "set-cookie" for k, _ in headers):
        raise RuntimeError(f"{variant.name}: expected a plain 200, got {status} {headers}")


def variants(gates: Gates) -> list[Variant]:
    environ = gates.cookie_environ
    flask_login = flask_login_hello()
    result = [
        Variant("bare hello app", hello, environ),
        Variant("do-nothing middleware", PassThrough(hello), environ),
        Variant("PasswordlessGate, cookie store (warm)", gates.cookie, environ),
        Variant("PasswordlessGate, SQLite store (warm)", gates.sqlite, gates.sqlite_environ),
        Variant(
            "PasswordlessGate, SQLite store (cache miss)",
            CacheMiss(gates.sqlite, gates.sqlite_environ),
            gates.sqlite_environ,
            per_round=MISS_PER_ROUND,
        ),
    ]
    if gates.redis is not None and gates.redis_environ is not None:
        result += [
            Variant("PasswordlessGate, Redis store (warm)", gates.redis, gates.redis_environ),
            Variant(
                "PasswordlessGate, Redis store (cache miss)",
                CacheMiss(gates.redis, gates.redis_environ),
                gates.redis_environ,
                per_round=MISS_PER_ROUND,
            ),
        ]
    if gates.tokens is not None and gates.token_environ is not None:
        result.append(
            Variant("PasswordlessGate, app token (warm)", gates.tokens, gates.token_environ)
        )
    if gates.rules is not None and gates.rules_environ is not None:
        assert gates.rules_baseline_environ is not None
        result += [
            Variant(
                f"PasswordlessGate, cookie store, no rules, GET {RULES_PATH}",
                gates.cookie,
                gates.rules_baseline_environ,
            ),
            Variant(
                f"PasswordlessGate, cookie store, 50 access rules, GET {RULES_PATH}",
                gates.rules,
                gates.rules_environ,
            ),
        ]
    result += [
        Variant("bare Flask app", flask_hello(), environ, per_round=FLASK_PER_ROUND),
        Variant(
            "Flask + Flask-Login `@login_required`",
            flask_login,
            browser_environ(f"{_flask_login_cookie(flask_login)}; {environ['HTTP_COOKIE']}"),
            per_round=FLASK_PER_ROUND,
        ),
    ]
    for variant in result:
        _check(variant)
    return result


def run(redis_url: str | None, workdir: Path) -> tuple[Gates, list[Variant]]:
    gates = build_gates(redis_url, workdir)
    measured = variants(gates)
    interleaved(measured, rounds=ROUNDS, per_round=PER_ROUND)
    return gates, measured


# -- where the time goes ------------------------------------------------------------


def profile(gate: PasswordlessGate, environ: dict[str, Any], n: int = 200_000) -> list[list[str]]:
    """cProfile of ``n`` warm gate calls: the top functions by own time, per gate call.

    cProfile adds a fixed cost to every function call, so the numbers are
    inflated; read them as shares, and use :func:`steps` for real costs.
    """
    copy = environ.copy
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        for _chunk in gate(copy(), start_response):
            pass
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    entries = stats.stats  # type: ignore[attr-defined]
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in sorted(
        entries.items(), key=lambda item: item[1][2], reverse=True
    )[:14]:
        rows.append(
            [
                f"`{_short(filename)}:{line}({func})`",
                f"{ncalls / n:.0f}",
                f"{tottime / n * 1e6:.2f}",
                f"{cumtime / n * 1e6:.2f}",
                f"{tottime / total:.0%}",
            ]
        )
    return rows


def _short(filename: str) -> str:
    if filename == "~":
        return "builtin"
    path = Path(filename)
    for anchor in ("pwless_gate", "cachetools", "bench"):
        if anchor in path.parts:
            return "/".join(path.parts[path.parts.index(anchor) :])
    return path.name


def steps(gate: PasswordlessGate, environ: dict[str, Any], n: int = 100_000) -> list[list[str]]:
    """The warm hot path split at the gate's own entry points, in µs per request.

    Only calls the gate's public-ish methods (so the split survives changes to
    their insides); what is left is the adapter's own code: scrubbing, building
    the request facts, copying the prepared keys and claims into the environ.
    """
    value = gate.cookies.session_from_environ(dict(environ))
    if value is None or gate.sessions.lookup(value) is None:
        raise RuntimeError("the session cookie does not get through the gate")
    header = environ["HTTP_COOKIE"]
    facts = RequestFacts("GET", environ["PATH_INFO"], header, False, environ)
    parts: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
        (
            "`cookies.session_from_header` (find the cookie in `HTTP_COOKIE`)",
            lambda env: gate.cookies.session_from_header(header, False),
        ),
        (
            "`sessions.lookup(value)` (cache hit, expiry check)",
            lambda env: gate.sessions.lookup(value),
        ),
        (
            "rest of `decider.decide(facts)` (route, refresh due?, the decision object)",
            lambda env: gate.decider.decide(facts),
        ),
        ("`cookies.strip_own` (remove the gate's cookies)", gate.cookies.strip_own),
        ("the wrapped hello app itself", lambda env: hello(env, start_response)),
    ]
    rows = []
    measured = 0.0
    for name, fn in parts:
        cost = per_call(fn, environ, n)
        if name.startswith("rest of"):
            cost -= measured  # decide() includes the two steps above
        measured += cost
        rows.append([name, f"{cost:.2f}"])
    whole = per_call(lambda env: gate(env, start_response), environ, n)
    rows.append(
        [
            "the rest: the WSGI adapter's own code (scrub, request facts, environ update, "
            "claims copy, calls)",
            f"{whole - measured:.2f}",
        ]
    )
    rows.append(["**whole `gate(environ, start_response)`**", f"{whole:.2f}"])
    return rows


# -- wrong app tokens and the store ------------------------------------------------------


class CountingTokens:
    """An app token store that counts lookups (``find_token``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.finds = 0

    def find_token(self, key: str) -> Any:
        self.finds += 1
        return self.inner.find_token(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class WrongTokens:
    """What wrong tokens from one IP cost the store."""

    limit: str
    requests: int
    same_lookups: int
    distinct_lookups: int
    statuses: dict[int, int]


def wrong_tokens(workdir: Path, n: int = 1000) -> WrongTokens:
    """``n`` requests with one wrong (well-formed) token from one IP, then ``n`` with a new
    wrong token each from another IP: how often the token store was asked."""
    from pwless_gate.apptokens import new_token
    from pwless_gate.stores.sqlite import SQLiteDatabase, SQLiteTokenStore

    path = workdir / "wrong-tokens.sqlite3"
    store = CountingTokens(SQLiteTokenStore(SQLiteDatabase(str(path))))
    config = GateConfig(**gate_settings(store=f"sqlite://{path}", app_tokens=True))
    gate = PasswordlessGate(hello, config, token_store=store)
    statuses: dict[int, int] = {}

    def send(environ: dict[str, Any]) -> None:
        status, _ = call(gate, environ)
        code = int(status.split()[0])
        statuses[code] = statuses.get(code, 0) + 1

    same = tool_environ(f"Bearer {new_token()}", ip="10.9.0.1")
    for _ in range(n):
        send(dict(same))
    same_lookups = store.finds
    for _ in range(n):
        send(tool_environ(f"Bearer {new_token()}", ip="10.9.0.2"))
    return WrongTokens(
        limit=config.throttle_app_token_per_ip,
        requests=n,
        same_lookups=same_lookups,
        distinct_lookups=store.finds - same_lookups,
        statuses=statuses,
    )
