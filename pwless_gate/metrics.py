"""Optional Prometheus metrics, when ``prometheus-client`` is installed.

Counters of the audit events (logins started, codes sent, logins succeeded and
failed, throttles, logouts, allow-list refusals, by reason) and a histogram of
Auth0's latency by endpoint and outcome (``ok``, ``error``, ``unavailable``,
and ``decoy`` for a refused identifier's start: not an answer Auth0 gave in
that time). With ``metrics=true`` the gate builds
one :class:`Metrics` for its registry (the default registry unless
``metrics_registry`` is given, so an app that already exports Prometheus
metrics exports these too) and serves them at ``{prefix}/metrics``. Without
``metrics=true`` nothing is created and nothing is counted.

The metric objects are created once per registry, under a lock, before any
request is served: two gates in one process share them, and no request can
race another into registering a metric twice.

Several worker processes (gunicorn's ``--workers``) each count in their own
memory, so a scrape would get the numbers of whichever worker answered it.
prometheus-client's multiprocess mode fixes that: with
``PROMETHEUS_MULTIPROC_DIR`` set (in the environment gunicorn starts with,
before prometheus-client is imported) every process writes its values to
files there, and each scrape adds up the files of all processes, dead or
alive, in a fresh registry (:meth:`Metrics.exposition`). Emptying that
directory before the server starts, and ``mark_process_dead`` in gunicorn's
``child_exit`` hook, are the deployment's business
(``examples/gunicorn/gunicorn.conf.py``). In that mode a scrape holds every
metric any process of the server created, whatever its registry, and no
process or platform metrics (prometheus-client's own limits).
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any, ClassVar

from .errors import ConfigError

try:
    prometheus_client: Any = importlib.import_module("prometheus_client")
except ImportError:  # the optional extra is not installed
    prometheus_client = None

AVAILABLE = prometheus_client is not None

#: prometheus-client's own setting: where processes share their values (multiprocess mode).
MULTIPROC_SETTING = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_mode() -> bool:
    """Whether prometheus-client keeps values in files shared by processes: it decided
    once, when it was imported, from ``PROMETHEUS_MULTIPROC_DIR`` in the environment."""
    if prometheus_client is None:
        return False
    values = importlib.import_module("prometheus_client.values")
    return values.ValueClass is not values.MutexValue


class Metrics:
    """The gate's metrics in one Prometheus registry. Build with :meth:`for_registry`."""

    _by_registry: ClassVar[dict[int, Metrics]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._multiprocess = multiprocess_mode()
        if self._multiprocess:
            self._check_multiproc_dir()
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

        Raises ``RuntimeError`` when prometheus-client is not installed, and
        :class:`~pwless_gate.errors.ConfigError` in multiprocess mode when
        ``PROMETHEUS_MULTIPROC_DIR`` is not a directory this process can write to.
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
        """Record one call to Auth0 (``outcome``: ok, error, unavailable; decoy for a
        refused identifier's start that Auth0 refused as expected, timed with the
        pacer's wait: see :mod:`pwless_gate.pacing`)."""
        self._auth0.labels(endpoint=endpoint, outcome=outcome).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The registry in Prometheus's text format, and its content type. In
        multiprocess mode, the values of every process instead, added up from their
        files in a registry made for this scrape (a registry that holds metrics
        itself would export them twice)."""
        registry = self.registry
        if self._multiprocess:
            multiprocess = importlib.import_module("prometheus_client.multiprocess")
            registry = prometheus_client.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        body: bytes = prometheus_client.generate_latest(registry)
        return body, str(prometheus_client.CONTENT_TYPE_LATEST)

    @staticmethod
    def _check_multiproc_dir() -> None:
        # Else the first count of a request fails (FileNotFoundError), and every scrape.
        path = os.environ.get(MULTIPROC_SETTING) or os.environ.get(MULTIPROC_SETTING.lower())
        if not path or not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(
                MULTIPROC_SETTING,
                f"{path!r} is not a directory this process can write to (prometheus-client "
                "keeps the metrics of every worker there; create it, empty, before starting)",
            )
