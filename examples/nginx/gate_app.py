"""The app the gate wraps when nginx protects everything else: it is never meant to be reached.

nginx sends the gate only its own routes, auth_request sub-requests, and the
unauthenticated requests it needs to challenge; a signed-in request that
reaches the gate anyway gets a 404.
"""

from collections.abc import Iterable
from typing import Any


def not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = b"not served by the gate\n"
    start_response(
        "404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]
