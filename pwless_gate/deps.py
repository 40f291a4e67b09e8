"""The collaborators the gate's views share, built once by the middleware.

Nothing here does anything: :class:`Deps` is the one bundle the views,
:class:`~pwless_gate.signin.SignIn` and :class:`~pwless_gate.request.GateRequest`
receive, and :class:`Hooks` the application's callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .apptokens import AppTokens
from .audit import Audit
from .auth0 import Auth0Client
from .config import GateConfig
from .cookies import Cookies
from .csrf import CsrfGuard
from .decide import Authorize
from .idtokens import TokenVerifier
from .languages import Languages
from .machines import Machines
from .metrics import Metrics
from .pacing import Pacer
from .renew import Renewer
from .savedforms import SavedForms
from .sessions import SessionCache, User
from .throttle import Throttle
from .transactions import TransactionSigner

#: ``on_login(user, environ)`` / ``on_logout(user, environ)``.
UserCallback = Callable[[User, Mapping[str, Any]], None]


@dataclass(frozen=True)
class Hooks:
    """The application's callbacks; see :class:`~pwless_gate.PasswordlessGate`."""

    authorize: Authorize | None = None
    on_login: UserCallback | None = None
    on_logout: UserCallback | None = None


@dataclass(frozen=True)
class Deps:
    """Everything a view needs, built once per gate."""

    config: GateConfig
    auth0: Auth0Client
    verifier: TokenVerifier
    sessions: SessionCache
    transactions: TransactionSigner
    csrf: CsrfGuard
    cookies: Cookies
    throttle: Throttle
    audit: Audit
    clock: Callable[[], float]
    hooks: Hooks = Hooks()
    metrics: Metrics | None = None
    renewer: Renewer | None = None
    pacer: Pacer | None = None
    #: App tokens, with ``app_tokens`` on.
    tokens: AppTokens | None = None
    #: The page languages (built from the config when not given).
    languages: Languages | None = None
    #: Forms kept when a session ended before they were sent (None: not kept).
    saved_forms: SavedForms | None = None
    #: Admits allowed machine clients' bearer tokens (``allowed_clients``); None when off.
    machines: Machines | None = None
