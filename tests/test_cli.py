"""The ``pwless-gate`` command, run as a real process."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from pwless_gate.devtenant import DevTenant, serve_in_thread
from pwless_gate.stores.sqlite import SCHEMA_VERSION, SQLiteDatabase

from .helpers import CLIENT_ID, CLIENT_SECRET, hidden, state_dir
from .procs import (
    BIN,
    ROOT,
    STORE_SETTINGS,
    Process,
    RedisClusterNodes,
    RedisSentinels,
    RedisServer,
    dev_tenant,
    free_port,
    require_binary,
    wait_for_port,
)

PWLESS_GATE = str(BIN / "pwless-gate")
BASE_ENV = {
    "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
    "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
    "PWLESS_GATE_SECRET_KEY": "cli-test-secret-key-0123456789",
    "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PWLESS_GATE_")}
    if not STORE_SETTINGS & env.keys():
        env = {**env, "PWLESS_GATE_STATE_DIR": state_dir()}
    return subprocess.run(
        [PWLESS_GATE, *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({}, "PWLESS_GATE_AUTH0_DOMAIN"),
        ({"PWLESS_GATE_AUTH0_DOMAIN": "http://example.com"}, "PWLESS_GATE_AUTH0_DOMAIN"),
        (
            {"PWLESS_GATE_AUTH0_DOMAIN": "acme.auth0.com", "PWLESS_GATE_METHODS": "fax"},
            "PWLESS_GATE_METHODS",
        ),
        (
            {"PWLESS_GATE_AUTH0_DOMAIN": "acme.auth0.com", "PWLESS_GATE_SESSION_LIFETIME": "x"},
            "PWLESS_GATE_SESSION_LIFETIME",
        ),
    ],
    ids=["missing-domain", "plain-http", "bad-method", "bad-number"],
)
@pytest.mark.parametrize("command", ["serve", "check"])
def test_bad_config_stops_with_one_line(env: dict[str, str], setting: str, command: str) -> None:
    args = [command, "tests.apps:whoami"] if command == "serve" else [command]
    result = run(args, {**BASE_ENV, **env})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert setting in lines[0]


def test_serve_with_unimportable_app_names_it() -> None:
    result = run(
        ["serve", "no_such_module:app"], {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": "acme.auth0.com"}
    )
    assert result.returncode == 2
    assert "no_such_module" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_dev_tenant_and_serve_from_the_command_line(tmp_path: Path) -> None:
    tenant_port, gate_port = free_port(), free_port()
    tenant_url = f"http://127.0.0.1:{tenant_port}"
    gate_url = f"http://127.0.0.1:{gate_port}"
    tenant = Process(
        [
            PWLESS_GATE,
            "dev-tenant",
            "--host",
            "127.0.0.1",
            "--port",
            str(tenant_port),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--allowed-callback",
            f"{gate_url}/_gate/callback",
        ],
        log=tmp_path / "tenant.log",
    )
    gate = Process(
        [
            PWLESS_GATE,
            "serve",
            "tests.apps:whoami",
            "--host",
            "127.0.0.1",
            "--port",
            str(gate_port),
        ],
        env={**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant_url},
        log=tmp_path / "gate.log",
    )
    try:
        wait_for_port(tenant_port, tenant.proc)
        wait_for_port(gate_port, gate.proc)
        discovery = requests.get(f"{tenant_url}/.well-known/openid-configuration", timeout=5)
        assert discovery.json()["issuer"] == tenant_url + "/"

        check = run(["check"], {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant_url})
        assert check.returncode == 0, check.stderr
        assert "ok" in check.stdout.splitlines()[-1]

        browser = requests.Session()
        page = browser.get(f"{gate_url}/_gate/login", timeout=5)
        sent = browser.post(
            f"{gate_url}/_gate/login",
            data={"csrf_token": hidden(page.text, "csrf_token"), "email": "cli@example.com"},
            timeout=10,
        )
        assert sent.status_code == 200, sent.text
        code = code_from_log(tenant, "cli@example.com")
        done = browser.post(
            f"{gate_url}/_gate/verify",
            data={
                "csrf_token": hidden(sent.text, "csrf_token"),
                "tx": hidden(sent.text, "tx"),
                "code": code,
            },
            timeout=10,
        )
        assert done.status_code == 200
        assert done.json()["remote_user"] == "cli@example.com"
    finally:
        gate.stop()
        tenant.stop()


def code_from_log(tenant: Any, email: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        match = re.findall(rf"{re.escape(email)}\D*?(\d{{6}})", tenant.output())
        if match:
            return str(match[-1])
        time.sleep(0.05)
    raise AssertionError(f"no code for {email} in the tenant's output:\n{tenant.output()}")


def outbox_code(tenant_url: str, email: str) -> str:
    """The newest code the tenant at ``tenant_url`` sent to ``email`` (its ``/_dev/outbox``)."""
    messages = requests.get(f"{tenant_url}/_dev/outbox", timeout=5).json()["messages"]
    codes = [m["code"] for m in messages if m["to"] == email and m["code"]]
    assert codes, f"no code for {email} in {messages}"
    return str(codes[-1])


def test_check_reports_unreachable_tenant() -> None:
    port = free_port()
    result = run(["check"], {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": f"http://127.0.0.1:{port}"})
    assert result.returncode == 1
    assert "cannot reach" in result.stderr
    assert_one_problem(result, "PWLESS_GATE_AUTH0_DOMAIN", f"127.0.0.1:{port}")
    assert "ConnectionError" in result.stderr


def test_check_names_a_refused_client(tenant: Any) -> None:
    result = run(
        ["check"],
        {
            **BASE_ENV,
            "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
            "PWLESS_GATE_CLIENT_SECRET": "not-the-secret",
        },
    )
    assert result.returncode == 1
    assert_one_problem(result, "CLIENT_SECRET", host(tenant.url))


def test_check_passes_and_reminds_of_the_magic_link_flag(tenant: Any) -> None:
    result = run(
        ["check"],
        {
            **BASE_ENV,
            "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
            "PWLESS_GATE_METHODS": "email-link",
            "PWLESS_GATE_PUBLIC_URL": "http://127.0.0.1:8000/tools/",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "allow_magiclink_verify_without_session" in result.stdout
    assert "client:     ok" in result.stdout
    assert "public URL: http://127.0.0.1:8000/tools" in result.stdout


def test_check_says_when_magic_links_need_a_public_url(tenant: Any) -> None:
    result = run(
        ["check"],
        {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant.url, "PWLESS_GATE_METHODS": "email-link"},
    )
    assert result.returncode == 0, result.stderr  # the local tenant: development, a note
    assert "PWLESS_GATE_PUBLIC_URL is not set" in result.stdout


def host(url: str) -> str:
    """``http://127.0.0.1:8001`` → ``127.0.0.1:8001``."""
    return url.partition("://")[2]


def found(result: subprocess.CompletedProcess[str], label: str) -> str:
    """What ``check`` printed after ``label:`` on stdout."""
    for line in result.stdout.splitlines():
        if line.startswith(label + ":"):
            return line[len(label) + 1 :].strip()
    raise AssertionError(f"no {label!r} line in:\n{result.stdout}")


def assert_one_problem(result: subprocess.CompletedProcess[str], *names: str) -> None:
    """``check`` printed exactly one problem, on one line, naming all of ``names``."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pwless-gate: "), result.stderr
    for name in names:
        assert name in lines[0], result.stderr


@pytest.fixture
def stopped_redis(tmp_path: Path) -> str:
    """The URL of a redis-server that ran, and was stopped."""
    server = RedisServer(require_binary("redis-server", "check reaches Redis"), tmp_path)
    server.start()
    server.stop()
    return server.url


@pytest.mark.parametrize("store", ["default", "cookie", "redis"])
def test_check_says_what_it_found(tenant: Any, redis_url: str, store: str, tmp_path: Path) -> None:
    env = {
        **BASE_ENV,
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_ALLOWED_DOMAINS": "acme.example",
        "PWLESS_GATE_PUBLIC_URL": "http://127.0.0.1:8000/tools",
    }
    if store == "redis":
        env["PWLESS_GATE_REDIS_URL"] = redis_url
    elif store == "cookie":
        env["PWLESS_GATE_STORE"] = "cookie"
    else:
        env["PWLESS_GATE_STATE_DIR"] = str(tmp_path)
    result = run(["check", "tests.apps:whoami"], env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert found(result, "allow") == "anyone with an address at acme.example"
    assert found(result, "public URL") == "http://127.0.0.1:8000/tools"
    if store == "redis":
        assert found(result, "store").startswith(f"Redis at {host(redis_url)[:-2]}: ok")
    elif store == "cookie":
        assert found(result, "store") == "cookie (stateless)"
    else:
        assert found(result, "store") == (
            f"SQLite at {tmp_path / 'pwless-gate.sqlite3'}: no file yet, the gate makes it "
            "there when it starts (run check where the gate runs, with its settings)"
            " (the default; PWLESS_GATE_STORE chooses another)"
        )
    assert found(result, "app") == "tests.apps:whoami is function tests.apps.whoami"
    assert found(result, "client").startswith("ok")
    assert found(result, "connection").startswith("email: ok")
    assert found(result, "delivery").startswith("not checked")
    assert result.stdout.splitlines()[-1] == "ok"


@pytest.mark.parametrize("trusted", ["0", "1", "uri=1"])
def test_check_says_what_a_missing_public_url_costs(tenant: Any, trusted: str) -> None:
    """Codes only, no public URL: nothing needs it, but behind a forwardAuth proxy (a
    trusted ``X-Forwarded-Uri``) browsers then get a 401, not the sign-in page."""
    env = {
        **BASE_ENV,
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_METHODS": "email-code",
        "PWLESS_GATE_STORE": "cookie",
        "PWLESS_GATE_TRUSTED_PROXIES": trusted,
    }
    result = run(["check"], env)
    assert result.returncode == 0, result.stderr
    said = found(result, "public URL")
    assert said.startswith("not set (not needed without magic links or federated logout")
    assert ("forwardAuth" in said) == (trusted != "0")


def test_check_names_a_store_that_does_not_answer(tenant: Any, stopped_redis: str) -> None:
    result = run(
        ["check"],
        {
            **BASE_ENV,
            "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
            "PWLESS_GATE_REDIS_URL": stopped_redis,
        },
    )
    assert result.returncode == 1
    assert_one_problem(result, "PWLESS_GATE_REDIS_URL", host(stopped_redis)[:-2], "Connection")
    assert found(result, "client").startswith("ok")  # the rest was checked all the same


def test_check_names_the_sentinels_and_the_master_they_name(
    tenant: Any, redis_sentinels: RedisSentinels
) -> None:
    env = {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant.url}
    result = run(["check"], {**env, "PWLESS_GATE_STORE": redis_sentinels.url})
    assert result.returncode == 0, result.stderr
    hosts = ",".join(f"127.0.0.1:{port}" for port in redis_sentinels.sentinel_ports)
    master = f"127.0.0.1:{redis_sentinels.master_port()}"
    said = found(result, "store")
    assert said.startswith(
        f"Redis Sentinel {redis_sentinels.service} at {hosts}: ok, master {master} ("
    )
    assert redis_sentinels.password not in result.stdout + result.stderr


def test_check_names_the_cluster_nodes(tenant: Any, redis_cluster: RedisClusterNodes) -> None:
    env = {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant.url}
    result = run(["check"], {**env, "PWLESS_GATE_STORE": redis_cluster.url})
    assert result.returncode == 0, result.stderr
    hosts = ",".join(f"127.0.0.1:{node.port}" for node in redis_cluster.nodes)
    assert found(result, "store").startswith(f"Redis Cluster at {hosts}: ok (")
    assert redis_cluster.password not in result.stdout + result.stderr


def test_check_says_the_sentinels_do_not_answer(tenant: Any) -> None:
    url = f"redis+sentinel://:s3cret@127.0.0.1:{free_port()}/gate-master"
    env = {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant.url, "PWLESS_GATE_REDIS_URL": url}
    result = run(["check"], env)
    assert result.returncode == 1
    assert_one_problem(result, "PWLESS_GATE_REDIS_URL", "Redis Sentinel gate-master at 127.0.0.1:")
    assert "s3cret" not in result.stdout + result.stderr


def test_check_opens_the_sqlite_file_and_names_its_schema(tenant: Any, tmp_path: Path) -> None:
    path = tmp_path / "gate.sqlite3"
    env = {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant.url}
    result = run(["check"], {**env, "PWLESS_GATE_STORE": f"sqlite://{path}"})
    assert result.returncode == 0, result.stderr
    assert found(result, "store").startswith(
        f"SQLite at {path}: no file yet, the gate makes it there when it starts"
    )
    assert not path.exists()  # a check run elsewhere than the gate leaves nothing behind
    made = subprocess.run(  # the gate started, and stopped
        [
            str(BIN / "python"),
            "-c",
            f"from {SQLiteDatabase.__module__} import SQLiteDatabase; "
            f"SQLiteDatabase({str(path)!r})",
        ],
        timeout=30,
    )
    assert made.returncode == 0
    again = run(["check"], {**env, "PWLESS_GATE_STORE": f"sqlite://{path}"})
    assert found(again, "store") == f"SQLite at {path} (schema v{SCHEMA_VERSION})"
    path.write_bytes(b"not a database, " * 512)
    result = run(["check"], {**env, "PWLESS_GATE_STORE": f"sqlite://{path}"})
    assert result.returncode == 1
    assert_one_problem(result, "PWLESS_GATE_STORE", str(path))
    assert found(result, "client").startswith("ok")


def test_check_makes_no_default_sqlite_file(tenant: Any, tmp_path: Path) -> None:
    env = {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant.url}
    result = run(["check"], {**env, "PWLESS_GATE_STATE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    path = tmp_path / "pwless-gate.sqlite3"
    assert found(result, "store") == (
        f"SQLite at {path}: no file yet, the gate makes it there when it starts (run check "
        "where the gate runs, with its settings) (the default; PWLESS_GATE_STORE chooses "
        "another)"
    )
    assert list(tmp_path.iterdir()) == []
    missing = tmp_path / "state" / "gate"  # the gate makes the folders, 0700
    result = run(["check"], {**env, "PWLESS_GATE_STATE_DIR": str(missing)})
    assert result.returncode == 0, result.stderr
    assert found(result, "store").startswith(
        f"SQLite at {missing / 'pwless-gate.sqlite3'}: no file yet, the gate makes it there "
        f"(and the folder {missing}) when it starts"
    )
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a-file").write_text("")
    under_a_file = tmp_path / "a-file" / "state"
    result = run(["check"], {**env, "PWLESS_GATE_STATE_DIR": str(under_a_file)})
    assert result.returncode == 1
    assert_one_problem(result, "PWLESS_GATE_STATE_DIR", str(tmp_path / "a-file"))


@pytest.mark.parametrize(
    ("app", "names"),
    [
        ("no_such_module:app", "no_such_module"),
        ("tests.apps:no_such_app", "no_such_app"),
        ("tests.apps:whoami(DEBUG)", "literals"),
    ],
    ids=["no-module", "no-attribute", "not-literal"],
)
def test_check_names_an_app_string_that_does_not_import(tenant: Any, app: str, names: str) -> None:
    result = run(["check", app], {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant.url})
    assert result.returncode == 1
    assert_one_problem(result, "app:", names)


@pytest.mark.parametrize(
    ("settings", "described"),
    [
        ({"PWLESS_GATE_ALLOWED_DOMAINS": "*"}, "anyone with an email address"),
        ({"PWLESS_GATE_ALLOWED_DOMAINS": "acme.example"}, "anyone with an address at acme.example"),
        (
            {"PWLESS_GATE_ALLOWED_DOMAINS": ".acme.example"},
            "anyone with an address at acme.example or its subdomains",
        ),
        (
            {"PWLESS_GATE_ALLOWED_DOMAINS": "a.example,b.example"},
            "anyone with an address at a.example; anyone with an address at b.example",
        ),
        ({"PWLESS_GATE_ALLOWED_EMAILS": "ann@x.example"}, "1 listed address"),
        (
            {
                "PWLESS_GATE_ALLOWED_EMAILS": "ann@x.example,bo@x.example",
                "PWLESS_GATE_ALLOWED_DOMAINS": "acme.example",
            },
            "anyone with an address at acme.example; 2 listed addresses",
        ),
        (
            {"PWLESS_GATE_METHODS": "sms-code", "PWLESS_GATE_ALLOWED_PHONES": "+442079460958"},
            "1 listed phone number",
        ),
        (
            {"PWLESS_GATE_METHODS": "sms-code", "PWLESS_GATE_ALLOWED_PHONES": "*"},
            "anyone with a phone number",
        ),
        (
            {
                "PWLESS_GATE_METHODS": "email-code,sms-code",
                "PWLESS_GATE_ALLOWED_DOMAINS": "acme.example",
                "PWLESS_GATE_ALLOWED_PHONES": "+442079460958,+442079460959",
            },
            "anyone with an address at acme.example; 2 listed phone numbers",
        ),
    ],
    ids=[
        "any-email",
        "domain",
        "subdomains",
        "two-domains",
        "one-address",
        "domain-and-addresses",
        "one-phone",
        "any-phone",
        "email-and-phones",
    ],
)
def test_check_says_who_may_sign_in(tenant: Any, settings: dict[str, str], described: str) -> None:
    env = {k: v for k, v in BASE_ENV.items() if not k.startswith("PWLESS_GATE_ALLOWED_")}
    result = run(["check"], {**env, **settings, "PWLESS_GATE_AUTH0_DOMAIN": tenant.url})
    assert result.returncode == 0, result.stderr
    assert found(result, "allow") == described


@pytest.mark.parametrize(
    ("tenant_settings", "settings", "setting"),
    [
        (
            {"grant_types": ["authorization_code", "refresh_token"]},
            {},
            "PWLESS_GATE_CLIENT_ID",
        ),
        (
            {"connections": ["email"]},
            {"PWLESS_GATE_METHODS": "sms-code", "PWLESS_GATE_ALLOWED_PHONES": "*"},
            "PWLESS_GATE_METHODS",
        ),
        ({}, {"PWLESS_GATE_AUDIENCE": "https://unknown.test"}, "PWLESS_GATE_AUDIENCE"),
        (
            {"allowed_logout_urls": ["http://127.0.0.1:8000/elsewhere"]},
            {
                "PWLESS_GATE_FEDERATED_LOGOUT": "true",
                "PWLESS_GATE_PUBLIC_URL": "http://127.0.0.1:8000",
            },
            "PWLESS_GATE_PUBLIC_URL",
        ),
    ],
    ids=["grant-not-allowed", "no-sms-connection", "unknown-audience", "logout-url-not-allowed"],
)
def test_check_names_a_tenant_setting_it_can_infer(
    tenant_settings: dict[str, Any], settings: dict[str, str], setting: str
) -> None:
    app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **tenant_settings)
    with serve_in_thread(app) as running:
        result = run(["check"], {**BASE_ENV, **settings, "PWLESS_GATE_AUTH0_DOMAIN": running.url})
    assert result.returncode == 1
    assert_one_problem(result, setting, host(running.url))


def test_check_finds_an_allowed_logout_url_and_a_known_audience() -> None:
    app = DevTenant(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        allowed_logout_urls=["http://127.0.0.1:8000/_gate/logout"],
        apis=["https://api.test"],
    )
    with serve_in_thread(app) as running:
        result = run(
            ["check"],
            {
                **BASE_ENV,
                "PWLESS_GATE_AUTH0_DOMAIN": running.url,
                "PWLESS_GATE_FEDERATED_LOGOUT": "true",
                "PWLESS_GATE_PUBLIC_URL": "http://127.0.0.1:8000",
                "PWLESS_GATE_AUDIENCE": "https://api.test",
            },
        )
    assert result.returncode == 0, result.stderr
    said = found(result, "logout URL")
    assert said.startswith("http://127.0.0.1:8000/_gate/logout: ok (an allowed logout URL)")
    assert "served under a path" in said  # public_url names no mount: the gate's decides
    assert found(result, "audience").startswith("https://api.test: not refused")


def test_check_says_why_it_could_not_check_the_logout_url() -> None:
    app = DevTenant(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        allowed_logout_urls=["http://127.0.0.1:8000/_gate/logout"],
        fault_delay=5,
    )
    with serve_in_thread(app) as running:
        app.add_fault("/v2/logout", "timeout")
        env = {
            **BASE_ENV,
            "PWLESS_GATE_AUTH0_DOMAIN": running.url,
            "PWLESS_GATE_AUTH0_TIMEOUT": "1",
            "PWLESS_GATE_FEDERATED_LOGOUT": "true",
            "PWLESS_GATE_PUBLIC_URL": "http://127.0.0.1:8000",
        }
        result = run(["check"], env)
        app.interrupt_stalls()
    assert found(result, "logout URL") == "not checked (did not answer in time: ReadTimeout)"


@pytest.mark.parametrize("command", ["serve", "check"])
def test_a_mistyped_variable_stops_with_one_line_naming_the_closest(command: str) -> None:
    args = [command, "tests.apps:whoami"] if command == "serve" else [command]
    env = {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": "acme.auth0.com"}
    result = run(args, {**env, "PWLESS_GATE_ALLOWED_DOMIANS": "acme.example"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "PWLESS_GATE_ALLOWED_DOMIANS" in lines[0]
    assert "did you mean PWLESS_GATE_ALLOWED_DOMAINS?" in lines[0]


@pytest.mark.parametrize("command", ["serve", "check"])
def test_no_allow_list_stops_with_one_line(command: str) -> None:
    args = [command, "tests.apps:whoami"] if command == "serve" else [command]
    env = {k: v for k, v in BASE_ENV.items() if not k.startswith("PWLESS_GATE_ALLOWED_")}
    result = run(args, {**env, "PWLESS_GATE_AUTH0_DOMAIN": "acme.auth0.com"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "PWLESS_GATE_ALLOWED_DOMAINS=*" in lines[0]


def test_dev_tenant_offline_access_belongs_to_the_api_before_it(tmp_path: Path) -> None:
    offline, online = "https://offline.test", "https://online.test"
    flags = ["--api", offline, "--offline-access", "--api", online]
    with dev_tenant(tmp_path, *flags) as url:
        got_refresh_token = {}
        for audience in (offline, online):
            email = f"cli-{audience[8:-5]}@example.com"
            credentials = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
            started = requests.post(
                f"{url}/passwordless/start",
                json={**credentials, "connection": "email", "email": email, "send": "code"},
                timeout=5,
            )
            assert started.status_code == 200, started.text
            tokens = requests.post(
                f"{url}/oauth/token",
                json={
                    **credentials,
                    "grant_type": "http://auth0.com/oauth/grant-type/passwordless/otp",
                    "realm": "email",
                    "username": email,
                    "otp": outbox_code(url, email),
                    "audience": audience,
                    "scope": "openid offline_access",
                },
                timeout=5,
            )
            assert tokens.status_code == 200, tokens.text
            got_refresh_token[audience] = "refresh_token" in tokens.json()
        assert got_refresh_token == {offline: True, online: False}


def test_dev_tenant_offline_access_without_an_api_is_refused() -> None:
    result = run(["dev-tenant", "--offline-access", "--api", "https://a.test"], {})
    assert result.returncode == 2
    assert "--offline-access" in result.stderr


@pytest.mark.parametrize(
    "flags",
    [
        ["--token-profile", "rfc9068", "--api", "https://a.test"],
        ["--api", "https://a.test", "--token-profile", "rfc-9068"],
    ],
    ids=["without-an-api", "unknown-profile"],
)
def test_dev_tenant_token_profile_mistakes_are_refused(flags: list[str]) -> None:
    result = run(["dev-tenant", *flags], {})
    assert result.returncode == 2
    assert "--token-profile" in result.stderr


def test_dev_tenant_on_a_port_in_use_says_so_in_one_line() -> None:
    """As ``demo`` and ``serve`` do: the address, what to do, no traceback."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    with taken:
        port = taken.getsockname()[1]
        result = run(["dev-tenant", "--port", str(port)], {})
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port} is in use" in lines[0]
    assert "--port 0" in lines[0]
    assert "[dev-tenant] serving" not in result.stdout


def test_check_stops_when_metrics_are_on_without_prometheus_client(tenant: Any) -> None:
    # As if pwless-gate[metrics] were not installed: the gate would not start.
    script = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "from pwless_gate.cli import main\n"
        "sys.exit(main(['check']))\n"
    )
    env = {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant.url, "PWLESS_GATE_METRICS": "true"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PWLESS_GATE_")}
    result = subprocess.run(
        [str(BIN / "python"), "-c", script],
        env={**clean, **env, "PWLESS_GATE_STATE_DIR": state_dir()},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert_one_problem(result, "PWLESS_GATE_METRICS", "prometheus-client")
    assert result.stdout == ""


def test_check_stops_on_a_template_that_does_not_compile(tenant: Any, tmp_path: Path) -> None:
    (tmp_path / "fine.html").write_text('{% extends "base.html" %}\n')
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "login.html").write_text(
        '{% extends "base.html" %}\n{% block main %}\n{% if %}\n{% endblock %}\n'
    )
    env = {**BASE_ENV, "PWLESS_GATE_AUTH0_DOMAIN": tenant.url}
    result = run(["check"], {**env, "PWLESS_GATE_TEMPLATE_DIR": str(tmp_path)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert_one_problem(
        result, "PWLESS_GATE_TEMPLATE_DIR", str(tmp_path / "de" / "login.html"), "line 3"
    )
    (tmp_path / "de" / "login.html").write_text('{% extends "base.html" %}\n')
    assert run(["check"], {**env, "PWLESS_GATE_TEMPLATE_DIR": str(tmp_path)}).returncode == 0


def write_german_catalog(template_dir: Path, entries: dict[str, str]) -> Path:
    folder = template_dir / "i18n" / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(locale="de")
    for english, german in entries.items():
        catalog.add(english, german)
    path = folder / "pwless_gate.mo"
    with open(path, "wb") as mo:
        write_mo(mo, catalog)
    return path


def test_check_stops_on_a_catalog_whose_texts_cannot_be_filled_in(
    tenant: Any, tmp_path: Path
) -> None:
    """Every German page would be a 500, the error page too: ``check`` says so instead."""
    wrong = {"Need help? Contact %(contact)s.": "Hilfe? Schreiben Sie an %(kontakt)s."}
    path = write_german_catalog(tmp_path, wrong)
    env = {
        **BASE_ENV,
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_TEMPLATE_DIR": str(tmp_path),
        "PWLESS_GATE_SUPPORT_CONTACT": "it@example.com",
    }
    result = run(["check"], env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert_one_problem(
        result, "PWLESS_GATE_TEMPLATE_DIR", str(path), "'Need help? Contact %(contact)s.'"
    )
    path.unlink()
    write_german_catalog(tmp_path, {"Need help? Contact %(contact)s.": "Fragen? %(contact)s."})
    assert run(["check"], env).returncode == 0


@pytest.mark.parametrize("command", ["serve", "check"])
def test_a_file_that_is_not_a_catalog_stops_with_one_line(command: str, tmp_path: Path) -> None:
    folder = tmp_path / "i18n" / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "pwless_gate.mo").write_text("not a catalog\n")
    args = [command, "tests.apps:whoami"] if command == "serve" else [command]
    env = {
        **BASE_ENV,
        "PWLESS_GATE_AUTH0_DOMAIN": "acme.auth0.com",
        "PWLESS_GATE_TEMPLATE_DIR": str(tmp_path),
    }
    result = run(args, env)
    assert result.returncode == 2, result.stderr
    assert_one_problem(
        result, "PWLESS_GATE_TEMPLATE_DIR", str(folder / "pwless_gate.mo"), "not a compiled"
    )


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["demo", "--port", "99999"], "--port"),
        (["demo", "--port", "0"], "--port"),
        (["serve", "tests.apps:whoami", "--port", "70000"], "--port"),
        (["serve", "tests.apps:whoami", "--port", "-1"], "--port"),
        (["dev-tenant", "--port", "65536"], "--port"),
        (["dev-tenant", "--code-lifetime", "-5"], "--code-lifetime"),
        (["dev-tenant", "--code-lifetime", "nan"], "--code-lifetime"),
        (["dev-tenant", "--code-lifetime", "inf"], "--code-lifetime"),
        (["dev-tenant", "--authorization-code-lifetime", "0"], "--authorization-code-lifetime"),
    ],
    ids=[
        "demo-port-too-high",
        "demo-port-zero",
        "serve-port-too-high",
        "serve-port-negative",
        "tenant-port-too-high",
        "negative-lifetime",
        "nan-lifetime",
        "infinite-lifetime",
        "zero-lifetime",
    ],
)
def test_a_port_or_lifetime_out_of_range_is_refused(args: list[str], option: str) -> None:
    result = run(args, BASE_ENV)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"argument {option}:" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    assert "open:" not in result.stdout


@pytest.mark.parametrize(
    ("args", "user"),
    [
        (["sessions", "list"], "not an id"),
        (["sessions", "list"], "020 7946 0958"),
        (["sessions", "list"], "ada@"),
        (["sessions", "revoke"], "020 7946 0958"),
        (["tokens", "list"], "not an id"),
        (["tokens", "revoke"], "020 7946 0958"),
    ],
    ids=["words", "national-number", "email", "revoke", "tokens-list", "tokens-revoke"],
)
def test_a_user_the_command_cannot_read_is_refused(
    tmp_path: Path, args: list[str], user: str
) -> None:
    """It would match nobody: "0 sessions" (or "ended 0 sessions") would read as an answer."""
    path = tmp_path / "gate.sqlite3"
    SQLiteDatabase(str(path))  # the gate's file, as it made it
    env = {
        **BASE_ENV,
        "PWLESS_GATE_AUTH0_DOMAIN": "acme.eu.auth0.com",
        "PWLESS_GATE_STORE": f"sqlite://{path}",
        "PWLESS_GATE_APP_TOKENS": "true",
    }
    result = run([*args, "--user", user], env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"pwless-gate: --user {user!r}: cannot read it as"), line
    assert "PWLESS_GATE_DEFAULT_REGION" in line
    # Read in the default region, the national number is one; a sub is taken as it is.
    for readable in ({"PWLESS_GATE_DEFAULT_REGION": "GB"}, {}):
        who = "020 7946 0958" if readable else "email|5f0c9a"
        assert run([*args, "--user", who], {**env, **readable}).returncode in (0, 1)
