"""Trusted proxy headers, counted per header exactly as Werkzeug's ProxyFix counts them."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Request

from pwless_gate.proxies import ProxyTrust, clean_prefix, unmapped_network

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


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        (0, "::ffff:127.0.0.1", None, "127.0.0.1"),
        (0, "::FFFF:10.0.0.1", None, "10.0.0.1"),
        (0, "0:0:0:0:0:ffff:7f00:1", None, "127.0.0.1"),
        (1, "::ffff:10.0.0.1", "::ffff:203.0.113.9", "203.0.113.9"),
        (1, "::ffff:10.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (0, "::1", None, "::1"),
        (0, "2001:db8::ffff:1", None, "2001:db8::ffff:1"),
        (1, "10.0.0.1", "ffff-not-an-ip", "ffff-not-an-ip"),
    ],
    ids=[
        "mapped-peer",
        "upper-case",
        "hex-form",
        "mapped-forwarded",
        "mapped-proxy",
        "v6",
        "v6-with-ffff",
        "junk-kept",
    ],
)
def test_an_ipv4_mapped_address_is_read_in_its_ipv4_form(
    trusted: int, remote: str, forwarded: str | None, expected: str
) -> None:
    """A dual-stack socket names an IPv4 client ``::ffff:a.b.c.d``: one client, one address."""
    environ = base_environ(REMOTE_ADDR=remote)
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    assert ProxyTrust.parse(trusted).client_ip(environ) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:10.1.2.3/104", "10.0.0.0/8"),
        ("::ffff:127.0.0.1", "127.0.0.1/32"),
        ("::FFFF:7F00:0/120", "127.0.0.0/24"),
        ("0:0:0:0:0:ffff:c000:200/120", "192.0.2.0/24"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
        (" 10.0.0.0/8 ", "10.0.0.0/8"),
        ("10.0.0.0/255.0.0.0", "10.0.0.0/8"),
        ("::1/128", "::1/128"),
        ("2001:db8::ffff:0:0/96", "2001:db8::ffff:0:0/96"),
        ("::/0", "::/0"),
    ],
    ids=[
        "mapped-network",
        "mapped-host-bits",
        "mapped-address",
        "upper-case-hex",
        "long-form",
        "all-of-ipv4",
        "v4",
        "v4-netmask",
        "v6",
        "v6-with-ffff",
        "all-of-ipv6",
    ],
)
def test_an_ipv4_mapped_network_is_read_in_its_ipv4_form(text: str, expected: str) -> None:
    """Clients are read in their IPv4 form: so are the networks they are matched against.
    A network written in IPv6 notation (``::/0`` included) stays as it is."""
    assert unmapped_network(text) == ipaddress.ip_network(expected)


@pytest.mark.parametrize(
    "text",
    ["::ffff:10.0.0.0/80", "::ffff:0:0/95", "::ffff:127.0.0.1/0", "ten", "10.0.0.0/33", ""],
    ids=["mapped-80", "mapped-95", "mapped-0", "word", "v4-too-long", "empty"],
)
def test_a_mapped_network_wider_than_ipv4_is_refused(text: str) -> None:
    """``::ffff:10.0.0.0/80`` spans more than the mapped range: it has no IPv4 form. The
    message names the entry."""
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        unmapped_network(text)


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


@pytest.mark.parametrize(
    ("value", "mount"),
    [
        ("/tools/app", "/tools/app"),
        ("/tools/app/", "/tools/app"),
        ("/", ""),
        ("/t%C3%A9", "/t%C3%A9"),  # escapes are the browser's own: kept as they are
        ("/a-b_c.d~e!$&'()*+,;=:@", "/a-b_c.d~e!$&'()*+,;=:@"),
        ("/\t/evil.example", None),
        ("/\\evil.example", None),
        ("/%5Cevil.example", None),
        ("//evil.example", None),
        ("/tools//app", None),
        ("/%2F%2Fevil.example", None),
        ("/tools/../admin", None),
        ("/tools/.", None),
        ("/%2e%2e/admin", None),  # browsers read an escaped dot segment as one
        ("/tools\r\nSet-Cookie: a=b", None),
        ("/tools\n", None),
        ("/tools%0d%0a", None),
        ("/t\xc3\xa9", None),  # raw non-ASCII: not what a browser sent
        ("/tools?x=1", None),
        ("/tools#top", None),
        ("/a b", None),
        ("tools", None),
        ("", ""),
        ("https://evil.example/", None),
    ],
    ids=[
        "good",
        "trailing-slash",
        "root",
        "escaped-utf8",
        "path-punctuation",
        "tab",
        "backslash",
        "escaped-backslash",
        "double-slash",
        "inner-double-slash",
        "escaped-slashes",
        "dot-dot",
        "dot",
        "escaped-dot-dot",
        "crlf",
        "lf",
        "escaped-crlf",
        "raw-non-ascii",
        "query",
        "fragment",
        "space",
        "relative",
        "empty",
        "absolute-url",
    ],
)
def test_a_forwarded_prefix_must_be_a_clean_absolute_path(value: str, mount: str | None) -> None:
    assert clean_prefix(value) == mount


def test_a_refused_prefix_falls_back_to_script_name_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trust = ProxyTrust.parse(1)
    environ = base_environ(SCRIPT_NAME="/mounted", HTTP_X_FORWARDED_PREFIX="/\\evil.example")
    with caplog.at_level("WARNING", logger="pwless_gate.proxies"):
        assert trust.script_name(environ) == "/mounted"
        assert trust.script_name(environ) == "/mounted"
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "X-Forwarded-Prefix" in caplog.records[0].getMessage()
    environ["HTTP_X_FORWARDED_PREFIX"] = "/tools/app/"
    assert trust.script_name(environ) == "/tools/app"


@pytest.mark.parametrize(
    ("script_name", "mount"),
    [
        ("", ""),
        ("/tools", "/tools"),
        ("/tools/", "/tools"),
        ("/t\xc3\xa9", "/t%C3%A9"),  # PEP 3333: UTF-8 bytes as latin-1 characters
        ("/a b", "/a%20b"),
        ("/t%C3%A9", "/t%25C3%25A9"),  # a decoded "%" is a literal one
    ],
    ids=["root", "ascii", "trailing-slash", "non-ascii", "space", "percent"],
)
def test_script_name_is_the_mount_as_the_browser_writes_it(script_name: str, mount: str) -> None:
    environ = base_environ(SCRIPT_NAME=script_name)
    assert ProxyTrust.parse(0).script_name(environ) == mount
    assert ProxyTrust.parse(1).script_name(environ) == mount  # no prefix sent
