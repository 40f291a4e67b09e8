"""The emails and texts the local tenant "sends": it keeps them instead."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    """One email or SMS the tenant sent.

    ``code`` is always the one-time code; ``link`` is the magic link when the
    start asked for one (``send=link``), else ``None``. ``language`` is the
    ``x-request-language`` header of the ``/passwordless/start`` call, if any.
    """

    channel: str
    to: str
    code: str | None
    link: str | None
    language: str | None

    def to_json(self) -> dict[str, object]:
        """Return the message as the ``/_dev/outbox`` endpoint shows it."""
        return {
            "channel": self.channel,
            "to": self.to,
            "code": self.code,
            "link": self.link,
            "language": self.language,
        }

    def console_line(self) -> str:
        """Return the one line the command-line tenant prints for this message."""
        line = f"[dev-tenant] {self.channel} to {self.to}: code {self.code}"
        if self.link is not None:
            line += f"  link {self.link}"
        return line
