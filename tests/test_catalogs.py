"""The translation catalogs: complete, current, compiled, and faithful to the English placeholders.

Each failure names what to do: a page text added or changed in the code or a
template without ``make messages`` is listed as missing; an entry left empty
or fuzzy, or whose ``%(name)s`` placeholders or HTML tags differ from the
English, is listed with its language; a ``.mo`` file that is not the
compiled form of its ``.po`` file asks for ``make messages`` again.
"""

from __future__ import annotations

import gettext
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from pwless_gate.languages import DOMAIN, SHIPPED, catalog_dir, locale_name

PACKAGE = Path(__file__).resolve().parent.parent / "pwless_gate"
CATALOGS = Path(catalog_dir())
LOCALES = [locale_name(tag) for tag in SHIPPED if tag != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
TAG = re.compile(r"</?([a-z]+)[^>]*>")


def _source_messages() -> set[Any]:
    """Every page text in the code and templates, as ``make messages`` extracts it."""
    keywords = {**DEFAULT_KEYWORDS, "N_": None, "Text": None}
    found = extract_from_dir(
        str(PACKAGE),
        method_map=[("templates/**.html", "jinja2"), ("**.py", "python")],
        options_map={"templates/**.html": {"trimmed": "true"}},
        keywords=keywords,
    )
    return {message for _, _, message, _, _ in found}


def _catalog(locale: str) -> Catalog:
    with open(CATALOGS / locale / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as po:
        return read_po(po, locale=locale)


@pytest.fixture(scope="module")
def sources() -> set[Any]:
    return _source_messages()


@pytest.mark.parametrize("locale", LOCALES)
def test_every_page_text_is_in_the_catalog(locale: str, sources: set[Any]) -> None:
    catalog = _catalog(locale)
    ids = {message.id for message in catalog if message.id}
    missing = sorted(str(m) for m in sources - ids)
    assert not missing, f"run `make messages` and translate, for {locale}: {missing}"
    stale = sorted(str(m) for m in ids - sources)
    assert not stale, f"no longer used; run `make messages` ({locale}): {stale}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_entry_is_translated_and_not_fuzzy(locale: str) -> None:
    catalog = _catalog(locale)
    untranslated = [
        message.id
        for message in catalog
        if message.id
        and (
            message.fuzzy
            or not message.string
            or (isinstance(message.string, tuple) and not all(message.string))
        )
    ]
    assert untranslated == [], f"empty or fuzzy in {locale}"
    assert not catalog.fuzzy, f"the {locale} catalog's header is marked fuzzy"


def _forms(message: Any) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_and_tags_are_the_english_ones(locale: str) -> None:
    wrong = []
    for message in _catalog(locale):
        if not message.id:
            continue
        english = list(message.id) if isinstance(message.id, tuple) else [message.id]
        names = set().union(*(set(PLACEHOLDER.findall(e)) for e in english))
        tags = Counter(TAG.findall(english[-1]))
        for form in _forms(message):
            used = set(PLACEHOLDER.findall(form))
            # A plural form may leave out the count ("one file"); nothing else may go.
            needed = names - {"count"} if isinstance(message.id, tuple) else names
            if not needed <= used or not used <= names:
                wrong.append((english[0], form))
            if Counter(TAG.findall(form)) != tags:
                wrong.append((english[0], form))
            if "%" in PLACEHOLDER.sub("", form):
                wrong.append((english[0], form))  # a stray % breaks the formatting
    assert wrong == [], f"placeholders or tags differ in {locale}"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_shipped_mo_file_is_the_compiled_po_file(locale: str) -> None:
    mo = CATALOGS / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    assert mo.is_file(), f"missing {mo}: run `make messages`"
    with open(mo, "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    expected: dict[Any, str] = {}
    for message in _catalog(locale):
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            for index, form in enumerate(_forms(message)):
                expected[(message.id[0], index)] = form
        else:
            expected[message.id] = message.string
    actual = {k: v for k, v in compiled._catalog.items() if k != ""}  # type: ignore[attr-defined]
    assert actual == expected, f"{mo} is not the compiled .po file: run `make messages`"


def test_every_shipped_language_has_a_catalog_and_the_wheel_takes_them() -> None:
    present = sorted(p.name for p in CATALOGS.iterdir() if p.is_dir())
    assert present == sorted(LOCALES)
    setup = (PACKAGE.parent / "setup.cfg").read_text()
    assert "i18n/*/LC_MESSAGES/*.mo" in setup
