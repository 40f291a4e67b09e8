"""A small WSGI app with a PasteDeploy ``app_factory``, loaded by ``gate.ini``.

It knows nothing about the gate; the pipeline in ``gate.ini`` puts the gate in
front of it. ``/health`` is declared public there, so a load balancer can
probe it without signing in.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any


def app_factory(global_conf: dict[str, str], title: str = "Inventory") -> Any:
    """Build the app; ``title`` comes from its ``[app:...]`` section."""

    def inventory(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/health":
            body = b"ok\n"
            content_type = "text/plain"
        else:
            # Public paths reach the app with or without a session: only read
            # REMOTE_USER where the gate guarantees it.
            user = environ["REMOTE_USER"]
            body = (
                f"<!doctype html><title>{html.escape(title)}</title>"
                f"<h1>{html.escape(title)}</h1>"
                f'<p>Signed in as <strong id="remote-user">{html.escape(user)}</strong></p>'
            ).encode()
            content_type = "text/html; charset=utf-8"
        start_response(
            "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        )
        return [body]

    return inventory
