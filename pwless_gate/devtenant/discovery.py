"""OpenID discovery, the JWKS and ``/userinfo``."""

from __future__ import annotations

from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from .constants import (
    ALL_GRANTS,
    DISCOVERY_MAX_AGE,
    USERINFO_CHALLENGE,
    USERINFO_CHALLENGE_INVALID,
    USERINFO_REFUSED,
    USERINFO_SCOPE,
)
from .httpio import json_response
from .state import TenantState

_SCOPES = ["openid", "profile", "email", "phone", "offline_access"]
_CLAIMS = [
    "iss",
    "sub",
    "aud",
    "iat",
    "exp",
    "sid",
    "nonce",
    "name",
    "nickname",
    "picture",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
]


def jwks(state: TenantState, request: Request) -> Response:
    """Handle ``GET /.well-known/jwks.json``: every published key, certificates for our host."""
    host = urlsplit(state.base_url).hostname or ""
    return json_response(state.tokens.key.jwks(host), max_age=DISCOVERY_MAX_AGE)


def openid_configuration(state: TenantState, request: Request) -> Response:
    """Handle ``GET /.well-known/openid-configuration``.

    ``authorization_endpoint`` is listed, as Auth0 lists it, though this
    tenant serves no ``/authorize``: logins start at ``/passwordless/start``.
    """
    return json_response(
        {
            "issuer": state.issuer,
            "authorization_endpoint": state.url("/authorize"),
            "token_endpoint": state.url("/oauth/token"),
            "userinfo_endpoint": state.url("/userinfo"),
            "jwks_uri": state.url("/.well-known/jwks.json"),
            "end_session_endpoint": state.url("/oidc/logout"),
            "scopes_supported": _SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": sorted(state.settings.grant_types & set(ALL_GRANTS)),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "claims_supported": _CLAIMS,
            "request_uri_parameter_supported": False,
            "request_parameter_supported": False,
        },
        max_age=DISCOVERY_MAX_AGE,
    )


def userinfo(state: TenantState, request: Request) -> Response:
    """Handle ``GET /userinfo``: the claims an access token's scopes grant, else 401.

    A token granted without ``openid`` gets an empty object.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized(USERINFO_CHALLENGE)
    granted = state.tokens.access(token.strip())
    user = None if granted is None else state.users.by_sub(granted[0])
    if granted is None or user is None:
        return _unauthorized(USERINFO_CHALLENGE_INVALID)
    if USERINFO_SCOPE not in granted[1]:
        return json_response({})
    return json_response(user.claims(granted[1]))


def _unauthorized(challenge: str) -> Response:
    response = Response(USERINFO_REFUSED, 401, mimetype="text/plain")
    response.headers["WWW-Authenticate"] = challenge
    return response
