"""The access rules file: its checks, its matching, and what a rule says of a person."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pwless_gate.errors import ConfigError
from pwless_gate.rules import (
    MEMO_SIZE,
    UNCLEAR,
    RuleSet,
    Verdict,
    clean_path,
    request_host,
    verdict,
)
from pwless_gate.rules_file import load_rules

EXAMPLE = """
[[rules]]
path = "/healthz"           # segment prefix, or a regex starting with ^
policy = "public"

[[rules]]
path = "/admin"
allow = ["boss@example.com", "ops@example.com"]

[[rules]]
path = "/finance"
methods = ["POST", "PUT", "DELETE"]   # optional
hosts = ["tools.example.com"]         # optional
allow = ["role:finance", "@example.com"]
max_age = 900               # signed in within the last 15 minutes

[[rules]]
path = "/old-export"
policy = "deny"
"""

ROLES = "https://example.com/roles"


def rules_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return str(path)


def load(tmp_path: Path, text: str, **kwargs: Any) -> RuleSet:
    kwargs.setdefault("roles_claim", ROLES)
    kwargs.setdefault("clients", ("robot",))
    return load_rules(rules_file(tmp_path, text), **kwargs)


def numbers(rules: RuleSet, method: str, path: str, host: str = "") -> int | None:
    rule = rules.match(method, path, host)
    return None if rule is None else rule.number


@pytest.mark.parametrize(
    ("method", "path", "host", "number"),
    [
        ("GET", "/healthz", "", 1),
        ("GET", "/healthz/deep", "", 1),
        ("GET", "/healthzx", "", None),
        ("GET", "/admin", "", 2),
        ("GET", "/admin/", "", 2),
        ("POST", "/admin/users/7", "", 2),
        ("GET", "/administrator", "", None),
        ("POST", "/finance/pay", "tools.example.com", 3),
        ("GET", "/finance/pay", "tools.example.com", None),
        ("POST", "/finance/pay", "other.example.com", None),
        ("DELETE", "/old-export/x", "", 4),
        ("GET", "/", "", None),
        ("GET", "/reports", "", None),
    ],
    ids=lambda v: str(v),
)
def test_the_issue_example_matches_by_prefix_method_and_host(
    tmp_path: Path, method: str, path: str, host: str, number: int | None
) -> None:
    rules = load(tmp_path, EXAMPLE)
    assert numbers(rules, method, path, host) == number


def test_the_first_matching_rule_decides_across_prefixes_and_patterns(tmp_path: Path) -> None:
    rules = load(
        tmp_path,
        """
        [[rules]]
        path = "/a/b"
        methods = ["POST"]
        policy = "deny"
        [[rules]]
        path = '^/a/b/[0-9]+$'
        allow = ["x@example.com"]
        [[rules]]
        path = "/a"
        policy = "public"
        [[rules]]
        path = '^/z.*'
        policy = "deny"
        [[rules]]
        path = "/"
        """,
    )
    assert numbers(rules, "POST", "/a/b/1") == 1
    assert numbers(rules, "GET", "/a/b/1") == 2
    assert numbers(rules, "GET", "/a/b/x") == 3
    assert numbers(rules, "GET", "/a") == 3
    assert numbers(rules, "GET", "/zebra") == 4
    assert numbers(rules, "GET", "/q/r/s") == 5
    assert numbers(rules, "GET", "/") == 5


def test_a_regex_rule_covers_paths_with_line_breaks(tmp_path: Path) -> None:
    # ``/admin/%0Ausers`` reaches the app as ``/admin/\nusers``, which Werkzeug routes to
    # ``/admin/<path:p>``: the README's case-insensitive deny rule must cover it.
    rules = load(
        tmp_path,
        """
        [[rules]]
        path = '^(?i:/admin)(/.*)?$'
        policy = "deny"
        [[rules]]
        path = '^/reports/.+$'
        allow = ["x@example.com"]
        """,
        public_paths=("^/$",),
    )
    assert numbers(rules, "GET", "/admin/\nusers") == 1
    assert numbers(rules, "GET", "/ADMIN/x\r\ny") == 1
    assert numbers(rules, "GET", "/reports/\n") == 2
    assert numbers(rules, "GET", "/\n") is None


def test_public_paths_come_first_as_public_rules(tmp_path: Path) -> None:
    rules = load(
        tmp_path,
        '[[rules]]\npath = "/"\npolicy = "deny"\n',
        public_paths=("/static/", r"^/api/v\d+/status$"),
    )
    assert rules.match("GET", "/static/app.css").public  # type: ignore[union-attr]
    assert rules.match("GET", "/static").public  # type: ignore[union-attr]
    assert rules.match("GET", "/api/v2/status").public  # type: ignore[union-attr]
    assert rules.match("GET", "/api/v2/statusx").closed  # type: ignore[union-attr]
    assert rules.restricts  # a deny rule refuses someone


def test_get_covers_head_and_hosts_ignore_case_and_port(tmp_path: Path) -> None:
    rules = load(
        tmp_path,
        '[[rules]]\npath = "/x"\nmethods = ["get"]\nhosts = ["Tools.Example.com"]\n'
        'allow = ["a@example.com"]\n',
    )
    host = request_host("TOOLS.example.com:8443")
    assert numbers(rules, "HEAD", "/x", host) == 1
    assert numbers(rules, "GET", "/x", host) == 1
    assert numbers(rules, "POST", "/x", host) is None
    assert request_host("[::1]:80") == "::1"


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [
        ("/static/../admin", "/admin"),
        ("/static/%2e%2e/admin", "/admin"),
        ("/static/%252e%252e/admin", "/admin"),
        ("//admin", "/admin"),
        ("/admin;x=1/y", "/admin/y"),
        ("/static\\..\\admin", "/admin"),
        ("/admin%3Fx", "/admin"),
        ("/../../etc", "/etc"),
    ],
)
def test_clean_path(path: str, cleaned: str) -> None:
    assert clean_path(path) == cleaned


def test_a_path_that_is_not_plain_is_never_public_and_unclear_ones_are_closed(
    tmp_path: Path,
) -> None:
    rules = load(
        tmp_path,
        '[[rules]]\npath = "/static"\npolicy = "public"\n'
        '[[rules]]\npath = "/admin"\nallow = ["boss@example.com"]\n',
    )
    assert rules.match("GET", "/static/../admin") is UNCLEAR
    assert rules.match("GET", "/static/%2e%2e/admin") is UNCLEAR
    assert rules.match("GET", "//admin") is UNCLEAR
    assert rules.match("GET", "/static//app.css") is None  # not public, the global lists
    assert numbers(rules, "GET", "/admin//users") == 2
    assert rules.match("GET", "/reports/./q3") is None


TWICE_ENCODED = """
[[rules]]
path = "/static"
policy = "public"
[[rules]]
path = '^/pub/[^/]+$'
policy = "public"
[[rules]]
path = "/admin"
allow = ["boss@example.com"]
[[rules]]
path = "/old-export"
policy = "deny"
[[rules]]
path = "/files"
allow = ["@example.com"]
"""


@pytest.mark.parametrize(
    ("path", "number"),
    [
        # PATH_INFO as gunicorn and waitress give it for %252F, %2561, %252D: decoded once.
        pytest.param("/admin%2Fusers", "unclear", id="encoded-slash-into-a-rule"),
        pytest.param("/%61dmin/users", "unclear", id="encoded-letter-into-a-rule"),
        pytest.param("/old%2Dexport", "unclear", id="encoded-dash-into-a-deny-rule"),
        pytest.param("/admin/users", 3, id="a-real-slash"),
        pytest.param("/admin/%75sers", 3, id="under-the-same-rule-both-ways"),
        pytest.param("/files/report%20q3.pdf", 5, id="an-encoded-space-under-its-rule"),
        pytest.param("/files/a%2Fb", 5, id="an-encoded-slash-inside-the-rule"),
        pytest.param("/reports%2Fq3", None, id="under-no-rule-both-ways"),
        pytest.param("/files/100%", 5, id="a-percent-that-escapes-nothing"),
        # Public paths: neither a way out of one nor a way into one.
        pytest.param("/pub/a%2Fb", "unclear", id="public-as-sent-not-decoded"),
        pytest.param("/st%61tic/app.css", "unclear", id="public-decoded-not-as-sent"),
        pytest.param("/static%2F..%2Fadmin", "unclear", id="encoded-dots-out-of-public"),
        pytest.param("/static/app%2Ecss", 1, id="public-both-ways"),  # rule 1 is public
    ],
)
def test_a_path_with_a_percent_left_is_judged_as_sent_and_decoded_again(
    tmp_path: Path, path: str, number: int | str | None
) -> None:
    rules = load(tmp_path, TWICE_ENCODED)
    expected = UNCLEAR if number == "unclear" else number
    for _ in range(2):  # the second answer comes from the memo
        found = rules.lookup("GET", path, {}, None)
        assert (found if found is UNCLEAR or found is None else found.number) == expected
    found = rules.match("GET", path)
    assert (found if found is UNCLEAR or found is None else found.number) == expected


def test_a_path_with_a_percent_left_meets_host_limited_rules_in_its_decoded_reading(
    tmp_path: Path,
) -> None:
    rules = load(tmp_path, EXAMPLE)
    tools = {"HTTP_HOST": "tools.example.com"}
    assert rules.lookup("POST", "/fin%61nce/pay", tools, lambda h: h["HTTP_HOST"]) is UNCLEAR
    other = {"HTTP_HOST": "other.example.com"}
    assert rules.lookup("POST", "/fin%61nce/pay", other, lambda h: h["HTTP_HOST"]) is None


@pytest.mark.parametrize("method", ["post", "Post", "pOST"])
def test_methods_match_in_any_case_as_frameworks_read_them(tmp_path: Path, method: str) -> None:
    rules = load(
        tmp_path, EXAMPLE + '[[rules]]\npath = "/export"\nmethods = ["GET"]\npolicy = "deny"\n'
    )
    tools = {"HTTP_HOST": "tools.example.com"}
    assert numbers(rules, method, "/finance/pay", "tools.example.com") == 3
    assert rules.lookup(method, "/finance/pay", tools, lambda h: h["HTTP_HOST"]) is rules.rules[2]
    assert numbers(rules, method, "/export") is None
    for get in ("get", "Get", "head"):
        assert numbers(rules, get, "/export") == 5
        assert rules.lookup(get, "/export", {}, None) is rules.rules[4]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[rules]\npath = '/x'", "does not parse"),
        ("title = 'x'", "unknown key 'title'"),
        ("rules = 3", "must be [[rules]] tables"),
        ("[[rules]]\npath = '/x'\nallw = ['a@example.com']", "rule 1: unknown key 'allw'"),
        ("[[rules]]\npolicy = 'deny'", "rule 1: has no path"),
        ("[[rules]]\npath = 'admin'", "rule 1: path 'admin' must be a plain path"),
        ("[[rules]]\npath = '/a/../b'", "rule 1: path"),
        ("[[rules]]\npath = '/old%2Dexport'", "has a %-escape; write the path decoded, as the app"),
        ("[[rules]]\npath = '^/(x'", "rule 1: bad regex"),
        # re.compile raises OverflowError and RecursionError for these, not re.error.
        ("[[rules]]\npath = '^a{4294967296}'", "rule 1: bad regex '^a{4294967296}'"),
        ("[[rules]]\npath = '^" + "(" * 1200 + "a" + ")" * 1200 + "'", "rule 1: bad regex"),
        # A glob, or a regex without its ^: a literal prefix that would match nothing.
        ("[[rules]]\npath = '/admin/*'\npolicy = 'deny'", "rule 1: path '/admin/*' has '*'"),
        ("[[rules]]\npath = '/reports/.*'", "rule 1: path '/reports/.*' has '*'"),
        ("[[rules]]\npath = '/reports/.+'", "rule 1: path '/reports/.+' has '.+'"),
        ("[[rules]]\npath = '/reports/[0-9]+'", "rule 1: path '/reports/[0-9]+' has '['"),
        ("[[rules]]\npath = '/users/{id}/keys'", "rule 1: path '/users/{id}/keys' has '{'"),
        ("[[rules]]\npath = '/admin|/ops'", "rule 1: path '/admin|/ops' has '|'"),
        # A line break or tab in the value (a TOML escape, a multi-line string).
        ('[[rules]]\npath = "/admin\\n"', "rule 1: path '/admin\\n' has the control character"),
        ('[[rules]]\npath = """/admin\n"""', "rule 1: path '/admin\\n' has the control char"),
        ('[[rules]]\npath = "/ad\\tmin"', "rule 1: path '/ad\\tmin' has the control character"),
        ('[[rules]]\npath = "^/admin\\r$"', "rule 1: path '^/admin\\r$' has the control char"),
        ("[[rules]]\npath = '/x'\npolicy = 'allow'", "rule 1: unknown policy 'allow'"),
        ("[[rules]]\npath = '/x'\npolicy = 'deny'\nallow = ['a@b.com']", "rule 1: allow and"),
        ("[[rules]]\npath = '/x'\nallow = []", "rule 1: allow must be a non-empty list"),
        ("[[rules]]\npath = '/x'\nallow = ['bob']", "rule 1: allow entry 'bob'"),
        ("[[rules]]\npath = '/x'\nallow = ['@nodot']", "rule 1: allow entry '@nodot'"),
        ("[[rules]]\npath = '/x'\nallow = ['+44 20 7946 0958']", "is not an E.164 number"),
        ("[[rules]]\npath = '/x'\nallow = ['+4420794609']", "rule 1: allow entry '+4420794609'"),
        ("[[rules]]\npath = '/x'\nmax_age = 0", "rule 1: max_age 0"),
        ("[[rules]]\npath = '/x'\nmax_age = '15m'", "rule 1: max_age '15m'"),
        ("[[rules]]\npath = '/x'\nmax_age = true", "rule 1: max_age True"),
        ("[[rules]]\npath = '/x'\nmethods = ['GE T']", "rule 1: method 'GE T'"),
        ("[[rules]]\npath = '/x'\nhosts = ['tools.example.com:443']", "rule 1: host"),
        ("[[rules]]\npath = '/x'\nhosts = ['bad host']", "rule 1: host 'bad host'"),
        (
            "[[rules]]\npath = '/'\n[[rules]]\npath = '/x'",
            "rule 2 (/x) can never match: rule 1 (/)",
        ),
        (
            "[[rules]]\npath = '^.*'\npolicy = 'deny'\n[[rules]]\npath = '/x'",
            "rule 2 (/x) can never match: rule 1 (^.*)",
        ),
        (
            "[[rules]]\npath = '/admin'\n[[rules]]\npath = '/admin/users'\npolicy = 'deny'",
            "rule 2 (/admin/users) can never match: rule 1 (/admin)",
        ),
        (
            "[[rules]]\npath = '/admin/'\n[[rules]]\npath = '/admin'\npolicy = 'deny'",
            "rule 2 (/admin) can never match",
        ),
        (
            "[[rules]]\npath = '/a'\nmethods = ['POST', 'PUT']\n"
            "[[rules]]\npath = '/a/b'\nmethods = ['PUT']\npolicy = 'deny'",
            "rule 2 (/a/b) can never match",
        ),
    ],
    ids=lambda v: str(v)[:40],
)
def test_a_bad_file_is_one_config_error_naming_file_rule_and_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = rules_file(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_rules(path, roles_claim=ROLES)
    assert caught.value.setting == "PWLESS_GATE_RULES_FILE"
    assert path in caught.value.problem
    assert problem in caught.value.problem
    assert "\n" not in str(caught.value)


def test_the_home_page_regex_is_not_every_path(tmp_path: Path) -> None:
    """A regex matches the whole path: ``^/`` is the home page alone, so the rules
    after it (and after ``PWLESS_GATE_PUBLIC_PATHS=^/``) are reachable."""
    text = """
        [[rules]]
        path = "^/"
        policy = "public"
        [[rules]]
        path = "/admin"
        allow = ["boss@example.com"]
        """
    rules = load(tmp_path, text)
    assert numbers(rules, "GET", "/") == 1
    assert numbers(rules, "GET", "/admin/users") == 2
    assert numbers(rules, "GET", "/other") is None
    rules = load(tmp_path, text.replace('"^/"', '"/static"'), public_paths=("^/",))
    assert rules.match("GET", "/").public  # type: ignore[union-attr]
    assert numbers(rules, "GET", "/admin") == 2


def test_prefixes_may_hold_the_characters_paths_do(tmp_path: Path) -> None:
    """``+ ( ) $`` and a lone ``.`` are path characters, not only a regex's: such a
    prefix loads and matches literally."""
    rules = load(
        tmp_path,
        """
        [[rules]]
        path = "/c++"
        policy = "deny"
        [[rules]]
        path = "/wiki/Python_(language)"
        policy = "deny"
        [[rules]]
        path = "/odata/$metadata"
        policy = "deny"
        [[rules]]
        path = "/files/report.v2"
        policy = "deny"
        """,
    )
    assert numbers(rules, "GET", "/c++/std") == 1
    assert numbers(rules, "GET", "/wiki/Python_(language)") == 2
    assert numbers(rules, "GET", "/odata/$metadata") == 3
    assert numbers(rules, "GET", "/files/report.v2/x") == 4


def test_client_entries_name_an_allowed_client(tmp_path: Path) -> None:
    path = rules_file(tmp_path, "[[rules]]\npath = '/x'\nallow = ['client:other']")
    with pytest.raises(ConfigError) as caught:
        load_rules(path, clients=("robot",))
    assert "rule 1" in caught.value.problem
    assert "'client:other'" in caught.value.problem
    assert "PWLESS_GATE_ALLOWED_CLIENTS" in caught.value.problem
    rule = load(tmp_path, "[[rules]]\npath = '/x'\nallow = ['client:robot', 'ops@example.com']")
    found = rule.match("GET", "/x")
    assert found is not None
    assert found.describe() == "signed-in; allow ops@example.com, client:robot"


def test_role_entries_need_the_roles_claim(tmp_path: Path) -> None:
    path = rules_file(tmp_path, "[[rules]]\npath = '/x'\nallow = ['role:finance']")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert "rule 1" in caught.value.problem
    assert "PWLESS_GATE_ROLES_CLAIM" in caught.value.problem


def test_a_shadowed_public_path_stops_too_and_limited_rules_do_not_shadow(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            tmp_path,
            "[[rules]]\npath = '/static/img'\npolicy = 'deny'",
            public_paths=("/static",),
        )
    assert "PWLESS_GATE_PUBLIC_PATHS (/static)" in caught.value.problem
    rules = load(
        tmp_path,
        "[[rules]]\npath = '/'\nmethods = ['POST']\npolicy = 'deny'\n"
        "[[rules]]\npath = '/a'\nhosts = ['x.example.com']\npolicy = 'deny'\n"
        "[[rules]]\npath = '/a'\n",
    )
    assert len(rules) == 3


def test_a_missing_file_is_one_line_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_rules(str(tmp_path / "nope.toml"))
    assert "cannot be read" in caught.value.problem


SIGNED_IN_AT = 1_000_000.0


@pytest.mark.parametrize(
    ("entry", "connection", "identifier", "roles", "admitted"),
    [
        ("boss@example.com", "email", "boss@example.com", (), True),
        ("Boss@Example.com", "email", "boss@example.com", (), True),
        ("boss@example.com", "email", "ops@example.com", (), False),
        ("@example.com", "email", "ada@example.com", (), True),
        ("@example.com", "email", "ada@eu.example.com", (), False),
        (".example.com", "email", "ada@eu.example.com", (), True),
        (".example.com", "email", "ada@example.com", (), False),
        (".example.com", "email", "ada@badexample.com", (), False),
        # An internationalised domain, either way: sessions hold the xn-- form.
        ("@bücher.example", "email", "ada@xn--bcher-kva.example", (), True),
        ("@xn--bcher-kva.example", "email", "ada@xn--bcher-kva.example", (), True),
        (".bücher.example", "email", "ada@eu.xn--bcher-kva.example", (), True),
        ("ada@bücher.example", "email", "ada@xn--bcher-kva.example", (), True),
        ("+442079460958", "sms", "+442079460958", (), True),
        ("+442079460958", "sms", "+442079460959", (), False),
        ("+442079460958", "email", "+442079460958", (), False),
        ("role:finance", "email", "ada@example.com", ("finance",), True),
        ("role:finance", "email", "ada@example.com", ("sales",), False),
        ("role:finance", "client-credentials", "svc", (), False),
        ("@example.com", "client-credentials", "svc@example.com", (), False),
        ("client:robot", "client-credentials", "robot@clients", (), True),
        ("client:robot", "client-credentials", "robot2@clients", (), False),
        ("client:robot", "client-credentials", "robot", (), False),
        # A person whose address reads like a machine's sub is not the machine.
        ("client:robot", "email", "robot@clients", (), False),
        ("robot@clients.example", "client-credentials", "robot@clients", (), False),
    ],
    ids=lambda v: str(v),
)
def test_each_allow_kind(
    tmp_path: Path,
    entry: str,
    connection: str,
    identifier: str,
    roles: tuple[str, ...],
    admitted: bool,
) -> None:
    rules = load(tmp_path, f"[[rules]]\npath = '/x'\nallow = ['{entry}']\n")
    said = verdict(rules.match("GET", "/x"), connection, identifier, roles, 0.0, 1.0)
    assert said == (Verdict.ADMIT if admitted else Verdict.REFUSE)


def test_max_age_is_measured_from_the_sign_in_and_tokens_cannot_meet_it(tmp_path: Path) -> None:
    rule = load(tmp_path, "[[rules]]\npath = '/pay'\nmax_age = 900\n").match("GET", "/pay")
    person = ("email", "ada@example.com", ())
    assert verdict(rule, *person, SIGNED_IN_AT, SIGNED_IN_AT + 900) == Verdict.ADMIT
    assert verdict(rule, *person, SIGNED_IN_AT, SIGNED_IN_AT + 901) == Verdict.STALE
    assert verdict(rule, *person, None, SIGNED_IN_AT) == Verdict.REFUSE


def test_fifty_rules_are_not_scanned_one_by_one(tmp_path: Path) -> None:
    text = "".join(
        f"[[rules]]\npath = '/tool{i}'\nallow = ['u{i}@example.com']\n" for i in range(50)
    )
    rules = load(tmp_path, text)
    assert numbers(rules, "GET", "/tool37/page/x") == 38
    assert len(rules._chain("/tool37/page/x")) == 1
    assert rules._chain("/elsewhere") == ()


def test_lookup_remembers_answers_and_reads_the_host_only_when_a_rule_names_hosts(
    tmp_path: Path,
) -> None:
    rules = load(tmp_path, EXAMPLE)
    asked: list[str] = []

    def host_of(headers: Any) -> str:
        asked.append(headers["HTTP_HOST"])
        return str(headers["HTTP_HOST"])

    tools = {"HTTP_HOST": "Tools.Example.com:443"}
    for _ in range(3):
        assert rules.lookup("GET", "/admin/x", tools, host_of).number == 2  # type: ignore[union-attr]
    assert asked == []
    assert rules.lookup("POST", "/finance/pay", tools, host_of).number == 3  # type: ignore[union-attr]
    assert rules.lookup("POST", "/finance/pay", {"HTTP_HOST": "x.example.com"}, host_of) is None
    assert asked == ["Tools.Example.com:443", "x.example.com"]
    for i in range(MEMO_SIZE + 10):
        rules.lookup("GET", f"/p{i}", tools, host_of)
    assert len(rules._memo) <= MEMO_SIZE


NON_ASCII = """
[[rules]]
path = "/ärzte"
policy = "deny"

[[rules]]
path = "^/[ä-ö]+/x+$"
policy = "deny"

[[rules]]
path = "^/tage/ü+$"
allow = ["boss@example.com"]

[[rules]]
path = "^/ein/.$"
policy = "deny"

[[rules]]
path = "/日本"
allow = ["boss@example.com"]
"""


def wsgi(path: str) -> str:
    """``path`` as a WSGI server puts it in ``PATH_INFO``: its UTF-8 bytes as latin-1."""
    return path.encode("utf-8").decode("latin-1")


@pytest.mark.parametrize(
    ("path", "number"),
    [
        pytest.param(wsgi("/ärzte"), 1, id="prefix"),
        pytest.param(wsgi("/ärzte/liste"), 1, id="below-a-prefix"),
        pytest.param(wsgi("/ärzte/../x"), "unclear", id="dots-out-of-a-prefix"),
        pytest.param(wsgi("/äö/xx"), 2, id="a-class-of-non-ascii-letters"),
        pytest.param(wsgi("/tage/üüü"), 3, id="a-repeated-non-ascii-letter"),
        pytest.param(wsgi("/ein/ä"), 4, id="one-character-is-one-dot"),
        pytest.param(wsgi("/日本/x"), 5, id="three-byte-characters"),
        pytest.param(wsgi("/a\u0308rzte"), None, id="nfd-is-another-path"),
        pytest.param("/\xe4rzte", None, id="latin-1-byte-is-not-utf-8"),
        pytest.param(wsgi("/ärzte2"), None, id="segment-boundary"),
    ],
)
def test_rules_with_non_ascii_characters_match_the_path_as_wsgi_gives_it(
    tmp_path: Path, path: str, number: int | str | None
) -> None:
    """PEP 3333: ``/ärzte`` arrives as ``/Ã¤rzte`` (its UTF-8 bytes read as latin-1)."""
    rules = load(tmp_path, NON_ASCII)
    expected = UNCLEAR if number == "unclear" else number
    found = rules.lookup("GET", path, {}, None)
    assert (found if found is UNCLEAR or found is None else found.number) == expected
    found = rules.match("GET", path)
    assert (found if found is UNCLEAR or found is None else found.number) == expected


def test_public_paths_with_non_ascii_characters_match_too(tmp_path: Path) -> None:
    rules = load(
        tmp_path,
        '[[rules]]\npath = "/"\npolicy = "deny"\n',
        public_paths=("/öffentlich/", "^/frei/[äöü]+$"),
    )
    assert rules.match("GET", wsgi("/öffentlich/a.css")).public  # type: ignore[union-attr]
    assert rules.match("GET", wsgi("/frei/äöü")).public  # type: ignore[union-attr]
    assert rules.match("GET", wsgi("/frei/abc")).closed  # type: ignore[union-attr]


def test_paths_match_case_sensitively_unless_a_regex_says_otherwise(tmp_path: Path) -> None:
    """As the README says: ``/admin`` is not ``/Admin``; ``(?i:…)`` covers every spelling."""
    rules = load(
        tmp_path,
        '[[rules]]\npath = "/admin"\npolicy = "deny"\n'
        '[[rules]]\npath = "^(?i:/ärzte)(/.*)?$"\npolicy = "deny"\n',
    )
    assert numbers(rules, "GET", "/Admin/users") is None
    assert numbers(rules, "GET", "/admin/users") == 1
    assert numbers(rules, "GET", wsgi("/ÄRZTE/x")) == 2
