"""Pages: each template and language keeps its own texts and headers, page after page."""

from __future__ import annotations

import re
from pathlib import Path

from pwless_gate.pages import Pages
from tests.helpers import gate_config

LOGIN = {
    "csrf_token": "CSRF",
    "next": "/wiki?a=<b>",
    "email_sends": [{"send": "code", "label": "Email me a code"}],
    "sms": False,
    "switch": {},
}
#: Every page's headers, in this order, after the ones a caller adds are not there.
PAGE_HEADERS = [
    "Content-Type",
    "Content-Length",
    "Content-Language",
    "Cache-Control",
    "X-Frame-Options",
    "Content-Security-Policy",
    "Referrer-Policy",
    "X-Content-Type-Options",
]


def html_lang(body: str) -> tuple[str, str]:
    found = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', body)
    assert found is not None
    return found.group(1), found.group(2)


def test_languages_and_templates_shown_in_turn_keep_their_own() -> None:
    """The same templates in several languages, interleaved: each page has its language's
    texts, ``lang``, ``dir`` and ``Content-Language``, and the same headers."""
    pages = Pages(gate_config("http://127.0.0.1:9", languages=("en", "de", "ar")))
    seen: dict[tuple[str, str], str] = {}
    for _ in range(2):
        for language, direction, title in [
            ("de", "ltr", "Anmelden"),
            ("en", "ltr", "Sign in"),
            ("ar", "rtl", None),
            ("xx", "ltr", "Sign in"),  # not configured: the first one
        ]:
            for template in ("login.html", "error.html"):
                context = (
                    LOGIN if template == "login.html" else {"title": "Sign in", "message": "M"}
                )
                response = pages.render(template, language=language, **context)
                body = response.get_data(as_text=True)
                tag = "en" if language == "xx" else language
                assert html_lang(body) == (tag, direction)
                assert response.headers["Content-Language"] == tag
                assert [name for name, _ in response.headers] == PAGE_HEADERS
                if title is not None:
                    assert f"<title>{title} · " in body
                # Shown again, a page reads exactly as the first time.
                assert seen.setdefault((template, language), body) == body


def test_a_callers_headers_replace_or_follow_the_pages_own() -> None:
    pages = Pages(gate_config("http://127.0.0.1:9"))
    response = pages.render(
        "error.html",
        status=429,
        headers={"Retry-After": "30", "Cache-Control": "private"},
        title="T",
        message="M",
    )
    assert [name for name, _ in response.headers] == [*PAGE_HEADERS, "Retry-After"]
    assert response.headers.getlist("Cache-Control") == ["private"]
    assert response.status_code == 429


def test_an_operators_template_for_one_language_is_used_for_it_alone(tmp_path: Path) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "error.html").write_text("<p>{{ lang }}: {{ message }}</p>")
    (tmp_path / "error.html").write_text(
        '{% extends "base.html" %}{% block content %}own {{ message }}{% endblock %}'
    )
    config = gate_config("http://127.0.0.1:9", languages=("en", "de"), template_dir=str(tmp_path))
    pages = Pages(config)
    for _ in range(2):
        german = pages.render("error.html", language="de", title="T", message="M")
        english = pages.render("error.html", language="en", title="T", message="M")
        assert german.get_data(as_text=True) == "<p>de: M</p>"
        assert "own M" in english.get_data(as_text=True)
        assert html_lang(english.get_data(as_text=True)) == ("en", "ltr")


def test_two_gates_keep_their_own_brand() -> None:
    first = Pages(gate_config("http://127.0.0.1:9", brand_name="First <One>"))
    second = Pages(gate_config("http://127.0.0.1:9", brand_name="Second"))
    for _ in range(2):
        assert "First &lt;One&gt;" in first.render("login.html", **LOGIN).get_data(as_text=True)
        assert "Second" in second.render("login.html", **LOGIN).get_data(as_text=True)
        assert "First" not in second.render("login.html", **LOGIN).get_data(as_text=True)
