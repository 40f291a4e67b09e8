"""Serving the local tenant: on a background thread for tests, in the foreground for the CLI.

The server is waitress, which speaks HTTP/1.1 with persistent connections as
Auth0 does (Werkzeug's development server closes every connection, which
would make a client look slower here than against the real thing).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from .app import DevTenant
from .constants import AUTHORIZATION_CODE_LIFETIME
from .messages import Message

#: How often the background server checks whether it was asked to stop.
_POLL_SECONDS = 0.05
#: Longest wait for the server thread to end on stop.
_JOIN_SECONDS = 5.0
#: Requests served at once (a "timeout" fault holds one for its whole stall).
_THREADS = 16


def _server(app: DevTenant, host: str, port: int) -> Any:
    """A waitress server for ``app``, listening when this returns."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return create_server(
        app,
        host=host,
        port=port,
        threads=_THREADS,
        ident="dev-tenant",
        expose_tracebacks=False,
        connection_limit=200,
    )


class _Loop:
    """Runs a waitress server's event loop until asked to stop, then closes every socket."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._stopping = threading.Event()

    def run(self) -> None:
        socket_map = self._server._map
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=_POLL_SECONDS, map=socket_map, count=1)
            # Stop taking connections, then let the requests under way finish
            # and their answers go out (a cut-short stall answers, too).
            self._server.accepting = False
            self._server.del_channel()
            deadline = time.monotonic() + _JOIN_SECONDS
            while time.monotonic() < deadline and self._busy():
                wasyncore.loop(timeout=_POLL_SECONDS, map=socket_map, count=1)
        finally:
            for dispatcher in list(socket_map.values()):
                dispatcher.close()
            self._server.socket.close()  # the listener, out of the map since the drain
            self._server.task_dispatcher.shutdown(timeout=_JOIN_SECONDS)

    def _busy(self) -> bool:
        """Whether a connection still has a request in hand or bytes to send."""
        return any(
            getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0)
            for channel in list(self._server._map.values())
        )

    def stop(self) -> None:
        self._stopping.set()


class RunningTenant:
    """A :class:`DevTenant` served on a background thread; a context manager that stops it."""

    def __init__(self, app: DevTenant, loop: _Loop, thread: threading.Thread) -> None:
        self.app = app
        self.url = app.base_url
        self._loop = loop
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
        self._loop.stop()
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
    server = _server(app, host, port)
    app.base_url = base_url(host, server.effective_port)
    app.allow_stalls()
    loop = _Loop(server)
    thread = threading.Thread(
        target=loop.run, name=f"dev-tenant:{server.effective_port}", daemon=True
    )
    thread.start()  # the socket already listens, so connections queue from now on
    return RunningTenant(app, loop, thread)


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
    rfc9068_apis: Sequence[str] = (),
    trust_forwarded_for: bool = False,
    allow_magiclink_verify_without_session: bool = False,
    code_lifetime: float = 180,
    authorization_code_lifetime: float = AUTHORIZATION_CODE_LIFETIME,
    roles_claim: str | None = None,
    roles: Mapping[str, Sequence[str]] | None = None,
    machine_clients: Mapping[str, str] | None = None,
    client_grants: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> int:
    """Serve a tenant in the foreground, printing each message it sends, until Ctrl-C.

    ``offline_access_apis`` (some of ``apis``) get refresh tokens, ``rfc9068_apis``
    access tokens in the RFC 9068 profile; ``roles``
    (identifier → roles) go in tokens under ``roles_claim``; ``machine_clients``
    and ``client_grants`` are :class:`DevTenant`'s. Returns the exit status: 0,
    or 1 (after one line on stderr) when ``host:port`` cannot be listened on.
    Raises ValueError for a ``roles_claim`` Auth0 would not keep.
    """
    app = DevTenant(
        client_id=client_id,
        client_secret=client_secret,
        apis=apis,
        offline_access_apis=offline_access_apis,
        rfc9068_apis=rfc9068_apis,
        trust_forwarded_for=trust_forwarded_for,
        allow_magiclink_verify_without_session=allow_magiclink_verify_without_session,
        code_lifetime=code_lifetime,
        authorization_code_lifetime=authorization_code_lifetime,
        allowed_callbacks=allowed_callbacks,
        allowed_logout_urls=allowed_logout_urls,
        on_message=_print_message,
        roles_claim=roles_claim,
        roles=roles,
        machine_clients=machine_clients,
        client_grants=client_grants,
    )
    try:
        server = _server(app, host, port)
    except OSError as exc:
        # One line, as ``demo`` and ``serve`` say it, not a traceback.
        print(f"pwless-gate: {_cannot_listen(host, port, exc)}", file=sys.stderr, flush=True)
        return 1
    app.base_url = base_url(host, server.effective_port)
    print(f"[dev-tenant] serving {app.base_url} (issuer {app.issuer})", flush=True)
    print(f"[dev-tenant] client id {client_id}", flush=True)
    print(
        f"[dev-tenant] trust auth0-forwarded-for: {_on(trust_forwarded_for)}; magic links "
        f"without a session: {_on(allow_magiclink_verify_without_session)}; code lifetime "
        f"{code_lifetime:g} s, authorization code lifetime {authorization_code_lifetime:g} s",
        flush=True,
    )
    for url in allowed_callbacks:
        print(f"[dev-tenant] allowed callback {url}", flush=True)
    for url in allowed_logout_urls:
        print(f"[dev-tenant] allowed logout URL {url}", flush=True)
    if roles_claim is not None:
        print(f"[dev-tenant] roles claim {roles_claim}", flush=True)
        for who, named in (roles or {}).items():
            print(f"[dev-tenant] roles of {who}: {', '.join(named)}", flush=True)
    for api in apis:
        offline = " (offline access: refresh tokens)" if api in offline_access_apis else ""
        profile = " (token profile RFC 9068)" if api in rfc9068_apis else ""
        print(f"[dev-tenant] API {api}{offline}{profile}", flush=True)
    for machine_id in machine_clients or {}:
        grants = (client_grants or {}).get(machine_id)
        what = "every API" if grants is None else ", ".join(grants) or "no API"
        print(
            f"[dev-tenant] machine client {machine_id}: client credentials for {what}", flush=True
        )
    try:
        server.run()  # waitress returns from here on Ctrl-C
    except KeyboardInterrupt:
        pass  # a second Ctrl-C during shutdown
    finally:
        app.interrupt_stalls()
        server.close()
        print("[dev-tenant] stopped", flush=True)
    return 0


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    """Why the tenant cannot listen on ``host:port``, and what to do about it."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where} is in use by another program: stop that program, or choose "
            "another port with --port (--port 0 picks a free one and prints it)"
        )
    return f"cannot listen on {where}: {exc.strerror or exc}"


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


def _on(setting: bool) -> str:
    return "on" if setting else "off"


def _print_message(message: Message) -> None:
    print(message.console_line(), flush=True)
