"""An operator's own catalogs, read and checked when the gate is built.

A ``template_dir`` may hold ``i18n/<locale>/LC_MESSAGES/pwless_gate.mo``: its
entries replace the shipped texts (:mod:`pwless_gate.languages`). The shipped
catalogs are checked by the tests; an operator's are checked here, against
how the gate fills texts in: a translation may use only the ``%(name)s``
placeholders of its English text (a plural one: of either English form), and
must take the English text's values (none for a text without placeholders:
Jinja2's new-style gettext formats every text). A ``%`` that is no
placeholder must be written ``%%``. One wrong entry would otherwise answer
every page in its language with a 500, the error page included; a file that
is not a compiled catalog would stop start-up with a traceback. Both raise
:class:`~pwless_gate.errors.ConfigError` naming ``PWLESS_GATE_TEMPLATE_DIR``,
the file and the message id, as a template that does not compile does.

Not checked: HTML tags in a translation (the operator's own markup), and
whether a message id is one the gate uses (one it does not is never looked up).
"""

from __future__ import annotations

import gettext
import io
import os
import re
import struct
from collections.abc import Iterator

from babel.support import Translations

from .errors import ConfigError

SETTING = "PWLESS_GATE_TEMPLATE_DIR"
#: A named placeholder and its conversion: ``%(count)d`` → ``("count", "d")``.
_PLACEHOLDER = re.compile(r"%\(([^)]*)\)[-#0 +*.\d]*([a-zA-Z]?)")
#: Conversions that take a number.
_NUMERIC = frozenset("diouxXeEfFgGc")
#: What a broken ``.mo`` file makes :class:`gettext.GNUTranslations` raise.
_UNREADABLE = (OSError, ValueError, LookupError, IndexError, struct.error)


def load_own(template_dir: str, locale: str, domain: str) -> Translations | None:
    """The catalog of ``locale`` in ``template_dir/i18n``, as the shipped ones are found
    (``pt_BR``, else ``pt``); None when there is none.

    Raises :class:`ConfigError` for a file that cannot be read, is not a compiled
    catalog, or has an entry that cannot be filled in as its English text is.
    """
    path = gettext.find(domain, os.path.join(template_dir, "i18n"), [locale])
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise ConfigError(SETTING, f"{path}: {exc.strerror or exc}") from None
    try:
        translations = Translations(io.BytesIO(data), domain=domain)
    except _UNREADABLE:
        raise ConfigError(SETTING, f"{path}: not a compiled gettext catalog") from None
    try:
        entries = list(_entries(data, translations.charset() or "ascii"))
    except _UNREADABLE:  # texts in another charset than the header names
        raise ConfigError(SETTING, f"{path}: not a compiled gettext catalog") from None
    for english, forms in entries:
        problem = _problem(english, forms)
        if problem is not None:
            raise ConfigError(SETTING, f"{path}: the translation of {english[0]!r} {problem}")
    _check_plural(translations, path)
    return translations


def _check_plural(translations: Translations, path: str) -> None:
    """Raise :class:`ConfigError` when the catalog's ``Plural-Forms`` cannot be worked
    out for a count: gettext works it out for every text of a plural kind, found in the
    catalog or not, so each such text would fail (for English, which has no shipped
    catalog under the operator's, every page)."""
    for count in (*range(1001), 10**6, 10**9):
        try:
            translations.plural(count)
        except Exception as exc:  # the header's expression, run by gettext: anything
            raise ConfigError(
                SETTING, f"{path}: its Plural-Forms cannot be worked out for {count} ({exc})"
            ) from None


def _entries(data: bytes, charset: str) -> Iterator[tuple[list[str], list[str]]]:
    """The English text(s) (singular, plural) and translated form(s) of each entry of a
    ``.mo`` file :class:`gettext.GNUTranslations` has read; the header left out. (gettext
    keeps no plural English text, whose placeholders a translation may use too.)"""
    order = "<" if struct.unpack("<I", data[:4])[0] == gettext.GNUTranslations.LE_MAGIC else ">"
    count, originals, translated = struct.unpack(order + "3I", data[8:20])
    for i in range(count):
        entry = []
        for table in (originals, translated):
            length, offset = struct.unpack(order + "2I", data[table + 8 * i : table + 8 * i + 8])
            entry.append(data[offset : offset + length])
        original, translation = entry
        if original:
            yield (
                [str(part, charset) for part in original.split(b"\x00")],
                [str(part, charset) for part in translation.split(b"\x00")],
            )


def _problem(english: list[str], forms: list[str]) -> str | None:
    """What is wrong with ``forms``, translations of ``english``, or None.

    Each form is filled in with a value per placeholder of the English text: a number
    where it converts one (``%(count)d``), and for ``count`` in a plural text (the
    templates' ``{% trans count=… %}`` passes a number); a string otherwise.
    """
    plural = len(english) > 1
    values: dict[str, object] = {}
    for text in english:
        for name, conversion in _PLACEHOLDER.findall(text.replace("%%", "")):
            number = conversion in _NUMERIC or (plural and name == "count")
            values.setdefault(name, 1 if number else name)
    for form in forms:
        bare = form.replace("%%", "")
        for name, _conversion in _PLACEHOLDER.findall(bare):
            if name not in values:
                return f"uses %({name})s, which the English text does not have"
        if "%" in _PLACEHOLDER.sub("", bare):
            return "has a % that is no %(name)s placeholder (a percent sign is written %%)"
        try:
            form % values
        except (KeyError, TypeError, ValueError) as exc:
            return f"cannot be filled in as the English text is: {exc}"
    return None
