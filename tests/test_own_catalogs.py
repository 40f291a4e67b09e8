"""An operator's catalogs in ``template_dir/i18n``: read and checked when the gate is built.

A file that is not a compiled catalog, or a translation that cannot be filled in
as its English text is, stops start-up with one :class:`ConfigError` naming the
setting, the file and the message id; a sound catalog (the shipped ones read as
an operator's, too) is taken as it is.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from pwless_gate.errors import ConfigError
from pwless_gate.languages import SHIPPED, Languages

PACKAGE = Path(__file__).resolve().parent.parent / "pwless_gate"
HELP = "Need help? Contact %(contact)s."
FILES = ("It includes a file:", "It includes %(count)s files:")
TOKENS = ("Revoked %(count)s token.", "Revoked %(count)s tokens.")


def write_catalog(template_dir: Path, entries: dict[Any, Any], locale: str = "de") -> Path:
    """A ``.mo`` file of ``entries`` (English → translation; a pair of each for a plural
    text) where the gate looks for the operator's ``locale`` catalog."""
    folder = template_dir / "i18n" / locale / "LC_MESSAGES"
    folder.mkdir(parents=True)
    catalog = Catalog(locale=locale)
    for english, translated in entries.items():
        catalog.add(english, translated)
    path = folder / "pwless_gate.mo"
    with open(path, "wb") as mo:
        write_mo(mo, catalog)
    return path


@pytest.mark.parametrize(
    ("entries", "msgid"),
    [
        ({HELP: "Hilfe? Schreiben Sie an %(kontakt)s."}, HELP),
        ({"Sign in": "Anmelden bei %(brand)s"}, "Sign in"),
        ({"Sign in": "Anmelden %s"}, "Sign in"),
        ({"Sign in": "Zu 100 % anmelden"}, "Sign in"),
        ({HELP: "Hilfe? Schreiben Sie an %(contact."}, HELP),
        ({HELP: "Hilfe? Schreiben Sie an %(contact)d."}, HELP),
        ({HELP: "Hilfe? Schreiben Sie an %(contact)q."}, HELP),
        ({"Sign in": "Anmelden", HELP: "%(contact)s und %(brand)s"}, HELP),
        ({TOKENS: ("%(count)s Token widerrufen.", "%(anzahl)s Tokens widerrufen.")}, TOKENS[0]),
        ({FILES: ("Eine Datei:", "%(count)s Dateien (%(name)s):")}, FILES[0]),
    ],
    ids=[
        "another-name",
        "a-name-where-there-is-none",
        "positional",
        "stray-percent",
        "unfinished",
        "number-for-a-string",
        "unknown-conversion",
        "second-entry",
        "plural-another-name",
        "plural-a-name-neither-form-has",
    ],
)
def test_a_translation_that_cannot_be_filled_in_stops_start_up(
    tmp_path: Path, entries: dict[Any, Any], msgid: str
) -> None:
    path = write_catalog(tmp_path, entries)
    with pytest.raises(ConfigError) as caught:
        Languages(["en", "de"], str(tmp_path))
    assert caught.value.setting == "PWLESS_GATE_TEMPLATE_DIR"
    assert str(path) in caught.value.problem
    assert repr(msgid) in caught.value.problem
    assert "\n" not in str(caught.value)


def test_the_catalog_the_gate_would_read_is_the_one_checked(tmp_path: Path) -> None:
    """``pt-BR`` reads ``i18n/pt/`` when there is no ``i18n/pt_BR/``, as gettext finds it."""
    path = write_catalog(tmp_path, {"Sign in": "Entrar em %(brand)s"}, locale="pt")
    Languages(["en", "de"], str(tmp_path))  # no Portuguese: never read
    with pytest.raises(ConfigError) as caught:
        Languages(["en", "pt-BR"], str(tmp_path))
    assert str(path) in caught.value.problem


@pytest.mark.parametrize(
    "content",
    [
        b"not a catalog\n",
        b"",
        b'msgid "Sign in"\nmsgstr "Anmelden"\n',  # a .po file where the .mo belongs
        b"\xde\x12\x04\x95" + b"\x00" * 8,  # the magic number, then nothing whole
        b"\xde\x12\x04\x95" + b"\x00" * 4 + b"\x05\x00\x00\x00" + b"\xff" * 12,  # beyond its end
    ],
    ids=["text", "empty", "po-file", "truncated", "offsets-beyond-the-end"],
)
def test_a_file_that_is_not_a_compiled_catalog_stops_start_up(
    tmp_path: Path, content: bytes
) -> None:
    folder = tmp_path / "i18n" / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "pwless_gate.mo").write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        Languages(["en", "de"], str(tmp_path))
    assert caught.value.setting == "PWLESS_GATE_TEMPLATE_DIR"
    assert str(folder / "pwless_gate.mo") in caught.value.problem
    assert "not a compiled gettext catalog" in caught.value.problem


def mo_bytes(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A ``.mo`` file of ``entries`` in the order given, header entries included: files
    gettext reads, but that babel's writer would never make."""
    count, originals = len(entries), 28
    translations = originals + 8 * count
    data = translations + 8 * count
    blob, table, translated = b"", b"", b""
    for original, _ in entries:
        table += struct.pack("<2I", len(original), data + len(blob))
        blob += original + b"\0"
    for _, text in entries:
        translated += struct.pack("<2I", len(text), data + len(blob))
        blob += text + b"\0"
    head = struct.pack("<7I", 0x950412DE, 0, count, originals, translations, 0, 0)
    return head + table + translated + blob


def header(charset: bytes, plural: bytes = b"nplurals=2; plural=(n != 1);") -> bytes:
    return b"Content-Type: text/plain; charset=" + charset + b"\nPlural-Forms: " + plural + b"\n"


@pytest.mark.parametrize(
    ("locale", "entries", "problem"),
    [
        ("de", [(b"Sign in", b"Anmelden"), (b"", header(b"utf-16"))], "not a compiled"),
        (
            "de",
            [(b"", header(b"latin-1")), (b"Sign in", b"Anm\xe9lden"), (b"", header(b"utf-8"))],
            "not a compiled",
        ),
        ("en", [(b"", header(b"utf-8", b"nplurals=2; plural=(n / 0);"))], "Plural-Forms"),
        ("de", [(b"", header(b"utf-8", b"nplurals=2; plural=(n % (n - 7));"))], "Plural-Forms"),
    ],
    ids=["header-last-in-utf-16", "two-headers", "plural-divides-by-zero", "plural-fails-for-7"],
)
def test_a_catalog_gettext_reads_but_the_gate_could_not_use_stops_start_up(
    tmp_path: Path, locale: str, entries: list[tuple[bytes, bytes]], problem: str
) -> None:
    """Texts in another charset than the header said raised UnicodeDecodeError (a
    traceback); a Plural-Forms that fails for a count passed, then gettext ran it for
    every plural text: with an English catalog, every page was a 500."""
    folder = tmp_path / "i18n" / locale / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "pwless_gate.mo").write_bytes(mo_bytes(entries))
    with pytest.raises(ConfigError) as caught:
        Languages(["en", "de"], str(tmp_path))
    assert caught.value.setting == "PWLESS_GATE_TEMPLATE_DIR"
    assert str(folder / "pwless_gate.mo") in caught.value.problem
    assert problem in caught.value.problem


def test_a_catalog_that_cannot_be_read_stops_start_up(tmp_path: Path) -> None:
    folder = tmp_path / "i18n" / "de" / "LC_MESSAGES" / "pwless_gate.mo"
    folder.mkdir(parents=True)  # a folder where the file belongs
    with pytest.raises(ConfigError) as caught:
        Languages(["en", "de"], str(tmp_path))
    assert str(folder) in caught.value.problem


def test_a_sound_catalog_is_taken(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {
            "Sign in": "Zu 100 %% anmelden",
            HELP: "Fragen? %(contact)s hilft.",
            FILES: ("Eine Datei:", "%(count)d Dateien:"),  # the count is left out, or a number
            TOKENS: ("Ein Token widerrufen.", "%(count)s Tokens widerrufen."),
        },
    )
    translator = Languages(["en", "de"], str(tmp_path)).translator("de")
    assert translator.gettext("Sign in") == "Zu 100 %% anmelden"
    assert translator.ngettext(*FILES, 3) % {"count": 3} == "3 Dateien:"
    assert translator.gettext("Email me a code") == "Code per E-Mail senden"  # the shipped one


def test_the_shipped_catalogs_pass_as_an_operator_s(tmp_path: Path) -> None:
    """The check refuses nothing the shipped catalogs do: their plural texts whose
    singular leaves out the count, their markup, their placeholders."""
    languages = Languages(list(SHIPPED), str(PACKAGE))
    assert languages.translator("ja").gettext("Sign in") == "サインイン"
