"""``pwless-gate check`` run again and again against one tenant: its probe never locks it out."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from pwless_gate.check import probe_identifier, run_check
from pwless_gate.devtenant import DevTenant, serve_in_thread
from pwless_gate.devtenant.constants import BRUTE_FORCE_BLOCKED

from .examples.support import serving
from .helpers import CLIENT_ID, CLIENT_SECRET, FakeClock, gate_config


def check(url: str) -> tuple[int, str, str]:
    config = gate_config(url, methods=("email-code", "sms-code"))
    out, err = io.StringIO(), io.StringIO()
    status = run_check(config, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def found(out: str, label: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith(label + ":")]
    assert len(lines) == 1, out
    return lines[0].removeprefix(label + ":").strip()


def test_twelve_checks_in_a_row_all_pass() -> None:
    # Each check is one failed login per connection from this IP; Auth0 blocks a user
    # after ten from one IP (the tenant as a new one is: no auth0-forwarded-for trust).
    clock = FakeClock()
    tenant = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock)
    with serve_in_thread(tenant) as running:
        for run in range(12):
            status, out, err = check(running.url)
            assert status == 0, f"run {run + 1}: {err}"
            assert "connection: email: ok" in out
            assert "connection: sms: ok" in out
            clock.advance(1)  # /oauth/token's per-second limit is not what is tested


def test_the_probe_identifiers_are_new_each_run_and_nobody_s() -> None:
    emails = {probe_identifier("email") for _ in range(20)}
    assert len(emails) == 20
    assert all(email.endswith("@example.invalid") for email in emails)
    numbers = {probe_identifier("sms") for _ in range(20)}
    assert len(numbers) > 1
    for number in numbers:
        # +1, an area code (not N11), then 555-01XX: kept for fiction in every area code.
        assert re.fullmatch(r"\+1[2-9](?!11)\d\d55501\d\d", number), number


def test_a_blocked_probe_is_not_checked_rather_than_a_problem() -> None:
    # Should the tenant block the probe's identifier anyway (brute-force protection,
    # 429 too_many_attempts), the client's credentials were not what it answered.
    tenant = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)

    def blocking(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] != "/oauth/token":
            return tenant(environ, start_response)
        body = json.dumps({"error": "too_many_attempts", "error_description": BRUTE_FORCE_BLOCKED})
        start_response("429 Too Many Requests", [("Content-Type", "application/json")])
        return [body.encode()]

    with serving(blocking) as url:
        tenant.base_url = url
        status, out, err = check(url)
    assert status == 0, err
    assert found(out, "client").startswith("not checked (the probe user is blocked")
