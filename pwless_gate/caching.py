"""Cache headers for the answers the gate lets through to a signed-in person.

A page the app renders for a signed-in person is that person's page. A
shared cache between the gate and the browser (nginx ``proxy_cache``, Varnish,
a CDN) that stored it under its URL would hand it to the next visitor, who
would never reach the gate. So every response to a request admitted by a
session gets:

- ``Cache-Control: private``: the app's own directives are kept (``max-age``,
  ``no-cache``, ``no-store``, ``must-revalidate``…) except ``public`` and
  ``s-maxage``, which speak to shared caches, and a ``private="field"`` that
  would leave the rest of the response shareable; the headers meant for CDNs
  alone (``CDN-Cache-Control``, ``Surrogate-Control``…), which a CDN obeys
  before ``Cache-Control``, are dropped;
- ``Vary: Cookie``, merged into any ``Vary`` the app set (``Vary: *`` already
  forbids reuse and is left alone);
- ``Cache-Control: no-store`` as well when the gate adds a ``Set-Cookie``
  (a renewed session), so no cache keeps the cookie.

What it does not protect: the browser's own cache is the user's, and
``private`` lets it keep the page for as long as the app's ``max-age`` says
(after sign-out too); an app that must not leave pages there sends
``no-store`` itself. A cache configured to ignore ``Cache-Control`` and
``Vary`` (nginx ``proxy_ignore_headers``, a CDN rule that caches everything)
is not protected by any header; answers for anonymous requests (public paths)
are the app's to label.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

#: What the fast path appends when the app sent neither header.
_PRIVATE = [("Cache-Control", "private"), ("Vary", "Cookie")]
#: Headers that speak to CDNs alone and take precedence over ``Cache-Control`` there
#: (RFC 9213 ``CDN-Cache-Control``, Cloudflare's, Fastly's and Varnish's
#: ``Surrogate-Control``, Akamai's ``Edge-Control``): dropped, as ``public`` is.
_SHARED_ONLY = frozenset(
    ("cdn-cache-control", "cloudflare-cdn-cache-control", "surrogate-control", "edge-control")
)
_NAMES = frozenset(("cache-control", "vary")) | _SHARED_ONLY
#: The lengths of those names: most headers are passed over without ``lower()``.
_NAME_SIZES = frozenset(len(name) for name in _NAMES)
#: ``Cache-Control`` directives dropped: those for shared caches, and ``private``
#: (qualified or not), which is put back bare.
_DROPPED = frozenset(("public", "s-maxage", "private"))
_DROPPED_NO_STORE = _DROPPED | {"no-store"}
#: One directive or ``Vary`` member: commas inside a quoted string do not split it.
_ITEM = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*"?)+')


def private(start_response: StartResponse) -> StartResponse:
    """``start_response`` for an answer admitted by a session (see the module docstring).

    Returns a callable that passes a new header list on; the app's list is
    not changed.
    """

    def private_start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        for name, _value in headers:
            # Only names of these lengths can match; most headers skip lower().
            if len(name) in _NAME_SIZES and name.lower() in _NAMES:
                return start_response(status, private_headers(headers), exc_info)
        # A new list, whatever sequence the app gave (a tuple, which servers take too).
        return start_response(status, [*headers, *_PRIVATE], exc_info)

    return private_start_response


def private_setting_cookies(start_response: StartResponse, cookies: Sequence[str]) -> StartResponse:
    """As :func:`private`, plus ``no-store`` and one ``Set-Cookie`` per value of ``cookies``."""
    set_cookies = [("Set-Cookie", cookie) for cookie in cookies]

    def setting_cookies(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        return start_response(
            status, private_headers(headers, no_store=True) + set_cookies, exc_info
        )

    return setting_cookies


def private_headers(
    headers: Sequence[tuple[str, str]], *, no_store: bool = False
) -> list[tuple[str, str]]:
    """``headers`` with one merged ``Cache-Control`` (``private`` first) and ``Vary`` at the end.

    The other headers keep their order. ``no_store`` adds ``no-store``.
    """
    kept: list[tuple[str, str]] = []
    directives: list[str] = []
    varies: list[tuple[str, str]] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "cache-control":
            directives += _items(value)
        elif lowered == "vary":
            varies.append((name, value))
        elif lowered not in _SHARED_ONLY:
            kept.append((name, value))
    dropped = _DROPPED_NO_STORE if no_store else _DROPPED
    control = ["private", "no-store"] if no_store else ["private"]
    control += [d for d in directives if _directive_name(d) not in dropped]
    kept.append(("Cache-Control", ", ".join(control)))
    members = [item for _name, value in varies for item in _items(value)]
    if "*" in members:
        kept += varies
        return kept
    seen: set[str] = set()
    merged: list[str] = []
    for member in [*members, "Cookie"]:
        if member.lower() not in seen:
            seen.add(member.lower())
            merged.append(member)
    kept.append(("Vary", ", ".join(merged)))
    return kept


def _items(value: str) -> list[str]:
    """The comma-separated members of a header value, stripped, empty ones dropped."""
    return [item for item in (m.strip() for m in _ITEM.findall(value)) if item]


def _directive_name(directive: str) -> str:
    return directive.split("=", 1)[0].strip().lower()


__all__ = ["private", "private_headers", "private_setting_cookies"]
