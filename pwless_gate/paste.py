"""The PasteDeploy ``filter_app_factory`` named ``gate``.

In an ``.ini`` file::

    [filter-app:main]
    use = egg:pwless-gate#gate
    next = legacy
    auth0_domain = acme.eu.auth0.com

Settings in the section win over ``PWLESS_GATE_*`` variables; names are the
:class:`~pwless_gate.config.GateConfig` field names.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from .config import ENV_PREFIX, GateConfig
from .errors import ConfigError
from .middleware import PasswordlessGate

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def filter_app_factory(
    app: WSGIApplication, global_conf: dict[str, str], **local_conf: str
) -> PasswordlessGate:
    """Wrap ``app``; ``local_conf`` values are read like environment variables."""
    names = {f.name for f in dataclasses.fields(GateConfig) if f.init}
    unknown = sorted(set(local_conf) - names)
    if unknown:
        raise ConfigError(unknown[0], "is not a pwless-gate setting")
    environ = dict(os.environ)
    environ.update({ENV_PREFIX + key.upper(): value for key, value in local_conf.items()})
    return PasswordlessGate(app, GateConfig.from_env(environ))
