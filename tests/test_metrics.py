"""Prometheus metrics: counted events, Auth0 latency, the optional route."""

from __future__ import annotations

import re
import threading
from typing import Any

from prometheus_client import CollectorRegistry

from pwless_gate import PasswordlessGate
from pwless_gate.metrics import Metrics

from .helpers import RecordingApp, gate_config


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_metrics_route_counts_logins_and_auth0_latency(make_harness: Any) -> None:
    harness = make_harness(metrics=True)
    before = harness.client.get("/_gate/metrics").get_data(as_text=True)
    assert harness.login("ada@example.com").status_code == 303
    answer = harness.client.get("/_gate/metrics")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    for event, reason in [("code_sent", "email-code"), ("login_succeeded", "email")]:
        grew = sample(text, "pwless_gate_events_total", event=event, reason=reason) - sample(
            before, "pwless_gate_events_total", event=event, reason=reason
        )
        assert grew == 1
    assert (
        sample(
            text, "pwless_gate_auth0_request_seconds_count", endpoint="/oauth/token", outcome="ok"
        )
        >= 1
    )


def test_metrics_route_is_off_by_default(harness: Any) -> None:
    assert harness.client.get("/_gate/metrics").status_code == 404


def test_exposition_is_prometheus_text() -> None:
    body, content_type = Metrics.for_registry(CollectorRegistry()).exposition()
    assert content_type.startswith("text/plain")
    assert b"# TYPE pwless_gate_events_total counter" in body


def test_no_metric_is_created_when_metrics_are_off() -> None:
    registry = CollectorRegistry()
    PasswordlessGate(RecordingApp(), gate_config("http://127.0.0.1:9"), metrics_registry=registry)
    assert list(registry.collect()) == []


def test_gates_built_and_counting_at_once_share_one_set_of_metrics() -> None:
    """Lazily registered metrics raced on first use (``Duplicated timeseries``)."""
    registry = CollectorRegistry()
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker() -> None:
        try:
            start.wait()
            gate = PasswordlessGate(
                RecordingApp(),
                gate_config("http://127.0.0.1:9", metrics=True),
                metrics_registry=registry,
            )
            for _ in range(100):
                gate.views.deps.audit("login_started", ip="127.0.0.1", reason="email-code")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    body, _ = Metrics.for_registry(registry).exposition()
    assert (
        sample(
            body.decode(), "pwless_gate_events_total", event="login_started", reason="email-code"
        )
        == 800
    )
