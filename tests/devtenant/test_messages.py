"""The messages the tenant keeps instead of sending: the console line, the ``on_message`` hook."""

from __future__ import annotations

from pwless_gate.devtenant import Message

from .calls import (
    EMAIL,
    MakeTenant,
    start_email,
    start_sms,
)


def test_message_console_line_shows_code_and_link() -> None:
    message = Message("email", EMAIL, "123456", "http://t/l", None)

    assert message.console_line() == f"[dev-tenant] email to {EMAIL}: code 123456  link http://t/l"


def test_on_message_receives_every_message(make_tenant: MakeTenant) -> None:
    seen: list[Message] = []
    tenant = make_tenant(on_message=seen.append)

    start_email(tenant)
    start_sms(tenant)

    assert seen == tenant.outbox()
    assert [message.channel for message in seen] == ["email", "sms"]
