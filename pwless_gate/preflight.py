"""The answer to an anonymous CORS preflight: the app's CORS headers and nothing else.

With ``public_preflight``, a CORS preflight (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) reaches the app without a session, because
browsers send preflights without cookies. The app is asked only for its CORS
answer: the client gets the app's status, its ``Access-Control-*`` and
``Vary`` headers, ``Content-Length: 0`` and an empty body. Whatever else the
app answers to an ``OPTIONS`` request (a page, a ``Set-Cookie``, a header
that names a version or a secret) stays behind the gate; the body is read
only as far as it takes for the app to call ``start_response``, then closed.

What it does not do: judge the app's CORS policy. The ``Access-Control-*``
headers are the app's, passed on as they are; the request a preflight allows
still needs a session like any other. A preflight to a public path is the
app's to answer, unchanged, and so is one from a signed-in person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def preflight_answer(
    app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Call ``app`` and answer with its status and CORS headers only; returns an empty body.

    Raises ``RuntimeError`` if the app never calls ``start_response``, and
    whatever the app raises.
    """
    answer: list[Any] = []

    def capture(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        # Nothing has been sent, so a second call (with exc_info) simply replaces the first.
        answer[:] = [status, headers]
        return _discard

    body = app(environ, capture)
    try:
        if not answer:  # an app that calls start_response on its first chunk
            for _chunk in body:
                if answer:
                    break
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    if not answer:
        raise RuntimeError("the application did not call start_response")
    status, headers = answer
    kept = [(name, value) for name, value in headers if _is_cors(name)]
    if not _bodiless(status):
        kept.append(("Content-Length", "0"))
    start_response(status, kept)
    return []


def _is_cors(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("access-control-") or lowered == "vary"


def _bodiless(status: str) -> bool:
    """No ``Content-Length`` on 1xx and 204; on a 304 it would describe another answer.

    RFC 9110, section 8.6.
    """
    return status[:1] == "1" or status[:3] in ("204", "304")


def _discard(data: bytes) -> None:
    """The ``write`` callable: what the app writes is not sent."""


__all__ = ["preflight_answer"]
