"""pwless-gate: an Auth0 Passwordless login in front of any WSGI app."""

from .config import GateConfig
from .errors import (
    Auth0Error,
    Auth0Unavailable,
    ConfigError,
    PwlessGateError,
    RateLimited,
    TokenError,
    TooManyAttempts,
    WrongCode,
)
from .middleware import PasswordlessGate, gate
from .sessions import User

__version__ = "0.2.0"

__all__ = [
    "Auth0Error",
    "Auth0Unavailable",
    "ConfigError",
    "GateConfig",
    "PasswordlessGate",
    "PwlessGateError",
    "RateLimited",
    "TokenError",
    "TooManyAttempts",
    "User",
    "WrongCode",
    "__version__",
    "gate",
]
