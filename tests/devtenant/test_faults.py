"""Injected failures: each mode, how many times, listing, clearing, and bad fault requests."""

from __future__ import annotations

import time

import pytest
import requests

from pwless_gate.devtenant import RunningTenant

from .calls import (
    EMAIL,
    RATE_LIMIT_BODY,
    TIMEOUT,
    MakeTenant,
    assert_rate_headers,
    otp,
    start,
    start_email,
)


def add_fault(tenant: RunningTenant, **fault: object) -> requests.Response:
    return requests.post(f"{tenant.url}/_dev/faults", json=fault, timeout=TIMEOUT)


def test_fault_500_answers_an_html_error_then_recovers(tenant: RunningTenant) -> None:
    assert add_fault(tenant, path="/oauth/token", mode="500").status_code == 201

    failed = otp(tenant, EMAIL, "123456")
    recovered = otp(tenant, EMAIL, "123456")

    assert failed.status_code == 500
    assert failed.headers["Content-Type"].startswith("text/html")
    assert recovered.status_code == 403


def test_fault_garbage_answers_200_with_a_body_that_is_not_json(tenant: RunningTenant) -> None:
    add_fault(tenant, path="/passwordless/start", mode="garbage")

    response = start(tenant, connection="email", email=EMAIL, send="code")

    assert response.status_code == 200
    with pytest.raises(ValueError):  # noqa: PT011 - requests raises its JSONDecodeError
        response.json()
    assert tenant.outbox() == []


def test_fault_429_answers_the_documented_rate_limit(tenant: RunningTenant) -> None:
    add_fault(tenant, path="/passwordless/start", mode="429")

    response = start(tenant, connection="email", email=EMAIL, send="code")

    assert response.status_code == 429
    assert response.json() == RATE_LIMIT_BODY
    assert_rate_headers(response)
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["Retry-After"]) > 0


def test_fault_repeats_the_given_number_of_times(tenant: RunningTenant) -> None:
    tenant.app.add_fault("/.well-known/jwks.json", "500", times=2)
    url = f"{tenant.url}/.well-known/jwks.json"

    statuses = [requests.get(url, timeout=TIMEOUT).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]


def test_faults_can_be_listed_and_cleared(tenant: RunningTenant) -> None:
    add_fault(tenant, path="/oauth/token", mode="500", times=3)
    url = f"{tenant.url}/_dev/faults"
    assert requests.get(url, timeout=TIMEOUT).json() == {
        "faults": [{"path": "/oauth/token", "mode": "500", "times": 3}]
    }

    assert requests.delete(url, timeout=TIMEOUT).status_code == 204

    assert requests.get(url, timeout=TIMEOUT).json() == {"faults": []}
    assert otp(tenant, EMAIL, "123456").status_code == 403
    tenant.app.add_fault("/oauth/token", "500")
    tenant.app.clear_faults()
    assert otp(tenant, EMAIL, "123456").status_code == 403


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"path": "/oauth/token", "mode": "teapot"}, id="mode-unknown"),
        pytest.param({"path": "/oauth/token"}, id="mode-missing"),
        pytest.param({"path": "oauth/token", "mode": "500"}, id="path-relative"),
        pytest.param({"path": "/_dev/faults", "mode": "500"}, id="path-dev"),
        pytest.param({"path": "/oauth/token", "mode": "500", "times": -1}, id="times-negative"),
        pytest.param({"path": "/oauth/token", "mode": "500", "ms": 5}, id="ms-without-latency"),
        pytest.param({"path": "/oauth/token", "mode": "latency"}, id="latency-without-ms"),
        pytest.param(
            {"path": "/oauth/token", "mode": "latency", "ms": 600_000}, id="latency-too-long"
        ),
        pytest.param({"path": "/oauth/token", "mode": "500", "times": "2"}, id="times-string"),
        pytest.param({"path": "/oauth/token", "mode": "500", "times": True}, id="times-bool"),
        pytest.param({"path": "/oauth/token", "mode": "500", "when": "now"}, id="unknown-field"),
    ],
)
def test_bad_fault_requests_are_refused(tenant: RunningTenant, fault: dict[str, object]) -> None:
    response = add_fault(tenant, **fault)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert requests.get(f"{tenant.url}/_dev/faults", timeout=TIMEOUT).json() == {"faults": []}


@pytest.mark.parametrize(
    ("path", "mode", "times"),
    [("/oauth/token", "teapot", 1), ("oauth/token", "500", 1), ("/oauth/token", "500", -1)],
    ids=["mode-unknown", "path-relative", "times-negative"],
)
def test_add_fault_refuses_bad_faults(
    tenant: RunningTenant, path: str, mode: str, times: int
) -> None:
    with pytest.raises(ValueError, match="must"):
        tenant.app.add_fault(path, mode, times)


def test_fault_body_that_is_not_json_is_refused(tenant: RunningTenant) -> None:
    response = requests.post(
        f"{tenant.url}/_dev/faults",
        data=b"{",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 400


def test_fault_timeout_stalls_then_answers(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(fault_delay=0.5)
    tenant.app.add_fault("/oauth/token", "timeout", times=2)

    with pytest.raises(requests.Timeout):
        requests.post(f"{tenant.url}/oauth/token", data={}, timeout=0.1)
    patient = requests.post(f"{tenant.url}/oauth/token", data={}, timeout=TIMEOUT)

    assert patient.status_code == 400  # stalled, then answered as usual


def test_fault_latency_delays_then_answers_normally(tenant: RunningTenant) -> None:
    assert add_fault(tenant, path="/passwordless/start", mode="latency", ms=150, times=2).ok
    listed = requests.get(f"{tenant.url}/_dev/faults", timeout=TIMEOUT).json()
    assert listed == {
        "faults": [{"path": "/passwordless/start", "mode": "latency", "times": 2, "ms": 150}]
    }
    for _ in range(2):
        started = time.monotonic()
        message = start_email(tenant)
        assert time.monotonic() - started >= 0.15
        assert message.code is not None
    assert requests.get(f"{tenant.url}/_dev/faults", timeout=TIMEOUT).json() == {"faults": []}


def test_fault_times_zero_lasts_until_cleared(tenant: RunningTenant) -> None:
    assert add_fault(tenant, path="/oauth/token", mode="500", times=0).ok
    for _ in range(5):
        assert otp(tenant, EMAIL, "123456").status_code == 500
    assert requests.delete(f"{tenant.url}/_dev/faults", timeout=TIMEOUT).ok
    assert otp(tenant, EMAIL, "123456").status_code == 403
