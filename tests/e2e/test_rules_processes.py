"""The rules as processes: a bad rules file stops gunicorn and ``pwless-gate check`` with
one line; ``pwless-gate explain``; the local tenant's ``--roles-claim``/``--role``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import jwt
import pytest
import requests

from pwless_gate.boot import APP_LOAD_ERROR

from ..helpers import CLIENT_ID, CLIENT_SECRET
from ..procs import BIN, ROOT, dev_tenant, free_port
from ..test_boot import environment, gate_lines, gunicorn_args, run_gunicorn
from ..test_rules import EXAMPLE

pytestmark = pytest.mark.slow

ROLES = "https://example.com/roles"
ENV = {
    "PWLESS_GATE_AUTH0_DOMAIN": f"http://127.0.0.1:{free_port()}",  # never called here
    "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
    "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
    "PWLESS_GATE_ALLOWED_DOMAINS": "example.com,other.org",
    "PWLESS_GATE_ROLES_CLAIM": ROLES,
}

BAD_FILES = {
    "no-parse": ("[[rules]\npath = '/x'\n", "does not parse"),
    "unknown-key": ("[[rules]]\npath = '/x'\nallw = ['a@example.com']\n", "rule 1: unknown key"),
    "bad-regex": ("[[rules]]\npath = '/a'\n[[rules]]\npath = '^/(b'\n", "rule 2: bad regex"),
    "bad-policy": ("[[rules]]\npath = '/x'\npolicy = 'open'\n", "rule 1: unknown policy"),
    "shadowed": ("[[rules]]\npath = '/'\n[[rules]]\npath = '/x'\n", "rule 2 (/x) can never"),
    "bad-max-age": ("[[rules]]\npath = '/x'\nmax_age = -5\n", "rule 1: max_age"),
    "bad-e164": ("[[rules]]\npath = '/x'\nallow = ['+0044']\n", "rule 1: allow entry '+0044'"),
    "bad-host": ("[[rules]]\npath = '/x'\nhosts = ['a b']\n", "rule 1: host"),
    "role-without-claim": ("[[rules]]\npath = '/x'\nallow = ['role:ops']\n", "ROLES_CLAIM"),
    "client-not-allowed": (
        "[[rules]]\npath = '/x'\nallow = ['client:robot']\n",
        "rule 1: allow entry 'client:robot' names a client that is not in "
        "PWLESS_GATE_ALLOWED_CLIENTS",
    ),
}


def settings_for(tmp_path: Path, case: str) -> dict[str, str]:
    text, _problem = BAD_FILES[case]
    path = tmp_path / "rules.toml"
    path.write_text(text)
    settings = {**ENV, "PWLESS_GATE_RULES_FILE": str(path)}
    if case == "role-without-claim":
        del settings["PWLESS_GATE_ROLES_CLAIM"]
    return settings


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_rules_file_stops_gunicorn_with_one_line(tmp_path: Path, case: str) -> None:
    result = run_gunicorn(
        gunicorn_args('pwless_gate:gate("tests.apps:whoami")'),
        {**environment(tmp_path, settings_for(tmp_path, case)), "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == APP_LOAD_ERROR, result.stderr
    lines = gate_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "PWLESS_GATE_RULES_FILE" in lines[0]
    assert str(tmp_path / "rules.toml") in lines[0]
    assert BAD_FILES[case][1] in lines[0]
    assert "Traceback" not in result.stderr


def environ_without_gate() -> dict[str, str]:
    return {k: v for k, v in __import__("os").environ.items() if not k.startswith("PWLESS_GATE_")}


def run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pwless-gate"), *args],
        env={**environ_without_gate(), "PWLESS_GATE_STATE_DIR": str(tmp_path), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_check_stops_with_the_same_line(tmp_path: Path, case: str) -> None:
    result = run(["check"], settings_for(tmp_path, case), tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pwless-gate: PWLESS_GATE_RULES_FILE: ")
    assert BAD_FILES[case][1] in lines[0]


@pytest.mark.parametrize(
    ("args", "status", "said"),
    [
        (["GET", "https://tools.example.com/healthz"], 0, "rule 1 (/healthz)"),
        (["GET", "/admin/users"], 2, "sign-in needed"),
        (["--user", "ada@example.com", "GET", "/admin/users"], 1, "refused"),
        (["--user", "Boss@Example.com", "GET", "/admin/users"], 0, "allowed"),
        (
            [
                "--user",
                "x@other.org",
                "--role",
                "finance",
                "POST",
                "https://tools.example.com/finance/x",
            ],
            0,
            "within the last 900 s",
        ),
        (["--user", "x@other.org", "POST", "https://tools.example.com/finance/x"], 1, "refused"),
        (["--user", "x@other.org", "GET", "https://tools.example.com/finance/x"], 0, "no rule"),
        (["--user", "x@other.org", "DELETE", "/old-export"], 1, "closed to everyone"),
        (["--user", "x@elsewhere.net", "GET", "/reports"], 1, "may not sign in at all"),
    ],
    ids=[
        "public",
        "anonymous",
        "not-listed",
        "listed",
        "role",
        "no-role",
        "method-not-limited",
        "deny",
        "not-on-global-list",
    ],
)
def test_explain_says_which_rule_decides(
    tmp_path: Path, args: list[str], status: int, said: str
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(EXAMPLE)
    result = run(["explain", *args], {**ENV, "PWLESS_GATE_RULES_FILE": str(path)}, tmp_path)
    assert result.returncode == status, result.stdout + result.stderr
    assert said in result.stdout
    assert len(result.stdout.strip().splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["GET", "http://[::1/admin"], "is not a URL"),
        (["GET", "http://[zz]/admin"], "is not a URL"),
        (["G ET", "/admin"], "is not an HTTP method"),
        (["GET", "admin"], "is not a URL or a path starting with /"),
    ],
    ids=["unclosed-ipv6", "bad-ipv6", "method-with-space", "relative"],
)
def test_explain_refuses_what_it_cannot_read_in_one_line(
    tmp_path: Path, args: list[str], problem: str
) -> None:
    """Exit 2 with one line: never a traceback, never 1 (which means "refused")."""
    path = tmp_path / "rules.toml"
    path.write_text(EXAMPLE)
    result = run(["explain", *args], {**ENV, "PWLESS_GATE_RULES_FILE": str(path)}, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("pwless-gate: ")
    assert problem in line


def test_explain_judges_a_path_through_the_prefix_as_what_it_leads_to(tmp_path: Path) -> None:
    """``/_gate/../admin`` is not one of the gate's pages: the rule for /admin decides."""
    path = tmp_path / "rules.toml"
    path.write_text(EXAMPLE)
    env = {**ENV, "PWLESS_GATE_RULES_FILE": str(path)}
    plain = run(["explain", "GET", "/_gate/login"], env, tmp_path)
    assert plain.returncode == 0
    assert "the gate's own pages" in plain.stdout
    crafted = run(["explain", "--user", "ada@example.com", "GET", "/_gate/../admin"], env, tmp_path)
    assert "the gate's own pages" not in crafted.stdout
    assert crafted.returncode == 1, crafted.stdout


@pytest.mark.parametrize(
    ("args", "status", "said"),
    [
        (["GET", "/tools/_gate/login"], 0, "the gate's own pages"),
        (["GET", "/_gate/login"], 2, "sign-in needed"),  # another app's, outside the mount
        (["--user", "ada@example.com", "GET", "/tools/admin"], 1, "rule 1 (/admin) decides"),
        (["--user", "ada@example.com", "GET", "https://tools.example.com/tools"], 0, "no rule"),
        (["--user", "ada@example.com", "GET", "/tools/../tools/admin"], 1, "closed"),
        (["--user", "ada@example.com", "GET", "/admin"], 1, "rule 1 (/admin) decides"),
    ],
    ids=["own-page", "outside-prefix", "inside", "mount-itself", "dot-dot", "outside"],
)
def test_explain_reads_public_urls_path_as_the_mount(
    tmp_path: Path, args: list[str], status: int, said: str
) -> None:
    """As ``{prefix}/auth`` of a gate mounted there: a path under the mount as the app
    sees it, one outside as it stands; the gate's pages only under the mount."""
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\npath = "/admin"\npolicy = "deny"\n')
    env = {
        **ENV,
        "PWLESS_GATE_RULES_FILE": str(rules),
        "PWLESS_GATE_PUBLIC_URL": "https://tools.example.com/tools",
    }
    result = run(["explain", *args], env, tmp_path)
    assert result.returncode == status, result.stdout + result.stderr
    assert said in result.stdout


@pytest.mark.parametrize(
    ("path", "status", "said"),
    [
        ("/ärzte/liste", 1, "rule 1 (/ärzte) decides"),
        ("/%C3%A4rzte", 1, "rule 1 (/ärzte) decides"),
        ("https://tools.example.com/%c3%a4rzte?x=1", 1, "rule 1 (/ärzte) decides"),
        ("/a\u0308rzte", 0, "no rule"),  # NFD: another path
        ("/%E4rzte", 0, "no rule"),  # latin-1, not UTF-8: another path
        ("/öffentlich/", 0, "rule 2 (/öffentlich) decides"),
    ],
    ids=["text", "encoded", "url", "nfd", "latin-1", "public"],
)
def test_explain_matches_rules_with_non_ascii_paths_as_the_gate_does(
    tmp_path: Path, path: str, status: int, said: str
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\npath = "/ärzte"\npolicy = "deny"\n\n'
        '[[rules]]\npath = "/öffentlich"\npolicy = "public"\n'
    )
    env = {**ENV, "PWLESS_GATE_RULES_FILE": str(rules)}
    result = run(["explain", "--user", "ada@example.com", "GET", path], env, tmp_path)
    assert result.returncode == status, result.stdout + result.stderr
    assert said in result.stdout


def test_explain_reads_a_path_that_is_not_utf_8(tmp_path: Path) -> None:
    """A byte the shell passes that is no UTF-8 is the byte a request would carry."""
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\npath = "/x"\npolicy = "deny"\n')
    env = {**ENV, "PWLESS_GATE_RULES_FILE": str(rules), "LC_ALL": "C.UTF-8"}
    result = subprocess.run(
        [str(BIN / "pwless-gate"), "explain", "GET", b"/x/\xe4rzte"],
        env={**environ_without_gate(), "PWLESS_GATE_STATE_DIR": str(tmp_path), **env},
        cwd=tmp_path,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 1, result.stderr
    assert b"rule 1 (/x) decides" in result.stdout


@pytest.mark.parametrize(
    ("user", "path", "status", "said"),
    [
        ("robot@clients", "/feeds/x", 0, "robot@clients may enter"),
        ("robot@clients", "/people", 1, "not on this rule's allow list"),
        ("robot@clients", "/payroll", 1, "its token is no recent sign-in"),
        ("other@clients", "/feeds/x", 1, "not in PWLESS_GATE_ALLOWED_CLIENTS"),
    ],
    ids=["listed", "not-listed", "max-age", "not-allowed"],
)
def test_explain_speaks_of_machines(
    tmp_path: Path, user: str, path: str, status: int, said: str
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "[[rules]]\npath = '/feeds'\nallow = ['client:robot']\n\n"
        "[[rules]]\npath = '/people'\nallow = ['@example.com']\n\n"
        "[[rules]]\npath = '/payroll'\nmax_age = 900\n"
    )
    env = {
        **ENV,
        "PWLESS_GATE_RULES_FILE": str(rules),
        "PWLESS_GATE_AUDIENCE": "https://api.test",
        "PWLESS_GATE_ALLOWED_CLIENTS": "robot",
    }
    result = run(["explain", "--user", user, "GET", path], env, tmp_path)
    assert result.returncode == status, result.stdout + result.stderr
    assert said in result.stdout


def test_the_local_tenant_adds_roles_to_tokens(tmp_path: Path) -> None:
    with dev_tenant(
        tmp_path,
        "--roles-claim",
        ROLES,
        "--role",
        "Fin@Example.com=finance",
        "--role",
        "fin@example.com=audit",
        "--api",
        "https://api.test",
    ) as url:
        started = requests.post(
            f"{url}/passwordless/start",
            json={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "connection": "email",
                "email": "fin@example.com",
                "send": "code",
            },
            timeout=10,
        )
        assert started.status_code == 200, started.text
        code = requests.get(f"{url}/_dev/outbox", timeout=10).json()["messages"][-1]["code"]
        tokens = requests.post(
            f"{url}/oauth/token",
            json={
                "grant_type": "http://auth0.com/oauth/grant-type/passwordless/otp",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "realm": "email",
                "username": "fin@example.com",
                "otp": code,
                "scope": "openid email",
                "audience": "https://api.test",
            },
            timeout=10,
        ).json()
    id_claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    access_claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert id_claims[ROLES] == ["finance", "audit"]
    assert access_claims[ROLES] == ["finance", "audit"]


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--role", "a@example.com=x"], "--role needs --roles-claim"),
        (["--roles-claim", "https://x.auth0.com/roles"], "Auth0 drops"),
        (["--roles-claim", "roles"], "must be a URL"),
        (["--roles-claim", ROLES, "--role", "nobody"], "must look like"),
    ],
)
def test_bad_role_flags_stop_the_tenant_with_one_line(
    tmp_path: Path, flags: list[str], problem: str
) -> None:
    result = run(["dev-tenant", "--port", str(free_port()), *flags], {}, tmp_path)
    assert result.returncode == 2
    assert problem in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_reports_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(EXAMPLE)
    settings = {**ENV, "PWLESS_GATE_RULES_FILE": str(path), "PWLESS_GATE_PUBLIC_PATHS": "/static"}
    result = run(["check"], settings, tmp_path)
    assert f"rules:      4 from {path}, 1 public path; roles from {ROLES}" in result.stdout
