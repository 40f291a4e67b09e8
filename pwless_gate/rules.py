"""Who may go where: the access rules file, its checks, its matching, and ``explain``.

``PWLESS_GATE_RULES_FILE`` names a TOML file of ``[[rules]]``; each has a
``path`` (a prefix matched at a segment boundary, or a regular expression
starting with ``^`` that must match the whole path), a ``policy``
(``public``, ``deny`` or ``signed-in``, the default), and optionally
``allow`` (exact emails, ``@domain``, ``.domain`` for its subdomains, E.164
numbers, ``role:NAME``), ``methods``, ``hosts`` and ``max_age`` (seconds
since sign-in). The first rule that matches a request decides; a request no
rule matches is left to the global allow-lists. ``PWLESS_GATE_PUBLIC_PATHS``
entries are public rules placed before the file's.

:func:`load_rules` checks everything when the gate is built (a bad file
stops start-up with one line naming the file, the rule and the problem);
:class:`RuleSet` matches a request without scanning every rule: prefix rules
are kept in a dict keyed by their prefix, each key holding, in file order,
every rule that can match below it (the rules of its ancestors and the
regular expressions included), so a request costs a few dict lookups and a
short scan. Paths are matched as :mod:`pwless_gate.public_paths` matches
them: only plain paths may be public, and a path with ``.``/``..`` segments,
``//``, a backslash or encoded ``?#;`` is also read cleaned up; when the two
readings fall under different rules the request is refused.

The rules say who may reach a path; they do not decide who may sign in (the
global allow-lists do), and they know nothing of WSGI.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .errors import ConfigError
from .identity import InvalidIdentifier, normalise_email, normalise_phone
from .public_paths import is_normal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SETTING = "PWLESS_GATE_RULES_FILE"
PUBLIC = "public"
DENY = "deny"
SIGNED_IN = "signed-in"
POLICIES = (PUBLIC, DENY, SIGNED_IN)
KEYS = ("path", "policy", "allow", "methods", "hosts", "max_age")
#: The longest ``max_age``: a year. More is a typo (milliseconds?), not a policy.
MAX_AGE_LIMIT = 366 * 24 * 3600
#: How many (method, path) answers :meth:`RuleSet.lookup` remembers before starting over.
MEMO_SIZE = 4096
#: Remembered for a (method, path) some host-limited rule may match: read the host.
_HOSTED = object()
#: Regular expressions that match every path: a rule after one can never match.
CATCH_ALL_PATTERNS = frozenset({"^.*", "^.*$", "^/.*", "^/.*$", "^.*\\Z", "^/"})

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_METHOD = re.compile(r"^[A-Za-z][A-Za-z-]{0,31}$")
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_ROLE = re.compile(r"^\S{1,200}$")


@dataclass(frozen=True, slots=True)
class Allow:
    """Who a rule lets in, among those the global allow-lists let sign in."""

    emails: frozenset[str] = frozenset()
    #: ``@example.com``: addresses at that domain exactly (stored without the ``@``).
    domains: frozenset[str] = frozenset()
    #: ``.example.com``: addresses at any subdomain of it (stored with the dot).
    subdomains: tuple[str, ...] = ()
    phones: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    def admits(self, connection: str, identifier: str, roles: Iterable[str]) -> bool:
        """Whether the person signed in as ``identifier`` through ``connection``
        (``email``, ``sms``; anything else, a machine, has neither) with ``roles``
        is on this list."""
        if connection == "email":
            if identifier in self.emails:
                return True
            domain = identifier.rpartition("@")[2]
            if domain in self.domains:
                return True
            for suffix in self.subdomains:
                if domain.endswith(suffix):
                    return True
        elif connection == "sms" and identifier in self.phones:
            return True
        return bool(self.roles) and not self.roles.isdisjoint(roles)

    def describe(self) -> str:
        """The entries, as they were written (normalised)."""
        return ", ".join(
            [
                *sorted(self.emails),
                *(f"@{d}" for d in sorted(self.domains)),
                *self.subdomains,
                *sorted(self.phones),
                *(f"role:{r}" for r in sorted(self.roles)),
            ]
        )


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One rule, checked and compiled. ``number`` counts from 1 in the file;
    ``PWLESS_GATE_PUBLIC_PATHS`` entries have 0 and ``source`` says so."""

    number: int
    path: str
    policy: str = SIGNED_IN
    allow: Allow | None = None
    methods: frozenset[str] | None = None
    hosts: frozenset[str] | None = None
    max_age: int | None = None
    source: str = ""
    #: The compiled pattern of a regex rule; None for a prefix rule.
    regex: re.Pattern[str] | None = field(default=None, repr=False)
    #: A prefix rule's key: the prefix without a trailing ``/`` (``/`` for the root).
    key: str = field(default="", repr=False)
    public: bool = field(init=False, repr=False)
    closed: bool = field(init=False, repr=False)
    #: Anyone the global allow-lists admit, however long ago they signed in.
    plain: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "public", self.policy == PUBLIC)
        object.__setattr__(self, "closed", self.policy == DENY)
        plain = self.policy != DENY and self.allow is None and self.max_age is None
        object.__setattr__(self, "plain", plain)

    @property
    def label(self) -> str:
        """``rule 3 (/admin)``, or ``PWLESS_GATE_PUBLIC_PATHS (/healthz)``."""
        return f"{self.source or f'rule {self.number}'} ({self.path})"

    @property
    def catch_all(self) -> bool:
        """Matches every path (the methods and hosts aside)."""
        return self.key == "/" or (self.regex is not None and self.path in CATCH_ALL_PATTERNS)

    def describe(self) -> str:
        """The rule in words, for ``explain`` and ``check``."""
        parts = [self.policy]
        if self.allow is not None:
            parts.append(f"allow {self.allow.describe()}")
        if self.max_age is not None:
            parts.append(f"signed in within {self.max_age} s")
        if self.methods is not None:
            parts.append("methods " + ", ".join(sorted(self.methods)))
        if self.hosts is not None:
            parts.append("hosts " + ", ".join(sorted(self.hosts)))
        return "; ".join(parts)

    def covers(self, other: Rule) -> bool:
        """Every request ``other`` matches is matched by this rule too."""
        if not (
            self.catch_all
            or (self.regex is not None and self.path == other.path)
            or (
                self.regex is None
                and other.regex is None
                and (other.key == self.key or other.key.startswith(self.key + "/"))
            )
        ):
            return False
        if self.methods is not None and (other.methods is None or other.methods > self.methods):
            return False
        return self.hosts is None or (other.hosts is not None and other.hosts <= self.hosts)


#: The rule of a path whose readings (as sent, cleaned up) fall under different rules.
UNCLEAR = Rule(0, "(unclear path)", DENY, source="an unclear path")


class Verdict:
    """What a rule says of one signed-in person: ``ADMIT``, ``REFUSE`` or ``STALE``."""

    ADMIT = "admit"
    REFUSE = "refuse"
    #: Signed in longer ago than the rule's ``max_age``: sign in again.
    STALE = "stale"


def verdict(
    rule: Rule | None,
    connection: str,
    identifier: str,
    roles: Iterable[str],
    signed_in_at: float | None,
    now: float,
) -> str:
    """Whether ``rule`` lets in the person signed in (through ``connection``, as
    ``identifier``, with ``roles``) at ``signed_in_at`` (None: an app or machine
    token, which is no sign-in): a :class:`Verdict` value."""
    if rule is None or rule.plain:
        return Verdict.ADMIT
    if rule.closed:
        return Verdict.REFUSE
    if rule.allow is not None and not rule.allow.admits(connection, identifier, roles):
        return Verdict.REFUSE
    if rule.max_age is not None:
        if signed_in_at is None:
            return Verdict.REFUSE  # a token cannot sign in again
        if now - signed_in_at > rule.max_age:
            return Verdict.STALE
    return Verdict.ADMIT


class RuleSet:
    """The rules of a gate, compiled; shared by threads (nothing changes after build)."""

    def __init__(self, rules: Sequence[Rule], file: str | None = None) -> None:
        self.rules = tuple(rules)
        self.file = file
        #: Some rule refuses someone: signed-in requests must be matched too.
        self.restricts = any(not (r.public or r.plain) for r in self.rules)
        self.uses_hosts = any(r.hosts is not None for r in self.rules)
        patterns = [r for r in self.rules if r.regex is not None]
        root = [r for r in self.rules if r.key == "/"]
        self._root: tuple[Rule, ...] = tuple(sorted(root + patterns, key=self._order))
        keys = {r.key for r in self.rules if r.regex is None and r.key != "/"}
        chains: dict[str, tuple[Rule, ...]] = {}
        for key in keys:
            below = [
                r
                for r in self.rules
                if r.regex is None and (key == r.key or key.startswith(r.key.rstrip("/") + "/"))
            ]
            chains[key] = tuple(sorted(below + patterns, key=self._order))
        self._chains = chains
        self._depth = max((k.count("/") for k in keys), default=0)
        self._memo: dict[tuple[str, str], object] = {}

    def _order(self, rule: Rule) -> int:
        return self.rules.index(rule)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def lookup(
        self,
        method: str,
        path: str,
        headers: Mapping[str, Any],
        host_of: Callable[[Mapping[str, Any]], str] | None,
    ) -> Rule | None:
        """:meth:`match` for a request, remembered per method and path (a bounded
        memo, emptied when full), so the hot path pays one dict lookup; the host is
        read (``host_of(headers)``) only when a rule that may match names hosts."""
        memo = self._memo
        try:
            found = memo[(method, path)]
        except KeyError:
            found = self._remember(method, path)
        if found is _HOSTED:
            host = request_host(host_of(headers)) if host_of is not None else ""
            return self.match(method, path, host)
        return found  # type: ignore[return-value]

    def _remember(self, method: str, path: str) -> object:
        chains = (
            self._chain(path)
            if is_normal(path)
            else self._chain(path) + self._chain(clean_path(path))
        )
        found: object
        if self.uses_hosts and any(rule.hosts is not None for rule in chains):
            found = _HOSTED
        else:
            found = self.match(method, path, "")
        memo = self._memo
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[(method, path)] = found
        return found

    def match(self, method: str, path: str, host: str = "") -> Rule | None:
        """The rule that decides ``method path`` on ``host`` (lower-case, no port),
        or None (the global allow-lists decide).

        A path that is not plain is never public: it is also read cleaned up
        (:func:`clean_path`), and :data:`UNCLEAR` (closed) is the answer when
        the two readings fall under different rules.
        """
        if is_normal(path):
            return self._first(method, path, host)
        literal = self._first(method, path, host)
        cleaned = self._first(method, clean_path(path), host)
        if literal is not cleaned:
            return UNCLEAR
        if literal is not None and literal.public:
            return None
        return literal

    def _first(self, method: str, path: str, host: str) -> Rule | None:
        chain = self._chain(path)
        for rule in chain:
            if rule.methods is not None and method not in rule.methods:
                continue
            if rule.hosts is not None and host not in rule.hosts:
                continue
            if rule.regex is not None and rule.regex.fullmatch(path) is None:
                continue
            return rule
        return None

    def _chain(self, path: str) -> tuple[Rule, ...]:
        """The rules that may match ``path``, in order: those of its longest prefix key."""
        chains = self._chains
        if not chains:
            return self._root
        cut = path
        end = 0
        for _ in range(self._depth):
            end = path.find("/", end + 1)
            if end < 0:
                break
        else:
            cut = path[:end]
        while True:
            chain = chains.get(cut)
            if chain is not None:
                return chain
            end = cut.rfind("/")
            if end <= 0:
                return self._root
            cut = cut[:end]


def clean_path(path: str) -> str:
    """``path`` as an app that decodes again and resolves segments may read it:
    decoded (at most three times), backslashes as ``/``, cut at ``?``, ``#``
    or NUL, ``;`` parameters dropped, ``.``/``..``/empty segments resolved."""
    for _ in range(3):
        decoded = unquote(path, encoding="latin-1")
        if decoded == path:
            break
        path = decoded
    path = path.replace("\\", "/")
    for stop in ("?", "#", "\x00"):
        path = path.split(stop, 1)[0]
    kept: list[str] = []
    for segment in path.split("/"):
        segment = segment.split(";", 1)[0]
        if segment in ("", "."):
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    return "/" + "/".join(kept)


def request_host(host: str) -> str:
    """``Tools.Example.com:8443`` → ``tools.example.com``; ``[::1]:80`` → ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".")


# -- loading and checking -------------------------------------------------------------


def load_rules(
    file: str | None, public_paths: Sequence[str] = (), roles_claim: str | None = None
) -> RuleSet:
    """The gate's rules: ``public_paths`` as public rules, then the file's.

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
            rule = parse_rule(number, entry, roles_claim)
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
        return Rule(0, entry, PUBLIC, source=source, regex=re.compile(entry))
    return Rule(0, entry, PUBLIC, source=source, key=entry.rstrip("/") or "/")


def parse_rule(number: int, entry: Mapping[str, Any], roles_claim: str | None) -> Rule:
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
    if path.startswith("^"):
        try:
            regex = re.compile(path)
        except re.error as exc:
            raise ValueError(f"bad regex {path!r}: {exc}") from None
    elif not path.startswith("/") or not is_normal(path):
        raise ValueError(
            f"path {path!r} must be a plain path like /admin (no //, . or .. segments, "
            "?, # or ;), or a regex starting with ^"
        )
    else:
        key = path.rstrip("/") or "/"
    policy = entry.get("policy", SIGNED_IN)
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; use public, deny or signed-in")
    allow = _allow(entry["allow"], roles_claim) if "allow" in entry else None
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


def _allow(value: object, roles_claim: str | None) -> Allow:
    emails: set[str] = set()
    domains: set[str] = set()
    subdomains: set[str] = set()
    phones: set[str] = set()
    roles: set[str] = set()
    for entry in _strings("allow", value):
        if entry.startswith("role:"):
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
                "+E.164 number or role:NAME"
            )
    return Allow(
        frozenset(emails),
        frozenset(domains),
        tuple(sorted(subdomains)),
        frozenset(phones),
        frozenset(roles),
    )


def _domain(entry: str, domain: str) -> str:
    domain = domain.lower()
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


# -- explain --------------------------------------------------------------------------


#: ``explain``'s exit statuses.
EXIT_STATUS = {"allowed": 0, "refused": 1, "sign-in needed": 2}


@dataclass(frozen=True)
class Explanation:
    """What ``pwless-gate explain`` prints, and its exit status."""

    rule: Rule | None
    outcome: str
    reason: str

    @property
    def status(self) -> int:
        """The exit status: 0 allowed, 1 refused, 2 a sign-in needed first."""
        return EXIT_STATUS[self.outcome]

    def lines(self) -> list[str]:
        if self.rule is None:
            decides = "no rule matches: the global allow-lists decide"
        else:
            decides = f"{self.rule.label} decides: {self.rule.describe()}"
        return [decides, f"{self.outcome}: {self.reason}"]


def explain(
    rules: RuleSet,
    method: str,
    path: str,
    host: str,
    *,
    who: tuple[str, str] | None,
    admitted: bool,
    roles: Sequence[str] = (),
) -> Explanation:
    """Which rule decides ``method path`` on ``host`` and what it says of ``who``
    (``(connection, identifier)``; None: nobody signed in), whom the global
    allow-lists admit (``admitted``), with ``roles``."""
    rule = rules.match(method, path, host)
    if rule is not None and rule.closed:
        return Explanation(rule, "refused", "closed to everyone")
    if rule is not None and rule.public:
        return Explanation(rule, "allowed", "public: no sign-in needed")
    if who is None:
        return Explanation(rule, "sign-in needed", "only for people signed in")
    connection, identifier = who
    if not admitted:
        return Explanation(rule, "refused", f"{identifier} may not sign in at all")
    said = verdict(rule, connection, identifier, roles, 0.0, 0.0)
    if said == Verdict.REFUSE:
        return Explanation(rule, "refused", f"{identifier} is not on this rule's allow list")
    if rule is not None and rule.max_age is not None:
        return Explanation(
            rule, "allowed", f"{identifier}, if signed in within the last {rule.max_age} s"
        )
    return Explanation(rule, "allowed", f"{identifier} may enter")
