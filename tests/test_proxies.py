"""Trusted proxy headers, counted per header exactly as Werkzeug's ProxyFix counts them."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Request

from pwless_gate.proxies import ProxyTrust

FORWARDED = {
    "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9, 10.0.0.2",
    "HTTP_X_FORWARDED_PROTO": "http, https",
    "HTTP_X_FORWARDED_HOST": "evil.example, tools.acme.example",
    "HTTP_X_FORWARDED_PORT": "8443",
    "HTTP_X_FORWARDED_PREFIX": "/tools",
}


def base_environ(**extra: str) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SCRIPT_NAME": "",
        "REMOTE_ADDR": "10.0.0.1",
        "SERVER_NAME": "gate.internal",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "gate.internal:8000",
        "wsgi.url_scheme": "http",
    }
    environ.update(extra)
    return environ


def through_proxyfix(trust: ProxyTrust, environ: dict[str, Any]) -> Request:
    """What Werkzeug's ProxyFix with the same counts makes of ``environ``."""
    seen: list[Request] = []

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(Request(env))
        start_response("200 OK", [])
        return []

    fixed = ProxyFix(
        app,  # type: ignore[arg-type]
        x_for=trust.x_for,
        x_proto=trust.x_proto,
        x_host=trust.x_host,
        x_port=trust.x_port,
        x_prefix=trust.x_prefix,
    )
    fixed(dict(environ), lambda *a: None)  # type: ignore[arg-type]
    return seen[0]


@pytest.mark.parametrize(
    "setting",
    ["0", "1", "2", "3", "for=1", "for=2,proto=1", "host=1", "host=2,port=1", "proto=2,prefix=1"],
)
def test_every_header_agrees_with_proxyfix(setting: str) -> None:
    trust = ProxyTrust.parse(setting)
    environ = base_environ(**FORWARDED)
    fixed = through_proxyfix(trust, environ)
    assert trust.client_ip(environ) == fixed.remote_addr
    assert trust.scheme(environ) == fixed.scheme
    assert trust.host(environ) == fixed.host
    assert trust.script_name(environ) == fixed.script_root
    assert trust.origin(environ) == f"{fixed.scheme}://{fixed.host}"


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.1"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.1"),
        (1, None, "10.0.0.1"),
    ],
    ids=["untrusted", "one-hop", "two-hops", "too-few-hops", "no-header"],
)
def test_client_ip_counts_hops(trusted: int, forwarded: str | None, expected: str) -> None:
    environ = base_environ()
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    assert ProxyTrust.parse(trusted).client_ip(environ) == expected


def test_a_number_trusts_every_header_alike() -> None:
    assert ProxyTrust.parse(2) == ProxyTrust(2, 2, 2, 2, 2, 2)
    assert ProxyTrust.parse("for=1, proto=1") == ProxyTrust(x_for=1, x_proto=1)
    assert not ProxyTrust.parse(0)


@pytest.mark.parametrize("bad", ["-1", "one", "for=x", "forwarded=1", "for=1,,", "999"])
def test_unreadable_counts_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="count"):
        ProxyTrust.parse(bad)


def test_untrusted_prefix_and_host_are_ignored() -> None:
    environ = base_environ(SCRIPT_NAME="/mounted", **FORWARDED)
    trust = ProxyTrust.parse("for=1")
    assert trust.script_name(environ) == "/mounted"
    assert trust.origin(environ) == "http://gate.internal:8000"
