"""Optional Prometheus metrics, when ``prometheus-client`` is installed.

Counters of the audit events (logins started, codes sent, logins succeeded and
failed, throttles, logouts, allow-list refusals, by reason) and a histogram of
Auth0's latency by endpoint and outcome. With ``metrics=true`` the gate builds
one :class:`Metrics` for its registry (the default registry unless
``metrics_registry`` is given, so an app that already exports Prometheus
metrics exports these too) and serves them at ``{prefix}/metrics``. Without
``metrics=true`` nothing is created and nothing is counted.

The metric objects are created once per registry, under a lock, before any
request is served: two gates in one process share them, and no request can
race another into registering a metric twice.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, ClassVar

try:
    prometheus_client: Any = importlib.import_module("prometheus_client")
except ImportError:  # the optional extra is not installed
    prometheus_client = None

AVAILABLE = prometheus_client is not None


class Metrics:
    """The gate's metrics in one Prometheus registry. Build with :meth:`for_registry`."""

    _by_registry: ClassVar[dict[int, Metrics]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._events = prometheus_client.Counter(
            "pwless_gate_events_total",
            "Sign-in events of the gate, as in the audit log.",
            ["event", "reason"],
            registry=registry,
        )
        self._auth0 = prometheus_client.Histogram(
            "pwless_gate_auth0_request_seconds",
            "Time spent waiting for Auth0, by endpoint and outcome.",
            ["endpoint", "outcome"],
            buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )

    @classmethod
    def for_registry(cls, registry: Any = None) -> Metrics:
        """The metrics of ``registry`` (Prometheus's default one when None), created once.

        Raises ``RuntimeError`` when prometheus-client is not installed.
        """
        if prometheus_client is None:
            raise RuntimeError("prometheus-client is not installed")
        registry = prometheus_client.REGISTRY if registry is None else registry
        with cls._lock:
            found = cls._by_registry.get(id(registry))
            if found is None or found.registry is not registry:
                found = cls._by_registry[id(registry)] = cls(registry)
            return found

    def count_event(self, event: str, reason: str) -> None:
        """Count one audit event."""
        self._events.labels(event=event, reason=reason or "-").inc()

    def observe_auth0(self, endpoint: str, seconds: float, outcome: str) -> None:
        """Record one call to Auth0 (``outcome``: ok, error, unavailable)."""
        self._auth0.labels(endpoint=endpoint, outcome=outcome).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The registry in Prometheus's text format, and its content type."""
        body: bytes = prometheus_client.generate_latest(self.registry)
        return body, str(prometheus_client.CONTENT_TYPE_LATEST)
