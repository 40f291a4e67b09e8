from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from pwless_gate import ConfigError, GateConfig, redis_urls
from pwless_gate.identity import normalise_email
from pwless_gate.pages import Pages

BASE = {
    "PWLESS_GATE_AUTH0_DOMAIN": "acme.eu.auth0.com",
    "PWLESS_GATE_CLIENT_ID": "abc",
    "PWLESS_GATE_CLIENT_SECRET": "s3cret",
    "PWLESS_GATE_SECRET_KEY": "a-secret-key-0123456789",
    "PWLESS_GATE_ALLOWED_DOMAINS": "*",
}


def test_from_env_reads_every_kind_of_value() -> None:
    env = dict(
        BASE,
        PWLESS_GATE_METHODS="email-code, sms-code",
        PWLESS_GATE_ALLOWED_PHONES="*",
        PWLESS_GATE_ALLOWED_DOMAINS="Example.com,.corp.example",
        PWLESS_GATE_SESSION_LIFETIME="3600",
        PWLESS_GATE_TRUSTED_PROXIES="1",
        PWLESS_GATE_COOKIE_SECURE="TRUE",
        PWLESS_GATE_PASS_HEADERS="yes",
        PWLESS_GATE_DEFAULT_REGION="gb",
    )
    config = GateConfig.from_env(env)
    assert config.auth0_base_url == "https://acme.eu.auth0.com"
    assert config.issuer == "https://acme.eu.auth0.com/"
    assert config.methods == ("email-code", "sms-code")
    assert config.allowed_domains == ("example.com", ".corp.example")
    assert config.session_lifetime == 3600
    assert config.trusted_proxies == 1
    assert config.cookie_secure == "true"
    assert config.pass_headers is True
    assert config.default_region == "GB"


def test_defaults() -> None:
    config = GateConfig.from_env(BASE)
    assert config.methods == ("email-code",)
    assert config.scope == "openid profile email"
    assert config.prefix == "/_gate"
    assert config.cookie_secure == "auto"


@pytest.mark.parametrize("value", ["0", "none", "None", "0/900", "5/0", "-1/60", "five/60"])
def test_only_off_turns_a_throttle_off(value: str) -> None:
    """``0`` or ``none`` may mean "allow none": reading either as "no limit" would open what
    was meant shut, so anything but a count/seconds limit or ``off`` is refused."""
    setting = "PWLESS_GATE_THROTTLE_SEND_PER_IP"
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, **{setting: value}))
    assert caught.value.setting == setting
    config = GateConfig.from_env(dict(BASE, **{setting: "OFF"}))
    assert config.limits["send-ip"].off


@pytest.mark.parametrize("domain", ["xn--bcher-kva.example", "Bücher.example", "BÜCHER.EXAMPLE"])
def test_an_internationalised_domain_is_allowed_in_either_form(domain: str) -> None:
    """Addresses are compared in the ASCII form Auth0 is sent (xn--): the xn-- entry
    was once accepted and never matched, the Unicode one refused at start-up."""
    config = GateConfig.from_env(dict(BASE, PWLESS_GATE_ALLOWED_DOMAINS=domain))
    assert config.allow.domains == ("xn--bcher-kva.example",)
    for address in ("ada@bücher.example", "ada@xn--bcher-kva.example", "Ada@BÜCHER.example"):
        assert config.allow.allows_email(normalise_email(address)), address
    assert not config.allow.allows_email(normalise_email("ada@bucher.example"))


@pytest.mark.parametrize("address", ["jörg@example.com", "a" * 65 + "@example.com"])
def test_an_allowed_address_auth0_cannot_send_to_stops_the_start(address: str) -> None:
    """It could never sign in: Auth0 sends to ASCII local parts of 64 characters at most."""
    with pytest.raises(ConfigError) as refused:
        GateConfig.from_env(dict(BASE, PWLESS_GATE_ALLOWED_EMAILS=address))
    assert refused.value.setting == "PWLESS_GATE_ALLOWED_EMAILS"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SESSION_LIFETIME", "9999999999999"),
        ("SESSION_LIFETIME", "inf"),
        ("SESSION_IDLE_TIMEOUT", "nan"),
        ("AUTH0_TIMEOUT", "inf"),
        ("AUTH0_TIMEOUT", "1e300"),
        ("REDIS_TIMEOUT", "inf"),
        ("SESSION_CACHE_TTL", "inf"),
        ("JWKS_MIN_REFRESH", "nan"),
        ("CODE_LIFETIME", "100000000"),
        ("SAVED_FORM_MAX_BYTES", "99999999999"),
    ],
)
def test_a_number_past_its_sense_is_refused_at_start_up(name: str, value: str) -> None:
    """``inf`` or a typo's extra digits passed start-up, then broke every sign-in (a
    cookie date that overflows, a timeout that never ends): refused, naming the setting."""
    setting = f"PWLESS_GATE_{name}"
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, **{setting: value}))
    assert caught.value.setting == setting
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"PWLESS_GATE_AUTH0_DOMAIN": ""}, "PWLESS_GATE_AUTH0_DOMAIN"),
        ({"PWLESS_GATE_CLIENT_SECRET": ""}, "PWLESS_GATE_CLIENT_SECRET"),
        ({"PWLESS_GATE_AUTH0_DOMAIN": "http://acme.eu.auth0.com"}, "PWLESS_GATE_AUTH0_DOMAIN"),
        ({"PWLESS_GATE_AUTH0_DOMAIN": "bad host!"}, "PWLESS_GATE_AUTH0_DOMAIN"),
        ({"PWLESS_GATE_AUTH0_DOMAIN": "https://a.com/path"}, "PWLESS_GATE_AUTH0_DOMAIN"),
        ({"PWLESS_GATE_METHODS": "email-code,carrier-pigeon"}, "PWLESS_GATE_METHODS"),
        ({"PWLESS_GATE_METHODS": ","}, "PWLESS_GATE_METHODS"),
        ({"PWLESS_GATE_SESSION_LIFETIME": "soon"}, "PWLESS_GATE_SESSION_LIFETIME"),
        ({"PWLESS_GATE_SESSION_LIFETIME": "-5"}, "PWLESS_GATE_SESSION_LIFETIME"),
        ({"PWLESS_GATE_COOKIE_SECURE": "maybe"}, "PWLESS_GATE_COOKIE_SECURE"),
        ({"PWLESS_GATE_PREFIX": "gate/"}, "PWLESS_GATE_PREFIX"),
        ({"PWLESS_GATE_PREFIX": "/.."}, "PWLESS_GATE_PREFIX"),
        ({"PWLESS_GATE_PREFIX": "/tools/./gate"}, "PWLESS_GATE_PREFIX"),
        ({"PWLESS_GATE_PUBLIC_PATHS": "/,/static/"}, "PWLESS_GATE_PUBLIC_PATHS"),
        ({"PWLESS_GATE_PUBLIC_PATHS": "//"}, "PWLESS_GATE_PUBLIC_PATHS"),
        ({"PWLESS_GATE_PUBLIC_PATHS": "/%2e%2e/x"}, "PWLESS_GATE_PUBLIC_PATHS"),
        ({"PWLESS_GATE_PUBLIC_PATHS": "/static/*"}, "PWLESS_GATE_PUBLIC_PATHS"),
        ({"PWLESS_GATE_PUBLIC_PATHS": "/docs/.*"}, "PWLESS_GATE_PUBLIC_PATHS"),
        ({"PWLESS_GATE_PUBLIC_PATHS": "/api/v[0-9]/status"}, "PWLESS_GATE_PUBLIC_PATHS"),
        ({"PWLESS_GATE_PUBLIC_PATHS": "^/(x"}, "PWLESS_GATE_PUBLIC_PATHS"),
        ({"PWLESS_GATE_PUBLIC_PATHS": "/health,/sta\ntic"}, "PWLESS_GATE_PUBLIC_PATHS"),
        ({"PWLESS_GATE_PUBLIC_PATHS": "^/x\t$"}, "PWLESS_GATE_PUBLIC_PATHS"),
        ({"PWLESS_GATE_PUBLIC_PATHS": "^a{4294967296}"}, "PWLESS_GATE_PUBLIC_PATHS"),
        (
            {"PWLESS_GATE_PUBLIC_PATHS": "^" + "(" * 1200 + "a" + ")" * 1200},
            "PWLESS_GATE_PUBLIC_PATHS",
        ),
        ({"PWLESS_GATE_SCOPE": "profile email"}, "PWLESS_GATE_SCOPE"),
        ({"PWLESS_GATE_SECRET_KEY": "short"}, "PWLESS_GATE_SECRET_KEY"),
        ({"PWLESS_GATE_REDIS_URL": "http://x"}, "PWLESS_GATE_REDIS_URL"),
        ({"PWLESS_GATE_ALLOWED_DOMAINS": "not a domain"}, "PWLESS_GATE_ALLOWED_DOMAINS"),
        ({"PWLESS_GATE_TRUSTED_PROXIES": "-1"}, "PWLESS_GATE_TRUSTED_PROXIES"),
        ({"PWLESS_GATE_PASS_HEADERS": "perhaps"}, "PWLESS_GATE_PASS_HEADERS"),
        ({"PWLESS_GATE_DEFAULT_REGION": "UK"}, "PWLESS_GATE_DEFAULT_REGION"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else "",
)
def test_bad_setting_names_itself(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, **env))
    assert caught.value.setting == setting
    assert str(caught.value).startswith(setting)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "domain",
    [
        "http://127.0.0.1:8001",
        "http://localhost:8001",
        "http://[::1]:8001",
        "https://login.example",
    ],
)
def test_loopback_http_and_https_urls_accepted(domain: str) -> None:
    config = GateConfig(
        auth0_domain=domain,
        client_id="a",
        client_secret="b",
        secret_key="a-secret-key-0123456789",
        allowed_domains=("*",),
    )
    assert config.issuer == domain + "/"


def test_ipv4_mapped_networks_are_kept_in_their_ipv4_form() -> None:
    """Clients on a dual-stack socket are read as IPv4: a network written
    ``::ffff:10.0.0.0/104`` has to be ``10.0.0.0/8`` to match one."""
    allow = "::ffff:10.0.0.0/104, ::ffff:127.0.0.1, ::1"
    config = GateConfig.from_env(dict(BASE, PWLESS_GATE_METRICS_ALLOW=allow))
    assert config.metrics_networks == tuple(
        ipaddress.ip_network(n) for n in ("10.0.0.0/8", "127.0.0.1/32", "::1/128")
    )
    assert config.metrics_allowed("10.9.8.7")
    assert config.metrics_allowed("127.0.0.1")
    assert not config.metrics_allowed("127.0.0.2")


@pytest.mark.parametrize(
    "entry",
    ["::ffff:10.0.0.0/80", "::ffff:0:0/95", "10.0.0.0/33", "loopback"],
    ids=["mapped-80", "mapped-95", "v4-too-long", "word"],
)
def test_a_network_setting_refuses_what_is_no_network_or_wider_than_ipv4(entry: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, PWLESS_GATE_METRICS_ALLOW=f"127.0.0.0/8,{entry}"))
    assert caught.value.setting == "PWLESS_GATE_METRICS_ALLOW"
    assert "\n" not in str(caught.value)


def test_missing_required_setting() -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env({"PWLESS_GATE_AUTH0_DOMAIN": "acme.auth0.com"})
    assert caught.value.setting == "PWLESS_GATE_CLIENT_ID"


@pytest.mark.parametrize("colour", ["#abcd5", "red", "#12345", "#1234567"])
def test_bad_brand_colour(colour: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, PWLESS_GATE_BRAND_COLOR=colour))
    assert caught.value.setting == "PWLESS_GATE_BRAND_COLOR"


@pytest.mark.parametrize(
    "logo", ["http://cdn.example/logo.png", "//cdn.example/x.png", "javascript:x"]
)
def test_bad_logo_url(logo: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, PWLESS_GATE_BRAND_LOGO_URL=logo))
    assert caught.value.setting == "PWLESS_GATE_BRAND_LOGO_URL"


@pytest.mark.parametrize(
    ("colour", "text"),
    [("#3b5bdb", "#fff"), ("#ffd43b", "#000"), ("#fff", "#000"), ("#111", "#fff")],
)
def test_text_on_the_brand_colour_is_readable(colour: str, text: str) -> None:
    pages = Pages(GateConfig.from_env(dict(BASE, PWLESS_GATE_BRAND_COLOR=colour)))
    found = pages.static("brand.css")
    assert found is not None
    assert f"--on-accent: {text};" in found.get_data(as_text=True)


def test_no_allow_list_at_all_stops_start_up_naming_the_settings() -> None:
    env = {k: v for k, v in BASE.items() if k != "PWLESS_GATE_ALLOWED_DOMAINS"}
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(env)
    for name in ("ALLOWED_EMAILS", "DOMAINS", "PHONES", "PWLESS_GATE_ALLOWED_DOMAINS=*"):
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("env", "admits"),
    [
        ({"PWLESS_GATE_ALLOWED_DOMAINS": "*"}, ["x@anything.example"]),
        (
            {
                "PWLESS_GATE_ALLOWED_PHONES": "*",
                "PWLESS_GATE_ALLOWED_DOMAINS": "",
                "PWLESS_GATE_METHODS": "sms-code",
            },
            ["+14155550123"],
        ),
        (
            {"PWLESS_GATE_ALLOWED_EMAILS": "boss@acme.example", "PWLESS_GATE_ALLOWED_DOMAINS": ""},
            ["boss@acme.example"],
        ),
    ],
    ids=["any-email", "any-phone", "one-address"],
)
def test_star_admits_everyone_of_a_kind_and_nobody_else(
    env: dict[str, str], admits: list[str]
) -> None:
    allow = GateConfig.from_env({**BASE, **env}).allow
    for who in admits:
        assert allow.allows_phone(who) if who.startswith("+") else allow.allows_email(who)
    if "PWLESS_GATE_ALLOWED_PHONES" not in env:
        assert not allow.allows_phone("+14155550123")
    if env.get("PWLESS_GATE_ALLOWED_DOMAINS") != "*":
        assert not allow.allows_email("x@anything.example")


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"PWLESS_GATE_METHODS": "sms-code"}, "PWLESS_GATE_ALLOWED_PHONES"),
        (
            {"PWLESS_GATE_ALLOWED_DOMAINS": "", "PWLESS_GATE_ALLOWED_PHONES": "*"},
            "PWLESS_GATE_ALLOWED_DOMAINS",
        ),
    ],
    ids=["sms-without-phones", "email-without-addresses"],
)
def test_a_method_nobody_may_use_stops_start_up(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env({**BASE, **env})
    assert caught.value.setting == setting


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("PWLESS_GATE_ALLOWED_DOMAIN", "PWLESS_GATE_ALLOWED_DOMAINS"),
        ("PWLESS_GATE_SECRETKEY", "PWLESS_GATE_SECRET_KEY"),
        ("PWLESS_GATE_TRUSTED_PROXY", "PWLESS_GATE_TRUSTED_PROXIES"),
    ],
)
def test_an_unknown_variable_stops_start_up_naming_the_closest(typo: str, meant: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env({**BASE, typo: "x"})
    assert caught.value.setting == typo
    assert f"did you mean {meant}?" in str(caught.value)


def test_an_unknown_variable_with_nothing_close_is_named_alone() -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env({**BASE, "PWLESS_GATE_ZZZ": "1"})
    assert caught.value.setting == "PWLESS_GATE_ZZZ"
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("domain", "required"),
    [
        ("acme.eu.auth0.com", True),
        ("https://login.acme.example", True),
        ("http://127.0.0.1:8001", False),
        ("http://localhost:8001", False),
    ],
)
def test_secret_key_is_required_except_for_the_local_tenant(domain: str, required: bool) -> None:
    env = {k: v for k, v in BASE.items() if k != "PWLESS_GATE_SECRET_KEY"}
    env["PWLESS_GATE_AUTH0_DOMAIN"] = domain
    if required:
        with pytest.raises(ConfigError) as caught:
            GateConfig.from_env(env)
        assert caught.value.setting == "PWLESS_GATE_SECRET_KEY"
    else:
        assert GateConfig.from_env(env).secret_key is None


def test_logout_paths_are_read_as_exact_paths_without_a_trailing_slash() -> None:
    env = dict(BASE, PWLESS_GATE_LOGOUT_PATHS="/logout, /cgi/logout/,/logout")
    assert GateConfig.from_env(env).logout_paths == ("/logout", "/cgi/logout")
    assert GateConfig.from_env(BASE).logout_paths == ()


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param("logout", id="relative"),
        pytest.param("^/logout$", id="regex"),
        pytest.param("/", id="root"),
        pytest.param("/a/../logout", id="dot-segment"),
        pytest.param("//logout", id="double-slash"),
        pytest.param("/logout?x=1", id="query"),
        pytest.param("/_gate/logout", id="gate-prefix"),
        pytest.param("/log\nout", id="line-break"),
        pytest.param("/log\tout", id="tab"),
    ],
)
def test_a_bad_logout_path_names_the_setting(entry: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, PWLESS_GATE_LOGOUT_PATHS=f"/logout,{entry}"))
    assert caught.value.setting == "PWLESS_GATE_LOGOUT_PATHS"
    assert repr(entry) in str(caught.value) or entry == "/"


@pytest.mark.parametrize(
    ("env", "kind", "store", "path"),
    [
        ({"PWLESS_GATE_STORE": "cookie"}, "cookie", "cookie", None),
        ({"PWLESS_GATE_STORE": "redis://r:6379/2"}, "redis", "redis://r:6379/2", None),
        ({"PWLESS_GATE_STORE": "unix:///run/redis.sock"}, "redis", "unix:///run/redis.sock", None),
        ({"PWLESS_GATE_REDIS_URL": "rediss://r"}, "redis", "rediss://r", None),
        (
            {"PWLESS_GATE_STORE": "redis://r", "PWLESS_GATE_REDIS_URL": "redis://r"},
            "redis",
            "redis://r",
            None,
        ),
        (
            {"PWLESS_GATE_STORE": "sqlite:///var/lib/gate.sqlite3"},
            "sqlite",
            "sqlite:///var/lib/gate.sqlite3",
            "/var/lib/gate.sqlite3",
        ),
        (
            {"PWLESS_GATE_STORE": "redis+sentinel://s1:26379,s2/gate-master/2"},
            "redis",
            "redis+sentinel://s1:26379,s2/gate-master/2",
            None,
        ),
        (
            {"PWLESS_GATE_REDIS_URL": "redis+cluster://10.0.0.1:7000,[::1]:7001"},
            "redis",
            "redis+cluster://10.0.0.1:7000,[::1]:7001",
            None,
        ),
    ],
    ids=[
        "cookie",
        "redis",
        "unix",
        "alias",
        "both-agree",
        "sqlite-absolute",
        "sentinel",
        "cluster-alias",
    ],
)
def test_store_is_one_url(env: dict[str, str], kind: str, store: str, path: str | None) -> None:
    config = GateConfig.from_env(dict(BASE, **env))
    assert (config.store_kind, config.store, config.sqlite_path) == (kind, store, path)
    assert config.redis_url == (store if kind == "redis" else None)


def test_unset_the_store_is_a_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = GateConfig.from_env(BASE)
    where = str(tmp_path / "pwless-gate.sqlite3")
    assert (config.store_kind, config.store, config.sqlite_path) == (
        "sqlite",
        f"sqlite://{where}",
        where,
    )
    assert config.store_is_default
    assert config.store_setting == "PWLESS_GATE_STATE_DIR"


def test_the_state_dir_places_the_default_file(tmp_path: Path) -> None:
    config = GateConfig.from_env(dict(BASE, PWLESS_GATE_STATE_DIR=str(tmp_path / "state")))
    assert config.sqlite_path == str(tmp_path / "state" / "pwless-gate.sqlite3")
    assert config.store_is_default


@pytest.mark.parametrize(
    "store",
    [{"PWLESS_GATE_STORE": "cookie"}, {"PWLESS_GATE_REDIS_URL": "redis://r"}],
    ids=["store", "alias"],
)
def test_a_state_dir_beside_a_chosen_store_stops_start_up(store: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, PWLESS_GATE_STATE_DIR="/var/lib/gate", **store))
    assert caught.value.setting == "PWLESS_GATE_STATE_DIR"
    assert "PWLESS_GATE_STORE" in caught.value.problem
    assert not GateConfig.from_env(dict(BASE, **store)).store_is_default


def test_a_relative_sqlite_path_is_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = GateConfig.from_env(dict(BASE, PWLESS_GATE_STORE="sqlite://state/gate.sqlite3"))
    assert config.sqlite_path == str(tmp_path / "state" / "gate.sqlite3")


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"PWLESS_GATE_STORE": "memcached://m"}, "PWLESS_GATE_STORE"),
        ({"PWLESS_GATE_STORE": "sqlite://"}, "PWLESS_GATE_STORE"),
        ({"PWLESS_GATE_STORE": "sqlite:///var/lib/"}, "PWLESS_GATE_STORE"),
        ({"PWLESS_GATE_STORE": "sqlite:///gate.sqlite3?mode=ro"}, "PWLESS_GATE_STORE"),
        (
            {"PWLESS_GATE_STORE": "redis://a", "PWLESS_GATE_REDIS_URL": "redis://b"},
            "PWLESS_GATE_STORE",
        ),
        (
            {"PWLESS_GATE_STORE": "sqlite:///g.sqlite3", "PWLESS_GATE_REDIS_URL": "redis://b"},
            "PWLESS_GATE_STORE",
        ),
    ],
    ids=["unknown-scheme", "no-path", "directory", "query", "redis-differs", "sqlite-and-redis"],
)
def test_a_bad_store_names_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, **env))
    assert caught.value.setting == setting
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "kind", "hosts", "service", "db", "username", "password"),
    [
        (
            "redis+sentinel://:p%40ss@s1:26380,s2,[::1]:26381/gate-master",
            "sentinel",
            (("s1", 26380), ("s2", 26379), ("::1", 26381)),
            "gate-master",
            0,
            None,
            "p@ss",
        ),
        (
            "redis+sentinel://gate:pw@10.0.0.1:26379/m/3",
            "sentinel",
            (("10.0.0.1", 26379),),
            "m",
            3,
            "gate",
            "pw",
        ),
        (
            "redis+cluster://n1:7000,n2",
            "cluster",
            (("n1", 7000), ("n2", 6379)),
            None,
            0,
            None,
            None,
        ),
        ("redis+cluster://:pw@n1:7000/", "cluster", (("n1", 7000),), None, 0, None, "pw"),
    ],
    ids=["sentinel-password-default-port-ipv6", "sentinel-user-db", "cluster", "cluster-slash"],
)
def test_sentinel_and_cluster_urls_are_read_as_redis_py_reads_urls(
    url: str,
    kind: str,
    hosts: tuple[tuple[str, int], ...],
    service: str | None,
    db: int,
    username: str | None,
    password: str | None,
) -> None:
    target = redis_urls.parse(url, "PWLESS_GATE_STORE")
    assert (target.kind, target.hosts, target.service, target.db) == (kind, hosts, service, db)
    assert (target.username, target.password) == (username, password)
    assert "pw" not in target.describe()
    assert "p@ss" not in target.describe()
    assert "pw" not in repr(target)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel:///gate-master",
        "redis+sentinel://:s3cret@/gate-master",
        "redis+sentinel://s1:26379,,s2:26379/gate-master",
        "redis+sentinel://s1:port/gate-master",
        "redis+sentinel://s1:0/gate-master",
        "redis+sentinel://s1:65536/gate-master",
        "redis+sentinel://s1:26379",
        "redis+sentinel://s1:26379/",
        "redis+sentinel://s1:26379/gate-master/zero",
        "redis+sentinel://s1:26379/gate-master/-1",
        "redis+sentinel://s1:26379/gate-master/0/extra",
        "redis+sentinel://s1:26379/gate-master?ssl=true",
        "redis+sentinel://:s3/cret@s1:26379/gate-master",
        "redis+sentinel://s1:26379,[::1/gate-master",
        "redis+cluster://",
        "redis+cluster://n1:7000,n2:x",
        "redis+cluster://n1:7000/0",
        "redis+cluster://:s3cret@n1:7000/1",
        "redis+sentinal://:s3cret@s1:26379/gate-master",
        "redis:/:s3cret@127.0.0.1:6379",
        "redis:s3cret@127.0.0.1",
    ],
    ids=[
        "sentinel-no-hosts",
        "sentinel-password-no-hosts",
        "sentinel-empty-host",
        "sentinel-port-not-a-number",
        "sentinel-port-zero",
        "sentinel-port-too-big",
        "sentinel-no-service",
        "sentinel-empty-service",
        "sentinel-db-not-a-number",
        "sentinel-db-negative",
        "sentinel-too-many-parts",
        "sentinel-query",
        "sentinel-unencoded-slash-in-password",
        "sentinel-stray-bracket",
        "cluster-no-hosts",
        "cluster-bad-port",
        "cluster-db",
        "cluster-db-with-password",
        "misspelt-scheme",
        "one-slash",
        "no-slashes",
    ],
)
@pytest.mark.parametrize("setting", ["PWLESS_GATE_STORE", "PWLESS_GATE_REDIS_URL"])
def test_a_malformed_sentinel_or_cluster_url_stops_start_up(url: str, setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, **{setting: url}))
    assert caught.value.setting == setting
    message = str(caught.value)
    assert "\n" not in message
    assert "s3" not in message
    assert "cret" not in message


@pytest.mark.parametrize(
    "url",
    ["redis://:s3c/ret@127.0.0.1:6379/0", "redis://:s3c?ret@127.0.0.1:6379/0"],
    ids=["unencoded-slash", "unencoded-question-mark"],
)
def test_a_redis_url_redis_py_cannot_read_names_no_piece_of_the_password(url: str) -> None:
    """redis-py's own words quote the part it could not read: a piece of the password."""
    from pwless_gate.stores.redis import connect

    with pytest.raises(ConfigError) as caught:
        connect(url, timeout=1.0, setting="PWLESS_GATE_STORE")
    message = str(caught.value)
    assert "percent-encode" in message
    assert "s3c" not in message
    assert "ret" not in message.replace("redis-py", "")


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/abc", "redis://127.0.0.1:6379/1/2"])
def test_a_redis_database_that_is_not_a_number_is_refused(url: str) -> None:
    """redis-py reads ``/abc`` as database 0 and ``/1/2`` as 12: not without a word."""
    with pytest.raises(ConfigError) as caught:
        GateConfig.from_env(dict(BASE, PWLESS_GATE_STORE=url))
    assert "ends in /db, a number" in str(caught.value)
    assert GateConfig.from_env(dict(BASE, PWLESS_GATE_STORE="redis://127.0.0.1:6379/3"))


def test_the_config_repr_holds_no_store_password() -> None:
    url = "redis+sentinel://:s3cret@s1:26379,s2:26379/gate-master"
    config = GateConfig.from_env(dict(BASE, PWLESS_GATE_STORE=url))
    assert config.redis_url == url
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ('{% extends "base.html" %}\n{% block main %}\n{% if %}\n{% endblock %}\n', 3),
        ("<p>{{ name | no_such_filter }}</p>\n", 1),
        ("<p>{% trans %}Hello{% endtran %}</p>\n", 1),
    ],
    ids=["bad-tag", "unknown-filter", "unclosed-trans"],
)
def test_a_template_that_does_not_compile_stops_start_up(
    tmp_path: Path, source: str, line: int
) -> None:
    (tmp_path / "login.html").write_text(source)
    config = GateConfig(
        auth0_domain="acme.eu.auth0.com",
        client_id="c",
        client_secret="s",
        secret_key="a-secret-key-of-enough-length",
        store="cookie",
        allowed_domains=("example.com",),
        template_dir=str(tmp_path),
    )
    with pytest.raises(ConfigError) as raised:
        Pages(config)
    assert raised.value.setting == "PWLESS_GATE_TEMPLATE_DIR"
    assert str(tmp_path / "login.html") in raised.value.problem
    assert f"line {line}:" in raised.value.problem
