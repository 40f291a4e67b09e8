"""Which rate-limit bucket a request is counted in, before anything in it is checked.

Auth0 answers every request with ``x-ratelimit-limit``, ``x-ratelimit-remaining``
and ``x-ratelimit-reset`` (AUTH0-API.md), from the bucket of the endpoint's
family (:class:`~.limits.Family`; the numbers are in ``constants.py``). The key
within a family's bucket:

- ``/passwordless/start``: the client IP (``auth0-forwarded-for`` when trusted);
- ``/oauth/token``: the client id (requests naming no known client share one);
- ``/userinfo``: the user the access token was issued to (tokens naming no user
  share one);
- ``/.well-known/jwks.json`` and every other path Auth0 answers: one for all.

A body too large to read is counted as if it had none: at ``/passwordless/start``
against the peer's IP. The tenant's own ``/_dev`` endpoints are not counted.

Not done here: answering; the app refuses a request whose bucket is empty.
"""

from __future__ import annotations

from werkzeug.wrappers import Request

from .httpio import ApiError, read_body
from .limits import Family, Quota
from .state import TenantState

#: The tenant's own endpoints: not Auth0's, so not counted.
_DEV_PATHS = "/_dev/"
#: Bucket key shared by requests that name no client, or no user.
_NOBODY = ""
_FAMILIES = {family.value: family for family in Family}


def family_of(path: str) -> Family | None:
    """Return the family whose bucket a request to ``path`` is counted in, or None for
    the tenant's own ``/_dev`` endpoints."""
    if path.startswith(_DEV_PATHS):
        return None
    return _FAMILIES.get(path, Family.GLOBAL)


def count(state: TenantState, request: Request, readable: bool) -> Quota | None:
    """Take one request from its family's bucket and return the outcome (None when the
    request is not counted). ``readable`` is False for a body too large to read.
    Hold ``state.lock``."""
    family = family_of(request.path)
    if family is None:
        return None
    return state.rate_limits[family].take(_key(family, state, request, readable))


def _key(family: Family, state: TenantState, request: Request, readable: bool) -> str:
    if family is Family.START:
        return state.client_ip(request, _body(request, readable))
    if family is Family.OAUTH:
        client_id = _body(request, readable).get("client_id")
        return str(client_id) if state.knows_client(client_id) else _NOBODY
    if family is Family.USERINFO:
        return _user(state, request)
    return _NOBODY


def _body(request: Request, readable: bool) -> dict[str, object]:
    """The request body, or an empty one when it cannot be read (the endpoint says why)."""
    if not readable:
        return {}
    try:
        return read_body(request, "invalid_request")
    except ApiError:
        return {}


def _user(state: TenantState, request: Request) -> str:
    """The ``sub`` a ``/userinfo`` request's bearer token was issued to, or ``_NOBODY``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    granted = state.tokens.access(token.strip()) if scheme.lower() == "bearer" else None
    return _NOBODY if granted is None else granted[0]
