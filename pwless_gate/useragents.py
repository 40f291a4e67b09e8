"""A short, human name for a browser from its ``User-Agent``: "Firefox on Linux".

Shown on the sessions page and by ``pwless-gate sessions list`` so a person
can tell their sessions apart. It knows the browsers and systems people sign
in with (Chrome, Edge, Firefox, Safari, Opera, Samsung Internet, Vivaldi,
Brave's and others' Chromium builds as "Chrome"; Windows, macOS, Linux,
ChromeOS, Android, iPhone, iPad) and says "Unknown browser" for the rest.

It is a label, not a fact: a client can send any ``User-Agent``, so nothing
may depend on it for security. It does not detect devices, versions or bots.
:func:`claims_browser` says whether a client calls itself a browser, which
only chooses the kind of answer a signed-out request gets (a redirect to the
sign-in page, or a 401 a tool understands): a client that lies about it gets
the other kind of refusal, nothing more.
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


#: How every browser's ``User-Agent`` starts (a Netscape heritage they all keep). Tools
#: name themselves: ``curl/``, ``Wget/``, ``pip/``, ``git/``, ``Java/``, ``node``,
#: ``Go-http-client/``, ``okhttp/``, ``python-requests/``, ``Python-urllib/``.
BROWSER_PREFIX = "Mozilla/"


def claims_browser(user_agent: object) -> bool:
    """Whether a ``User-Agent`` says it is a browser's: it starts with ``Mozilla/``."""
    return isinstance(user_agent, str) and user_agent.startswith(BROWSER_PREFIX)


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
