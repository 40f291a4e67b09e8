"""A short, human name for a browser from its ``User-Agent``: "Firefox on Linux".

Shown on the sessions page and by ``pwless-gate sessions list`` so a person
can tell their sessions apart. It knows the browsers and systems people sign
in with (Chrome, Edge, Firefox, Safari, Opera, Samsung Internet, Vivaldi,
Brave's and others' Chromium builds as "Chrome"; Windows, macOS, Linux,
ChromeOS, Android, iPhone, iPad) and says "Unknown browser" for the rest.

It is a label, not a fact: a client can send any ``User-Agent``, so nothing
may depend on it for security. It does not detect devices, versions or bots.
:func:`names_tool` says whether a client names itself as one of the HTTP
tools and libraries people use against a gate (curl, pip, Java…), which only
chooses the kind of answer a signed-out request gets (a redirect to the
sign-in page, or a 401 a tool understands): a client that lies about it gets
the other kind of refusal, nothing more. Browsers are not listed: not every
browser's header starts with ``Mozilla/`` (Opera Mini's ``Opera/9.80``, an
app's webview with its own name), and privacy proxies send none.
"""

from __future__ import annotations

import re

#: The longest summary kept in a session record.
MAX_SUMMARY = 60
#: How much of a ``User-Agent`` header is read (real ones are a few hundred characters).
MAX_HEADER = 512
UNKNOWN = "Unknown browser"

#: (token in the header, browser name), the first match wins: Chromium-based
#: browsers name themselves before the ``Chrome/`` and ``Safari/`` they also carry.
_BROWSERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"\bEdg(?:e|A|iOS)?/", "Edge"),
        (r"\b(?:OPR|OPT|Opera)/", "Opera"),
        (r"\bSamsungBrowser/", "Samsung Internet"),
        (r"\bVivaldi/", "Vivaldi"),
        (r"\bYaBrowser/", "Yandex Browser"),
        (r"\b(?:Firefox|FxiOS)/", "Firefox"),
        (r"\b(?:Headless)?(?:Chrome|CriOS|Chromium)/", "Chrome"),
        (r"\bVersion/[\d.]+.*\bSafari/", "Safari"),
        (r"\bMobile/\w+.*\bSafari/", "Safari"),
        (r"\b(?:MSIE |Trident/)", "Internet Explorer"),
        (r"^curl/", "curl"),
        (r"^python-requests/", "Python requests"),
    )
)

#: (token, system name), the first match wins: Android says "Linux" too, and
#: an iPhone "like Mac OS X".
_SYSTEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"\biPhone\b", "iPhone"),
        (r"\biPad\b", "iPad"),
        (r"\biPod\b", "iPod"),
        (r"\bAndroid\b", "Android"),
        (r"\bCrOS\b", "ChromeOS"),
        (r"\bWindows\b", "Windows"),
        (r"\bMacintosh\b|\bMac OS X\b", "macOS"),
        (r"\b(?:Linux|X11|Ubuntu|Fedora)\b", "Linux"),
    )
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


#: The first product names (before ``/`` or a space, in any case) of HTTP tools and
#: libraries, as they send them by default: command-line tools (``curl/8.5.0``,
#: ``Wget/1.21.4``, ``wget2/2.1.0``, ``HTTPie/3.2.2``), package managers and VCS
#: (``pip/24.0 {…}``, ``git/2.43.0``, ``JGit/6.9``), Java (``Java/17.0.15`` from
#: ``HttpURLConnection``, ``Java-http-client/21``, ``Apache-HttpClient/4.5.14 (Java/17)``,
#: ``Jakarta Commons-HttpClient/3.1``, build tools (``Apache Ivy/2.5.2``, ``Apache Ant/1.10``,
#: ``Apache-Maven/3.9.6``, ``Coursier/2.1``, ``Gradle/8.5``, ``gradlew/8.5``),
#: ``okhttp/4.12.0``, Android's ``Dalvik/2.1.0 (…)``),
#: JavaScript (Node's ``fetch()``: ``node``, ``undici`` in older releases; ``node-fetch/1.0``,
#: ``axios/1.6.0``, ``Deno/1.40``, ``Bun/1.1``), Python (``python-requests/2.32``,
#: ``Python-urllib/3.12``, ``python-urllib3/2.2``, ``python-httpx/0.27``,
#: ``Python-httplib2/0.22``, and aiohttp's ``Python/3.12 aiohttp/3.9``), Go
#: (``Go-http-client/1.1``), Ruby (``Ruby`` from ``Net::HTTP``, ``Faraday v2.9``,
#: ``rest-client/2.1``), Perl (``libwww-perl/6.72``), PHP (``GuzzleHttp/7``) and API
#: tools (``PostmanRuntime/7.36``, ``insomnia/8.6``). Libraries that send none by default
#: (.NET's ``HttpClient``, Rust's reqwest) are met by their ``Accept``, which does not put
#: ``text/html`` first.
TOOLS = frozenset(
    name.lower()
    for name in (
        "curl",
        "Wget",
        "wget2",
        "HTTPie",
        "pip",
        "git",
        "JGit",
        "Java",
        "Java-http-client",
        "Apache-HttpClient",
        "Jakarta",
        "Apache",
        "Apache-Maven",
        "Coursier",
        "Gradle",
        "gradlew",
        "okhttp",
        "Dalvik",
        "node",
        "undici",
        "node-fetch",
        "axios",
        "Deno",
        "Bun",
        "python-requests",
        "Python-urllib",
        "python-urllib3",
        "python-httpx",
        "Python-httplib2",
        "Python",
        "Go-http-client",
        "Ruby",
        "Faraday",
        "rest-client",
        "libwww-perl",
        "GuzzleHttp",
        "PostmanRuntime",
        "insomnia",
    )
)
_PRODUCT = re.compile(r"[^\s/]*")


def names_tool(user_agent: object) -> bool:
    """Whether a ``User-Agent`` names one of the :data:`TOOLS` first (``curl/8.5.0``,
    ``Java/17``, ``node``). False for every browser's, and for none or an empty one."""
    if not isinstance(user_agent, str):
        return False
    product = _PRODUCT.match(user_agent[:MAX_HEADER].strip())
    return product is not None and product.group().lower() in TOOLS


def summarise(user_agent: str | None) -> str:
    """``"<browser> on <system>"``, ``"<browser>"`` or :data:`UNKNOWN`; never longer
    than :data:`MAX_SUMMARY` characters, never with control characters."""
    if not user_agent:
        return UNKNOWN
    header = _CONTROL.sub(" ", user_agent[:MAX_HEADER])
    browser = next((name for pattern, name in _BROWSERS if pattern.search(header)), None)
    system = next((name for pattern, name in _SYSTEMS if pattern.search(header)), None)
    if browser is None:
        return UNKNOWN if system is None else f"{UNKNOWN} on {system}"
    return (browser if system is None else f"{browser} on {system}")[:MAX_SUMMARY]


def split(summary: str) -> tuple[str | None, str]:
    """A summary's browser (None for :data:`UNKNOWN` or nothing) and system ("" for none),
    for a page that says "<browser> on <system>" in its own language."""
    browser, on, system = summary.rpartition(" on ")
    if not on:
        browser, system = summary, ""
    return (None if browser in ("", UNKNOWN) else browser), system


def bounded(summary: object) -> str:
    """A summary read back from a stored record: a string, bounded, without control
    characters (a record may have been written by something else)."""
    if not isinstance(summary, str) or not summary:
        return ""
    return _CONTROL.sub(" ", summary[:MAX_SUMMARY])
