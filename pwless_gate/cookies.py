"""The gate's cookies: the session and the browser id (for CSRF and binding), and two small
ones: the language chosen on the sign-in page, and the handle of a saved form.

Both are HttpOnly and SameSite=Lax; Secure when the gate is served over
https (or ``cookie_secure=true``), and then named with the ``__Host-``
prefix so no subdomain can plant them. A gate mounted under a path
(``SCRIPT_NAME``) scopes its cookies to that path (``__Secure-`` there,
since ``__Host-`` requires ``Path=/``), so two tools on one host do not see
each other's sessions; a ``__Secure-`` cookie, though, can be planted by a
sibling subdomain (``Domain=`` the parent), which SECURITY.md spells out.
Reading the session cookie on the hot path is a ``str.find`` over the raw
``Cookie`` header, not a full parse; a chunk count is length-checked before
it is turned into a number.

Reading is strict, as RFC 6265 and Werkzeug read: a cookie starts at the
start of the header or after a ``;`` (and spaces or tabs), nowhere else. A
sibling subdomain can plant a cookie whose value reads
``x __Host-pwless_gate_session=…``; a lenient reader would take the text after
the space for the gate's session (session fixation past the ``__Host-``
prefix). Removing is generous: the gate's cookies are also cut out after a
``,`` (gunicorn and Werkzeug's server join two ``Cookie`` lines with one), so
the app never receives the gate's secrets, whichever way the header came.

A browser drops a cookie over about 4 KB, so a longer session value is split
into chunks: the first cookie holds ``<n>~<part>`` and ``<name>_1`` … the
rest, at most :data:`MAX_SESSION_COOKIE` characters in all (see there).
Before the app sees the request, the gate's cookies are removed from
``HTTP_COOKIE``.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from werkzeug.http import dump_cookie
from werkzeug.wrappers import Request, Response

from .config import GateConfig
from .csrf import new_browser_id
from .errors import SessionTooLarge

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

BROWSER_ID_MAX_AGE = 400 * 24 * 3600
#: One cookie's share of a long session value: with its name and attributes well
#: under the 4096 bytes browsers keep per cookie (oauth2-proxy splits at 4 KB too).
CHUNK_SIZE = 3800
#: The most characters a session value may have in cookies (the signed-cookie store's
#: whole record; the other stores put a short random id there). Servers refuse a long
#: ``Cookie`` line: gunicorn's ``limit_request_field_size`` is 8190 bytes and nginx's
#: ``large_client_header_buffers`` 8 KB by default, answering 400 or 431 to *every*
#: request, so a person whose session cookie grew past that is locked out until they
#: clear their cookies. 6000 (two chunks) leaves over 2000 bytes of that line for
#: the chunk names, the browser id, the language and the app's own cookies.
MAX_SESSION_COOKIE = 6000
#: The most chunks read back. Written values never need more than two now; older ones
#: (up to four) are still read until they expire.
MAX_CHUNKS = 4
#: How many recent Cookie headers, of at most how many characters, keep their
#: stripped form (a few MB at most).
_MEMO_SIZE = 2048
_UNSEEN = object()
_MEMO_HEADER_MAX = 2048
_BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: A saved form's handle: 256 random bits, URL-safe base64.
_HANDLE = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: Where ``Cookie`` headers are cut: ``;`` between cookies, ``,`` between joined lines.
_SEPARATOR = re.compile(r"([;,])")


class Cookies:
    """Names, reading and writing of the gate's cookies for one config."""

    def __init__(self, config: GateConfig) -> None:
        self.config = config
        #: (secure, mounted) → (session, browser) cookie names.
        self._names = {
            (secure, mounted): config.cookie_names(secure, mounted)
            for secure in (False, True)
            for mounted in (False, True)
        }
        self._needles = {kind: names[0] + "=" for kind, names in self._names.items()}
        self._proxies = config.proxies
        self._chunk_patterns = {
            kind: re.compile(r"(?:^|;)[ \t]*" + re.escape(names[0]) + r"_(\d)=([^; \t]+)")
            for kind, names in self._names.items()
        }
        #: Per (secure, mounted): (language, saved form) cookie names.
        self._small = {
            kind: (
                names[1].removesuffix("_browser") + "_lang",
                names[1].removesuffix("_browser") + "_form",
            )
            for kind, names in self._names.items()
        }
        every = [*self._names.values(), *self._small.values()]
        own = "|".join(sorted({re.escape(n) for pair in every for n in pair}))
        #: One of the gate's cookies, as a piece of the header cut at ``;`` and ``,``.
        self._own = re.compile(rf"[ \t]*(?:{own})(?:_\d)?=")
        #: Whether a header holds one at all (after its start, a ``;`` or a ``,``).
        self._any_own = re.compile(rf"(?:^|[;,])[ \t]*(?:{own})(?:_\d)?=")
        # Single dict reads and writes are atomic in CPython: no lock needed.
        self._stripped: dict[str, str] = {}
        #: Per (secure, mounted), as ``2 * secure + mounted``: header → session value.
        self._values: list[dict[str, str | None]] = [{} for _ in range(4)]
        self._fixed = {"true": True, "false": False}.get(config.cookie_secure)

    def secure(self, environ: WSGIEnvironment) -> bool:
        """Whether this request's cookies are Secure (and ``__Host-`` named)."""
        if self._fixed is not None:
            return self._fixed
        if environ.get("wsgi.url_scheme") == "https":
            return True
        return bool(self._proxies.x_proto) and self._proxies.scheme(environ) == "https"

    # -- reading ---------------------------------------------------------------

    def mount(self, environ: WSGIEnvironment) -> str:
        """The path the gate is mounted at as the browser sees it (``""`` at the root):
        :meth:`~pwless_gate.proxies.ProxyTrust.script_name`, percent-encoded."""
        return self._proxies.script_name(environ)

    def session_from_environ(self, environ: WSGIEnvironment) -> str | None:
        """The session cookie's value straight from ``HTTP_COOKIE``."""
        header: str | None = environ.get("HTTP_COOKIE")
        if not header:
            return None
        return self.session_from_header(header, self.secure(environ), bool(self.mount(environ)))

    def session_from_header(self, header: str, secure: bool, mounted: bool = False) -> str | None:
        """The session cookie's value in a raw ``Cookie`` header, or None.

        A browser sends the same header with every request, so the answer is
        remembered for a bounded number of recent headers (as :meth:`strip_own`
        does): one dictionary look-up; else a ``str.find`` with a boundary
        check, a tenth of the cost of a regex or a full cookie parse.
        """
        memo = self._values[2 * secure + mounted]
        found = memo.get(header, _UNSEEN)
        if found is not _UNSEEN:
            return found  # type: ignore[return-value]
        value = self._scan(header, (secure, mounted))
        if len(header) <= _MEMO_HEADER_MAX:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[header] = value
        return value

    def _scan(self, header: str, kind: tuple[bool, bool]) -> str | None:
        needle = self._needles[kind]
        start = header.find(needle)
        while start > 0:
            # A cookie starts at the header's start or after ";" and blanks; after a
            # space alone the needle is inside another cookie's value (planted, maybe).
            before = start - 1
            while before >= 0 and header[before] in " \t":
                before -= 1
            if before < 0 or header[before] == ";":
                break
            start = header.find(needle, start + 1)
        if start < 0:
            return None
        start += len(needle)
        end = header.find(";", start)
        value = (header[start:] if end < 0 else header[start:end]).strip()
        if not value:
            return None
        if "~" in value:
            return self._join(kind, header, value)
        return value

    def _join(self, kind: tuple[bool, bool], header: str, first: str) -> str | None:
        count, _, head = first.partition("~")
        # Bound the length before int(): Python refuses to convert thousands of digits.
        if len(count) != 1 or not "1" < count <= str(MAX_CHUNKS):  # "²".isdigit() too
            return None
        parts: dict[str, str] = {}
        for index, part in self._chunk_patterns[kind].findall(header):
            parts.setdefault(index, part)  # the first of a name counts, as for the session
        try:
            rest = [parts[str(i)] for i in range(1, int(count))]
        except KeyError:
            return None
        return head + "".join(rest)

    def _kind(self, environ: WSGIEnvironment) -> tuple[tuple[str, str], bool, str]:
        """This request's (session, browser) names, whether Secure, and the cookie path."""
        secure = self.secure(environ)
        mount = self.mount(environ)
        return self._names[(secure, bool(mount))], secure, mount or "/"

    def browser_id(self, request: Request) -> str | None:
        value = request.cookies.get(self._kind(request.environ)[0][1])
        return value if value and _BROWSER_ID.match(value) else None

    def language(self, request: Request) -> str | None:
        """The language chosen on the sign-in page (unchecked: the caller matches it)."""
        return request.cookies.get(self._small[self._key(request.environ)][0])

    def saved_form(self, request: Request) -> str | None:
        """The handle of this browser's saved form, when it has a well-formed one."""
        value = request.cookies.get(self._small[self._key(request.environ)][1])
        return value if value and _HANDLE.match(value) else None

    def saved_form_in(self, environ: WSGIEnvironment, secure: bool, mounted: bool) -> str | None:
        """As :meth:`saved_form`, from the raw ``Cookie`` header (no request object)."""
        header = environ.get("HTTP_COOKIE") or ""
        name = self._small[(secure, mounted)][1]
        match = re.search(
            r"(?:^|;)[ \t]*" + re.escape(name) + r"=([A-Za-z0-9_-]{43})[ \t]*(?:;|$)", header
        )
        return match.group(1) if match else None

    def _key(self, environ: WSGIEnvironment) -> tuple[bool, bool]:
        return self.secure(environ), bool(self.mount(environ))

    def ensure_browser_id(self, request: Request) -> tuple[str, bool]:
        """This browser's id, and whether it is new and must be set."""
        existing = self.browser_id(request)
        return (existing, False) if existing else (new_browser_id(), True)

    def strip_own(self, environ: WSGIEnvironment) -> None:
        """Remove the gate's cookies from ``HTTP_COOKIE`` before the app sees it.

        A browser sends the same ``Cookie`` header with every request, so the
        answer is remembered for a bounded number of recent headers: one
        dictionary look-up instead of a regex substitution on the hot path.
        """
        header: str | None = environ.get("HTTP_COOKIE")
        if not header:
            return
        stripped = self._stripped.get(header)
        if stripped is None:
            stripped = self._without_own(header)
            if len(header) <= _MEMO_HEADER_MAX:
                if len(self._stripped) >= _MEMO_SIZE:
                    self._stripped.clear()
                self._stripped[header] = stripped
        if stripped:
            environ["HTTP_COOKIE"] = stripped
        else:
            del environ["HTTP_COOKIE"]

    def _without_own(self, header: str) -> str:
        """``header`` without the gate's cookies, cut at ``;`` and at ``,``.

        The pieces around a removed cookie are joined by ``;`` if either side had
        one (``a=1, <session>; b=2`` → ``a=1; b=2``), else by ``,``; everything
        else is kept as sent.
        """
        if not self._any_own.search(header):
            return header.strip("; ")
        pieces = _SEPARATOR.split(header)  # cookie, separator, cookie, …, cookie
        kept = [] if self._own.match(pieces[0]) else [pieces[0]]
        joint = ""  # the separator owed before the next kept piece
        for separator, piece in zip(pieces[1::2], pieces[2::2], strict=True):
            joint = ";" if ";" in (joint, separator) else separator
            if self._own.match(piece):
                continue
            if kept:
                kept.append(joint)
            kept.append(piece)
            joint = ""
        return "".join(kept).strip(" \t;,")

    # -- writing ---------------------------------------------------------------

    def session_pairs(self, environ: WSGIEnvironment, value: str) -> list[tuple[str, str]]:
        """The (name, value) cookies that carry the session ``value`` for this request:
        one, or chunks when it is long.

        Raises :class:`~pwless_gate.errors.SessionTooLarge` for a value over
        :data:`MAX_SESSION_COOKIE` (the stores refuse to make one).
        """
        name = self._kind(environ)[0][0]
        if len(value) <= CHUNK_SIZE:
            return [(name, value)]
        if len(value) > MAX_SESSION_COOKIE:
            raise SessionTooLarge(len(value), MAX_SESSION_COOKIE)
        parts = [value[i : i + CHUNK_SIZE] for i in range(0, len(value), CHUNK_SIZE)]
        parts[0] = f"{len(parts)}~{parts[0]}"
        return [(name if i == 0 else f"{name}_{i}", part) for i, part in enumerate(parts)]

    def session_headers(self, environ: WSGIEnvironment, value: str) -> list[str]:
        """``Set-Cookie`` values that store ``value``, in chunks when it is long.

        Raises :class:`~pwless_gate.errors.SessionTooLarge` as :meth:`session_pairs`.
        """
        _, secure, path = self._kind(environ)
        max_age = self.config.session_lifetime
        return [
            cookie_header(name, part, max_age=max_age, secure=secure, path=path)
            for name, part in self.session_pairs(environ, value)
        ]

    def session_path(self, environ: WSGIEnvironment) -> str:
        """The ``Path`` of this request's session cookie: where the gate is mounted, or ``/``."""
        return self._kind(environ)[2]

    def set_session(self, request: Request, response: Response, value: str) -> None:
        for header in self.session_headers(request.environ, value):
            response.headers.add("Set-Cookie", header)

    def clear_headers(self, environ: WSGIEnvironment) -> list[str]:
        """``Set-Cookie`` values that delete the session cookie and the chunks the request sent.

        Read before :meth:`strip_own` removes the gate's cookies from the environ.
        """
        (name, _), secure, path = self._kind(environ)
        sent = environ.get("HTTP_COOKIE", "")
        return [delete_cookie_header(name, secure=secure, path=path)] + [
            delete_cookie_header(f"{name}_{i}", secure=secure, path=path)
            for i in range(1, MAX_CHUNKS)
            if f"{name}_{i}=" in sent
        ]

    def clear_session(self, request: Request, response: Response) -> None:
        for header in self.clear_headers(request.environ):
            response.headers.add("Set-Cookie", header)

    def set_language(self, request: Request, response: Response, tag: str) -> None:
        """Remember the language chosen on the sign-in page (HttpOnly: no script reads it)."""
        name, secure, path = self._small_name(request.environ, 0)
        response.headers.add(
            "Set-Cookie",
            cookie_header(name, tag, max_age=BROWSER_ID_MAX_AGE, secure=secure, path=path),
        )

    def saved_form_headers(
        self, environ: WSGIEnvironment, handle: str | None, max_age: int = 0
    ) -> str:
        """The ``Set-Cookie`` value that names a saved form (SameSite=Strict: only the gate's
        own pages lead to its use), or deletes the cookie when ``handle`` is None."""
        name, secure, path = self._small_name(environ, 1)
        if handle is None:
            return delete_cookie_header(name, secure=secure, path=path, samesite="Strict")
        return cookie_header(
            name, handle, max_age=max_age, secure=secure, path=path, samesite="Strict"
        )

    def _small_name(self, environ: WSGIEnvironment, which: int) -> tuple[str, bool, str]:
        secure = self.secure(environ)
        mount = self.mount(environ)
        return self._small[(secure, bool(mount))][which], secure, mount or "/"

    def set_browser(self, request: Request, response: Response, browser_id: str) -> None:
        (_, name), secure, path = self._kind(request.environ)
        response.headers.add(
            "Set-Cookie",
            cookie_header(name, browser_id, max_age=BROWSER_ID_MAX_AGE, secure=secure, path=path),
        )


def cookie_header(
    name: str,
    value: str,
    *,
    max_age: int | None,
    secure: bool,
    path: str = "/",
    samesite: str = "Lax",
) -> str:
    """A ``Set-Cookie`` value with the gate's policy: HttpOnly, SameSite=Lax, Secure.

    Werkzeug's ``dump_cookie`` lays it out. All of it but the value and the
    ``Expires`` date is the same for every cookie of one name and path, so that
    layout is made once (:func:`_layout`) and the two are filled in: the same text,
    without dump_cookie's quoting and date formatting on every page. A value
    dump_cookie would quote goes to it.
    """
    if max_age is None or not _PLAIN_VALUE.fullmatch(value):
        return dump_cookie(
            name,
            value,
            max_age=max_age,
            path=path,
            secure=secure,
            httponly=True,
            samesite=samesite,
        )
    before, between, after = _layout(name, max_age, secure, path, samesite)
    return f"{before}{value}{between}{http_date(int(time.time()) + max_age)}{after}"


#: Cookie values dump_cookie writes as they are (a subset of what it leaves unquoted).
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.~-]*")
#: Stand-ins for the value and the date in the layout dump_cookie writes once.
_VALUE_MARK = "pwless-gate-value"
_DATE_MARK = "pwless-gate-date"
#: (name, max_age, secure, path, samesite) → the text around the value and the date.
_LAYOUTS: dict[tuple[str, int, bool, str, str], tuple[str, str, str]] = {}
_LAYOUTS_SIZE = 256


def _layout(
    name: str, max_age: int, secure: bool, path: str, samesite: str
) -> tuple[str, str, str]:
    """The ``Set-Cookie`` text dump_cookie writes around a cookie's value and its
    ``Expires`` date, remembered for a bounded number of names and paths."""
    key = (name, max_age, secure, path, samesite)
    found = _LAYOUTS.get(key)
    if found is None:
        text = dump_cookie(
            name,
            _VALUE_MARK,
            max_age=max_age,
            expires=_DATE_MARK,
            path=path,
            secure=secure,
            httponly=True,
            samesite=samesite,
        )
        before, _, rest = text.partition(_VALUE_MARK)
        between, _, after = rest.partition(_DATE_MARK)
        found = (before, between, after)
        if len(_LAYOUTS) >= _LAYOUTS_SIZE:
            _LAYOUTS.clear()
        _LAYOUTS[key] = found
    return found


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(seconds: int) -> str:
    """``seconds`` since the epoch as an HTTP date (RFC 9110 5.6.7), as Werkzeug's
    ``http_date`` writes it: ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    t = time.gmtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def delete_cookie_header(name: str, *, secure: bool, path: str = "/", samesite: str = "Lax") -> str:
    return dump_cookie(
        name, "", max_age=0, expires=0, path=path, secure=secure, httponly=True, samesite=samesite
    )
