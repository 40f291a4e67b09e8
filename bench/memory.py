"""Benchmark 4: memory per cached session, and a flood of invalid cookies.

Each measurement runs in a fresh interpreter (``python -m bench.memory MODE``)
and reads ``VmRSS`` from ``/proc/self/status`` before and after, so nothing
else this run allocated is counted. The modes print one JSON object.

``cache``  fills the gate's verified-session cache with 100k sessions of ten
           claims each, through ``SessionCache.save`` (cookie store).
``dict``   keeps the same sessions, under the same cookie values, in a dict.
``flood``  sends 100k forged or unknown session cookies through the whole gate
           (cookie store, or Redis with ``--redis URL``) and counts the cache.
"""

from __future__ import annotations

import argparse
import gc
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from pwless_gate import GateConfig, PasswordlessGate
from pwless_gate.stores import CookieStore

from .apps import hello
from .fixtures import OTHER_COOKIES, gate_settings, make_session
from .hotpath import browser_environ
from .timing import start_response

SESSIONS = 100_000
FLOOD = 100_000
#: Sessions saved past the cache's maxsize, to show it stays bounded.
OVERFLOW = 1_000
TARGET_BYTES = 2500


def rss_bytes() -> int:
    gc.collect()
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _gate(app: Any = hello, **overrides: Any) -> PasswordlessGate:
    return PasswordlessGate(app, GateConfig(**gate_settings(**overrides)))


def fill_cache(n: int) -> dict[str, Any]:
    gate = _gate(session_cache_size=n)
    gate.sessions.save(make_session(n))  # first-use allocations outside the measurement
    before = rss_bytes()
    key_chars = 0
    for i in range(n):
        key_chars += len(gate.sessions.save(make_session(i)))
    after = rss_bytes()
    cached = len(gate.sessions)
    for i in range(OVERFLOW):  # past maxsize: the oldest entries must go
        gate.sessions.save(make_session(n + 1 + i))
    return {
        "n": n,
        "cached": cached,
        "saved_past_maxsize": OVERFLOW,
        "cached_after_overflow": len(gate.sessions),
        "rss_before": before,
        "rss_after": after,
        "key_chars": key_chars / n,
    }


def fill_dict(n: int) -> dict[str, Any]:
    store = CookieStore(GateConfig(**gate_settings()).signing_keys)
    sessions: dict[str, Any] = {}
    store.save(make_session(n))
    before = rss_bytes()
    for i in range(n):
        session = make_session(i)
        sessions[store.save(session)] = session
    after = rss_bytes()
    return {"n": n, "cached": len(sessions), "rss_before": before, "rss_after": after}


def _forged_cookies(valid: str, n: int) -> Iterator[str]:
    """Unknown ids, garbage, tampered signatures, and records signed with another key."""
    payload, _, signature = valid.rpartition(".")
    other = CookieStore([b"not-the-gate-key-0123456789"])
    for i in range(n):
        kind = i % 5
        if kind == 0:
            yield secrets.token_urlsafe(32)  # an unknown 256-bit id
        elif kind == 1:
            flipped = "A" if signature[-2] != "A" else "B"
            yield f"{payload}.{signature[:-2]}{flipped}{signature[-1]}"
        elif kind == 2:
            yield other.save(make_session(i))
        elif kind == 3:
            yield payload + "." + secrets.token_urlsafe(32)
        else:
            yield secrets.token_urlsafe(200)


def flood(n: int, redis_url: str | None) -> dict[str, Any]:
    called = 0

    def app(environ: Any, respond: Any) -> Any:
        nonlocal called
        called += 1
        return hello(environ, respond)

    gate = _gate(app, redis_url=redis_url) if redis_url else _gate(app)
    valid = gate.sessions.save(make_session(0))
    forged = list(_forged_cookies(valid, n))
    base = browser_environ()
    statuses: dict[str, int] = {}

    def seen(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses[status] = statuses.get(status, 0) + 1
        return start_response(status, headers, exc_info)

    before_len, before = len(gate.sessions), rss_bytes()
    started = time.perf_counter()
    for value in forged:
        environ = dict(base)
        environ["HTTP_COOKIE"] = f"{OTHER_COOKIES}; {gate.config.session_cookie}={value}"
        for _chunk in gate(environ, seen):
            pass
    seconds = time.perf_counter() - started
    after_len, after = len(gate.sessions), rss_bytes()
    still_valid = gate.sessions.lookup(valid) is not None
    return {
        "n": n,
        "store": "redis" if redis_url else "cookie",
        "len_before": before_len,
        "len_after": after_len,
        "rss_before": before,
        "rss_after": after,
        "app_called": called,
        "statuses": statuses,
        "valid_still_cached": still_valid,
        "seconds": seconds,
    }


def measure(mode: str, *args: str) -> dict[str, Any]:
    """Run one mode in a fresh interpreter; return what it printed."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", mode, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["cache", "dict", "flood"])
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument("--redis")
    args = parser.parse_args()
    if args.mode == "cache":
        result = fill_cache(args.n or SESSIONS)
    elif args.mode == "dict":
        result = fill_dict(args.n or SESSIONS)
    else:
        result = flood(args.n or FLOOD, args.redis)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
