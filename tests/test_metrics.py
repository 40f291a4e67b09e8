"""Prometheus metrics: counted events, Auth0 latency, the optional route."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import pytest
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


@pytest.mark.parametrize(
    "public_url", ["https://tools.example", "https://tools.example/tools"], ids=["host", "mount"]
)
def test_health_and_metrics_answer_a_probe_by_ip_whatever_the_public_url(
    make_harness: Any, caplog: pytest.LogCaptureFixture, public_url: str
) -> None:
    """A scrape or a probe on loopback names the gate's IP, not the public address."""
    harness = make_harness(metrics=True, public_url=public_url)
    by_ip = {"Host": "127.0.0.1:8000"}
    with caplog.at_level(logging.WARNING, logger="pwless_gate"):
        metrics = harness.client.get("/_gate/metrics", headers=by_ip)
        health = harness.client.get("/_gate/health", headers=by_ip)
    assert metrics.status_code == 200
    assert b"pwless_gate_events_total" in metrics.data
    assert health.status_code == 200
    assert health.json == {"status": "ok"}
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    # The routes that build URLs, the static files and unknown paths still refuse it.
    for path in ("/_gate/login", "/_gate/userinfo", "/_gate/static/gate.css", "/_gate/nope"):
        assert harness.client.get(path, headers=by_ip).status_code == 400, path


def test_health_is_answered_by_ip_with_metrics_off(make_harness: Any) -> None:
    harness = make_harness(public_url="https://tools.example")
    by_ip = {"Host": "127.0.0.1"}
    assert harness.client.get("/_gate/health", headers=by_ip).status_code == 200
    assert harness.client.get("/_gate/metrics", headers=by_ip).status_code == 400  # no route


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("::ffff:127.0.0.1", True),
        ("::FFFF:127.0.0.2", True),
        ("::ffff:10.0.0.1", False),
        ("::1", True),
        ("2001:db8::ffff:7f00:1", False),
        ("127.0.0.1", True),
        ("not-an-ip", False),
    ],
    ids=["mapped-loopback", "mapped-upper", "mapped-other", "v6", "v6-not-mapped", "v4", "junk"],
)
def test_an_ipv4_mapped_client_is_matched_in_its_ipv4_form(ip: str, allowed: bool) -> None:
    config = gate_config("http://127.0.0.1:9")
    assert config.metrics_allowed(ip) is allowed


def test_a_dual_stack_socket_s_ipv4_client_reads_the_metrics(make_harness: Any) -> None:
    """Bound to ``[::]`` (or ``[::ffff:127.0.0.1]``), a server names an IPv4 client
    ``::ffff:127.0.0.1``: the default ``metrics_allow`` (loopback) lets it in."""
    harness = make_harness(metrics=True)
    mapped = {"REMOTE_ADDR": "::ffff:127.0.0.1"}
    assert harness.client.get("/_gate/metrics", environ_base=mapped).status_code == 200
    elsewhere = {"REMOTE_ADDR": "::ffff:192.0.2.7"}
    assert harness.client.get("/_gate/metrics", environ_base=elsewhere).status_code == 403


def test_a_refused_identifiers_decoy_is_not_counted_as_an_auth0_send(make_harness: Any) -> None:
    """Its success is the pacer's imitation: outcome ``decoy``, never ``ok``."""
    harness = make_harness(metrics=True, allowed_emails=("ada@example.com",))

    def starts(outcome: str) -> float:
        text = harness.client.get("/_gate/metrics").get_data(as_text=True)
        return sample(
            text,
            "pwless_gate_auth0_request_seconds_count",
            endpoint="/passwordless/start",
            outcome=outcome,
        )

    ok, decoy = starts("ok"), starts("decoy")
    for i in range(3):
        assert harness.start(f"x{i}@elsewhere.org").status_code == 200
    assert (starts("ok"), starts("decoy")) == (ok, decoy + 3)
    assert harness.start("ada@example.com").status_code == 200  # a real send still counts
    assert (starts("ok"), starts("decoy")) == (ok + 1, decoy + 3)
