"""Nobody learns who is on the allow-list: not from a page, a status, a header or the time.

Allowed and refused identifiers go through the same steps: the gate counts
wrong codes and the code's lifetime itself for both, forwards to Auth0 only
what it has checked, answers an Auth0 refusal like its own, meets Auth0's
quota and failures alike (a refused start asks Auth0 for an identifier it can
only refuse), and makes a refused start take as long as a real send.
"""

from __future__ import annotations

import io
import itertools
import json
import random
import re
import statistics
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.test import TestResponse
from werkzeug.wsgi import get_input_stream

from pwless_gate import PasswordlessGate
from pwless_gate.devtenant import DevTenant, serve_in_thread
from pwless_gate.identity import mask, readable
from pwless_gate.transport import PACED_PATH

from ..examples.support import TIMEOUT, serving
from ..helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    THROTTLES_OFF,
    FakeClock,
    GateClient,
    Harness,
    RecordingApp,
    gate_config,
    hidden,
    wrong_code,
)
from ..procs import dev_tenant

ALLOWED = "ada@example.com"
REFUSED = "eve@other.example"


@contextmanager
def served(tenant: Any, clock: FakeClock | None = None, **settings: Any) -> Iterator[str]:
    config = gate_config(tenant.url, allowed_domains=("example.com",), **settings)
    gate = PasswordlessGate(RecordingApp(), config, **({"clock": clock} if clock else {}))
    with serving(gate) as base:
        yield base


def start(
    base: str, email: str, headers: dict[str, str] | None = None, field: str = "email"
) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    page = browser.get(base + "/_gate/login", headers=headers, timeout=TIMEOUT)
    sent = browser.post(
        base + "/_gate/login",
        data={"csrf_token": hidden(page.text, "csrf_token"), field: email},
        headers=headers,
        timeout=TIMEOUT,
    )
    return browser, sent


def verify(browser: requests.Session, page: requests.Response, code: str) -> requests.Response:
    return browser.post(
        page.url.rsplit("/_gate/", 1)[0] + "/_gate/verify",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "tx": hidden(page.text, "tx"),
            "code": code,
        },
        timeout=TIMEOUT,
    )


def shape(response: requests.Response, *identifiers: str) -> tuple[int, str]:
    """What a response tells: its status and its text, without tokens and the address."""
    text = re.sub(r'value="[^"]*"', 'value=""', response.text)
    for identifier in identifiers:
        text = text.replace(identifier, "<who>")
        local, _, domain = identifier.partition("@")
        text = text.replace(f"{local[:1]}***@{domain}", "<who>")
    return response.status_code, text


def test_wrong_codes_die_on_the_same_attempt_for_allowed_and_refused(tenant: Any) -> None:
    with served(tenant) as base:
        answers: dict[str, list[tuple[int, str]]] = {}
        for email in (ALLOWED, REFUSED):
            browser, page = start(base, email)
            assert page.status_code == 200
            code = tenant.last_message(to=ALLOWED).code if email == ALLOWED else "123456"
            answers[email] = [
                shape(verify(browser, page, wrong_code(code)), email) for _ in range(4)
            ]
        assert answers[ALLOWED] == answers[REFUSED]
        statuses = [status for status, _ in answers[ALLOWED]]
        assert statuses == [400, 400, 400, 400]
        assert "not right" in answers[ALLOWED][1][1]
        assert "too many times" in answers[ALLOWED][2][1]  # the third wrong code, for both


def test_an_expired_code_reads_the_same_for_allowed_and_refused(
    tenant: Any, clock: FakeClock
) -> None:
    with served(tenant, clock) as base:
        pages = {email: start(base, email) for email in (ALLOWED, REFUSED)}
        clock.advance(181)  # past the code's lifetime (180 s), within the sign-in's
        answers = {
            email: shape(verify(browser, page, "123456"), email)
            for email, (browser, page) in pages.items()
        }
        assert answers[ALLOWED] == answers[REFUSED]
        assert answers[ALLOWED][0] == 400
        assert "expired" in answers[ALLOWED][1]


@pytest.mark.parametrize(
    ("language", "sent"),
    # Auth0 gets the page's language, one of the configured tags: never the raw header.
    [("\u00a0de", "de"), ("de-CH,de;q=0.8", "de"), ("x" * 40, "en"), ("de\x7f", "en")],
    ids=["leading-nbsp", "tag", "overlong", "control-character"],
)
def test_a_language_tag_is_checked_before_it_is_forwarded(
    make_harness: Any, language: str, sent: str | None
) -> None:
    """Sent as raw bytes (an HTTP library refuses some of these), compared for both kinds."""
    harness = make_harness(allowed_domains=("example.com",))
    answers = {}
    for email in (ALLOWED, REFUSED):
        browser = harness.new_browser()
        page = browser.get("/_gate/login").get_data(as_text=True)
        answer = browser.post(
            "/_gate/login",
            data={"csrf_token": hidden(page, "csrf_token"), "email": email},
            headers={"Accept-Language": language},
        )
        text = re.sub(r'value="[^"]*"', 'value=""', answer.get_data(as_text=True))
        answers[email] = (
            answer.status_code,
            text.replace(ALLOWED, "<who>").replace(REFUSED, "<who>"),
        )
    assert answers[ALLOWED] == answers[REFUSED]
    assert answers[ALLOWED][0] == 200
    assert harness.tenant.last_message(to=ALLOWED).language == sent


def test_a_number_auth0_refuses_gets_the_allow_lists_answer(tenant: Any) -> None:
    """The local tenant's SMS provider serves no +99… numbers (``sms_provider_error``), as
    a real one refuses some regions: the refusal reads like the allow-list's."""
    refused_by_auth0 = "+995555123456"  # a Georgian mobile: allowed here
    refused_by_list = "+995555123457"
    with served(tenant, methods=("sms-code",), allowed_phones=(refused_by_auth0,)) as base:
        sent = len(tenant.outbox())
        _, by_auth0 = start(base, refused_by_auth0, field="phone_number")
        _, by_list = start(base, refused_by_list, field="phone_number")
        assert len(tenant.outbox()) == sent
        assert by_auth0.status_code == by_list.status_code == 200
        assert shape(by_auth0, refused_by_auth0, readable(refused_by_auth0)) == shape(
            by_list, refused_by_list, readable(refused_by_list)
        )


def test_the_metrics_are_served_only_to_allowed_networks(tenant: Any) -> None:
    with served(tenant, metrics=True) as base:
        assert requests.get(base + "/_gate/metrics", timeout=TIMEOUT).status_code == 200
    with served(tenant, metrics=True, metrics_allow=("10.0.0.0/8",)) as base:
        refused = requests.get(base + "/_gate/metrics", timeout=TIMEOUT)
        assert refused.status_code == 403
        assert "pwless_gate_events_total" not in refused.text


@pytest.mark.parametrize(
    ("network", "status"),
    [
        ("::ffff:127.0.0.0/104", 200),
        ("::ffff:127.0.0.1", 200),
        ("::ffff:10.0.0.0/104", 403),
        ("::ffff:127.0.0.2", 403),
    ],
    ids=["mapped-loopback", "mapped-address", "mapped-elsewhere", "mapped-other-address"],
)
def test_an_ipv4_mapped_metrics_network_matches_an_ipv4_client(
    tenant: Any, network: str, status: int
) -> None:
    """``::ffff:127.0.0.0/104`` is written for the IPv4 clients a dual-stack socket names
    ``::ffff:127.0.0.1``: the client at 127.0.0.1 over an IPv4 socket is one of them."""
    with served(tenant, metrics=True, metrics_allow=(network,)) as base:
        answer = requests.get(base + "/_gate/metrics", timeout=TIMEOUT)
        assert answer.status_code == status
        assert ("pwless_gate_events_total" in answer.text) is (status == 200)


# -- Auth0 refusing or failing a send: the same answer for both ------------------------

ALLOWED_PHONE = "+14155550100"
REFUSED_PHONE = "+14155550199"
#: Each way to start: the form's fields besides the identifier, the identifier's field,
#: an allowed and a refused identifier.
STARTS = {
    "email-code": ({"send": "code"}, "email", ALLOWED, REFUSED),
    "email-link": ({"send": "link"}, "email", ALLOWED, REFUSED),
    "sms-code": ({}, "phone_number", ALLOWED_PHONE, REFUSED_PHONE),
}


class RecordingTenant(DevTenant):
    """The local tenant, keeping the path, query and body of every request it gets:
    all that Auth0 would learn from the gate."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.received: list[tuple[str, str, bytes]] = []

    def __call__(self, environ: Any, start_response: Any) -> Any:
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        self.received.append((environ["PATH_INFO"], environ.get("QUERY_STRING", ""), body))
        return super().__call__(environ, start_response)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        """The JSON bodies of the requests to ``path``, in order."""
        return [json.loads(body) for at, _, body in self.received if at == path]


@contextmanager
def gate_and_tenant(clock: FakeClock, *, trust: bool = True, **settings: Any) -> Iterator[Harness]:
    """A gate with every way to start before a tenant of its own (``trust``: the
    application's "Trust Token Endpoint IP Header"), which records what it gets."""
    app = RecordingTenant(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        clock=clock,
        allowed_callbacks=["http://localhost/_gate/callback"],
        trust_forwarded_for=trust,
        allow_magiclink_verify_without_session=True,
        fault_delay=3,
    )
    with serve_in_thread(app) as running:
        config = gate_config(
            running.url,
            **{
                "allowed_domains": ("example.com",),
                "allowed_phones": (ALLOWED_PHONE,),
                "methods": tuple(STARTS),
                **settings,
            },
        )
        yield Harness(
            PasswordlessGate(RecordingApp(), config, clock=clock), RecordingApp(), running
        )


def start_as(harness: Harness, kind: str, who: str, ip: str = "192.0.2.9") -> TestResponse:
    """Start signing in ``who`` the ``kind`` way, from a browser at ``ip``."""
    return started_as(harness, kind, who, ip)[1]


def started_as(
    harness: Harness,
    kind: str,
    who: str,
    ip: str = "192.0.2.9",
    browser: GateClient | None = None,
) -> tuple[GateClient, TestResponse]:
    """The browser at ``ip`` that started signing in ``who`` the ``kind`` way (a new one,
    or ``browser``), and the answer."""
    extra, field, _, _ = STARTS[kind]
    browser = browser or GateClient(harness.gate)
    environ = {"REMOTE_ADDR": ip, "HTTP_ACCEPT": "text/html"}
    page = browser.get("/_gate/login", environ_base=environ).get_data(as_text=True)
    form = {"csrf_token": hidden(page, "csrf_token"), "next": "/", field: who, **extra}
    return browser, browser.post("/_gate/login", data=form, environ_base=environ)


def code_as(
    browser: GateClient, started: TestResponse, code: str, ip: str = "192.0.2.9"
) -> TestResponse:
    """Type ``code`` on the page ``started`` (a start's answer), from ``ip``."""
    page = started.get_data(as_text=True)
    form = {"csrf_token": hidden(page, "csrf_token"), "tx": hidden(page, "tx"), "code": code}
    environ = {"REMOTE_ADDR": ip, "HTTP_ACCEPT": "text/html"}
    return browser.post("/_gate/verify", data=form, environ_base=environ)


def told(response: TestResponse, who: str) -> tuple[int, str | None, str]:
    """What an answer tells: its status, its Retry-After and its text, without tokens
    and the identifier (shown to the person who typed it, allowed or not)."""
    text = re.sub(r'value="[^"]*"', 'value=""', response.get_data(as_text=True))
    for form in (who, readable(who), mask(who)):
        text = text.replace(form, "<who>")
    return response.status_code, response.headers.get("Retry-After"), text


def answers_alike(harness: Harness, kind: str) -> tuple[int, str | None, str]:
    """Start the allowed and the refused identifier of ``kind``; assert they are told the
    same; return what they are told."""
    _, _, allowed, refused = STARTS[kind]
    by_allowed = told(start_as(harness, kind, allowed), allowed)
    by_refused = told(start_as(harness, kind, refused), refused)
    assert by_allowed == by_refused
    return by_allowed


@pytest.mark.parametrize("kind", list(STARTS))
def test_a_spent_send_quota_answers_alike(clock: FakeClock, kind: str) -> None:
    """Trust off (a new application): every sign-in shares the gate's 50 sends an hour,
    the refused ones too, and the 51st is "Too many attempts" whoever asks."""
    with gate_and_tenant(clock, trust=False) as harness:
        for i in range(50):  # 50 people at 50 addresses, allowed or not
            domain = "example.com" if i % 2 else "other.example"
            sent = start_as(harness, "email-code", f"user{i}@{domain}", ip=f"198.51.100.{i + 1}")
            assert sent.status_code == 200
        assert len(harness.tenant.outbox()) == 25  # refused ones reach nobody
        status, retry_after, text = answers_alike(harness, kind)
    assert status == 429
    assert retry_after is not None
    assert "Too many" in text


@pytest.mark.parametrize("kind", list(STARTS))
@pytest.mark.parametrize(
    ("fault", "status"), [("429", 429), ("500", 502), ("garbage", 502), ("timeout", 503)]
)
def test_auth0_failing_a_send_answers_alike(
    clock: FakeClock, kind: str, fault: str, status: int
) -> None:
    with gate_and_tenant(clock, auth0_timeout=0.5) as harness:
        _, _, allowed, refused = STARTS[kind]
        answers = []
        for who in (allowed, refused):
            harness.tenant.app.add_fault("/passwordless/start", fault, times=1)
            answers.append(told(start_as(harness, kind, who), who))
        assert answers[0] == answers[1]
        assert answers[0][0] == status
        assert harness.tenant.outbox() == []


@pytest.mark.parametrize("kind", list(STARTS))
def test_a_wrong_client_secret_answers_alike(clock: FakeClock, kind: str) -> None:
    with gate_and_tenant(clock, client_secret="not-the-secret") as harness:
        status, _, text = answers_alike(harness, kind)
    assert status == 502
    assert "administrator" in text


@pytest.mark.parametrize("kind", list(STARTS))
def test_a_refused_start_answers_as_a_send_and_reaches_nobody(clock: FakeClock, kind: str) -> None:
    with gate_and_tenant(clock) as harness:
        status, _, _ = answers_alike(harness, kind)
        _, _, allowed, _ = STARTS[kind]
        assert [message.to for message in harness.tenant.outbox()] == [allowed]
    assert status == 200


# -- what Auth0 learns of a refused identifier: nothing --------------------------------

#: What Auth0 is told at the code step in a refused identifier's place, by connection.
PSEUDONYMS = {"email": r"r-[0-9a-f]{32}@refused\.invalid", "sms": r"\+999[0-9]{12}"}


def forms_of(identifier: str) -> list[bytes]:
    """The ways ``identifier`` could be spelled in a request (a number without its +)."""
    return [form.encode() for form in {identifier, readable(identifier), identifier.lstrip("+")}]


def never_received(tenant: RecordingTenant, identifier: str) -> None:
    for path, query, body in tenant.received:
        for form in forms_of(identifier):
            assert form not in body, (path, body)
            assert form.decode() not in query, (path, query)


@pytest.mark.parametrize("kind", list(STARTS))
def test_a_refused_identifier_never_reaches_auth0(clock: FakeClock, kind: str) -> None:
    """A refused start sends a probe; a code typed for it is checked for a pseudonym
    (one per identifier), which Auth0 refuses as it refuses an allowed identifier's
    wrong code: three wrong codes read the same for both."""
    _, _, allowed, refused = STARTS[kind]
    connection = "sms" if kind == "sms-code" else "email"
    with gate_and_tenant(clock) as harness:
        answers = {}
        for who in (allowed, refused):
            browser, started = started_as(harness, kind, who)
            wrong = wrong_code(harness.tenant.last_message(to=allowed).code)
            answers[who] = [told(code_as(browser, started, wrong), who) for _ in range(3)]
        tenant = harness.tenant.app
        never_received(tenant, refused)
        usernames = [body["username"] for body in tenant.bodies("/oauth/token")]
    assert answers[allowed] == answers[refused]
    assert [status for status, _, _ in answers[allowed]] == [400, 400, 400]
    assert "not right" in answers[allowed][1][2]
    assert "too many times" in answers[allowed][2][2]
    assert usernames[:3] == [allowed] * 3
    assert len(usernames) == 6
    assert len(set(usernames[3:])) == 1
    assert re.fullmatch(PSEUDONYMS[connection], usernames[3]), usernames[3]


@pytest.mark.parametrize("store", ["sqlite", "cookie"])
@pytest.mark.parametrize("kind", ["email-code", "sms-code"])
def test_wrong_codes_count_against_the_latest_start_alike(
    clock: FakeClock, kind: str, store: str
) -> None:
    """Auth0 checks a code against the identifier's latest one, whichever sign-in's page
    it was typed on: a new start makes earlier codes wrong and begins a new count, and
    the third wrong code kills the latest code for every page. Two sign-ins in one
    browser, then a third after the code died: the gate counts a refused identifier's
    wrong codes the same way (shared by the SQLite file, or in this process with
    signed cookies), so allowed and refused read alike at every step."""
    _, _, allowed, refused = STARTS[kind]
    settings = {"store": "cookie"} if store == "cookie" else {}
    with gate_and_tenant(clock, **settings) as harness:
        answers = {}
        for who in (allowed, refused):
            clock.advance(1)  # /oauth/token's 30 a second
            browser, first = started_as(harness, kind, who)
            superseded = harness.tenant.last_message(to=allowed).code
            _, second = started_as(harness, kind, who, browser=browser)
            wrong = wrong_code(harness.tenant.last_message(to=allowed).code)
            told_now = [
                told(code_as(browser, first, superseded), who),  # the first's own code
                told(code_as(browser, first, wrong), who),
                told(code_as(browser, first, wrong), who),  # the third: the latest code dies
                told(code_as(browser, second, wrong), who),  # dead on the latest's page too
            ]
            _, third = started_as(harness, kind, who, browser=browser)
            wrong = wrong_code(harness.tenant.last_message(to=allowed).code)
            told_now += [
                told(code_as(browser, first, wrong), who),  # counts against the new start
                told(code_as(browser, third, wrong), who),
                told(code_as(browser, second, wrong), who),  # the third: dead again
                told(code_as(browser, third, wrong), who),
            ]
            answers[who] = told_now
            never_received(harness.tenant.app, refused)
    assert answers[allowed] == answers[refused]
    assert [status for status, _, _ in answers[allowed]] == [400] * 8
    said = ["not right" if "not right" in text else text for _, _, text in answers[allowed]]
    said = ["too many" if "too many times" in text else text for text in said]
    assert said == ["not right"] * 2 + ["too many"] * 2 + ["not right"] * 2 + ["too many"] * 2


def test_wrong_codes_for_a_number_auth0_will_not_text_count_as_for_a_refused_one(
    clock: FakeClock,
) -> None:
    """An allowed number Auth0 refuses to text (``sms_provider_error``) reads like a number
    the allow-list refuses at the start; its wrong codes must too, counted against its
    latest start: two sign-ins in one browser, two wrong codes on the first, one on the
    second."""
    by_auth0 = "+995555123456"  # allowed here; the local tenant's provider serves no +99…
    by_list = "+995555123457"
    with gate_and_tenant(clock, allowed_phones=(ALLOWED_PHONE, by_auth0)) as harness:
        said = {}
        for who in (by_auth0, by_list):
            clock.advance(1)  # /oauth/token's 30 a second
            browser, first = started_as(harness, "sms-code", who)
            _, second = started_as(harness, "sms-code", who, browser=browser)
            said[who] = [
                told(code_as(browser, first, "111111"), who),
                told(code_as(browser, first, "111111"), who),
                told(code_as(browser, second, "111111"), who),
            ]
        assert not any(m.to in (by_auth0, by_list) for m in harness.tenant.outbox())
    assert said[by_auth0] == said[by_list]
    assert "too many times" in said[by_list][2][2]


@pytest.mark.parametrize("kind", ["email-code", "sms-code"])
def test_auth0s_brute_force_block_answers_alike_per_identifier(clock: FakeClock, kind: str) -> None:
    """Eleven wrong codes from one IP (the gate's own limits off): the code dies at the
    third, Auth0's brute-force protection (ten failures per user and IP) blocks the
    eleventh, for allowed and refused alike. The block is per identifier: another
    refused one's first wrong code is only wrong, as another allowed one's is."""
    _, _, allowed, refused = STARTS[kind]
    other_refused = "mallory@other.example" if kind == "email-code" else "+14155550198"
    with gate_and_tenant(clock, **THROTTLES_OFF) as harness:
        answers = {}
        for who in (allowed, refused):
            clock.advance(1)  # /oauth/token's 30 a second
            browser, started = started_as(harness, kind, who)
            wrong = wrong_code(harness.tenant.last_message(to=allowed).code)
            answers[who] = [told(code_as(browser, started, wrong), who) for _ in range(11)]
        browser, started = started_as(harness, kind, other_refused)
        other = told(code_as(browser, started, "123456"), other_refused)
        tenant = harness.tenant.app
        for who in (refused, other_refused):
            never_received(tenant, who)
    assert answers[allowed] == answers[refused]
    statuses = [status for status, _, _ in answers[allowed]]
    assert statuses == [400] * 10 + [429]
    assert "too many times" in answers[allowed][9][2]
    assert "Sign-in blocked" in answers[allowed][10][2]
    assert other == answers[allowed][0]
    assert "not right" in other[2]


def test_a_refused_links_state_does_not_tell_the_identifiers_length(clock: FakeClock) -> None:
    """The probe's ``state`` stands for a transaction naming the probe's identifier,
    whoever was refused: for addresses 15 and 136 characters long, the lengths differ
    only by what compressing the signed transaction's random ids makes them vary."""
    short = "e@other.example"
    # Letters and digits in no pattern, as a name is: a repeated letter would compress away.
    noise = "".join(random.Random(3).choices(string.ascii_lowercase + string.digits, k=120))
    long = f"e{noise[:60]}@{noise[60:]}.other.example"
    with gate_and_tenant(clock) as harness:
        for who in (short, long):
            assert start_as(harness, "email-link", who).status_code == 200
        tenant = harness.tenant.app
        for who in (short, long):
            never_received(tenant, who)
        states = [body["authParams"]["state"] for body in tenant.bodies(PACED_PATH)]
        assert harness.tenant.outbox() == []
    assert len(long) - len(short) > 100
    assert len(states) == 2
    assert abs(len(states[0]) - len(states[1])) <= 8, [len(state) for state in states]


# -- timing: a benchmark-style measurement that reports its numbers ---------------------

SAMPLES = 40
WARM_UP = 5
#: The bound the measurement must stay under: far from the ~100% of no decoy.
GUARD = 0.75
LATENCY_MS = 150


#: A new client address for each timed start.
_ADDRESSES = (f"198.51.{i // 250}.{i % 250 + 1}" for i in itertools.count())


def _time_starts(base: str, emails: list[str]) -> list[float]:
    """Time each start, each from an address of its own (``X-Forwarded-For``): every
    start, refused ones too, counts against Auth0's 50 an hour per address."""
    durations = []
    for email in emails:
        browser = requests.Session()
        browser.headers["X-Forwarded-For"] = next(_ADDRESSES)
        page = browser.get(base + "/_gate/login", timeout=TIMEOUT)
        form = {"csrf_token": hidden(page.text, "csrf_token"), "email": email}
        started = time.perf_counter()
        answer = browser.post(base + "/_gate/login", data=form, timeout=TIMEOUT)
        durations.append(time.perf_counter() - started)
        assert answer.status_code == 200
    return durations


def classifier_accuracy(allowed: list[float], refused: list[float], rounds: int = 50) -> float:
    """Repeated 2-fold cross-validation of the best single-threshold classifier.

    Each round splits both samples in halves at random, picks the threshold
    and direction that best separate one half, and scores it on the other.
    """
    rng = random.Random(1)
    scores = []
    for _ in range(rounds):
        a, r = allowed[:], refused[:]
        rng.shuffle(a)
        rng.shuffle(r)
        half = len(a) // 2
        for train, test in (((a[:half], r[:half]), (a[half:], r[half:])),) * 1 + (
            ((a[half:], r[half:]), (a[:half], r[:half])),
        ):
            rule = _best_rule(*train)
            scores.append(_score(rule, *test))
    return statistics.fmean(scores)


def _best_rule(allowed: list[float], refused: list[float]) -> tuple[float, bool]:
    best = (0.0, (0.0, True))
    for threshold in sorted(allowed + refused):
        for slower_is_allowed in (True, False):
            rule = (threshold, slower_is_allowed)
            best = max(best, (_score(rule, allowed, refused), rule))
    return best[1]


def _score(rule: tuple[float, bool], allowed: list[float], refused: list[float]) -> float:
    threshold, slower_is_allowed = rule
    right = sum((t > threshold) == slower_is_allowed for t in allowed)
    right += sum((t > threshold) != slower_is_allowed for t in refused)
    return right / (len(allowed) + len(refused))


@pytest.mark.slow
def test_response_time_does_not_tell_who_is_allowed(tmp_path: Path, record_property: Any) -> None:
    with dev_tenant(tmp_path, "--trust-forwarded-for") as url:
        fault = {"path": "/passwordless/start", "mode": "latency", "ms": LATENCY_MS, "times": 0}
        assert requests.post(url + "/_dev/faults", json=fault, timeout=TIMEOUT).ok
        config = gate_config(
            url, allowed_domains=("example.com",), trusted_proxies=1, **THROTTLES_OFF
        )
        with serving(PasswordlessGate(RecordingApp(), config)) as base:
            for i in range(WARM_UP):  # the pacer learns the round trip and the gap
                _time_starts(base, [f"warm{i}@example.com", f"warm{i}@other.example"])
            allowed: list[float] = []
            refused: list[float] = []
            for i in range(SAMPLES):  # interleaved, so drift hits both alike
                allowed += _time_starts(base, [f"user{i}@example.com"])
                refused += _time_starts(base, [f"user{i}@other.example"])
    accuracy = classifier_accuracy(allowed, refused)
    report = (
        f"{SAMPLES} starts each with {LATENCY_MS} ms of Auth0 latency: allowed median "
        f"{statistics.median(allowed) * 1000:.1f} ms, refused median "
        f"{statistics.median(refused) * 1000:.1f} ms; a threshold classifier is right "
        f"{accuracy:.0%} of the time (cross-validated)"
    )
    record_property("timing", report)
    print(report)
    # A measurement, reported; what it asserts is that the pacing works at all.
    # Without it a classifier is right ~100% of the time; with it this measured
    # 46-59% over ten runs here (the goal, at most 60%: see SECURITY.md).
    assert accuracy <= GUARD, report


def test_the_classifier_tells_apart_what_differs() -> None:
    """The measurement above can fail: unpaced answers are told apart at once."""
    rng = random.Random(2)
    allowed = [0.15 + rng.uniform(0, 0.01) for _ in range(SAMPLES)]
    refused = [0.002 + rng.uniform(0, 0.001) for _ in range(SAMPLES)]
    assert classifier_accuracy(allowed, refused) > 0.95
    same = [0.15 + rng.uniform(0, 0.01) for _ in range(2 * SAMPLES)]
    assert classifier_accuracy(same[:SAMPLES], same[SAMPLES:]) <= 0.60
