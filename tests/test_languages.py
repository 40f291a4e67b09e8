"""A request's language from its language cookie and ``Accept-Language``, remembered."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from pwless_gate.languages import _MEMO_SIZE, Languages

TAGS = ("en", "de", "fr", "pt-BR", "ar")
#: (language cookie, Accept-Language header), as browsers send them.
CASES = [
    (None, None),
    (None, ""),
    (None, "de"),
    (None, "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"),
    (None, "pt"),
    (None, "ar;q=0, *"),
    (None, "en;q=0, de;q=0, fr;q=0, pt;q=0, ar;q=0"),
    (None, "*, de;q=0.1"),
    (None, "xx, yy;q=0.5"),
    (None, ";;q=junk,,,"),
    (None, "de;q=1.5, fr"),
    ("fr", "de"),
    ("PT-br", None),
    ("xx", "ar"),
    ("", "ar"),
    ("f" * 40, "de"),
]


def expected(languages: Languages, chosen: str | None, header: str | None) -> str:
    """The answer as the request always computed it: Werkzeug parses the header."""
    headers = {} if header is None else {"Accept-Language": header}
    request = Request(EnvironBuilder(headers=headers).get_environ())
    try:
        accepted = list(request.accept_languages)
    except ValueError:
        accepted = []
    return languages.choose(chosen, accepted)


@pytest.mark.parametrize(("chosen", "header"), CASES, ids=[f"{c}|{h}" for c, h in CASES])
def test_for_request_answers_as_choose_does_every_time(
    chosen: str | None, header: str | None
) -> None:
    languages = Languages(TAGS)
    want = expected(languages, chosen, header)
    # Asked again (remembered) and after the other cases (nothing leaks between pairs).
    assert languages.for_request(chosen, header) == want
    for other_chosen, other_header in CASES:
        languages.for_request(other_chosen, other_header)
    assert languages.for_request(chosen, header) == want


def test_answers_differ_by_pair_and_by_configured_languages() -> None:
    first, second = Languages(("de", "en")), Languages(("en", "de"))
    assert [first.for_request(None, h) for h in ("", "en", "fr")] == ["de", "en", "de"]
    assert [second.for_request(None, h) for h in ("", "en", "fr")] == ["en", "en", "en"]
    assert first.for_request("en", "de") == "en"
    assert first.for_request(None, "de") == "de"


def test_the_memory_is_bounded() -> None:
    """At most ``_MEMO_SIZE`` pairs are kept, still answered right; a long header is
    answered, not kept."""
    languages = Languages(TAGS)
    for i in range(_MEMO_SIZE + 10):
        assert languages.for_request(None, f"x{i}, de") == "de"
        assert len(languages._answers) <= _MEMO_SIZE
    long = "xx;q=0.9, " * 100 + "fr"
    assert languages.for_request(None, long) == "fr"
    assert (None, long) not in languages._answers
