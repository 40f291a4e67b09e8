"""A local stand-in for an Auth0 tenant's passwordless endpoints, for development and tests.

It serves, over real HTTP, what Auth0's Authentication API does for a
regular web application using Passwordless (see ``AUTH0-API.md``):
``/passwordless/start`` with its validation, errors, rate limits and the
``auth0-forwarded-for`` rule; brute-force protection and suspicious-IP
throttling; one-time codes with their length, lifetime,
three attempts and single use; magic links through
``/passwordless/verify_redirect``; the passwordless OTP, authorization-code
and refresh-token grants with RS256 id_tokens; JWKS (a signing key and the
next one, with certificates), OpenID discovery,
``/userinfo`` and logout, each under a rate limit of its own, with the
``x-ratelimit-*`` headers on every answer. Messages Auth0 would email or
text are kept in an outbox (``GET /_dev/outbox``) and printed by the command
line; failures can be injected (``POST /_dev/faults``).

It is a development and test tool, never a production identity provider:
everything lives in memory, the signing keys are new on every start, there is
one application, no ``/authorize`` and no real email or SMS. It imports
nothing from the gate, so the gate is tested against it as against Auth0.
"""

from __future__ import annotations

from .app import DevTenant
from .messages import Message
from .serving import RunningTenant, main_serve, serve_in_thread

__all__ = ["DevTenant", "Message", "RunningTenant", "main_serve", "serve_in_thread"]
