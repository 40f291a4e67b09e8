"""Pages in the reader's language: the choice, what it reaches, and what operators override."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from pwless_gate import GateConfig
from pwless_gate.errors import ConfigError
from pwless_gate.languages import SHIPPED, Languages, Translator
from pwless_gate.sessions import new_handle, new_session_id

from ..helpers import Harness, hidden

BASE_ENV = {
    "PWLESS_GATE_AUTH0_DOMAIN": "http://127.0.0.1:9",
    "PWLESS_GATE_CLIENT_ID": "id",
    "PWLESS_GATE_CLIENT_SECRET": "secret",
    "PWLESS_GATE_ALLOWED_DOMAINS": "*",
    "PWLESS_GATE_STORE": "cookie",
}
BASE_KWARGS: dict[str, Any] = {
    "auth0_domain": "http://127.0.0.1:9",
    "client_id": "id",
    "client_secret": "secret",
    "allowed_domains": ("*",),
    "store": "cookie",
}
HEADINGS = {
    "en": "Sign in",
    "de": "Anmelden",
    "fr": "Se connecter",
    "es": "Iniciar sesión",
    "it": "Accedi",
    "nl": "Inloggen",
    "pt-BR": "Entrar",
    "pl": "Zaloguj się",
    "sv": "Logga in",
    "ja": "サインイン",
    "ar": "تسجيل الدخول",
}


def html_lang(page: str) -> tuple[str, str]:
    found = re.search(r'<html lang="([^"]+)" dir="(ltr|rtl)">', page)
    assert found is not None
    return found.group(1), found.group(2)


def h1(page: str) -> str:
    found = re.search(r'<h1 id="page-title">(.*?)</h1>', page, re.S)
    assert found is not None
    return found.group(1).strip()


@pytest.mark.parametrize("tag", list(SHIPPED))
def test_the_sign_in_page_in_each_shipped_language(harness: Harness, tag: str) -> None:
    answer = harness.client.get("/_gate/login", headers={"Accept-Language": f"{tag},en;q=0.5"})
    page = answer.get_data(as_text=True)
    assert html_lang(page) == (tag, "rtl" if tag == "ar" else "ltr")
    assert answer.headers["Content-Language"] == tag
    assert h1(page) == HEADINGS[tag]
    assert f'<option value="{tag}" lang="{tag}" selected>' in page


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-CH,de;q=0.9,en;q=0.8", "de"),
        ("pt-PT", "pt-BR"),  # the nearest shipped: the same language
        ("pt", "pt-BR"),
        ("zh-TW, ja;q=0.5", "ja"),
        ("zh-TW", "en"),
        ("*", "en"),
        ("", "en"),
        ("\x00;;q=x", "en"),
        # q=0 refuses a language (RFC 9110), and every tag under it.
        ("*, ar;q=0", "en"),
        ("ja;q=0", "en"),
        ("ar;q=0, ar-EG", "en"),
        ("en;q=0, *", "de"),
        ("en;q=0, fr;q=0.3", "fr"),
        ("en;q=0", "de"),
        # A language ranked below `*` comes after the ones the header does not name.
        ("*, de;q=0.1", "en"),
        ("*;q=0.9, ar;q=0.1", "en"),
        ("ar;q=0.1, *;q=0.5", "en"),
        ("*;q=0.5, de;q=0.5", "de"),
        ("de;q=0.6, *;q=0.5", "de"),
        ("*;q=0.5, de;q=0.6, en;q=0.1", "de"),
        ("*;q=0.9, en;q=0, fr;q=0.1", "de"),
    ],
)
def test_accept_language_picks_the_best_configured_language(
    harness: Harness, header: str, expected: str
) -> None:
    page = harness.client.get("/_gate/login", headers={"Accept-Language": header})
    assert html_lang(page.get_data(as_text=True))[0] == expected


def test_only_the_configured_languages_and_the_first_is_the_fallback(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(languages=("de", "fr"))

    def lang(header: str) -> str:
        page = harness.client.get("/_gate/login", headers={"Accept-Language": header})
        return html_lang(page.get_data(as_text=True))[0]

    assert lang("fr") == "fr"
    assert lang("ja") == "de"
    assert lang("en") == "de"
    assert lang("de;q=0") == "fr"  # the fallback is not a language the reader refused
    assert lang("*, de;q=0.1") == "fr"  # `*` stands for the languages not named
    assert lang("*, de;q=0.1, fr;q=0.2") == "fr"  # both below `*`: the better of them
    assert lang("*;q=0.5, ja, de;q=0.1") == "fr"
    page = harness.client.get("/_gate/login").get_data(as_text=True)
    assert re.findall(r'<option value="([^"]+)"', page) == ["de", "fr"]


def test_one_language_has_no_switcher(make_harness: Callable[..., Harness]) -> None:
    page = make_harness(languages=("en",)).client.get("/_gate/login").get_data(as_text=True)
    assert 'name="lang"' not in page


def test_the_switcher_keeps_the_choice_and_auth0_gets_it(harness: Harness) -> None:
    german = {"Accept-Language": "de"}
    chosen = harness.client.get("/_gate/login?lang=ja&next=/reports", headers=german)
    page = chosen.get_data(as_text=True)
    assert html_lang(page)[0] == "ja"
    cookie = next(c for c in chosen.headers.getlist("Set-Cookie") if "_lang=" in c)
    assert cookie.startswith("pwless_gate_lang=ja;")
    assert "SameSite=Lax" in cookie
    assert hidden(page, "next") == "/reports"

    later = harness.client.get("/_gate/login", headers=german).get_data(as_text=True)
    assert html_lang(later)[0] == "ja"
    sent = harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(later, "csrf_token"), "email": "ada@example.com"},
        headers=german,
    )
    assert h1(sent.get_data(as_text=True)) == "コードを入力"
    assert harness.tenant.last_message(to="ada@example.com").language == "ja"


def test_auth0_gets_the_language_ranked_above_the_others(harness: Harness) -> None:
    """``x-request-language`` is the page's language: not one the reader ranked below
    "anything else"."""
    lowered = {"Accept-Language": "*;q=0.9, ar;q=0.1"}
    page = harness.client.get("/_gate/login", headers=lowered).get_data(as_text=True)
    assert html_lang(page) == ("en", "ltr")
    sent = harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(page, "csrf_token"), "email": "ada@example.com"},
        headers=lowered,
    )
    assert sent.headers["Content-Language"] == "en"
    assert harness.tenant.last_message(to="ada@example.com").language == "en"


@pytest.mark.parametrize("value", ["xx", "en;", "<script>", "a" * 100])
def test_an_unknown_choice_is_ignored(harness: Harness, value: str) -> None:
    answer = harness.client.get("/_gate/login", query_string={"lang": value})
    assert answer.status_code == 200
    assert "_lang=" not in answer.headers.get("Set-Cookie", "")
    harness.client.set_cookie("pwless_gate_lang", value)
    page = harness.client.get("/_gate/login").get_data(as_text=True)
    assert html_lang(page)[0] == "en"


def test_error_pages_and_durations_are_translated(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(throttle_send_per_identifier="1/900")
    french = {"Accept-Language": "fr"}
    missing = harness.client.get("/_gate/nowhere", headers=french).get_data(as_text=True)
    assert h1(missing) == "Introuvable"
    for _ in range(2):
        page = harness.client.get("/_gate/login", headers=french).get_data(as_text=True)
        answer = harness.client.post(
            "/_gate/login",
            data={"csrf_token": hidden(page, "csrf_token"), "email": "ada@example.com"},
            headers=french,
        )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 429
    assert h1(text) == "Trop de tentatives"
    assert re.search(r"Vous pourrez réessayer dans environ \d+ minutes\.", text)


def test_an_invalid_address_is_explained_in_the_page_language(harness: Harness) -> None:
    page = harness.client.get("/_gate/login", headers={"Accept-Language": "pl"})
    answer = harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(page.get_data(as_text=True), "csrf_token"), "email": ""},
        headers={"Accept-Language": "pl"},
    )
    assert "Wpisz adres e-mail, np. imie@example.com." in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("ada.example.com", "Eine E-Mail-Adresse braucht ein @, wie in name@example.com."),
        ("ada@example", "Der Teil nach dem @ braucht einen Punkt, wie in example.com."),
        ("ada@exa mple.com", "Eine E-Mail-Adresse enthält keine Leerzeichen."),
        ("ada@exa_mple.com", "Diese E-Mail-Adresse ist ungültig. Prüfen Sie sie auf Tippfehler."),
    ],
)
def test_what_is_wrong_with_an_address_is_said_in_the_page_language(
    harness: Harness, typed: str, said: str
) -> None:
    """email-validator explains in English only: the page says it in its own language, and
    none of the library's English reaches a German page."""
    page = harness.client.get("/_gate/login", headers={"Accept-Language": "de"})
    answer = harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(page.get_data(as_text=True), "csrf_token"), "email": typed},
        headers={"Accept-Language": "de"},
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert said in text
    assert "@-sign" not in text
    assert "not valid" not in text


def test_the_sessions_page_names_browsers_in_its_language(harness: Harness) -> None:
    """Sessions are stored with an English summary ("Firefox on Linux", as the CLI shows
    it); the page says it in its own language, and a summary stored by something else
    is shown as text, whatever it holds."""
    assert harness.login("ida@example.com").status_code == 303
    index = harness.gate.sessions.index
    assert index is not None
    [here] = index.all_sessions()
    for agent, ip in (
        ("Firefox on Linux", "203.0.113.7"),
        ("Unknown browser", ""),
        ("Unknown browser on Android", "203.0.113.8"),
        ("100% <b>odd</b> on %(x)s", "203.0.113.9"),
    ):
        other = dataclasses.replace(
            here, sid=new_session_id(), handle=new_handle(), agent=agent, ip=ip
        )
        harness.gate.sessions.save(other)
    german = harness.client.get("/_gate/sessions", headers={"Accept-Language": "de"})
    assert german.status_code == 200
    text = german.get_data(as_text=True)
    headings = [
        re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h2[^>]*>(.*?)</h2>", text, re.S)
    ]
    assert "Firefox auf Linux" in headings
    assert "Unbekannter Browser" in headings
    assert "Unbekannter Browser auf Android" in headings
    assert "100% &lt;b&gt;odd&lt;/b&gt; auf %(x)s" in headings
    assert "<dd>unbekannt</dd>" in text
    assert " on " not in " ".join(headings)
    english = harness.client.get("/_gate/sessions", headers={"Accept-Language": "en"})
    assert "Firefox on Linux" in english.get_data(as_text=True)


def test_json_answers_stay_english(harness: Harness) -> None:
    answer = harness.client.get(
        "/_gate/nowhere", headers={"Accept-Language": "de", "Accept": "application/json"}
    )
    assert answer.get_json() == {"error": "Not found", "message": "There is no such page."}


def test_operators_override_a_page_per_language_and_texts_with_catalogs(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "signed_out.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1 id="page-title">Tschüss</h1>{% endblock %}'
    )
    messages = tmp_path / "i18n" / "fr" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    catalog = Catalog(locale="fr")
    catalog.add("Sign in", "Connexion")
    with open(messages / "pwless_gate.mo", "wb") as mo:
        write_mo(mo, catalog)
    harness = make_harness(template_dir=str(tmp_path))

    def heading(path: str, tag: str) -> str:
        page = harness.client.get(path, headers={"Accept-Language": tag})
        return h1(page.get_data(as_text=True))

    assert heading("/_gate/logout", "de") == "Tschüss"
    assert heading("/_gate/logout", "en") == "You are signed out"
    assert heading("/_gate/login", "fr") == "Connexion"  # the operator's text
    assert heading("/_gate/nowhere", "fr") == "Introuvable"  # the shipped one


def test_an_error_page_that_fails_in_its_language_is_shown_in_the_default_one(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    """An operator's error page that compiles but fails when rendered (here: German only)
    gives the English error page, with the gate's headers; not the server's bare 500."""
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "error.html").write_text(
        '{% extends "base.html" %}{% block content %}{{ nothing.here }}{% endblock %}'
    )
    harness = make_harness(template_dir=str(tmp_path))
    answer = harness.client.get("/_gate/nowhere", headers={"Accept-Language": "de"})
    assert answer.status_code == 500
    assert answer.headers["Content-Language"] == "en"
    assert answer.headers["Cache-Control"] == "no-store"
    assert h1(answer.get_data(as_text=True)) == "Something went wrong"
    french = harness.client.get("/_gate/nowhere", headers={"Accept-Language": "fr"})
    assert (french.status_code, french.headers["Content-Language"]) == (404, "fr")

    # Failing in every language: a line of text.
    (tmp_path / "error.html").write_text((tmp_path / "de" / "error.html").read_text())
    harness = make_harness(template_dir=str(tmp_path))
    answer = harness.client.get("/_gate/nowhere", headers={"Accept-Language": "de"})
    assert answer.status_code == 500
    assert answer.mimetype == "text/plain"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "Traceback" not in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("value", "problem"),
    [(("xx",), "'xx' is not a shipped language"), ((), "name at least one")],
)
def test_languages_are_checked_at_start_up(value: tuple[str, ...], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig(**{**BASE_KWARGS, "languages": value})
    assert caught.value.setting == "PWLESS_GATE_LANGUAGES"
    assert problem in caught.value.problem


def test_languages_from_the_environment() -> None:
    config = GateConfig.from_env({**BASE_ENV, "PWLESS_GATE_LANGUAGES": "pt_br, DE,de"})
    assert config.languages == ("pt-BR", "de")
    assert GateConfig.from_env(BASE_ENV).languages == tuple(SHIPPED)


@pytest.mark.parametrize(
    ("tag", "when", "duration"),
    [
        ("en", "4 Mar 2026, 14:05 UTC", "2 minutes"),
        ("de", "04.03.2026, 14:05 UTC", "2 Minuten"),
        ("ja", "2026/03/04 14:05 UTC", "2 分"),
    ],
)
def test_dates_and_durations_through_babel(tag: str, when: str, duration: str) -> None:
    translator: Translator = Languages([tag]).translator(tag)
    assert translator.minute(1772633100) == when
    assert translator.duration(100) == duration
    assert translator.duration(45).startswith("45")


def test_refusals_before_a_sign_in_are_translated(make_harness: Callable[..., Harness]) -> None:
    """A form sent without the browser's cookie, and a link asked for on a host the
    gate cannot build links for: both explained in the page's language."""
    harness = make_harness(methods=("email-code", "email-link"))
    german = {"Accept-Language": "de"}
    page = harness.client.get("/_gate/login", headers=german).get_data(as_text=True)
    harness.client.delete_cookie("pwless_gate_browser")
    refused = harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(page, "csrf_token"), "email": "ada@example.com"},
        headers=german,
    )
    assert refused.status_code == 403
    assert h1(refused.get_data(as_text=True)) == "Cookies erforderlich"

    away = {**german, "Host": "tools.example.com"}
    page = harness.client.get("/_gate/login", headers=away).get_data(as_text=True)
    link = harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(page, "csrf_token"), "email": "ada@example.com", "send": "link"},
        headers=away,
    )
    assert link.status_code == 400
    assert h1(link.get_data(as_text=True)) == "Adresse nicht eingerichtet"
