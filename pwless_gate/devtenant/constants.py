"""Every value the local tenant assumes, in one place.

Values marked *assumed* are not settled by Auth0's public documentation (see
``AUTH0-API.md``); change them here and nowhere else.
"""

from __future__ import annotations

# --- identifiers and one-time codes -------------------------------------------------------

#: Failed attempts that kill a one-time code; the last one already answers "maximum attempts".
CODE_ATTEMPTS = 3
#: ``^\+[0-9]{1,15}$``: the only phone format ``/passwordless/start`` accepts.
PHONE_PATTERN = r"^\+[0-9]{1,15}$"
#: Phone prefix whose SMS the pretend provider refuses, standing for an unsupported region.
#: ``+99`` is not assigned to any country, so no real number is refused by accident.
UNSUPPORTED_SMS_PREFIX = "+99"
#: Longest email address accepted (RFC 5321 path limit) and longest local part.
EMAIL_MAX_LENGTH = 254
EMAIL_LOCAL_MAX_LENGTH = 64

# --- tokens ------------------------------------------------------------------------------

#: ``expires_in`` of every access token: an API's "Token Expiration", 86400 s by default
#: (Auth0 docs, "Update Access Token Lifetime"). ``DevTenant(access_token_lifetime=...)``.
ACCESS_TOKEN_LIFETIME = 86400
#: Default lifetime of an authorization code from a magic link: Auth0 does not publish it;
#: *assumed* 10 minutes, the most RFC 6749 (4.1.2) recommends.
#: ``DevTenant(authorization_code_lifetime=...)``, ``dev-tenant --authorization-code-lifetime``.
AUTHORIZATION_CODE_LIFETIME = 600
#: Size of the RSA key that signs id_tokens and JWT access tokens.
RSA_KEY_BITS = 2048
#: Base URL before the tenant is served (``serve_in_thread`` and the CLI replace it).
DEFAULT_BASE_URL = "http://127.0.0.1"

# --- refresh tokens ----------------------------------------------------------------------
#
# Issued only with the ``offline_access`` scope, and only when the API named by
# ``audience`` has "Allow Offline Access" on, which is off for a new API
# (Auth0 docs, "Get Refresh Tokens" and "API Settings"); when it is off the
# granted ``scope`` leaves ``offline_access`` out. Without an ``audience`` the
# access token is for ``/userinfo`` and a refresh token is issued with
# ``offline_access`` (*assumed*, as public reports describe).
#
# Tokens rotate: each exchange returns a new one and retires the one used
# (Auth0's refresh token rotation). A new regular web application has rotation
# off in Auth0 (SPAs default into it); the tenant always rotates, the stricter
# behaviour, which a gate that survives it survives both ways.

#: Seconds a retired refresh token may still be exchanged ("Rotation Overlap Period",
#: ``refresh_token.leeway``): "By default leeway is disabled" (Auth0 docs, "Configure
#: Refresh Token Rotation"; the Management API schema gives ``leeway`` default 0).
#: Any other reuse revokes the family (``403 invalid_grant "Unknown or invalid refresh
#: token."``, AUTH0-API.md), and is detected before anything else in the request is
#: checked: a reuse that also asks for a scope not granted, or whose user is blocked,
#: revokes the family all the same.
REFRESH_REUSE_INTERVAL = 0
#: Absolute lifetime of a rotating family: 2,592,000 s (30 days) by default when
#: rotation is on, counted from the login and not extended by rotation (same page).
REFRESH_ABSOLUTE_LIFETIME = 2_592_000
#: Idle (inactivity) lifetime of each token: 2,592,000 s (30 days) by default, renewed by
#: each exchange (Auth0 docs, "Configure Refresh Token Expiration").
REFRESH_IDLE_LIFETIME = 2_592_000

#: ``max-age`` of the JWKS and the discovery document (*assumed*; Auth0 serves them cacheable).
DISCOVERY_MAX_AGE = 15
#: Validity of the self-signed certificate published in ``x5c`` with each signing key
#: (*assumed*: Auth0's tenant certificates are self-signed for the tenant's host and long-lived).
SIGNING_CERT_DAYS = 3650

GRANT_OTP = "http://auth0.com/oauth/grant-type/passwordless/otp"
GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_REFRESH = "refresh_token"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
#: The grants the tenant knows. A regular web application has all of them by default
#: (client credentials included, as in Auth0); a machine client (``--m2m-client``) has
#: only ``client_credentials``.
ALL_GRANTS = (GRANT_OTP, GRANT_AUTHORIZATION_CODE, GRANT_REFRESH, GRANT_CLIENT_CREDENTIALS)

# --- machine-to-machine clients (the client-credentials grant) ----------------------------
#
# A token of the grant is an RS256 JWT with ``iss``, ``sub`` = ``<client_id>@clients``,
# ``aud`` = the audience (a string), ``iat``, ``exp``, ``scope`` (only when the client
# grant gives scopes), ``gty`` = ``client-credentials`` and ``azp`` = the client id
# (AUTH0-API.md; Auth0 docs, "Validate Access Tokens" / "Access Token Profiles"). Its
# lifetime is the API's "Token Expiration" (``ACCESS_TOKEN_LIFETIME``); the answer is
# ``access_token``, ``scope`` (when any), ``expires_in`` and ``token_type``. No id_token,
# no refresh token.

#: ``gty`` of a client-credentials token.
CLIENT_CREDENTIALS_GTY = "client-credentials"

# --- access token profiles (an API's "JSON Web Token (JWT) Profile") ----------------------
#
# Each API issues its JWT access tokens in one of two profiles (Auth0 docs, "Access Token
# Profiles", "Configure Access Token Profile"). "Auth0", the default for a new API, is the
# shape above (header ``typ`` ``JWT``). "RFC 9068" (``DevTenant(rfc9068_apis=...)``,
# ``dev-tenant --api AUDIENCE --token-profile rfc9068``) follows RFC 9068: header ``typ``
# ``at+jwt``, ``client_id`` in place of ``azp``, a ``jti``, and no ``gty``; ``sub`` is
# still the user's id, or ``<client_id>@clients`` for a machine. People's access tokens for
# such an API change the same way.

#: The access token profiles, as ``--token-profile`` names them; the first is the default.
TOKEN_PROFILES = ("auth0", "rfc9068")
#: Header ``typ`` of an access token in the RFC 9068 profile (of every other JWT: ``JWT``).
RFC9068_TYP = "at+jwt"
#: ``sub`` of a client-credentials token: the client id and this suffix.
MACHINE_SUB_SUFFIX = "@clients"
#: 403 ``access_denied`` when the client has no client grant for ``audience`` (Auth0's
#: text). AUTH0-API.md only says "an unauthorised audience → 403 access_denied"; for an
#: audience that is no API of the tenant at all the same answer is *assumed* (the other
#: grants answer "Service not found: …" there).
CLIENT_GRANT_MISSING = (
    'Client is not authorized to access "{audience}". You need to create a "client-grant" '
    "associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/"
    "post_client_grants"
)
#: 403 ``access_denied`` for a client-credentials request without ``audience`` on a
#: tenant with no "Default Audience" (the local tenant never has one): Auth0's text.
NO_DEFAULT_AUDIENCE = "Non-global clients are not allowed access to APIv1"
#: 403 ``access_denied`` when ``scope`` asks for scopes the client grant does not give.
#: AUTH0-API.md is silent; the text is *assumed* from public reports. Without ``scope``
#: the token gets every scope of the grant.
SCOPES_NOT_GRANTED = "Client has not been granted scopes: {scopes}"

# --- rate limits and brute-force protection ----------------------------------------------

#: ``/passwordless/start``: a burst of 50 per IP, refilled at 50 per hour.
#:
#: Every request is counted before anything in it is checked, one the endpoint then
#: refuses (a malformed address, a wrong secret) too: *assumed*, AUTH0-API.md is silent;
#: Auth0's rate limits are applied at its edge, ahead of the endpoint. After the quota
#: the start is checked in this order: unknown properties, the client's authentication,
#: the connection, the identifier's format, ``send``, ``authParams``. AUTH0-API.md does
#: not give that order either (*assumed*). The gate's decoy starts rely on both
#: (``pwless_gate/pacing.py``): a start for an identifier that fails the format check
#: meets the same quota, credentials and connection checks as a real one.
START_BURST = 50
START_REFILL = 50
START_REFILL_SECONDS = 3600.0
#: ``/oauth/token``: about 30 per second per client (*assumed*: a bucket of 30, 30 per second).
OAUTH_BURST = 30
OAUTH_REFILL = 30
OAUTH_REFILL_SECONDS = 1.0
#
# Every answer carries ``x-ratelimit-*`` (AUTH0-API.md), so every endpoint family has a
# bucket; AUTH0-API.md gives numbers for the two above only. The others are Auth0's
# published ones for the Free plan, the harshest ("Rate Limit Configurations", Free):
# a request is counted in its family's bucket before anything in it is checked, a body
# too large to read (413), an unknown path (404) or method (405) too.
#
#: ``/userinfo``: a burst of 10, refilled at 5 a minute, per user ("To a unique user
#: ID"). Requests whose token names no user (missing, unknown, expired) share one
#: bucket (*assumed*: Auth0 does not say how it counts them).
USERINFO_BURST = 10
USERINFO_REFILL = 5
USERINFO_REFILL_SECONDS = 60.0
#: ``/.well-known/jwks.json``: 20, 20 per second, any request (one bucket).
JWKS_BURST = 20
JWKS_REFILL = 20
JWKS_REFILL_SECONDS = 1.0
#: Every other path Auth0 answers (discovery, magic links, ``/v2/logout``,
#: ``/oidc/logout``, an unknown path): one bucket for all, the Free plan's global
#: Authentication API limit, 300 and 300 a minute (*assumed*: Auth0 publishes no
#: limit of their own for them). Auth0 applies that global limit on top of each
#: endpoint's own as well; the tenant does not (each request meets one bucket).
GLOBAL_BURST = 300
GLOBAL_REFILL = 300
GLOBAL_REFILL_SECONDS = 60.0
#
# The tenant's own endpoints (``/_dev/outbox``, ``/_dev/faults``) are no Auth0
# endpoints: not counted, no ``x-ratelimit-*``. Neither do the ``500`` and ``garbage``
# faults carry them: they stand for a failure in front of Auth0.
#: Consecutive failed logins for one user from one IP before it is blocked
#: (Auth0's brute-force protection default).
BRUTE_FORCE_THRESHOLD = 10
#: How long a brute-force block lasts without the unblock link or an administrator:
#: "Thirty (30) days pass from the last failed login attempt" (Auth0 docs, "Brute-Force
#: Protection"). The unblock email itself is not sent here.
BRUTE_FORCE_BLOCK_SECONDS = 30 * 86400
#: Suspicious-IP throttling, on for a new tenant: failed logins per IP (the "pre-login"
#: stage) in a bucket of 100 refilled at one every 864 s, i.e. 100 a day ("100 failed
#: login attempts ... within 24 hours"; Management API default ``max_attempts`` 100,
#: ``rate`` 864000 ms; once throttled, one attempt comes back after about 15 minutes).
SUSPICIOUS_LOGIN_BURST = 100
SUSPICIOUS_LOGIN_REFILL_SECONDS = 864.0
#: Signups per IP (the "pre-user-registration" stage): a first passwordless login
#: creates the user, so it counts. A bucket of 50 refilled at one every 1728 s, the
#: values of the Management API's documented settings (``max_attempts`` 50, ``rate``
#: 1728000 ms). *Assumed* as the default: older docs said "50 signup attempts ...
#: within a minute". An empty bucket of either kind throttles every login from the IP.
SUSPICIOUS_SIGNUP_BURST = 50
SUSPICIOUS_SIGNUP_REFILL_SECONDS = 1728.0
#: Above this many remembered keys, limiters forget the ones that hold nothing.
MAX_TRACKED_KEYS = 10_000

# --- requests ----------------------------------------------------------------------------

#: Largest request body read; anything bigger is refused with 413 ``BODY_TOO_LARGE_ERROR``
#: and ``BODY_TOO_LARGE``. AUTH0-API.md is silent on both the limit and the answer
#: (*assumed*: the status is HTTP's for it, the error Werkzeug's name for the status, the
#: text hapi's, a Node.js framework's, for a payload over its limit).
MAX_BODY_BYTES = 64 * 1024
BODY_TOO_LARGE_ERROR = "request_entity_too_large"
BODY_TOO_LARGE = "Payload content length greater than maximum allowed: {limit}"
#: Most fields a form-encoded body may carry.
MAX_FORM_FIELDS = 100

# --- fault injection ---------------------------------------------------------------------

FAULT_MODES = ("500", "timeout", "garbage", "429", "latency")
#: The longest latency fault, in milliseconds (a real tenant answers in 50 to 500 ms).
MAX_LATENCY_MS = 60_000
#: ``Retry-After`` of an injected 429 (*assumed*).
FAULT_RETRY_AFTER = 60
#: Most repetitions one fault may ask for.
MAX_FAULT_TIMES = 10_000

# --- the texts Auth0 answers with --------------------------------------------------------

WRONG_EMAIL_CODE = "Wrong email or verification code."
WRONG_PHONE_CODE = "Wrong phone number or verification code."
MAX_ATTEMPTS = "You've reached the maximum number of attempts. Please try to login again."
#: *assumed* wording.
CODE_EXPIRED = "The verification code has expired. Please try to login again."
SAME_DEVICE_REQUIRED = (
    "The link must be opened on the same device and browser from which you submitted "
    "your email address."
)
RATE_LIMITED = (
    "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and "
    "X-RateLimit-Reset headers."
)
#: Brute-force protection (429 ``too_many_attempts``), for one user from one IP.
BRUTE_FORCE_BLOCKED = (
    "Your account has been blocked after multiple consecutive login attempts. We've sent "
    "you an email with instructions on how to unblock it."
)
#: Suspicious-IP throttling (429 ``too_many_attempts``), for every login from one IP.
SUSPICIOUS_IP_BLOCKED = (
    "We have detected suspicious login behavior and further attempts will be blocked. "
    "Please contact the administrator."
)
CLIENT_AUTH_REQUIRED = "Client authentication is required"
#: *assumed* wording; ``/passwordless/start`` only (AUTH0-API.md keeps ``invalid_client`` there).
CLIENT_AUTH_FAILED = "Client authentication failed"
#: ``/oauth/token`` with bad client credentials (wrong or missing secret, unknown client):
#: 401 ``access_denied`` with this text, what Auth0 answers most often (AUTH0-API.md).
CLIENT_UNAUTHORIZED = "Unauthorized"
CONNECTION_MISSING = "Connection does not exist"
#: Auth0's documented text for a realm that is not an enabled connection.
REALM_NOT_FOUND = "the connection was not found"
USER_BLOCKED = "user is blocked"
#: Also for an expired authorization code (*assumed*: Auth0 does not tell them apart).
INVALID_AUTHORIZATION_CODE = "Invalid authorization code"
#: *assumed* wording.
REDIRECT_URI_MISMATCH = "redirect_uri does not match the one the code was issued for"
INVALID_REFRESH = "Unknown or invalid refresh token."
SMS_REGION_REFUSED = (
    "Permission to send an SMS has not been enabled for the region indicated by the "
    "'To' number: {number} (code: 21408)"
)

# --- answers AUTH0-API.md does not settle ------------------------------------------------

#: An unknown ``grant_type`` at ``/oauth/token``: 501 ``unsupported_grant_type`` (Auth0's
#: list of standard error responses puts it under 501 Not Implemented; the description's
#: wording is *assumed*).
UNSUPPORTED_GRANT_STATUS = 501
UNSUPPORTED_GRANT = "Unsupported grant type: {grant_type}"
#: The ``error`` a magic link redirects with when its code is refused (wrong, used,
#: superseded, expired, tried too often) or its user is blocked: Auth0 sends
#: ``error=unauthorized`` with the same description as the OTP grant (Auth0 community,
#: "Custom Error Description of Passwordless Email Magic Link": an expired link gives
#: ``error=unauthorized&error_description=The verification code has expired...``).
#: Brute-force and suspicious-IP blocks keep ``too_many_attempts``.
LINK_REFUSED_ERROR = "unauthorized"
#
# A ``HEAD`` is answered as the ``GET`` would be, everywhere (``app.py``): a ``HEAD`` of
# a magic link uses its code up, as opening it does (*assumed*: AUTH0-API.md is silent
# on ``HEAD``, and Auth0 documents nothing that spares it). Mail scanners that open
# links are a known source of "link already used" failures; the harsher reading keeps
# a gate honest about them.
#
#: With ``allow_magiclink_verify_without_session`` off, a link opened without the Auth0
#: session that asked for it (always, when a server asked) gets Auth0's own error page,
#: never a redirect. Its status is not documented: *assumed* 403, a refusal of access.
SAME_DEVICE_PAGE_STATUS = 403
#: ``/userinfo`` with an access token granted without ``openid``: 200 and ``{}`` (Auth0
#: support, "Troubleshooting Issues with the /userinfo Endpoint"). A JWT access token
#: lists ``{issuer}userinfo`` in ``aud`` only with ``openid``; without it the token is
#: not good at ``/userinfo`` at all (401), as Auth0's community answers describe.
USERINFO_SCOPE = "openid"
#: ``/v2/logout`` without ``returnTo``: with a known ``client_id``, 302 to the first of the
#: application's Allowed Logout URLs (Auth0 docs, "Auth0 Logout"); with none listed, or
#: without ``client_id``, a 200 page that says "OK".
LOGGED_OUT_TEXT = "OK"

# --- more answers AUTH0-API.md is silent on --------------------------------------------
#
# Each is the local tenant's choice where AUTH0-API.md says nothing: *assumed*, with
# where the wording comes from.

#: A body that is JSON but does not parse, or is not an object: 400 with the endpoint's
#: own error (``bad.request``, ``invalid_request``) and this text (hapi's wording for a JSON
#: payload that does not parse).
INVALID_JSON = "Invalid request payload JSON format"
#: A form-encoded body that does not parse (not UTF-8, too many fields): hapi's wording,
#: shortened.
INVALID_PAYLOAD = "Invalid request payload"
#: A body of another content type (AUTH0-API.md: JSON, "accept form-encoded too").
UNSUPPORTED_BODY = "The body must be application/json or application/x-www-form-urlencoded"
#: ``/passwordless/start`` with a ``client_id`` the tenant does not know: 400
#: ``bad.client_id`` (AUTH0-API.md lists that error for a missing client_id only). The
#: text is the one Auth0's error pages show for an unknown client at ``/authorize``.
UNKNOWN_CLIENT = "Unknown client: {client_id}"
#: Refusals of ``send`` at ``/passwordless/start``, 400 ``bad.send``: AUTH0-API.md lists
#: no error for it. Named after the property, as Auth0 names its other schema failures
#: (``bad.email``…), in the schema validator's words (as "Missing required property" and
#: "String does not match pattern"); the SMS text is the tenant's own.
SEND_NOT_A_STRING = "Expected type string but found type {type}"
SEND_NOT_AN_OPTION = "No enum match for: {value}"
SMS_SENDS_CODES_ONLY = "SMS connections can only send a code (send=code)"
#: The other schema failures at ``/passwordless/start``, with the error of the property
#: at fault (``bad.client_id``, ``bad.connection``, ``bad.email``, ``bad.phone_number``,
#: ``bad.authParams``): a property missing, or not of its type. AUTH0-API.md gives the
#: errors, not these texts: *assumed*, in the schema validator's words as above.
MISSING_PROPERTY = "Missing required property: {name}"
NOT_A_STRING = SEND_NOT_A_STRING
AUTH_PARAMS_NOT_AN_OBJECT = "Expected type object but found type {type}"
#: A value in ``authParams`` that is not a string (``"max_age": 5``): 400 ``bad.authParams``.
#: Auth0 may take it; the tenant refuses it, since every value goes into the link's query
#: string (*assumed*, the stricter reading; the text names the property as above).
AUTH_PARAM_NOT_A_STRING = "authParams.{name}: Expected type string but found type {type}"
#: ``/oauth/token`` (and a magic link) without a parameter it needs, or with one that is
#: not a string (``"otp": 123456`` in JSON): 400 ``invalid_request`` (AUTH0-API.md:
#: "missing parameter"; the texts are *assumed*).
MISSING_PARAMETER = "Missing required parameter: {name}"
INVALID_PARAMETER = "Invalid value for parameter: {name}"
#: ``/userinfo`` refusing a request: 401, a plain-text body and a ``WWW-Authenticate``
#: challenge (RFC 6750, 3): the bare one without a bearer token, with ``invalid_token``
#: for a token it does not know or that expired. AUTH0-API.md is silent: *assumed*.
USERINFO_REFUSED = "Unauthorized"
USERINFO_CHALLENGE = 'Bearer realm="Auth0"'
USERINFO_CHALLENGE_INVALID = (
    'Bearer realm="Auth0", error="invalid_token", '
    'error_description="The access token is invalid or expired"'
)
#: The title of the page ``/v2/logout`` and ``/oidc/logout`` answer with when they have
#: nowhere to go (its text is ``LOGGED_OUT_TEXT``): *assumed*.
LOGGED_OUT_TITLE = "Logged out"
#: ``/v2/logout`` (``returnTo``) or ``/oidc/logout`` (``post_logout_redirect_uri``) with a
#: URL that is not one of the Allowed Logout URLs: Auth0's error page, 400, never a
#: redirect (AUTH0-API.md: it "must be one of" them; the text is *assumed*, after the one
#: Auth0's page shows).
LOGOUT_URL_NOT_ALLOWED = (
    'invalid_request: The "{parameter}" querystring parameter "{url}" is not defined as '
    'a valid URL in "Allowed Logout URLs".'
)
#: ``/oidc/logout`` with a ``post_logout_redirect_uri`` but neither this application's
#: ``client_id`` nor an ``id_token_hint`` it signed: the error page, 400 (*assumed*;
#: OpenID RP-Initiated Logout needs one of them to check the URL against).
OIDC_LOGOUT_CLIENT_REQUIRED = "invalid_request: client_id or id_token_hint is required"
#: A path the tenant does not serve (404), or a method its path does not take (405, with
#: ``Allow``): JSON in Auth0's error shape, Werkzeug's names for the statuses (*assumed*).
NOT_FOUND_ERROR = "not_found"
NOT_FOUND = "Not Found"
METHOD_NOT_ALLOWED_ERROR = "method_not_allowed"
METHOD_NOT_ALLOWED = "Method Not Allowed"
#: The tenant's own failure (a bug, a raising ``on_message``): 500, never a traceback.
TENANT_FAILED_ERROR = "server_error"
TENANT_FAILED = "The tenant failed; see its log."
#: ``/oauth/token`` with ``audience`` naming no API of the tenant: 403 ``access_denied``
#: with this text (AUTH0-API.md lists ``access_denied`` for Actions and blocks only; the
#: text is the one Auth0 gives, as public reports show).
SERVICE_NOT_FOUND = "Service not found: {audience}"
#: The refresh-token grant asking for scopes the login was not granted: 403
#: ``invalid_scope`` (AUTH0-API.md is silent; the error is RFC 6749's, 6 and 5.2, the
#: text *assumed*).
SCOPE_NOT_GRANTED = "Scope not granted originally: {scopes}"
#: The title of Auth0's own error page, where a magic link that cannot be redirected
#: ends (an unknown client, a callback URL not allowed, the same-device rule).
ERROR_PAGE_TITLE = "Oops!, something went wrong"
#: A magic link whose ``redirect_uri`` is not one of the allowed callback URLs: Auth0's
#: error page with status 400, never a redirect (AUTH0-API.md says only that it must be
#: one of them; the text is the one Auth0's page shows).
CALLBACK_MISMATCH_STATUS = 400
CALLBACK_MISMATCH = (
    "Callback URL mismatch. {url} is not in the list of allowed callback URLs. Please go to "
    "the Application Settings page and make sure you are sending a valid callback url from "
    "your application."
)
#: A magic link with a ``response_type`` other than ``code``: redirected with 400
#: ``unsupported_response_type`` (RFC 6749, 4.1.2.1; AUTH0-API.md names ``code`` and says
#: token response types put tokens in the fragment, which this tenant does not serve).
UNSUPPORTED_RESPONSE_TYPE = "Unsupported response type: {response_type}"
