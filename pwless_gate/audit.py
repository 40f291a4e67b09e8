"""The audit trail: one structured log event per security-relevant step.

Events go to the ``pwless_gate.audit`` logger at INFO, with the fields in
``extra`` (``event``, ``ip``, ``who`` and ``reason``) and a readable message.
``who`` is always masked; codes, tokens and secrets are never passed here.
Each event is also counted in :mod:`pwless_gate.metrics`.
"""

from __future__ import annotations

import logging
import time

from . import metrics
from .identity import mask

logger = logging.getLogger("pwless_gate.audit")

EVENTS = frozenset(
    {
        "login_started",
        "code_sent",
        "login_succeeded",
        "login_failed",
        "throttled",
        "logout",
        "refused_by_allow_list",
    }
)


def audit(event: str, *, ip: str, identifier: str | None = None, reason: str = "") -> None:
    """Log one audit event; ``identifier`` is masked before it is logged."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    metrics.count_event(event, reason)
    who = mask(identifier) if identifier else "-"
    logger.info(
        "%s ip=%s who=%s%s",
        event,
        ip or "-",
        who,
        f" reason={reason}" if reason else "",
        extra={"event": event, "ip": ip, "who": who, "reason": reason, "at": time.time()},
    )
