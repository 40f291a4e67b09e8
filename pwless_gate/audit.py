"""The audit trail: one structured log event per security-relevant step.

Events go to the ``pwless_gate.audit`` logger at INFO, with the fields in
``extra`` (``event``, ``ip``, ``who`` and ``reason``) and a readable message.
``who`` is always masked; codes, tokens and secrets are never passed here.
Every field may hold a client's text (a Basic user name, a forwarded
address): its control and format characters are escaped and its length
capped (:func:`~pwless_gate.logtext.loggable`), so no client writes a line
of its own into the log.
With metrics on, each event is also counted.
"""

from __future__ import annotations

import logging
import time

from .identity import mask
from .logtext import loggable
from .metrics import Metrics

logger = logging.getLogger("pwless_gate.audit")

EVENTS = frozenset(
    {
        "login_started",
        "code_sent",
        "login_succeeded",
        "login_failed",
        "throttled",
        "logout",
        "sessions_ended",
        "refused_by_allow_list",
        "refused_by_authorize",
        "refused_by_rule",
        "app_token_created",
        "app_token_first_use",
        "app_token_revoked",
        "app_token_refused",
    }
)


class Audit:
    """Writes audit events; one per gate, counting them in ``metrics`` when given."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._metrics = metrics

    def __call__(
        self, event: str, *, ip: str, identifier: str | None = None, reason: str = ""
    ) -> None:
        """Log one audit event; ``identifier`` is masked, and every field made loggable,
        before it is logged."""
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        if self._metrics is not None:
            self._metrics.count_event(event, reason)
        who = loggable(mask(identifier)) if identifier else "-"
        ip = loggable(ip)
        reason = loggable(reason)
        logger.info(
            "%s ip=%s who=%s%s",
            event,
            ip or "-",
            who,
            f" reason={reason}" if reason else "",
            extra={"event": event, "ip": ip, "who": who, "reason": reason, "at": time.time()},
        )
