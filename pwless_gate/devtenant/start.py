"""``POST /passwordless/start``: validate, rate-limit, and "send" a code or a magic link."""

from __future__ import annotations

import json
import re
import secrets
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from .codes import constant_time_equal
from .constants import (
    AUTH_PARAM_NOT_A_STRING,
    AUTH_PARAMS_NOT_AN_OBJECT,
    CLIENT_AUTH_FAILED,
    CLIENT_AUTH_REQUIRED,
    CONNECTION_MISSING,
    EMAIL_LOCAL_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    MISSING_PROPERTY,
    NOT_A_STRING,
    PHONE_PATTERN,
    SEND_NOT_A_STRING,
    SEND_NOT_AN_OPTION,
    SMS_REGION_REFUSED,
    SMS_SENDS_CODES_ONLY,
    UNKNOWN_CLIENT,
    UNSUPPORTED_SMS_PREFIX,
)
from .httpio import ApiError, json_response, json_type, read_body
from .messages import Message
from .state import TenantState
from .users import normalise

_FIELDS = (
    "client_id",
    "client_secret",
    "connection",
    "email",
    "phone_number",
    "send",
    "authParams",
)
# Close to the format check Auth0's schema validator applies: an ASCII dot-atom
# local part, and a domain of LDH labels with at least one dot, its last label
# letters or an internationalised (``xn--``) one such as ``.xn--p1ai`` (.рф).
# AUTH0-API.md is silent on internationalised names; a domain in its ASCII form
# is a valid host name, so it is taken as one (assumed), and any non-ASCII
# character is refused.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
)
_PHONE = re.compile(PHONE_PATTERN)
# Parameters of the link itself; authParams cannot override them.
_LINK_OWN = frozenset({"client_id", "connection", "email", "verification_code"})


def passwordless_start(state: TenantState, request: Request) -> Response:
    """Handle ``POST /passwordless/start`` (the app has counted it against the rate limit)."""
    body = read_body(request, "bad.request")
    return json_response(_start(state, body, request.headers.get("x-request-language")))


def _start(state: TenantState, body: dict[str, object], language: str | None) -> dict[str, object]:
    unknown = [name for name in body if name not in _FIELDS]
    if unknown:
        raise ApiError(
            400, "bad.request", f"the following properties are not allowed: {', '.join(unknown)}"
        )
    _authenticate(state, body)
    connection = _string(body, "connection", "bad.connection")
    if connection not in state.settings.connections:
        raise ApiError(400, "bad.connection", CONNECTION_MISSING)
    identifier = normalise(connection, _email(body)) if connection == "email" else _phone(body)
    send = _send(body, connection)
    auth_params = _auth_params(body)
    if connection == "sms" and identifier.startswith(UNSUPPORTED_SMS_PREFIX):
        # The pretend SMS provider serves no "+99…" numbers: they stand for a
        # region the tenant's SMS account is not enabled for.
        raise ApiError(400, "sms_provider_error", SMS_REGION_REFUSED.format(number=identifier))
    code = state.codes.issue(connection, identifier)
    link = _link(state, identifier, code, auth_params) if send == "link" else None
    state.send(Message(connection, identifier, code, link, language))
    if connection == "email":
        return {"_id": secrets.token_hex(12), "email": identifier, "email_verified": False}
    return {
        "_id": secrets.token_hex(12),
        "phone_number": identifier,
        "phone_verified": False,
        "request_language": language,
    }


def _authenticate(state: TenantState, body: dict[str, object]) -> None:
    client_id = _string(body, "client_id", "bad.client_id")
    if not constant_time_equal(client_id, state.settings.client_id):
        raise ApiError(400, "bad.client_id", UNKNOWN_CLIENT.format(client_id=client_id))
    secret = body.get("client_secret")
    if secret is None or secret == "":
        raise ApiError(403, "unauthorized_client", CLIENT_AUTH_REQUIRED)
    if not isinstance(secret, str) or not constant_time_equal(secret, state.settings.client_secret):
        raise ApiError(401, "invalid_client", CLIENT_AUTH_FAILED)


def _string(body: dict[str, object], name: str, error: str) -> str:
    value = body.get(name)
    if value is None:
        raise ApiError(400, error, MISSING_PROPERTY.format(name=name))
    if not isinstance(value, str):
        raise ApiError(400, error, NOT_A_STRING.format(type=json_type(value)))
    return value


def _email(body: dict[str, object]) -> str:
    email = _string(body, "email", "bad.email")
    local = email.rpartition("@")[0]
    if (
        _EMAIL.fullmatch(email) is None
        or len(email) > EMAIL_MAX_LENGTH
        or len(local) > EMAIL_LOCAL_MAX_LENGTH
    ):
        description = f"error in email - email format validation failed: {email}"
        raise ApiError(400, "bad.email", description)
    return email


def _phone(body: dict[str, object]) -> str:
    phone = _string(body, "phone_number", "bad.phone_number")
    if _PHONE.fullmatch(phone) is None:
        raise ApiError(400, "bad.phone_number", f"String does not match pattern: {PHONE_PATTERN}")
    return phone


def _send(body: dict[str, object], connection: str) -> str:
    """Return ``code`` or ``link``; a missing ``send`` means a link for email, a code for SMS.

    Refusals use ``bad.send``: Auth0 names a schema failure after the
    property at fault (``bad.email``, ``bad.phone_number``…), and its
    ``send`` enum also holds the legacy native-app values ``link_ios`` and
    ``link_android``, which this tenant does not serve. An SMS link is
    refused rather than quietly turned into a code, since SMS supports only
    codes here.
    """
    send = body.get("send")
    if send is None:
        return "link" if connection == "email" else "code"
    if not isinstance(send, str):
        raise ApiError(400, "bad.send", SEND_NOT_A_STRING.format(type=json_type(send)))
    if send not in ("code", "link"):
        raise ApiError(400, "bad.send", SEND_NOT_AN_OPTION.format(value=json.dumps(send)))
    if connection == "sms" and send == "link":
        raise ApiError(400, "bad.send", SMS_SENDS_CODES_ONLY)
    return send


def _auth_params(body: dict[str, object]) -> dict[str, str]:
    params = body.get("authParams", {})
    if not isinstance(params, dict):
        description = AUTH_PARAMS_NOT_AN_OBJECT.format(type=json_type(params))
        raise ApiError(400, "bad.authParams", description)
    for name, value in params.items():
        if not isinstance(value, str):
            # Stricter than Auth0 may be: every value goes into the link's query string.
            description = AUTH_PARAM_NOT_A_STRING.format(name=name, type=json_type(value))
            raise ApiError(400, "bad.authParams", description)
    return {str(name): str(value) for name, value in params.items()}


def _link(state: TenantState, email: str, code: str, auth_params: dict[str, str]) -> str:
    query = {
        "client_id": state.settings.client_id,
        "connection": "email",
        "email": email,
        "verification_code": code,
    }
    query.update((k, v) for k, v in auth_params.items() if k not in _LINK_OWN)
    return state.url("/passwordless/verify_redirect") + "?" + urlencode(query)
