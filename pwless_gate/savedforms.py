"""Saved forms: a browser's POST that arrived after its session ended, kept for one sign-in.

A person whose session ends (lifetime, idle timeout, signed out in another
tab) while they fill in a form would lose it when they press Save: the gate
answers the POST with the sign-in page. Instead, when the request is a
browser's navigation with an ``application/x-www-form-urlencoded`` or
``multipart/form-data`` body of at most ``saved_form_max_bytes``:

1. :meth:`SavedForms.keep` keeps it only for a browser someone signed in on
   (the store knows who: :meth:`SavedForms.remember`), one form per browser
   (a new one replaces the old), so a client that never signed in cannot
   fill the store. It stores the body, its content type, the path and query,
   the browser it came from (a hash of the browser-id cookie), who last
   signed in on that browser (a hash of their ``sub``) and the sha256 of a
   random 256-bit handle, under a hash of the browser id. The handle goes to
   the browser in a cookie (HttpOnly, SameSite=Strict); the record expires
   after ``login_lifetime``, as a sign-in does. A POST without a body (no
   ``Content-Length``, not chunked, or empty) keeps nothing.
2. The sign-in started in that browser carries a hash of the handle in its
   signed transaction (:class:`~pwless_gate.transactions.Transaction`).
3. When that sign-in succeeds (:meth:`SavedForms.offer`), the record is
   offered only if the transaction, the cookie and the browser all match,
   and the person who signed in is the one who last signed in on the browser
   when it was kept. Someone else: the record is deleted. The
   offer binds the record to the new person and leads to ``{prefix}/form``:
   "Send the form you were submitting to <path>?", a plain form that posts
   to the same URL.
4. That POST, carrying the cookie and the new session, is given the stored
   body byte for byte (files, their names and types, the app's CSRF fields
   as they were) and the record is deleted (:meth:`SavedForms.replay`): it
   is used once. The Send page's form holds no field: the body comes from
   the store alone. A Send press that finds no form armed for its session
   (a second press, a page left open after the form expired or another
   person signed in) is answered by the gate, and the app is not called; one
   made signed out keeps nothing new, the kept form stays, and the sign-in
   leads back to its Send page.

Nothing of a body is logged. With the signed-cookie store there is nowhere
to keep a body (a cookie cannot hold it, and one process's memory is not
the next request's worker): forms are not kept, and the sign-in page says
so. Not kept either: larger bodies (the sign-in page says so), a form from a
browser nobody signed in on (within a session's lifetime), JSON and other
bodies, and requests that are not a browser's navigation (API clients and
tools get their usual answer).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import io
import json
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import FormDataParser
from werkzeug.wrappers import Request

from .cookies import Cookies
from .errors import StoreUnavailable
from .redirects import safe_next, url_path, url_query
from .request import read_body
from .transactions import Transaction, browser_binding

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("pwless_gate.views")

#: The most fields and files one kept form may have.
MAX_PARTS = 1000
#: Why a form was not kept, as the sign-in page's ``form`` parameter says.
KEPT, TOO_LARGE, NOT_KEPT = "kept", "too-large", "not-kept"


class FormStore(Protocol):
    """Where saved forms (one per browser) and each browser's last signed-in person live
    (SQLite, Redis).

    Keys are hex digests; records are strings; every operation touches one key.
    """

    def put_form(self, key: str, record: str, expires_at: float) -> None:
        """Store (or replace) a saved form until ``expires_at``."""

    def get_form(self, key: str) -> str | None:
        """The live record under ``key``, or None."""

    def take_form(self, key: str) -> str | None:
        """The live record under ``key``, deleted in the same step (one caller gets it)."""

    def put_browser_user(self, key: str, user: str, expires_at: float) -> None:
        """Remember who last signed in on a browser until ``expires_at``."""

    def get_browser_user(self, key: str) -> str | None:
        """Who last signed in on a browser (a digest), or None."""


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def form_key(browser_id: str) -> str:
    """Where a browser's kept form lives: one key per browser, so a new form replaces the
    last (a hash of the browser id, never the id)."""
    return hashlib.sha256(b"pwless-gate form of\x00" + browser_id.encode()).hexdigest()


def form_binding(handle: str) -> str:
    """What a transaction carries of a saved form's handle: a hash, never the handle."""
    return hashlib.sha256(b"pwless-gate form\x00" + handle.encode()).hexdigest()[:32]


#: The query parameter the Send page's form adds to the form's URL: only a POST carrying
#: it (with this browser's kept-form cookie) is the Send press. Without it, any later POST
#: to the same URL (the person's next form, a page's autosave) would get the kept body.
SEND_MARKER = "pwless_gate_send"


def send_marker(handle: str) -> str:
    """The Send press's value for the kept form ``handle``: derived from the cookie's
    secret handle, so no page of another origin can make one."""
    return hashlib.sha256(b"pwless-gate send\x00" + handle.encode()).hexdigest()[:32]


def with_send_marker(target: str, handle: str) -> str:
    """``target`` (the form's URL) with the Send marker as its last query parameter."""
    return f"{target}{'&' if '?' in target else '?'}{SEND_MARKER}={send_marker(handle)}"


def is_send_press(environ: WSGIEnvironment) -> bool:
    """Whether the request is a POST whose query names the Send marker (escapes undone, as
    the app would read it), whatever its cookies: a Send button's press, current or stale.
    Its own fields are never the form: it gets the kept body or does not reach the app."""
    return names_send_press(
        str(environ.get("REQUEST_METHOD") or ""), str(environ.get("QUERY_STRING") or "")
    )


def names_send_press(method: str, query: str) -> bool:
    """Whether a request with ``method`` and ``query`` is a Send press (see
    :func:`is_send_press`), also one a proxy asks ``{prefix}/auth`` about."""
    if method.upper() != "POST":
        return False
    if SEND_MARKER not in query and "%" not in query:
        return False  # most POSTs: no query, or one without the marker
    return any(name == SEND_MARKER for name, _ in parse_qsl(query, keep_blank_values=True))


def _person(sub: str) -> str:
    return hashlib.sha256(b"pwless-gate person\x00" + sub.encode()).hexdigest()


@dataclass(frozen=True)
class Field:
    """A text field of a kept form."""

    name: str
    value: str


@dataclass(frozen=True)
class Attached:
    """A file of a kept form: its field, name, type and size (bytes)."""

    name: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Record:
    """A kept form."""

    browser: str
    handle: str
    who: str
    armed: str
    path: str
    query: str
    content_type: str
    body: bytes
    expires_at: float

    def dumps(self) -> str:
        return json.dumps(
            {
                "b": self.browser,
                "h": self.handle,
                "w": self.who,
                "a": self.armed,
                "p": self.path,
                "q": self.query,
                "t": self.content_type,
                "d": base64.b64encode(self.body).decode(),
                "e": self.expires_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, raw: str) -> Record | None:
        try:
            data = json.loads(raw)
            return cls(
                browser=str(data["b"]),
                handle=str(data["h"]),
                who=str(data["w"]),
                armed=str(data["a"]),
                path=str(data["p"]),
                query=str(data["q"]),
                content_type=str(data["t"]),
                body=base64.b64decode(data["d"]),
                expires_at=float(data["e"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def target(self) -> str:
        """The URL the form was sent to, as the browser sees it."""
        return self.path + ("?" + self.query if self.query else "")

    def parts(self) -> tuple[list[Field], list[Attached]] | None:
        """The fields and files of the body, in order; None if it cannot be read."""
        return parse(self.body, self.content_type)


def parse(body: bytes, content_type: str) -> tuple[list[Field], list[Attached]] | None:
    """The text fields and files of a form body; None when it is not a well-formed form."""
    parser = FormDataParser(
        max_form_memory_size=len(body) + 1,
        max_content_length=len(body),
        max_form_parts=MAX_PARTS,
        silent=False,
    )
    mimetype, _, options_text = content_type.partition(";")
    options: dict[str, str] = {}
    for item in options_text.split(";"):
        key, _, value = item.strip().partition("=")
        if key:
            options[key.lower()] = value.strip().strip('"')
    try:
        _, form, files = parser.parse(
            io.BytesIO(body), mimetype.strip().lower(), len(body), options
        )
    except Exception:
        return None
    if mimetype.strip().lower() == "multipart/form-data" and not options.get("boundary"):
        return None
    return _fields(form), _files(files)


def _fields(form: MultiDict[str, str]) -> list[Field]:
    return [Field(name, value) for name, value in form.items(multi=True)]


def _files(files: MultiDict[str, FileStorage]) -> list[Attached]:
    found = []
    for name, storage in files.items(multi=True):
        size = len(storage.read())
        found.append(Attached(name, storage.filename or "", storage.content_type or "", size))
    return found


@dataclass(frozen=True)
class Kept:
    """What :meth:`SavedForms.keep` did: ``outcome`` (:data:`KEPT`, :data:`TOO_LARGE`,
    :data:`NOT_KEPT`) and the cookie to set (a ``Set-Cookie`` value) when kept."""

    outcome: str
    cookie: str | None = None


class SavedForms:
    """Keeps, offers and replays forms; ``store`` None (the cookie store) keeps none."""

    def __init__(
        self,
        store: FormStore | None,
        cookies: Cookies,
        *,
        max_bytes: int,
        lifetime: int,
        session_lifetime: int,
        clock: Any,
    ) -> None:
        self.store = store
        self.cookies = cookies
        self.max_bytes = max_bytes
        self.lifetime = lifetime
        self.session_lifetime = session_lifetime
        self.clock = clock

    # -- 1. keep -----------------------------------------------------------------------

    def keep(self, environ: WSGIEnvironment, browser_id: str | None, target_path: str) -> Kept:
        """Keep the body of this POST for ``browser_id`` (replacing the form kept for it
        before); ``target_path`` is the path as the browser sees it (mount included,
        quoted). Never raises for the body's sake.

        Only a browser someone signed in on is given a form: the store holds at most one
        form per such browser, and a client that never signed in (any new browser id is
        free) cannot make it grow."""
        length = _declared_length(environ)
        if length is not None and length > self.max_bytes:
            return Kept(TOO_LARGE)
        if self.store is None or not browser_id:
            return Kept(NOT_KEPT)
        if safe_next(target_path, "") != target_path:
            return Kept(NOT_KEPT)  # its Send page would post it, and Discard lead, elsewhere
        if length is None and not _chunked(environ):
            # HTTP/1.1: neither a Content-Length nor a chunked body means no body at all.
            # A proxy that drops the body (nginx's auth_request example) sends such a POST,
            # and a server may still mark its empty input ended (gunicorn does): nothing
            # to keep, and the person is told so rather than "it is kept".
            return Kept(NOT_KEPT)
        if length is None and "wsgi.input_terminated" not in environ:
            return Kept(NOT_KEPT)  # where the body ends is unknown: it cannot be read
        binding = browser_binding(browser_id)
        try:
            who = self.store.get_browser_user(binding)
        except StoreUnavailable as exc:
            log.warning("a form could not be kept: %s", exc)
            return Kept(NOT_KEPT)
        if not who:
            return Kept(NOT_KEPT)  # nobody signed in here: it would be nobody's form
        body = read_body(environ, self.max_bytes)
        if body is None:
            return Kept(TOO_LARGE)
        content_type = str(environ.get("CONTENT_TYPE", ""))
        if not body or parse(body, content_type) is None:
            return Kept(NOT_KEPT)  # an empty form is nothing to keep (nor to send later)
        now = self.clock()
        try:
            handle = secrets.token_urlsafe(32)
            record = Record(
                browser=binding,
                handle=digest(handle),
                who=who,
                armed="",
                path=target_path,
                query=url_query(str(environ.get("QUERY_STRING", ""))),
                content_type=content_type,
                body=body,
                expires_at=now + self.lifetime,
            )
            self.store.put_form(form_key(browser_id), record.dumps(), record.expires_at)
        except StoreUnavailable as exc:
            log.warning("a form could not be kept: %s", exc)
            return Kept(NOT_KEPT)
        cookie = self.cookies.saved_form_headers(environ, handle, self.lifetime)
        return Kept(KEPT, cookie)

    # -- 2, 3. sign-in -------------------------------------------------------------------

    def binding(self, request: Request) -> str:
        """What a new sign-in's transaction carries: the hash of this browser's saved-form
        handle, or "" when it has none."""
        handle = self.cookies.saved_form(request)
        return form_binding(handle) if handle and self.store is not None else ""

    def remember(self, browser_id: str | None, sub: str) -> None:
        """Note who signed in on this browser, so a form kept after their session ends is
        offered to them alone. A store that does not answer is logged, not raised: the
        sign-in itself has succeeded."""
        if self.store is None or not browser_id:
            return
        expires = self.clock() + self.session_lifetime + self.lifetime
        try:
            self.store.put_browser_user(browser_binding(browser_id), _person(sub), expires)
        except StoreUnavailable as exc:
            log.warning("could not note the browser's person for saved forms: %s", exc)

    def offer(self, request: Request, browser_id: str | None, tx: Transaction, sub: str) -> bool:
        """After the sign-in ``tx`` of ``sub``: whether this browser has a kept form for them.

        The transaction, the cookie and the browser must all name the record; a record
        kept while another person was signed in on the browser is deleted.
        """
        handle = self.cookies.saved_form(request)
        if self.store is None or not handle or not tx.form or not browser_id:
            return False
        if not hmac.compare_digest(tx.form, form_binding(handle)):
            return False
        key = form_key(browser_id)
        try:
            record = self._record(self.store.get_form(key), browser_id, handle)
            if record is None:
                return False
            person = _person(sub)
            if not hmac.compare_digest(record.who, person):
                self.store.take_form(key)
                log.info("a kept form was discarded: another person signed in on the browser")
                return False
            now = self.clock()
            armed = dataclasses.replace(record, armed=person, expires_at=now + self.lifetime)
            self.store.put_form(key, armed.dumps(), armed.expires_at)
        except StoreUnavailable as exc:
            log.warning("a kept form could not be offered: %s", exc)
            return False
        return True

    # -- 4. the Send page and the replay -------------------------------------------------------

    def armed_for(self, request: Request, browser_id: str | None, sub: str) -> Record | None:
        """The kept form this browser may send as ``sub`` (raises ``StoreUnavailable``)."""
        handle = self.cookies.saved_form(request)
        if self.store is None or not handle or not browser_id:
            return None
        record = self._record(self.store.get_form(form_key(browser_id)), browser_id, handle)
        if record is None or not record.armed:
            return None
        return record if hmac.compare_digest(record.armed, _person(sub)) else None

    def discard(self, request: Request) -> None:
        """Forget this browser's kept form, if its cookie names it (raises
        ``StoreUnavailable``)."""
        handle = self.cookies.saved_form(request)
        browser_id = self.cookies.browser_id(request)
        if self.store is None or not handle or not browser_id:
            return
        key = form_key(browser_id)
        if self._record(self.store.get_form(key), browser_id, handle) is not None:
            self.store.take_form(key)

    def kept(self, request: Request) -> bool:
        """Whether this browser's form-cookie names a live kept form (armed or not). A store
        that does not answer is logged and reads as no."""
        handle = self.cookies.saved_form(request)
        browser_id = self.cookies.browser_id(request)
        if self.store is None or not handle or not browser_id:
            return False
        try:
            raw = self.store.get_form(form_key(browser_id))
        except StoreUnavailable as exc:
            log.warning("could not look for a kept form: %s", exc)
            return False
        return self._record(raw, browser_id, handle) is not None

    def replay(
        self, environ: WSGIEnvironment, sub: str, start_response: StartResponse
    ) -> StartResponse | None:
        """For a Send press (:func:`is_send_press`) signed in as ``sub``: put the kept body
        in the environ (once: the record is deleted), take the marker off the query, and
        return the ``start_response`` to call the app with, which deletes the cookie.

        None when this browser holds no form armed for ``sub`` under this marker, for the
        form's own URL (sent already, a second press, expired, discarded, someone else's):
        the app must not be called. Raises ``StoreUnavailable``.
        """
        if self.store is None:
            return None
        request = Request(environ)
        handle = self.cookies.saved_form(request)
        browser_id = self.cookies.browser_id(request)
        if not handle or not browser_id:
            return None
        query = str(environ.get("QUERY_STRING", ""))
        marker = f"{SEND_MARKER}={send_marker(handle)}"
        if not query.endswith(marker):
            return None
        query = query[: -len(marker)].removesuffix("&")
        key = form_key(browser_id)
        record = self._record(self.store.get_form(key), browser_id, handle)
        if (
            record is None
            or not record.armed
            or not hmac.compare_digest(record.armed, _person(sub))
            or record.path != request_target_path(environ, self.cookies)
            or record.query != url_query(query)
        ):
            return None
        taken = self._record(self.store.take_form(key), browser_id, handle)
        if taken is None:  # another request took it first
            return None
        environ["QUERY_STRING"] = query
        environ["wsgi.input"] = io.BytesIO(taken.body)
        environ["CONTENT_LENGTH"] = str(len(taken.body))
        environ["CONTENT_TYPE"] = taken.content_type
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ.pop("wsgi.input_terminated", None)
        clear = self.cookies.saved_form_headers(environ, None)

        def clearing(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Set-Cookie", clear)], exc_info)

        return clearing

    def _record(self, raw: str | None, browser_id: str, handle: str) -> Record | None:
        """The record if it is live and was kept for this browser under this handle."""
        record = Record.loads(raw) if raw else None
        if record is None or record.expires_at <= self.clock():
            return None
        if not hmac.compare_digest(record.browser, browser_binding(browser_id)):
            return None
        if not hmac.compare_digest(record.handle, digest(handle)):
            return None
        return record


def _declared_length(environ: WSGIEnvironment) -> int | None:
    """The body's ``Content-Length``, or None when there is none that reads as a number
    (Werkzeug reads a malformed one as 0: an empty body)."""
    text = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not (text.isascii() and text.isdigit()):  # "²".isdigit() too
        return None
    return int(text) if len(text) <= 13 else 10**13  # bounded before int()


def _chunked(environ: WSGIEnvironment) -> bool:
    """Whether the request says its body is chunked (``Transfer-Encoding`` ending in
    ``chunked``, as HTTP/1.1 requires of a request body without a length)."""
    codings = str(environ.get("HTTP_TRANSFER_ENCODING") or "").split(",")
    return codings[-1].strip().lower() == "chunked"


def request_target_path(environ: WSGIEnvironment, cookies: Cookies) -> str:
    """The request's path as the browser sees it: mount and quoted ``PATH_INFO``."""
    return cookies.mount(environ) + url_path(environ.get("PATH_INFO") or "/")
