"""``GateRequest``: a request to one of the gate's own pages, and what it derives.

Everything a view needs to know about the request that depends on the gate's
settings (the client's IP and origin through trusted proxies, where the app is
mounted, this browser's id, the current session, whether an API client asks)
is a cached property here, computed once and only when asked. Forms are small
and bounded, however the body is framed. Not used on the hot path.
"""

from __future__ import annotations

import io
import logging
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, unquote_to_bytes

from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.http import parse_cookie
from werkzeug.wrappers import Request
from werkzeug.wsgi import get_input_stream

from .csrf import origin_allowed
from .decide import is_navigation, wants_json
from .errors import Auth0Unavailable, Refused
from .languages import N_
from .proxies import is_loopback
from .redirects import safe_next
from .sessions import CachedSession

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from .deps import Deps

log = logging.getLogger("pwless_gate.views")

MAX_FORM_BYTES = 16 * 1024
#: The ``Content-Type`` of a browser's form.
URLENCODED = "application/x-www-form-urlencoded"


class Values(ImmutableMultiDict[str, str]):
    """A request's query, form or cookies: Werkzeug's ``ImmutableMultiDict`` whose ``get``
    of a missing key returns the default straight away. Werkzeug's raises and catches a
    ``BadRequestKeyError`` for it, and a page asks for several keys a request rarely
    has (``lang``, ``form``, ``fresh``, a new browser's cookies)."""

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]
        if key not in self:
            return default
        return super().get(key, default, type)


class GateRequest(Request):
    """A request to a gate route: small forms only."""

    parameter_storage_class = Values
    dict_storage_class = Values
    max_content_length = MAX_FORM_BYTES
    max_form_memory_size = MAX_FORM_BYTES
    max_form_parts = 20

    def __init__(self, environ: WSGIEnvironment, deps: Deps) -> None:
        super().__init__(environ)
        self.deps = deps

    def _load_form_data(self) -> None:
        """Read the form, as Werkzeug does. A browser's form (``Content-Type``
        ``application/x-www-form-urlencoded`` as they send it, without parameters) is
        parsed as Werkzeug's ``FormDataParser`` parses it, without building one and
        parsing the header: :data:`MAX_FORM_BYTES` at most (413), and a body that is not
        UTF-8 is an empty form. Any other body goes to Werkzeug."""
        if (
            "form" in self.__dict__
            or self.environ.get("CONTENT_TYPE") != URLENCODED
            or getattr(self, "_cached_data", None) is not None
        ):
            super()._load_form_data()
            return
        stream = self.stream
        try:
            text = stream.read().decode()
            form = Values(parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"))
        except ValueError:  # as Werkzeug's parser: silently no form
            form = Values()
        self.__dict__.update(stream=stream, form=form, files=Values())

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body, at most :data:`MAX_FORM_BYTES`; a longer one raises
        ``RequestEntityTooLarge`` (answered 413), whether it says its ``Content-Length``
        or the server ends it (chunked, ``wsgi.input_terminated``)."""
        limit = MAX_FORM_BYTES
        stream = get_input_stream(self.environ, max_content_length=limit)  # 413 by length
        if "wsgi.input_terminated" not in self.environ:
            return stream
        # Werkzeug's stream of a terminated body stops quietly at the limit, and a form
        # cut there would be read as whole: read one byte more to know.
        body = read_body(self.environ, limit)
        if body is None:
            raise RequestEntityTooLarge()
        return io.BytesIO(body)

    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """The request's cookies, parsed as Werkzeug's ``Request.cookies`` does, from
        ``HTTP_COOKIE``: the one key a WSGI server puts them under (Werkzeug finds it
        by looking at every header of the environ)."""
        cookies = parse_cookie(self.environ.get("HTTP_COOKIE", ""), cls=self.dict_storage_class)
        return cast("ImmutableMultiDict[str, str]", cookies)

    @cached_property
    def client_ip(self) -> str:
        """The end user's IP, through trusted proxies."""
        return self.deps.config.proxies.client_ip(self.environ)

    @cached_property
    def seen_host(self) -> str:
        """``host[:port]`` the client addressed (through trusted proxies), lower-cased,
        without the scheme's default port."""
        proxies = self.deps.config.proxies
        host = proxies.host(self.environ).lower()
        default = {"http": ":80", "https": ":443"}.get(proxies.scheme(self.environ), "")
        if default and host.endswith(default):
            host = host[: -len(default)]
        return host

    @cached_property
    def site_origin(self) -> str:
        """``scheme://host[:port]`` of the gate: ``public_url``'s, else as the browser sees it."""
        return self.deps.config.public_origin or self.deps.config.proxies.origin(self.environ)

    def check_host(self) -> None:
        """With ``public_url``, refuse (400) a request addressed to any other host, or,
        when ``public_url`` has a path, asked under any other mount.

        Checked before anything is sent to Auth0, so a forged ``Host`` cannot
        steer a link or a redirect, and no link leads where the gate is not.
        """
        public = self.deps.config.public_host
        if public is not None and self.seen_host != public:
            log.warning(
                "refused a request for host %r: PWLESS_GATE_PUBLIC_URL names %r",
                self.seen_host[:100],
                public,
            )
            raise Refused(
                400, N_("Wrong address"), N_("This sign-in page is not served at this address.")
            )
        path = self.deps.config.public_path
        if path and unquote_to_bytes(path) != unquote_to_bytes(self.mount):
            # Absolute URLs carry the mount as the browser sees it: under another mount
            # than the one public_url names, a link would lead where the gate is not.
            log.warning(
                "refused a request under the mount %r: PWLESS_GATE_PUBLIC_URL names the "
                "path %r (make them equal, or have the proxy send X-Forwarded-Prefix %s "
                "and trust it: PWLESS_GATE_TRUSTED_PROXIES with prefix=1)",
                self.mount[:100] or "/",
                path,
                path,
            )
            raise Refused(
                400,
                N_("Address not configured"),
                N_("This site's address is not configured. Please tell the administrator."),
            )

    def _absolute_origin(self) -> str:
        """Where absolute URLs point: ``public_url``, else this host if it is loopback."""
        config = self.deps.config
        if config.public_origin is not None:
            return config.public_origin
        if not is_loopback(self.seen_host):
            log.warning(
                "cannot build a link for host %r: set PWLESS_GATE_PUBLIC_URL "
                "(absolute URLs are built from the Host header only on loopback)",
                self.seen_host[:100],
            )
            raise Refused(
                400,
                N_("Address not configured"),
                N_("This site's address is not configured. Please tell the administrator."),
            )
        return config.proxies.origin(self.environ)

    @cached_property
    def mount(self) -> str:
        """The path the app is mounted at, as the browser sees it (``""`` at the root)."""
        return self.deps.config.proxies.script_name(self.environ)

    @property
    def home(self) -> str:
        """The app's root path."""
        return self.mount + "/"

    def gate_url(self, route: str = "") -> str:
        """The path of a gate route as the browser sees it (``SCRIPT_NAME`` included)."""
        return f"{self.mount}{self.deps.config.prefix}{route}"

    def absolute(self, path: str) -> str:
        """``path`` (as the browser sees it, mount included) as an absolute URL.

        Raises :class:`~pwless_gate.errors.Refused` (400) without ``public_url``
        on a host that is not loopback: a client's ``Host`` never steers a URL.
        """
        return self._absolute_origin() + path

    def absolute_gate_url(self, route: str) -> str:
        """The absolute URL of a gate route (the mount included, as in :meth:`gate_url`);
        raises as :meth:`absolute`."""
        return self.absolute(self.gate_url(route))

    @property
    def callback_url(self) -> str:
        """The absolute URL of the magic-link landing page, as Auth0 must redirect to it."""
        return self.absolute_gate_url("/callback")

    def next_url(self, value: str | None) -> str:
        """``value`` if it is a safe same-origin path, else the app's root."""
        return safe_next(value, self.home)

    @cached_property
    def api(self) -> bool:
        """An API client (answered with JSON) rather than a browser: it asks for JSON, or
        it sends credentials in ``Authorization`` (an app token, a machine's bearer
        token) and is not a browser's navigation (curl's ``Accept: */*``)."""
        environ = self.environ
        if wants_json(environ):
            return True
        return bool(environ.get("HTTP_AUTHORIZATION")) and not is_navigation(
            str(environ.get("REQUEST_METHOD") or "GET"), environ
        )

    @cached_property
    def language(self) -> str:
        """The language of this request's pages (and of what Auth0 sends): the one chosen
        on the sign-in page, else the best match of ``Accept-Language``, else the first
        configured; see :meth:`pwless_gate.languages.Languages.choose`."""
        languages = self.deps.languages
        if languages is None:
            return "en"
        chosen = self.deps.cookies.language(self)
        return languages.for_request(chosen, self.environ.get("HTTP_ACCEPT_LANGUAGE"))

    @cached_property
    def browser_id(self) -> str | None:
        """This browser's random id from its cookie, when it has a valid one."""
        return self.deps.cookies.browser_id(self)

    @cached_property
    def session_value(self) -> str | None:
        """The session cookie's value, as sent."""
        return self.deps.cookies.session_from_environ(self.environ)

    @cached_property
    def current(self) -> CachedSession | None:
        """The verified session of this request, or None: checked exactly as on the
        app's paths (expiry, allow-list, idle timeout, token refresh).

        A renewal that moved the session leaves the new cookie value in
        :attr:`renewed_cookie` for the response. Raises
        :class:`~pwless_gate.errors.StoreUnavailable` or
        :class:`~pwless_gate.errors.Auth0Unavailable` (answered 503: fail closed).
        """
        value = self.session_value
        if not value:
            return None
        entry = self.deps.sessions.lookup(value)
        renewer = self.deps.renewer
        if entry is None or entry.refresh_at is None or renewer is None:
            return entry
        if entry.refresh_at > self.deps.clock():
            return entry
        result = renewer.renew(value, entry)
        if result.unavailable:
            raise Auth0Unavailable(
                "a token refresh is due and Auth0 limits the gate's calls"
                if result.retry_after
                else "a token refresh is due and Auth0 or the store is not answering",
                status_code=503,
                retry_after=result.retry_after,
            )
        self.renewed_cookie = result.cookie
        self.session_ended = result.entry is None
        return result.entry

    #: A new session cookie value after a renewal by :attr:`current`, to set.
    renewed_cookie: str | None = None
    #: The renewal by :attr:`current` ended the session (idle, or refused by Auth0): its
    #: cookie is to be deleted.
    session_ended: bool = False

    def check_form(self) -> None:
        """Raise :class:`~pwless_gate.errors.Refused` (403) unless this form carries the
        browser's CSRF token and comes from the gate's own origin."""
        if not origin_allowed(self.environ, self.site_origin):
            raise Refused(403, N_("Request refused"), N_("This form came from another site."))
        if self.browser_id is None:
            raise Refused(
                403,
                N_("Cookies needed"),
                N_("Signing in needs cookies. Allow cookies for this site and start again."),
            )
        if not self.deps.csrf.check(self.browser_id, self.form.get("csrf_token")):
            raise Refused(
                403, N_("Request refused"), N_("This form has expired. Please start again.")
            )


def read_body(environ: WSGIEnvironment, limit: int) -> bytes | None:
    """The request's body, or None when it is longer than ``limit`` bytes (read no
    further than one byte past it). A body of unknown length (no ``Content-Length``,
    not ended by the server) is read as empty, as Werkzeug does."""
    stream = get_input_stream(environ, max_content_length=None)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)
