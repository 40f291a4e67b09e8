"""The endpoints a browser visits: the magic-link target and logout.

These answer with redirects or small HTML pages, never JSON. A redirect
target is used only once it is known to be allowed; otherwise the answer is
a 400 page, as Auth0's own error page would be. With the tenant flag
``allow_magiclink_verify_without_session`` off (a new tenant's default), a
magic link also ends on such a page: this tenant keeps no browser sessions,
so no link is opened "on the same device and browser" that asked for it.
"""

from __future__ import annotations

import jwt
from werkzeug.wrappers import Request, Response

from .codes import constant_time_equal
from .constants import (
    CALLBACK_MISMATCH,
    CALLBACK_MISMATCH_STATUS,
    ERROR_PAGE_TITLE,
    LINK_REFUSED_ERROR,
    LOGGED_OUT_TEXT,
    LOGGED_OUT_TITLE,
    LOGOUT_URL_NOT_ALLOWED,
    MISSING_PARAMETER,
    OIDC_LOGOUT_CLIENT_REQUIRED,
    REALM_NOT_FOUND,
    SAME_DEVICE_PAGE_STATUS,
    SAME_DEVICE_REQUIRED,
    UNKNOWN_CLIENT,
    UNSUPPORTED_RESPONSE_TYPE,
)
from .grants import new_session_id, verify_code
from .httpio import ApiError, page, redirect, with_query
from .state import TenantState
from .users import Login, split_scope


def verify_redirect(state: TenantState, request: Request) -> Response:
    """Handle ``GET /passwordless/verify_redirect``, where an emailed magic link points."""
    args = request.args
    client_id = args.get("client_id", "")
    if not constant_time_equal(client_id, state.settings.client_id):
        unknown = UNKNOWN_CLIENT.format(client_id=client_id)
        return page(400, ERROR_PAGE_TITLE, f"invalid_request: {unknown}")
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in state.callbacks:
        return page(
            CALLBACK_MISMATCH_STATUS, ERROR_PAGE_TITLE, CALLBACK_MISMATCH.format(url=redirect_uri)
        )
    if not state.settings.allow_magiclink_verify_without_session:
        # Auth0's own page; the browser never goes back to the application.
        return page(
            SAME_DEVICE_PAGE_STATUS, ERROR_PAGE_TITLE, f"access_denied: {SAME_DEVICE_REQUIRED}"
        )
    answer = {"state": args["state"]} if "state" in args else {}
    try:
        code = _login_code(state, request)
    except ApiError as exc:
        error = {"error": exc.error, "error_description": exc.description}
        return redirect(with_query(redirect_uri, {**error, **answer}))
    return redirect(with_query(redirect_uri, {"code": code, **answer}))


def _login_code(state: TenantState, request: Request) -> str:
    """Check the link and return an authorization code, or raise the error to redirect with."""
    args = request.args
    response_type = args.get("response_type")
    if not response_type:
        raise ApiError(400, "invalid_request", MISSING_PARAMETER.format(name="response_type"))
    if response_type != "code":
        # Token response types would answer in the fragment; the gate only uses "code".
        raise ApiError(
            400,
            "unsupported_response_type",
            UNSUPPORTED_RESPONSE_TYPE.format(response_type=response_type),
        )
    if args.get("connection") != "email" or "email" not in state.settings.connections:
        raise ApiError(400, "invalid_request", REALM_NOT_FOUND)
    for name in ("email", "verification_code"):
        if not args.get(name):
            raise ApiError(400, "invalid_request", MISSING_PARAMETER.format(name=name))
    ip = request.remote_addr or ""
    state.settings.check_audience(args.get("audience") or None)
    try:
        user = verify_code(state, "email", args["email"], args["verification_code"], ip)
    except ApiError as exc:
        # A refused code or a blocked user: "unauthorized", and why; blocks keep their error.
        error = exc.error if exc.error == "too_many_attempts" else LINK_REFUSED_ERROR
        raise ApiError(exc.status, error, exc.description) from exc
    login = Login(
        user=user,
        client_id=state.settings.client_id,
        scopes=split_scope(args.get("scope")),
        audience=args.get("audience") or None,
        nonce=args.get("nonce"),
        sid=new_session_id(),
    )
    return state.authorization_codes.issue(login, args["redirect_uri"])


def v2_logout(state: TenantState, request: Request) -> Response:
    """Handle ``GET /v2/logout``: 302 to an allowed ``returnTo``, else a page.

    Without ``returnTo``, a known ``client_id`` goes to the first allowed logout URL.
    """
    return_to = request.args.get("returnTo")
    client_id = request.args.get("client_id", "")
    if return_to is None:
        if constant_time_equal(client_id, state.settings.client_id) and state.logout_urls:
            return redirect(state.logout_urls[0])
        return page(200, LOGGED_OUT_TITLE, LOGGED_OUT_TEXT)
    if (
        not constant_time_equal(client_id, state.settings.client_id)
        or return_to not in state.logout_urls
    ):
        # Without a known client_id, Auth0 checks the tenant's own list of
        # logout URLs, which this tenant keeps empty.
        return page(400, ERROR_PAGE_TITLE, _logout_refusal("returnTo", return_to))
    return redirect(return_to)


def oidc_logout(state: TenantState, request: Request) -> Response:
    """Handle ``GET /oidc/logout`` (the discovery document's ``end_session_endpoint``)."""
    args = request.args
    client_id = args.get("client_id") or _hinted_client(state, args.get("id_token_hint"))
    target = args.get("post_logout_redirect_uri")
    if target is None:
        return page(200, LOGGED_OUT_TITLE, LOGGED_OUT_TEXT)
    if client_id is None or not constant_time_equal(client_id, state.settings.client_id):
        return page(400, ERROR_PAGE_TITLE, OIDC_LOGOUT_CLIENT_REQUIRED)
    if target not in state.logout_urls:
        return page(400, ERROR_PAGE_TITLE, _logout_refusal("post_logout_redirect_uri", target))
    extra = {"state": args["state"]} if "state" in args else {}
    return redirect(with_query(target, extra) if extra else target)


def _hinted_client(state: TenantState, hint: str | None) -> str | None:
    """Return the audience of an id_token this tenant signed (expired ones too), or None."""
    if not hint:
        return None
    try:
        kid = jwt.get_unverified_header(hint).get("kid")
        keys = [key for key in state.tokens.key.published() if key.kid == kid]
        if not keys:
            return None
        claims = jwt.decode(
            hint,
            keys[0].public_key,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False},
            issuer=state.issuer,
        )
    except jwt.PyJWTError:
        return None
    audience = claims.get("aud")
    return audience if isinstance(audience, str) else None


def _logout_refusal(parameter: str, url: str) -> str:
    return LOGOUT_URL_NOT_ALLOWED.format(parameter=parameter, url=url)
