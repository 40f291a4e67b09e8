"""``POST /oauth/token``: the passwordless OTP, authorization-code, refresh-token and
client-credentials grants."""

from __future__ import annotations

import secrets

from werkzeug.wrappers import Request, Response

from .codes import Outcome, constant_time_equal
from .constants import (
    ALL_GRANTS,
    BRUTE_FORCE_BLOCKED,
    CLIENT_GRANT_MISSING,
    CLIENT_UNAUTHORIZED,
    CODE_EXPIRED,
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_OTP,
    INVALID_AUTHORIZATION_CODE,
    INVALID_PARAMETER,
    INVALID_REFRESH,
    MAX_ATTEMPTS,
    MISSING_PARAMETER,
    NO_DEFAULT_AUDIENCE,
    REALM_NOT_FOUND,
    REDIRECT_URI_MISMATCH,
    SCOPE_NOT_GRANTED,
    SCOPES_NOT_GRANTED,
    SUSPICIOUS_IP_BLOCKED,
    UNSUPPORTED_GRANT,
    UNSUPPORTED_GRANT_STATUS,
    USER_BLOCKED,
    WRONG_EMAIL_CODE,
    WRONG_PHONE_CODE,
)
from .httpio import ApiError, json_response, read_body
from .state import TenantState
from .users import Login, User, normalise, split_scope


def oauth_token(state: TenantState, request: Request) -> Response:
    """Handle ``POST /oauth/token`` (the app has counted it against the rate limit)."""
    body = read_body(request, "invalid_request")
    return json_response(_grant(state, body, state.client_ip(request, body)))


def code_problem(outcome: Outcome, connection: str) -> str:
    """Return the ``invalid_grant`` description of a refused one-time code."""
    if outcome is Outcome.MAX_ATTEMPTS:
        return MAX_ATTEMPTS
    if outcome is Outcome.EXPIRED:
        return CODE_EXPIRED
    return WRONG_EMAIL_CODE if connection == "email" else WRONG_PHONE_CODE


def verify_code(state: TenantState, connection: str, identifier: str, code: str, ip: str) -> User:
    """Check a one-time code and log the user in.

    Raises :class:`ApiError`: 429 ``too_many_attempts`` while suspicious-IP
    throttling holds ``ip`` or once brute-force protection blocked this user
    from ``ip``, 403 ``invalid_grant`` for a refused code, 403
    ``access_denied`` for a blocked user. Failed logins and new users count
    against ``ip``.
    """
    if state.suspicious_ips.is_throttled(ip):
        raise ApiError(429, "too_many_attempts", SUSPICIOUS_IP_BLOCKED)
    user_key = f"{connection}:{normalise(connection, identifier)}"
    if state.brute_force.is_blocked(user_key, ip):
        raise ApiError(429, "too_many_attempts", BRUTE_FORCE_BLOCKED)
    outcome = state.codes.check(connection, identifier, code)
    if outcome is not Outcome.ACCEPTED:
        state.brute_force.failed(user_key, ip)
        state.suspicious_ips.failed_login(ip)
        raise ApiError(403, "invalid_grant", code_problem(outcome, connection))
    state.brute_force.succeeded(user_key, ip)
    if state.users.is_blocked(connection, identifier):
        raise ApiError(403, "access_denied", USER_BLOCKED)
    if not state.users.exists(connection, identifier):
        state.suspicious_ips.signed_up(ip)  # a first login is a signup
    return state.users.log_in(connection, identifier)


def new_session_id() -> str:
    """Return a fresh ``sid`` for a login."""
    return secrets.token_urlsafe(24)


def _grant(state: TenantState, body: dict[str, object], ip: str) -> dict[str, object]:
    grant_type = _param(body, "grant_type")
    _param(body, "client_id")
    client_id = state.authenticated_client(body)
    if client_id is None:
        raise ApiError(401, "access_denied", CLIENT_UNAUTHORIZED)
    if grant_type not in ALL_GRANTS:
        raise ApiError(
            UNSUPPORTED_GRANT_STATUS,
            "unsupported_grant_type",
            UNSUPPORTED_GRANT.format(grant_type=grant_type),
        )
    machine = client_id != state.settings.client_id
    allowed = (GRANT_CLIENT_CREDENTIALS,) if machine else state.settings.grant_types
    if grant_type not in allowed:
        raise ApiError(
            403, "unauthorized_client", f"Grant type '{grant_type}' not allowed for the client."
        )
    if grant_type == GRANT_CLIENT_CREDENTIALS:
        return _client_credentials(state, body, client_id)
    if grant_type == GRANT_OTP:
        return _otp(state, body, ip)
    if grant_type == GRANT_AUTHORIZATION_CODE:
        return _authorization_code(state, body)
    return _refresh(state, body)


def _otp(state: TenantState, body: dict[str, object], ip: str) -> dict[str, object]:
    realm = _param(body, "realm")
    username = _param(body, "username")
    otp = _param(body, "otp")
    if realm not in state.settings.connections:
        raise ApiError(400, "invalid_request", REALM_NOT_FOUND)
    audience = _optional(body, "audience") or None
    state.settings.check_audience(audience)
    user = verify_code(state, realm, username, otp, ip)
    scopes = split_scope(_optional(body, "scope"))
    if not state.settings.allows_offline_access(audience):
        # Auth0 grants the rest and leaves offline_access out of `scope`.
        scopes = tuple(scope for scope in scopes if scope != "offline_access")
    login = Login(
        user=user,
        client_id=state.settings.client_id,
        scopes=scopes,
        audience=audience,
        nonce=None,
        sid=new_session_id(),
    )
    return state.tokens.respond(login, state.issuer, refreshable=True)


def _authorization_code(state: TenantState, body: dict[str, object]) -> dict[str, object]:
    code = _param(body, "code")
    redirect_uri = _optional(body, "redirect_uri")
    redeemed = state.authorization_codes.redeem(code)  # used up even if refused below
    if redeemed is None or redeemed[0].client_id != state.settings.client_id:
        raise ApiError(403, "invalid_grant", INVALID_AUTHORIZATION_CODE)
    login, expected_uri = redeemed
    if redirect_uri is None or not constant_time_equal(redirect_uri, expected_uri):
        raise ApiError(403, "invalid_grant", REDIRECT_URI_MISMATCH)
    # Auth0 never returns a refresh token after a magic link.
    return state.tokens.respond(login, state.issuer, refreshable=False)


def _refresh(state: TenantState, body: dict[str, object]) -> dict[str, object]:
    token = _param(body, "refresh_token")

    def vet(login: Login) -> None:
        # Only a token reuse detection let through gets here: a reused one has
        # revoked its family already, whatever this request asks.
        if login.client_id != state.settings.client_id:
            raise ApiError(403, "invalid_grant", INVALID_REFRESH)
        if state.users.is_blocked(login.user.connection, login.user.identifier):
            raise ApiError(403, "access_denied", USER_BLOCKED)
        requested = split_scope(_optional(body, "scope"))
        extra = [scope for scope in requested if scope not in login.scopes]
        if extra:
            raise ApiError(403, "invalid_scope", SCOPE_NOT_GRANTED.format(scopes=" ".join(extra)))

    # A refusal by `vet` leaves the token as it was.
    rotated = state.tokens.rotate(token, vet)
    if rotated is None:
        raise ApiError(403, "invalid_grant", INVALID_REFRESH)
    login, refresh_token = rotated
    scopes = split_scope(_optional(body, "scope")) or login.scopes
    login = Login(login.user, login.client_id, scopes, login.audience, None, login.sid)
    return state.tokens.respond(login, state.issuer, refreshable=False, refresh_token=refresh_token)


def _client_credentials(
    state: TenantState, body: dict[str, object], client_id: str
) -> dict[str, object]:
    """A machine's token for an API it has a client grant for (the gate's own
    application has none: it is refused as Auth0 refuses an application without one)."""
    audience = _optional(body, "audience")
    if not audience:
        raise ApiError(403, "access_denied", NO_DEFAULT_AUDIENCE)
    machine = state.settings.machine_clients.get(client_id)
    granted = None if machine is None else machine.granted(audience, state.settings.apis)
    if granted is None:
        raise ApiError(403, "access_denied", CLIENT_GRANT_MISSING.format(audience=audience))
    requested = split_scope(_optional(body, "scope"))
    missing = [scope for scope in requested if scope not in granted]
    if missing:
        raise ApiError(403, "access_denied", SCOPES_NOT_GRANTED.format(scopes=" ".join(missing)))
    scopes = requested or granted
    return state.tokens.client_credentials(client_id, audience, scopes, state.issuer)


def _param(body: dict[str, object], name: str) -> str:
    value = _optional(body, name)
    if not value:
        raise ApiError(400, "invalid_request", MISSING_PARAMETER.format(name=name))
    return value


def _optional(body: dict[str, object], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "invalid_request", INVALID_PARAMETER.format(name=name))
    return value
