"""The access rules file: reading it, and checking every rule before the gate starts.

:func:`load_rules` turns ``PWLESS_GATE_PUBLIC_PATHS`` and the TOML file named
by ``PWLESS_GATE_RULES_FILE`` into a :class:`~pwless_gate.rules.RuleSet`, or
raises one :class:`~pwless_gate.errors.ConfigError` naming the file, the rule
number and the problem: a file that does not parse, an unknown key, a bad
path or regex (a prefix written like a glob or a regex without its ``^``
included), an unknown policy, a bad ``allow`` entry (email, ``@domain``,
``.domain``, E.164 number, ``role:`` without a roles claim), a bad
``max_age``, method or host, and a rule that can never match because an
earlier one matches every request it would. It does not match requests.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from .errors import ConfigError
from .identity import InvalidIdentifier, email_domain, normalise_email, normalise_phone
from .public_paths import is_normal
from .rules import (
    KEYS,
    MAX_AGE_LIMIT,
    POLICIES,
    PUBLIC,
    SETTING,
    SIGNED_IN,
    Allow,
    Rule,
    RuleSet,
    compile_path_regex,
    control_problem,
    pattern_problem,
    wsgi_path,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_METHOD = re.compile(r"^[A-Za-z][A-Za-z-]{0,31}$")
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_ROLE = re.compile(r"^\S{1,200}$")


def load_rules(
    file: str | None,
    public_paths: Sequence[str] = (),
    roles_claim: str | None = None,
    clients: Sequence[str] = (),
) -> RuleSet:
    """The gate's rules: ``public_paths`` as public rules, then the file's; ``clients``
    are the allowed machine clients (``client:ID`` entries must name one of them).

    Raises :class:`~pwless_gate.errors.ConfigError` naming ``PWLESS_GATE_RULES_FILE``,
    the file, the rule number and the problem.
    """
    rules = [_public_path(entry) for entry in public_paths]
    if file is None:
        return RuleSet(rules)
    try:
        with open(file, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(SETTING, f"{file}: cannot be read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(SETTING, f"{file}: does not parse as TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(SETTING, f"{file}: is not UTF-8 text") from None
    for key in document:
        if key != "rules":
            raise ConfigError(
                SETTING, f"{file}: unknown key {key!r} at the top (only [[rules]] tables)"
            )
    entries = document.get("rules", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(SETTING, f"{file}: 'rules' must be [[rules]] tables")
    for number, entry in enumerate(entries, 1):
        try:
            rule = parse_rule(number, entry, roles_claim, clients)
        except ValueError as exc:
            raise ConfigError(SETTING, f"{file}: rule {number}: {exc}") from None
        for earlier in rules:
            if earlier.covers(rule):
                raise ConfigError(
                    SETTING,
                    f"{file}: rule {number} ({rule.path}) can never match: "
                    f"{earlier.label} matches every request it would",
                )
        rules.append(rule)
    return RuleSet(rules, file)


def _public_path(entry: str) -> Rule:
    """A ``PWLESS_GATE_PUBLIC_PATHS`` entry (checked by the config) as a public rule."""
    source = "PWLESS_GATE_PUBLIC_PATHS"
    if entry.startswith("^"):
        return Rule(0, entry, PUBLIC, source=source, regex=compile_path_regex(entry))
    return Rule(0, entry, PUBLIC, source=source, key=wsgi_path(entry.rstrip("/") or "/"))


def parse_rule(
    number: int, entry: Mapping[str, Any], roles_claim: str | None, clients: Sequence[str] = ()
) -> Rule:
    """One ``[[rules]]`` table as a :class:`Rule`; raises ``ValueError`` naming the problem."""
    for key in entry:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown key {key!r}{hint}; a rule has {', '.join(KEYS)}")
    if "path" not in entry:
        raise ValueError("has no path")
    path = entry["path"]
    if not isinstance(path, str) or not path:
        raise ValueError("path must be a string like /admin or a regex starting with ^")
    regex = None
    key = ""
    if (problem := control_problem(path)) is not None:
        raise ValueError(f"path {problem}")
    if path.startswith("^"):
        try:
            regex = compile_path_regex(path)
        except re.error as exc:
            raise ValueError(f"bad regex {path!r}: {exc}") from None
    elif not path.startswith("/") or not is_normal(path):
        raise ValueError(
            f"path {path!r} must be a plain path like /admin (no //, . or .. segments, "
            "?, # or ;), or a regex starting with ^"
        )
    elif "%" in path:
        # Rules see PATH_INFO, which the server has decoded: an escape never matches.
        raise ValueError(
            f"path {path!r} has a %-escape; write the path decoded, as the app sees it "
            f"(e.g. {unquote(path)!r}), or a regex starting with ^"
        )
    elif (problem := pattern_problem(path)) is not None:
        raise ValueError(f"path {problem}")
    else:
        key = wsgi_path(path.rstrip("/") or "/")
    policy = entry.get("policy", SIGNED_IN)
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; use public, deny or signed-in")
    allow = _allow(entry["allow"], roles_claim, clients) if "allow" in entry else None
    max_age = _max_age(entry["max_age"]) if "max_age" in entry else None
    if policy != SIGNED_IN and (allow is not None or max_age is not None):
        raise ValueError(f"allow and max_age apply to signed-in rules, not to policy {policy!r}")
    methods = _methods(entry["methods"]) if "methods" in entry else None
    hosts = _hosts(entry["hosts"]) if "hosts" in entry else None
    return Rule(
        number,
        path,
        policy,
        allow=allow,
        methods=methods,
        hosts=hosts,
        max_age=max_age,
        regex=regex,
        key=key,
    )


def _strings(name: str, value: object) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise ValueError(f"{name} must be a non-empty list of strings")
    return [v.strip() for v in value]


def _allow(value: object, roles_claim: str | None, clients: Sequence[str] = ()) -> Allow:
    emails: set[str] = set()
    domains: set[str] = set()
    subdomains: set[str] = set()
    phones: set[str] = set()
    roles: set[str] = set()
    machines: set[str] = set()
    for entry in _strings("allow", value):
        if entry.startswith("client:"):
            client = entry[len("client:") :]
            if client not in clients:
                raise ValueError(
                    f"allow entry {entry!r} names a client that is not in "
                    "PWLESS_GATE_ALLOWED_CLIENTS (its tokens are not accepted anywhere)"
                )
            machines.add(client)
        elif entry.startswith("role:"):
            role = entry[len("role:") :]
            if not _ROLE.match(role):
                raise ValueError(f"allow entry {entry!r}: a role name has no spaces")
            if roles_claim is None:
                raise ValueError(
                    f"allow entry {entry!r} needs PWLESS_GATE_ROLES_CLAIM (the claim "
                    "that carries roles), which is not set"
                )
            roles.add(role)
        elif entry.startswith("@"):
            domains.add(_domain(entry, entry[1:]))
        elif entry.startswith("."):
            subdomains.add("." + _domain(entry, entry[1:]))
        elif entry.startswith("+"):
            phones.add(_phone(entry))
        elif "@" in entry:
            try:
                emails.add(normalise_email(entry))
            except InvalidIdentifier:
                raise ValueError(f"allow entry {entry!r} is not a valid email address") from None
        else:
            raise ValueError(
                f"allow entry {entry!r} is not an email, @domain, .domain, "
                "+E.164 number, role:NAME or client:ID"
            )
    return Allow(
        frozenset(emails),
        frozenset(domains),
        tuple(sorted(subdomains)),
        frozenset(phones),
        frozenset(roles),
        frozenset(machines),
    )


def _domain(entry: str, domain: str) -> str:
    domain = domain.lower()
    if not domain.isascii() or "xn--" in domain:
        # An internationalised domain, as Unicode or xn--: kept as addresses are (xn--).
        try:
            return email_domain(domain)
        except InvalidIdentifier:
            raise ValueError(
                f"allow entry {entry!r}: {domain!r} is not a domain like example.com"
            ) from None
    if not _HOSTNAME.match(domain) or "." not in domain:
        raise ValueError(f"allow entry {entry!r}: {domain!r} is not a domain like example.com")
    return domain


def _phone(entry: str) -> str:
    if not _E164.match(entry):
        raise ValueError(f"allow entry {entry!r} is not an E.164 number like +442079460958")
    try:
        number = normalise_phone(entry)
    except InvalidIdentifier:
        raise ValueError(f"allow entry {entry!r} is not a valid phone number") from None
    if number != entry:
        raise ValueError(f"allow entry {entry!r} is not in E.164 form; write {number}")
    return number


def _max_age(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AGE_LIMIT:
        raise ValueError(
            f"max_age {value!r} must be a whole number of seconds between 1 and {MAX_AGE_LIMIT}"
        )
    return value


def _methods(value: object) -> frozenset[str]:
    methods = set()
    for method in _strings("methods", value):
        if not _METHOD.match(method):
            raise ValueError(f"method {method!r} is not an HTTP method like GET or POST")
        methods.add(method.upper())
    if "GET" in methods:
        methods.add("HEAD")  # a HEAD is a GET without the body: never less guarded
    return frozenset(methods)


def _hosts(value: object) -> frozenset[str]:
    hosts = set()
    for host in _strings("hosts", value):
        name = host.lower().rstrip(".")
        if not _HOSTNAME.match(name):
            try:
                name = str(ipaddress.ip_address(name.strip("[]")))
            except ValueError:
                raise ValueError(
                    f"host {host!r} is not a host name like tools.example.com (no port)"
                ) from None
        hosts.add(name)
    return frozenset(hosts)
