"""Email and phone identifiers: normalisation, allow-lists, masking.

Emails are normalised the way email-validator does (Unicode NFC, domain
IDNA-checked; no deliverability look-up, which would need the network), then
lower-cased as Auth0 stores them. Phone numbers become E.164 with phonenumbers. The allow-lists are
checked twice: before any message is sent and again on the verified
id_token.

This module does not talk to Auth0 and does not know about sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from .languages import N_, Text
from .logtext import loggable

#: The longest email address there is (RFC 5321's path limit, less its angle brackets).
MAX_EMAIL = 254
#: In ``allowed_domains`` or ``allowed_phones``: every address, or every number.
ANYONE = "*"


class InvalidIdentifier(ValueError):
    """The typed email address or phone number cannot be used."""


def normalise_email(value: str) -> str:
    """The canonical, lower-cased form of an email address.

    Raises :class:`InvalidIdentifier`.
    """
    value = value.strip()
    if not value:
        raise InvalidIdentifier(N_("Enter an email address like name@example.com."))
    if len(value) > MAX_EMAIL:
        raise InvalidIdentifier(N_("That email address is too long."))
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidIdentifier(_email_problem(value)) from None
    # Auth0 keeps email identities lower-cased; so does the gate, so one
    # person is one REMOTE_USER however they type their address.
    return result.normalized.lower()


def _email_problem(value: str) -> str:
    """What is wrong with an address email-validator refused, in words every page language
    has (the library's own reasons are English only): the usual slips by name, anything
    else as "not valid"."""
    local, at, domain = value.rpartition("@")
    if not at:
        return N_("An email address needs an @, as in name@example.com.")
    if any(ch.isspace() for ch in value):
        return N_("An email address has no spaces. Check the one you typed.")
    if not local or not domain:
        return N_("Part of that email address is missing. Enter it like name@example.com.")
    if "." not in domain:
        return N_("The part after the @ needs a dot, as in example.com.")
    return N_("That email address is not valid. Check it for typos.")


def normalise_phone(value: str, default_region: str | None = None) -> str:
    """The E.164 form of a phone number; raises :class:`InvalidIdentifier`.

    Numbers typed without ``+`` are read in ``default_region`` (an ISO code).
    """
    value = value.strip()
    if not value or len(value) > 40:
        raise InvalidIdentifier(
            Text(
                "Enter a phone number like %(example)s.",
                example=example_phone(default_region) or "+44 20 7946 0958",
            )
        )
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        if default_region:
            raise InvalidIdentifier(N_("That phone number is not valid.")) from None
        raise InvalidIdentifier(
            N_("That phone number is not valid. Start it with + and the country code.")
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier(N_("That phone number is not valid."))
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def readable(identifier: str) -> str:
    """A normalised identifier as a person reads it: the address, or the number spaced out.

    ``+442079460958`` → ``+44 20 7946 0958``. Shown only to the person who typed it.
    """
    if identifier.startswith("+"):
        try:
            number = phonenumbers.parse(identifier, None)
        except phonenumbers.NumberParseException:
            return identifier
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
    return identifier


def example_phone(region: str | None) -> str | None:
    """A valid mobile number of ``region`` as a person there types it, or None.

    ``GB`` → ``07400 123456``, ``US`` → ``(201) 555-0123`` (libphonenumber's
    examples). None without a region, or for one with no example.
    """
    if region is None:
        return None
    number = phonenumbers.example_number_for_type(
        region, phonenumbers.PhoneNumberType.MOBILE
    ) or phonenumbers.example_number(region)
    if number is None:
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))


def mask(identifier: str) -> str:
    """A form safe to show and log: ``a***@example.com``, ``+44*******58``; a control
    character (a newline of a forged log line) escaped, the length capped (:func:`loggable`)."""
    if "@" in identifier:
        local, _, domain = identifier.rpartition("@")
        return loggable(f"{local[:1]}***@{domain}")
    if len(identifier) <= 5:
        return "*" * len(identifier)
    return loggable(identifier[:3] + "*" * (len(identifier) - 5) + identifier[-2:])


@dataclass(frozen=True)
class AllowList:
    """Who may enter: nobody, unless listed. ``*`` in domains or phones admits every
    email address or every phone number, on purpose.

    ``domains`` entries match the email's domain exactly; an entry with a
    leading dot (``.example.com``) also admits its subdomains. Matching is on
    the part after the last ``@`` of a normalised address, at a dot boundary.
    """

    emails: frozenset[str] = frozenset()
    domains: tuple[str, ...] = ()
    phones: frozenset[str] = frozenset()

    @property
    def any_email(self) -> bool:
        return ANYONE in self.domains

    @property
    def any_phone(self) -> bool:
        return ANYONE in self.phones

    @property
    def admits_emails(self) -> bool:
        """Whether any email address at all may enter."""
        return bool(self.emails or self.domains)

    @property
    def admits_phones(self) -> bool:
        """Whether any phone number at all may enter."""
        return bool(self.phones)

    def allows_email(self, email: str) -> bool:
        """True if the normalised ``email`` may enter."""
        local, at, domain = email.rpartition("@")
        if not at or not local:
            return False
        if self.any_email or email.lower() in self.emails:
            return True
        domain = domain.lower()
        for allowed in self.domains:
            if allowed.startswith("."):
                if domain == allowed[1:] or domain.endswith(allowed):
                    return True
            elif domain == allowed:
                return True
        return False

    def allows_phone(self, phone: str) -> bool:
        """True if the E.164 ``phone`` may enter."""
        return self.any_phone or phone in self.phones

    def describe(self) -> str:
        """Who may enter, in words (for ``pwless-gate check`` and the demo)."""
        parts = []
        if self.any_email:
            parts.append("anyone with an email address")
        else:
            parts += [
                f"anyone with an address at {d.lstrip('.')}"
                + (" or its subdomains" if d.startswith(".") else "")
                for d in self.domains
            ]
            if self.emails:
                parts.append(
                    f"{len(self.emails)} listed address{'es' if len(self.emails) > 1 else ''}"
                )
        if self.any_phone:
            parts.append("anyone with a phone number")
        elif self.phones:
            parts.append(
                f"{len(self.phones)} listed phone number{'s' if len(self.phones) > 1 else ''}"
            )
        return "; ".join(parts) or "nobody"
