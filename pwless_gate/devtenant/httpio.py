"""Reading request bodies and writing responses the way Auth0's endpoints do.

Bodies are JSON or form-encoded. Form fields use the bracket notation of the
``qs`` module Auth0's servers parse with (``authParams[state]=…`` builds an
object, a repeated field becomes a list), so a form body and a JSON body
describe the same value and are validated by the same code.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from .constants import INVALID_JSON, INVALID_PAYLOAD, MAX_FORM_FIELDS, UNSUPPORTED_BODY

Headers = Iterable[tuple[str, str]]

_BRACKETED = re.compile(r"([^\[\]]+)\[([^\[\]]*)\]")
_NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


class ApiError(Exception):
    """An error answer: ``{"error": …, "error_description": …}`` with a status."""

    def __init__(self, status: int, error: str, description: str, headers: Headers = ()) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = list(headers)

    def response(self, extra_headers: Headers = ()) -> Response:
        """Return the JSON response for this error, with ``extra_headers`` added."""
        body = {"error": self.error, "error_description": self.description}
        return json_response(body, self.status, [*self.headers, *extra_headers])


def json_response(
    body: object, status: int = 200, headers: Headers = (), *, max_age: int | None = None
) -> Response:
    """Return ``body`` as a JSON response: uncacheable unless ``max_age`` (seconds) is given."""
    response = Response(json.dumps(body), status, mimetype="application/json")
    caching = _NO_STORE if max_age is None else (("Cache-Control", f"public, max-age={max_age}"),)
    for name, value in (*caching, *headers):
        response.headers[name] = value
    return response


def page(status: int, title: str, text: str) -> Response:
    """Return a small HTML page, for answers a browser shows (never a redirect)."""
    body = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    response = Response(body, status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(location: str) -> Response:
    """Return a 302 to ``location``."""
    response = Response("", 302)
    response.headers["Location"] = location
    response.headers["Cache-Control"] = "no-store"
    return response


def with_query(url: str, params: dict[str, str]) -> str:
    """Return ``url`` with ``params`` appended to its query string."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def read_body(request: Request, error: str) -> dict[str, object]:
    """Return the request body as a dict, from JSON or a form.

    Raises :class:`ApiError` (400, ``error``) when the body is neither, or is
    JSON that is not an object. An empty body without a content type is an
    empty form.
    """
    raw = request.get_data(cache=True)
    mimetype = request.mimetype
    if mimetype == "application/json":
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, error, INVALID_JSON) from exc
        if not isinstance(value, dict):
            raise ApiError(400, error, INVALID_JSON)
        return value
    if mimetype == "application/x-www-form-urlencoded" or (not mimetype and not raw):
        try:
            pairs = parse_qsl(
                raw.decode("utf-8"),
                keep_blank_values=True,
                encoding="utf-8",
                errors="strict",
                max_num_fields=MAX_FORM_FIELDS,
            )
            return structure_form(pairs)
        except ValueError as exc:
            raise ApiError(400, error, INVALID_PAYLOAD) from exc
    raise ApiError(400, error, UNSUPPORTED_BODY)


def structure_form(pairs: Iterable[tuple[str, str]]) -> dict[str, object]:
    """Build a value from form fields the way ``qs`` does, one level deep.

    ``a=1`` gives a string, a repeated ``a`` a list, ``a[b]=1`` an object and
    ``a[]=1`` a list. Raises ValueError when one name is used in two shapes.
    """
    result: dict[str, object] = {}
    for name, value in pairs:
        match = _BRACKETED.fullmatch(name)
        if match is None:
            _add(result, name, value)
            continue
        base, key = match.groups()
        if key:
            container = result.setdefault(base, {})
            if not isinstance(container, dict):
                raise ValueError(f"{base} is used both as an object and as a value")
            _add(container, key, value)
        else:
            container = result.setdefault(base, [])
            if not isinstance(container, list):
                raise ValueError(f"{base} is used both as a list and as a value")
            container.append(value)
    return result


def _add(target: dict[str, object], name: str, value: str) -> None:
    existing = target.get(name)
    if existing is None:
        target[name] = value
    elif isinstance(existing, list):
        existing.append(value)
    elif isinstance(existing, str):
        target[name] = [existing, value]
    else:
        raise ValueError(f"{name} is used both as an object and as a value")


def json_type(value: object) -> str:
    """Return the JSON-schema type name of ``value``, as Auth0's validation messages say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
