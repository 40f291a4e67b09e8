"""Email and phone identifiers: normalisation, allow-lists, masking.

Emails are checked with email-validator (no deliverability look-up, which
would need the network) and kept in the ASCII form Auth0 takes: an
internationalised domain as its ``xn--`` name, lower-cased as Auth0 stores
them. Auth0 sends only to ASCII local parts of at most 64 characters, so
other addresses are refused here, with a message, rather than by Auth0,
silently. Phone numbers become E.164 with phonenumbers; the sign-in form
also refuses numbers that cannot receive a text message. The allow-lists
are checked twice: before any message is sent and again on the verified
id_token.

This module does not talk to Auth0 and does not know about sessions.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from .languages import N_, Text
from .logtext import loggable

#: The longest email address there is (RFC 5321's path limit, less its angle brackets).
MAX_EMAIL = 254
#: The longest local part (before the @) there is (RFC 5321); Auth0 refuses longer ones.
MAX_LOCAL_PART = 64
#: A valid mobile number in international form, for pages with no ``default_region``.
INTERNATIONAL_EXAMPLE = "+44 7400 123456"
#: The longest phone number input read (with spaces, brackets, an extension…).
MAX_PHONE_INPUT = 40
#: In ``allowed_domains`` or ``allowed_phones``: every address, or every number.
ANYONE = "*"
#: The domain of :func:`pseudonym`'s addresses: ``.invalid`` is reserved (RFC 2606), so
#: no such address is anyone's or can receive mail.
PSEUDONYM_DOMAIN = "refused.invalid"
#: The country code of :func:`pseudonym`'s numbers: one the ITU assigned to no country.
PSEUDONYM_COUNTRY_CODE = "999"
#: The digits after it: E.164 numbers have at most 15.
PSEUDONYM_DIGITS = 15 - len(PSEUDONYM_COUNTRY_CODE)


class InvalidIdentifier(ValueError):
    """The typed email address or phone number cannot be used."""


def normalise_email(value: str) -> str:
    """The canonical form of an email address: ASCII (an internationalised domain as its
    ``xn--`` name), lower-cased. That is the form Auth0 is sent and stores, so it is the
    one its id_token names, the allow-lists hold, and the app gets as ``REMOTE_USER``;
    :func:`readable` shows the domain as typed.

    Raises :class:`InvalidIdentifier`.
    """
    value = value.strip()
    if not value:
        raise InvalidIdentifier(N_("Enter an email address like name@example.com."))
    if len(value) > MAX_EMAIL:
        raise InvalidIdentifier(N_("That email address is too long."))
    try:
        # Auth0 sends only to ASCII local parts (no SMTPUTF8): refused here, with a
        # message, or Auth0 would refuse the send and the person would never know.
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise InvalidIdentifier(_email_problem(value)) from None
    address = str(result.ascii_email)
    if len(address) > MAX_EMAIL:  # a domain's xn-- form is longer than its Unicode one
        raise InvalidIdentifier(N_("That email address is too long."))
    if len(result.local_part) > MAX_LOCAL_PART:
        raise InvalidIdentifier(N_("The part before the @ is too long (at most 64 characters)."))
    # Auth0 keeps email identities lower-cased; so does the gate, so one
    # person is one REMOTE_USER however they type their address.
    return address.lower()


def email_domain(value: str) -> str:
    """A domain as :func:`normalise_email` keeps it: ASCII (``bücher.example`` →
    ``xn--bcher-kva.example``), lower-cased. Raises :class:`InvalidIdentifier`."""
    try:
        result = validate_email(f"x@{value}", check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        problem = N_("That email address is not valid. Check it for typos.")
        raise InvalidIdentifier(problem) from None
    return str(result.ascii_domain).lower()


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
    if not local.isascii():
        return N_(
            "Sign-in emails cannot be sent to an address with accented or non-Latin letters "
            "before the @. Use another address."
        )
    return N_("That email address is not valid. Check it for typos.")


#: Numbers no text message reaches; the sign-in form refuses them rather than have the
#: SMS provider refuse the send unseen (the "sent" page, and no text). Landlines, free,
#: premium and shared-cost numbers and voicemail; UAN (a company's one number, routed to
#: its lines: the UK's 03 and 055) and pagers too. Allowed: MOBILE; FIXED_LINE_OR_MOBILE
#: (the US, Canada, China… do not tell the two apart, and most such numbers are mobiles);
#: PERSONAL_NUMBER (the UK's 070, forwarded to whatever phone its owner has) and VOIP
#: (many take texts); UNKNOWN (a valid number libphonenumber cannot type: not ours to refuse).
NOT_TEXTABLE = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.VOICEMAIL,
        phonenumbers.PhoneNumberType.UAN,
        phonenumbers.PhoneNumberType.PAGER,
    }
)


def normalise_phone(value: str, default_region: str | None = None, *, texts: bool = False) -> str:
    """The E.164 form of a phone number; raises :class:`InvalidIdentifier`.

    Numbers typed without ``+`` are read in ``default_region`` (an ISO code).
    With ``texts``, a number that cannot receive a text message (a landline, a
    free or premium number: :data:`NOT_TEXTABLE`) is refused too.
    """
    value = value.strip()
    if not value:
        raise InvalidIdentifier(
            Text(
                "Enter a phone number like %(example)s.",
                example=example_phone(default_region) or INTERNATIONAL_EXAMPLE,
            )
        )
    if len(value) > MAX_PHONE_INPUT:
        raise InvalidIdentifier(N_("That phone number is too long."))
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
    if texts and phonenumbers.number_type(number) in NOT_TEXTABLE:
        raise InvalidIdentifier(N_("That number cannot receive text messages."))
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def readable(identifier: str) -> str:
    """A normalised identifier as a person reads it: the address, or the number spaced out.

    ``+442079460958`` → ``+44 20 7946 0958``; ``ada@xn--bcher-kva.example`` →
    ``ada@bücher.example``, the domain as it was typed. Shown only to the person
    who typed it.
    """
    if identifier.startswith("+"):
        try:
            number = phonenumbers.parse(identifier, None)
        except phonenumbers.NumberParseException:
            return identifier
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
    if "xn--" in identifier:
        try:
            result = validate_email(identifier, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError:
            return identifier
        return f"{result.local_part}@{result.domain}"
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


def pseudonym(key: bytes, connection: str, identifier: str) -> str:
    """The name Auth0 is given for ``identifier`` (on ``connection``) in its place: an
    address (``r-<32 hex>@refused.invalid``) or an E.164 number (``+999`` and 12 digits)
    that is nobody's, as Auth0 reads usernames.

    An HMAC of the identifier under ``key``: the same identifier always gets the same
    pseudonym (so Auth0 counts its failures per identifier, as it does for real
    names), and without the key nobody can tell which identifier it stands for.
    """
    message = f"{connection}\x00{identifier.lower()}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    if connection == "sms":
        number = int.from_bytes(digest, "big") % 10**PSEUDONYM_DIGITS
        return f"+{PSEUDONYM_COUNTRY_CODE}{number:0{PSEUDONYM_DIGITS}d}"
    return f"r-{digest[:16].hex()}@{PSEUDONYM_DOMAIN}"


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
