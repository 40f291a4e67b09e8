"""Serving the local tenant: on a background thread for tests, in the foreground for the CLI."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Sequence
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import DevTenant
from .messages import Message

#: How often the background server checks whether it was asked to stop.
_POLL_SECONDS = 0.05
#: Longest wait for the server thread to end on stop.
_JOIN_SECONDS = 5.0


class _QuietHandler(WSGIRequestHandler):
    """Logs nothing: a test run is not the place for one line per request."""

    def log(self, type: str, message: str, *args: object) -> None:
        return


class RunningTenant:
    """A :class:`DevTenant` served on a background thread; a context manager that stops it."""

    def __init__(self, app: DevTenant, server: BaseWSGIServer, thread: threading.Thread) -> None:
        self.app = app
        self.url = app.base_url
        self._server = server
        self._thread = thread
        self._stopped = False

    def outbox(self) -> list[Message]:
        """Return a copy of every message the tenant sent, oldest first."""
        return self.app.outbox

    def last_message(self, to: str | None = None) -> Message:
        """Return the newest message, or the newest one sent to ``to``.

        Emails are compared case-insensitively. Raises LookupError when there
        is none.
        """
        for message in reversed(self.app.outbox):
            if to is None or message.to.lower() == to.lower():
                return message
        raise LookupError(f"no message sent to {to}" if to else "no message sent")

    def stop(self) -> None:
        """Stop serving and wait for the server thread; stalled faults are cut short."""
        if self._stopped:
            return
        self._stopped = True
        self.app.interrupt_stalls()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(_JOIN_SECONDS)

    def __enter__(self) -> RunningTenant:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_in_thread(app: DevTenant, host: str = "127.0.0.1", port: int = 0) -> RunningTenant:
    """Serve ``app`` on a daemon thread and return once it accepts connections.

    Port 0 picks a free port. Sets ``app.base_url``. Raises OSError when the
    address cannot be bound.
    """
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    app.base_url = base_url(host, server.server_port)
    app.allow_stalls()
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_SECONDS},
        name=f"dev-tenant:{server.server_port}",
        daemon=True,
    )
    thread.start()  # the socket already listens, so connections queue from now on
    return RunningTenant(app, server, thread)


def main_serve(
    host: str,
    port: int,
    client_id: str,
    client_secret: str,
    allowed_callbacks: list[str],
    allowed_logout_urls: list[str],
    apis: Sequence[str] = (),
    *,
    offline_access_apis: Sequence[str] = (),
) -> None:
    """Serve a tenant in the foreground, printing each message it sends, until Ctrl-C.

    ``offline_access_apis`` (some of ``apis``) get refresh tokens.
    """
    app = DevTenant(
        client_id=client_id,
        client_secret=client_secret,
        apis=apis,
        offline_access_apis=offline_access_apis,
        allowed_callbacks=allowed_callbacks,
        allowed_logout_urls=allowed_logout_urls,
        on_message=_print_message,
    )
    server = make_server(host, port, app, threaded=True)
    app.base_url = base_url(host, server.server_port)
    print(f"[dev-tenant] serving {app.base_url} (issuer {app.issuer})", flush=True)
    print(f"[dev-tenant] client id {client_id}", flush=True)
    for url in allowed_callbacks:
        print(f"[dev-tenant] allowed callback {url}", flush=True)
    for url in allowed_logout_urls:
        print(f"[dev-tenant] allowed logout URL {url}", flush=True)
    for api in apis:
        offline = " (offline access: refresh tokens)" if api in offline_access_apis else ""
        print(f"[dev-tenant] API {api}{offline}", flush=True)
    try:
        server.serve_forever()  # werkzeug returns from here on Ctrl-C
    except KeyboardInterrupt:
        pass  # a second Ctrl-C during shutdown
    finally:
        app.interrupt_stalls()
        server.server_close()
        print("[dev-tenant] stopped", flush=True)


def base_url(host: str, port: int) -> str:
    """Return the URL clients reach ``host:port`` at (a wildcard address becomes loopback)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - compared to, never bound
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"http://{host}:{port}"


def _print_message(message: Message) -> None:
    print(message.console_line(), flush=True)
