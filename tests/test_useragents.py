"""The short browser names of the sessions page, from real User-Agent headers."""

from __future__ import annotations

import pytest

from pwless_gate.useragents import (
    MAX_SUMMARY,
    TOOLS,
    UNKNOWN,
    bounded,
    names_tool,
    split,
    summarise,
)

CASES = [
    (
        "firefox-linux",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Firefox on Linux",
    ),
    (
        "firefox-ubuntu",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Firefox on Linux",
    ),
    (
        "firefox-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
        "Firefox on Windows",
    ),
    (
        "firefox-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15",
        "Firefox on iPhone",
    ),
    (
        "chrome-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        "Chrome on Windows",
    ),
    (
        "chrome-mac",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "Chrome on macOS",
    ),
    (
        "chrome-android",
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36",
        "Chrome on Android",
    ),
    (
        "chrome-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
        "Chrome on iPhone",
    ),
    (
        "chrome-chromeos",
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        "Chrome on ChromeOS",
    ),
    (
        "headless-chromium-linux",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/126.0.0.0 Safari/537.36",
        "Chrome on Linux",
    ),
    (
        "safari-mac",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Safari on macOS",
    ),
    (
        "safari-iphone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Safari on iPhone",
    ),
    (
        "safari-ipad",
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Safari on iPad",
    ),
    (
        "edge-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68",
        "Edge on Windows",
    ),
    (
        "edge-android",
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36 EdgA/126.0.2592.80",
        "Edge on Android",
    ),
    (
        "opera-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0",
        "Opera on Windows",
    ),
    (
        "samsung-android",
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 "
        "(KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
        "Samsung Internet on Android",
    ),
    (
        "vivaldi-linux",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36 Vivaldi/6.8",
        "Vivaldi on Linux",
    ),
    (
        "ie11",
        "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
        "Internet Explorer on Windows",
    ),
    ("curl", "curl/8.8.0", "curl"),
    ("python-requests", "python-requests/2.32.3", "Python requests"),
    (
        "unknown-on-linux",
        "Mozilla/5.0 (X11; Linux x86_64) SomeBrowser/1.0",
        "Unknown browser on Linux",
    ),
    ("made-up", "definitely not a browser", UNKNOWN),
    ("empty", "", UNKNOWN),
    ("none", None, UNKNOWN),
]


@pytest.mark.parametrize(("header", "summary"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_summary(header: str | None, summary: str) -> None:
    assert summarise(header) == summary


@pytest.mark.parametrize(
    "header",
    [
        "Firefox/1 " + "x" * 100_000,
        "\x00\x1b[31mFirefox/1\r\nSet-Cookie: x",
        "Chrome/1 (" + "Windows " * 2000 + ")",
    ],
    ids=["huge", "control-characters", "repeated-tokens"],
)
def test_hostile_headers_give_a_short_clean_summary(header: str) -> None:
    summary = summarise(header)
    assert len(summary) <= MAX_SUMMARY
    assert summary.isprintable()
    assert summary != ""


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("Firefox on Linux", "Firefox on Linux"),
        ("x" * 500, "x" * MAX_SUMMARY),
        ("a\x00b\nc", "a b c"),
        (42, ""),
        (None, ""),
        (["list"], ""),
    ],
    ids=["plain", "too-long", "control", "number", "none", "list"],
)
def test_a_stored_summary_is_read_back_bounded(stored: object, read: str) -> None:
    assert bounded(stored) == read


@pytest.mark.parametrize(
    ("summary", "parts"),
    [
        ("Firefox on Linux", ("Firefox", "Linux")),
        ("Python requests", ("Python requests", "")),
        ("Unknown browser", (None, "")),
        ("Unknown browser on Android", (None, "Android")),
        ("", (None, "")),
    ],
)
def test_a_summary_splits_into_browser_and_system(
    summary: str, parts: tuple[str | None, str]
) -> None:
    assert split(summary) == parts


@pytest.mark.parametrize(
    ("header", "tool"),
    [
        ("curl/8.8.0", True),
        ("CURL/8.8.0", True),
        ("Java/17.0.15", True),
        ("  Go-http-client/1.1", True),
        ("node", True),
        ("Python/3.12 aiohttp/3.9.5", True),
        ("Faraday v2.9.0", True),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", False),
        ("Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423", False),
        ("MyCompanyApp/3.1 (iOS 15.0)", False),
        ("Mozilla/5.0 curl/8.8.0", False),
        ("curly/1.0", False),
        ("nodejs-dashboard/2.0", False),
        ("/curl", False),
        ("", False),
        (None, False),
        (42, False),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_names_tool_reads_the_first_product_name(header: object, tool: bool) -> None:
    assert names_tool(header) is tool


def test_every_tool_is_named_by_its_own_header() -> None:
    for name in TOOLS:
        assert names_tool(f"{name.upper()}/1.0 (x)"), name
