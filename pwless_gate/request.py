"""``GateRequest``: a request to one of the gate's own pages, and what it derives.

Everything a view needs to know about the request that depends on the gate's
settings (the client's IP and origin through trusted proxies, where the app is
mounted, this browser's id, the current session, whether an API client asks)
is a cached property here, computed once and only when asked. Forms are small
and bounded. Not used on the hot path.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request

from .csrf import origin_allowed
from .decide import wants_json
from .errors import Refused
from .redirects import safe_next
from .sessions import CachedSession

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from .deps import Deps

MAX_FORM_BYTES = 16 * 1024


class GateRequest(Request):
    """A request to a gate route: small forms only."""

    max_content_length = MAX_FORM_BYTES
    max_form_memory_size = MAX_FORM_BYTES
    max_form_parts = 20

    def __init__(self, environ: WSGIEnvironment, deps: Deps) -> None:
        super().__init__(environ)
        self.deps = deps

    @cached_property
    def client_ip(self) -> str:
        """The end user's IP, through trusted proxies."""
        return self.deps.config.proxies.client_ip(self.environ)

    @cached_property
    def site_origin(self) -> str:
        """``scheme://host[:port]`` as the browser sees the gate."""
        return self.deps.config.proxies.origin(self.environ)

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
        """``path`` (already including the mount) as an absolute URL."""
        return self.site_origin + path

    @property
    def callback_url(self) -> str:
        """The absolute URL of the magic-link landing page, as Auth0 must redirect to it."""
        return self.absolute(self.gate_url("/callback"))

    def next_url(self, value: str | None) -> str:
        """``value`` if it is a safe same-origin path, else the app's root."""
        return safe_next(value, self.home)

    @cached_property
    def api(self) -> bool:
        """An API client (answered with JSON) rather than a browser."""
        return wants_json(self.environ)

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
        """The verified session of this request, or None.

        Raises :class:`~pwless_gate.errors.StoreUnavailable` (answered 503: fail closed).
        """
        value = self.session_value
        return self.deps.sessions.lookup(value) if value else None

    def check_form(self) -> None:
        """Raise :class:`~pwless_gate.errors.Refused` (403) unless this form carries the
        browser's CSRF token and comes from the gate's own origin."""
        if not origin_allowed(self.environ, self.site_origin):
            raise Refused(403, "Request refused", "This form came from another site.")
        if self.browser_id is None:
            raise Refused(
                403,
                "Cookies needed",
                "Signing in needs cookies. Allow cookies for this site and start again.",
            )
        if not self.deps.csrf.check(self.browser_id, self.form.get("csrf_token")):
            raise Refused(403, "Request refused", "This form has expired. Please start again.")
