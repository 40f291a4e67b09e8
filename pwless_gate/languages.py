"""The languages of the gate's pages: which are shipped, which one a request gets, its texts.

English is the language of the source (the message ids); every other shipped
language has a gettext catalog in ``pwless_gate/i18n/<locale>/LC_MESSAGES/``:
the ``.po`` file translators edit, and the ``.mo`` file compiled from it by
``make messages`` (``pybabel compile``), committed beside it and shipped in
the wheel as package data. A test fails when a ``.mo`` file is not the
compiled form of its ``.po`` file, when an entry is missing or fuzzy, or when
a translation's placeholders differ from the English ones. An operator's own
catalogs are checked when the gate is built (:mod:`pwless_gate.own_catalogs`).

A request's language (:meth:`Languages.choose`) is the one chosen on the
sign-in page (the language cookie), else the best match of ``Accept-Language``
among ``PWLESS_GATE_LANGUAGES``, else the first of those. The same language
is sent to Auth0 (``x-request-language``), so the email or text message and
the page agree.

Python code marks page texts with :func:`N_` (or :class:`Text` when they have
placeholders); they are translated when the page is rendered, in the
request's language. JSON answers stay in English: clients match on them.

Not done here: pluralised or localised *JSON*, or a time zone per person
(dates are shown in UTC, which the page says).
"""

from __future__ import annotations

import gettext
import math
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from importlib.resources import files
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time, format_timedelta, get_datetime_format
from babel.support import Translations
from babel.units import format_unit
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from .own_catalogs import load_own

#: The shipped languages, as ``<html lang>`` and Auth0 name them, each in its own words.
SHIPPED: Mapping[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "it": "Italiano",
    "nl": "Nederlands",
    "pt-BR": "Português (Brasil)",
    "pl": "Polski",
    "sv": "Svenska",
    "ja": "日本語",
    "ar": "العربية",
}
#: Languages written right to left.
RTL = frozenset({"ar"})
#: The gettext domain of the catalogs.
DOMAIN = "pwless_gate"
#: The longest language cookie value read.
_MAX_CHOICE = 16
#: How many recent (language cookie, ``Accept-Language``) pairs keep their answer, and
#: the longest ``Accept-Language`` header remembered (a few hundred KB at most).
_MEMO_SIZE = 2048
_MEMO_HEADER_MAX = 256
#: Unicode's isolates (left-to-right, first-strong) and their end: an address or number
#: filled into a right-to-left sentence keeps its own direction.
LRI, FSI, PDI = "\u2066", "\u2068", "\u2069"


def isolate(value: Any) -> Any:
    """``value`` isolated when it is a string (Markup stays Markup): left to right unless it
    holds right-to-left letters (a number like ``+44 7700 900123`` has no strong letter,
    and Chromium would lay it out right to left in a first-strong isolate)."""
    if isinstance(value, str):
        kind = type(value)
        rtl = any(unicodedata.bidirectional(c) in ("R", "AL") for c in value)
        return kind(FSI if rtl else LRI) + value + kind(PDI)
    return value


def N_(message: str) -> str:
    """Marks ``message`` for the catalogs; it is translated when a page shows it."""
    return message


class Text(str):
    """A page text with placeholders: English as a ``str``, translated when shown.

    ``Text("Signed in as %(who)s.", who="ada@example.com")`` is the string
    ``"Signed in as ada@example.com."`` wherever a string is used (JSON, logs,
    tests); a page looks ``msgid`` up in its catalog and fills in ``params``.
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Text:
        value = super().__new__(cls, msgid % params if params else msgid)
        value.msgid = msgid
        value.params = params
        return value


#: The units a :class:`Span` is said in, largest first, and their seconds.
_SPAN_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def span_unit(seconds: int) -> tuple[int, str]:
    """``(count, unit)`` of the largest unit that divides ``seconds``: ``7200`` → ``(2,
    "hour")``; ``45`` → ``(45, "second")``."""
    for unit, size in _SPAN_UNITS:
        if seconds >= size and seconds % size == 0:
            return seconds // size, unit
    return seconds, "second"


class Span(int):
    """A length of time, exact (``900`` → ``15 minutes``, ``7200`` → ``2 hours``), as a
    :class:`Text` placeholder: English as a string, in the page's language when shown."""

    def __str__(self) -> str:
        count, unit = span_unit(int(self))
        return f"{count} {unit}{'s' if count != 1 else ''}"


def locale_name(tag: str) -> str:
    """The Babel/gettext locale of a language tag: ``pt-BR`` → ``pt_BR``."""
    return tag.replace("-", "_")


def canonical(value: str) -> str | None:
    """The shipped tag ``value`` names (any case, ``_`` or ``-``), or None."""
    wanted = value.strip().replace("_", "-").lower()
    for tag in SHIPPED:
        if tag.lower() == wanted:
            return tag
    return None


def catalog_dir() -> str:
    """The directory of the shipped catalogs."""
    return str(files("pwless_gate").joinpath("i18n"))


class Translator:
    """The texts, dates and durations of one language."""

    def __init__(self, tag: str, translations: gettext.NullTranslations) -> None:
        self.tag = tag
        self.direction = "rtl" if tag in RTL else "ltr"
        # English dates as the pages always wrote them: 4 Mar 2026, 14:05.
        self.locale = Locale.parse("en_GB" if tag == "en" else locale_name(tag))
        self.translations = translations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def text(self, value: str | None) -> str | None:
        """``value`` translated: a :class:`Text` with its placeholders filled in, a plain
        string as a message id (returned as it is when the catalog does not have it)."""
        if value is None:
            return None
        if isinstance(value, Text):
            translated = self.gettext(value.msgid)
            if not value.params:
                return translated
            params = {
                k: self.span(v) if isinstance(v, Span) else v for k, v in value.params.items()
            }
            if self.direction == "rtl":
                return translated % {k: isolate(v) for k, v in params.items()}
            return translated % params
        return self.gettext(value)

    def minute(self, at: float) -> str:
        """``4 Mar 2026, 14:05 UTC`` in this language: to the minute, in UTC (the gate
        does not know the person's time zone)."""
        when = datetime.fromtimestamp(at, timezone.utc)
        pattern = str(get_datetime_format("medium", locale=self.locale))
        date = format_date(when, "medium", locale=self.locale)
        clock = format_time(when, "HH:mm", tzinfo=timezone.utc, locale=self.locale)
        return pattern.replace("'", "").replace("{1}", date).replace("{0}", clock) + " UTC"

    def span(self, seconds: int) -> str:
        """An exact :class:`Span` in this language: ``2 hours``, ``2 Stunden``, ``2時間``."""
        count, unit = span_unit(int(seconds))
        return format_unit(count, f"duration-{unit}", length="long", locale=self.locale)

    def duration(self, seconds: float) -> str:
        """``45 seconds`` under 90 seconds, else whole minutes rounded up (``2 minutes``)."""
        if seconds >= 90:
            delta = timedelta(minutes=math.ceil(seconds / 60))
            return format_timedelta(delta, granularity="minute", threshold=1000, locale=self.locale)
        return format_timedelta(
            timedelta(seconds=max(1, int(seconds))), threshold=1000, locale=self.locale
        )


class Languages:
    """The configured languages, their translators, and the choice for a request.

    ``tags`` are shipped tags, the first the fallback. ``override_dir`` is an
    operator's ``template_dir``: catalogs in ``<dir>/i18n/<locale>/LC_MESSAGES/``
    replace the shipped texts they hold. Raises
    :class:`~pwless_gate.errors.ConfigError` for one that is not a catalog, or has a
    text that cannot be filled in.
    """

    def __init__(self, tags: Iterable[str], override_dir: str | None = None) -> None:
        self.tags = tuple(tags)
        self.default = self.tags[0]
        self._lower = {tag.lower(): tag for tag in self.tags}
        self._primary: dict[str, str] = {}
        for tag in self.tags:
            self._primary.setdefault(tag.split("-")[0].lower(), tag)
        self.translators = {tag: Translator(tag, _load(tag, override_dir)) for tag in self.tags}
        # Single dict reads and writes are atomic in CPython: no lock needed.
        self._answers: dict[tuple[str | None, str | None], str] = {}

    def for_request(self, chosen: str | None, accept_language: str | None) -> str:
        """:meth:`choose` for a request's language cookie (``chosen``) and its raw
        ``Accept-Language`` header (parsed as Werkzeug's ``Request.accept_languages``).

        A browser sends the same two with every request, so the answer is
        remembered for a bounded number of recent pairs: the header is parsed
        once, not on every page.
        """
        key = (chosen, accept_language)
        found = self._answers.get(key)
        if found is not None:
            return found
        try:
            accepted = list(parse_accept_header(accept_language, LanguageAccept))
        except ValueError:
            accepted = []
        found = self.choose(chosen, accepted)
        if len(chosen or "") <= _MAX_CHOICE and len(accept_language or "") <= _MEMO_HEADER_MAX:
            if len(self._answers) >= _MEMO_SIZE:
                self._answers.clear()
            self._answers[key] = found
        return found

    def choose(self, chosen: str | None, accepted: Iterable[tuple[str, float]]) -> str:
        """The language of a request: ``chosen`` (the cookie) when configured, else the
        first of ``accepted`` (``Accept-Language`` values and their quality, best first)
        that matches a configured tag exactly or by its primary language, else
        :attr:`default`.

        A quality of 0 means "not this one" (RFC 9110): that language, and every tag
        under it (``ar;q=0`` refuses ``ar-EG``), is never chosen, not even as the
        fallback when another configured one is left; ``*`` stands for any configured
        language not refused. A language ranked below ``*`` (``*, de;q=0.1``) comes
        after every configured one the header does not name.
        """
        if chosen and len(chosen) <= _MAX_CHOICE:
            tag = self._lower.get(chosen.lower())
            if tag is not None:
                return tag
        wanted = [(value.strip().replace("_", "-").lower(), quality) for value, quality in accepted]
        refused = tuple(value for value, quality in wanted if quality <= 0)
        # Werkzeug puts `*` after every named range, even those of a lower quality.
        anything = max((quality for value, quality in wanted if value == "*"), default=0.0)

        def allowed(tag: str) -> bool:
            lower = tag.lower()
            return not any(lower == r or lower.startswith(r + "-") for r in refused)

        below_anything: list[str] = []  # configured tags named, but ranked below `*`
        for value, quality in wanted:
            if quality <= 0 or value == "*":
                continue
            match = self._lower.get(value) or self._primary.get(value.split("-")[0])
            if match is None or not allowed(match):
                continue
            if quality >= anything:
                return match
            if match not in below_anything:
                below_anything.append(match)
        unnamed = [tag for tag in self.tags if allowed(tag) and tag not in below_anything]
        return (unnamed or below_anything or [self.default])[0]

    def translator(self, tag: str) -> Translator:
        return self.translators.get(tag) or self.translators[self.default]

    def names(self) -> list[tuple[str, str]]:
        """``(tag, name in its own language)`` of every configured language."""
        return [(tag, SHIPPED[tag]) for tag in self.tags]


def _load(tag: str, override_dir: str | None) -> gettext.NullTranslations:
    """The shipped catalog of ``tag`` (none for English), with an operator's on top.

    Raises :class:`~pwless_gate.errors.ConfigError` for an operator's catalog that is
    not one, or whose texts cannot be filled in (:mod:`pwless_gate.own_catalogs`)."""
    locales = [locale_name(tag)]
    shipped: gettext.NullTranslations = gettext.NullTranslations()
    if tag != "en":
        shipped = Translations.load(catalog_dir(), locales, DOMAIN)
    if override_dir:
        own = load_own(override_dir, locales[0], DOMAIN)  # checked: ConfigError else
        if own is not None:
            if isinstance(shipped, Translations):
                shipped.merge(own)
            else:
                shipped = own
    return shipped
