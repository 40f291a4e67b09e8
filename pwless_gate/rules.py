"""Who may go where: the access rules, compiled, and how a request is matched.

``PWLESS_GATE_RULES_FILE`` names a TOML file of ``[[rules]]``; each has a
``path`` (a prefix matched at a segment boundary, or a regular expression
starting with ``^`` that must match the whole path), a ``policy``
(``public``, ``deny`` or ``signed-in``, the default), and optionally
``allow`` (exact emails, ``@domain``, ``.domain`` for its subdomains, E.164
numbers, ``role:NAME``, ``client:ID`` for a machine), ``methods``, ``hosts``
and ``max_age`` (seconds since sign-in). The first rule that matches a request decides; a request no
rule matches is left to the global allow-lists. ``PWLESS_GATE_PUBLIC_PATHS``
entries are public rules placed before the file's.

:mod:`pwless_gate.rules_file` reads and checks the file when the gate is
built (a bad file stops start-up with one line naming the file, the rule and
the problem); :mod:`pwless_gate.explain` is the command line's view. Here,
:class:`RuleSet` matches a request without scanning every rule: prefix rules
are kept in a dict keyed by their prefix, each key holding, in file order,
every rule that can match below it (the rules of its ancestors and the
regular expressions included), so a request costs a few dict lookups and a
short scan. Paths are read as :mod:`pwless_gate.public_paths` says: a path
with ``.``/``..`` segments, ``//``, a backslash or encoded ``?#;`` is never
public, and it, or any path with a ``%`` left in it (sent encoded twice), is
also read decoded again and cleaned up; when the two readings fall under
different rules the request is refused. Methods are matched upper-case, as
Werkzeug, Flask and Django read them (``post`` is ``POST``). Paths are matched
case-sensitively, character for character: ``/Admin`` is not ``/admin``, and a
path's NFC and NFD spellings (``ä`` as one character or as ``a`` and a combining
mark) are different paths, as they are different bytes.

``PATH_INFO`` is the path's bytes read as latin-1 (PEP 3333): ``/ärzte`` arrives
as ``/Ã¤rzte``. A prefix rule's key is kept in that form (:func:`wsgi_path`);
a regular expression is matched against the path read as UTF-8
(:func:`path_text`), so its non-ASCII characters, classes (``[ä-ö]``) and
repetitions mean what they say.

The rules say who may reach a path; they do not decide who may sign in (the
global allow-lists do), and they know nothing of WSGI.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from .public_paths import is_normal, reads_one_way

SETTING = "PWLESS_GATE_RULES_FILE"
#: The connection of a machine admitted by a client-credentials token
#: (:data:`pwless_gate.machines.AUTH_METHOD`).
MACHINE = "client-credentials"
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
#: (A regex must match the whole path: ``^/`` is the home page alone.)
CATCH_ALL_PATTERNS = frozenset({"^.*", "^.*$", "^/.*", "^/.*$", "^.*\\Z"})
#: In a prefix, the marks of a glob or regex written without its ``^``, which a prefix
#: would take literally (``/admin/*`` matches no real path and protects nothing). A
#: URL path may not hold ``[ ] { } | ^`` unencoded (RFC 3986), so none is a path's in
#: practice; ``*`` and ``.+`` may be, but are the wildcards of globs and regexes far
#: more often (``.*`` has ``*``). ``+ ( ) $`` are left alone: paths hold them
#: (``/c++``, ``/wiki/Python_(language)``, OData's ``/$metadata``). ``? # \`` are not
#: plain anyway (:func:`~pwless_gate.public_paths.is_normal`).
PATTERN_MARKS = ("*", ".+", "[", "]", "{", "}", "|", "^")


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
    #: ``client:ID``: machines, by their Auth0 client id (``sub`` is ``<ID>@clients``).
    clients: frozenset[str] = frozenset()

    def admits(self, connection: str, identifier: str, roles: Iterable[str]) -> bool:
        """Whether the person signed in as ``identifier`` through ``connection``
        (``email``, ``sms``, or :data:`MACHINE` for a client-credentials token, whose
        identifier is ``<client id>@clients``) with ``roles`` is on this list."""
        if connection == MACHINE:
            client, at, clients = identifier.rpartition("@")
            return bool(at) and clients == "clients" and client in self.clients
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
                *(f"client:{c}" for c in sorted(self.clients)),
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
    #: A prefix rule's key: the prefix without a trailing ``/`` (``/`` for the root),
    #: in ``PATH_INFO``'s form (:func:`wsgi_path`).
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
            if reads_one_way(path)
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
        or None (the global allow-lists decide). ``method`` is matched in any case.

        A path that may read another way once decoded again (one with a ``%``
        left in it, or one that is not plain) is also read cleaned up
        (:func:`clean_path`), and :data:`UNCLEAR` (closed) is the answer when
        the two readings fall under different rules. A path that is not plain
        (:func:`~pwless_gate.public_paths.is_normal`) is never public.
        """
        method = method.upper()
        if reads_one_way(path):
            return self._first(method, path, host)
        literal = self._first(method, path, host)
        cleaned = self._first(method, clean_path(path), host)
        if literal is not cleaned:
            return UNCLEAR
        if literal is not None and literal.public and not is_normal(path):
            return None
        return literal

    def match_mounted(self, method: str, path: str, host: str, mount: str) -> Rule | None:
        """:meth:`match` for a path of the whole site (``X-Original-URI``, a URL) where
        the app is mounted at ``mount`` (``PATH_INFO``'s form, ``""`` at the root): a
        path under the mount is judged as the app sees it (:func:`within`), one
        outside it as it stands. A path that may read another way is read cleaned up
        before the mount is taken off too, and :data:`UNCLEAR` is the answer when the
        two readings fall under different rules: ``/tools/../tools/admin`` is
        ``/admin`` inside ``/tools``, though ``/../tools/admin`` reads as no path of it.
        """
        if not mount:
            return self.match(method, path, host)
        method = method.upper()
        inside = within(path, mount)
        if reads_one_way(path):
            return self._first(method, inside, host)
        literal = self._first(method, inside, host)
        cleaned = self._first(method, within(clean_path(path), mount), host)
        if literal is not cleaned:
            return UNCLEAR
        if literal is not None and literal.public and not is_normal(path):
            return None
        return literal

    def _first(self, method: str, path: str, host: str) -> Rule | None:
        chain = self._chain(path)
        text = path if path.isascii() else None  # read as UTF-8 when a regex asks
        for rule in chain:
            if rule.methods is not None and method not in rule.methods:
                continue
            if rule.hosts is not None and host not in rule.hosts:
                continue
            if rule.regex is not None:
                if text is None:
                    text = path_text(path)
                if rule.regex.fullmatch(text) is None:
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


def compile_path_regex(pattern: str) -> re.Pattern[str]:
    """A regex rule's ``path`` (or a ``PWLESS_GATE_PUBLIC_PATHS`` regex), compiled as
    the rules match it: ``.`` matches a line break too (``%0A`` in a path reaches the
    app as one, and a rule's ``(/.*)?`` must cover it as the app's routes do).

    Raises ``re.error`` for a bad one, also where ``re.compile`` raises something
    else: a repetition count past its limit (``OverflowError``), groups nested too
    deeply for its parser (``RecursionError``).
    """
    try:
        return re.compile(pattern, re.DOTALL)
    except OverflowError as exc:
        raise re.error(str(exc)) from None
    except RecursionError:
        raise re.error("nested too deeply") from None


def pattern_problem(prefix: str) -> str | None:
    """Why a prefix (``/admin/*``) looks like a glob or regex written without its ``^``
    (:data:`PATTERN_MARKS`), which it would match literally; None when it does not."""
    marks = [(prefix.find(mark), mark) for mark in PATTERN_MARKS if mark in prefix]
    if not marks:
        return None
    at, mark = min(marks)
    head = prefix[: prefix.rfind("/", 0, at)]
    plain = f" (such as {head!r}, which covers every path below it)" if head else ""
    return (
        f"{prefix!r} has {mark!r}, which a prefix takes literally, so it matches no real "
        f"path: write a plain prefix{plain} or a regex starting with ^"
    )


def control_problem(path: str) -> str | None:
    """Why a rule's path (a prefix or a regex) holds a control character, such as a line
    break or tab typed into the value by mistake (a request path never holds one the
    rule could be meant for); None when it holds none."""
    for char in path:
        if unicodedata.category(char) == "Cc":
            return (
                f"{path!r} has the control character {char!r} (a line break or tab "
                "written into the value?); remove it"
            )
    return None


def wsgi_path(path: str) -> str:
    """A path as written (``/ärzte``) in ``PATH_INFO``'s form: its UTF-8 bytes read as
    latin-1 (``/Ã¤rzte``), as a WSGI server passes it (PEP 3333)."""
    return path.encode("utf-8").decode("latin-1")


def path_text(path: str) -> str:
    """``PATH_INFO`` (``/Ã¤rzte``) read as the text it spells (``/ärzte``): its bytes as
    UTF-8, a byte that is no UTF-8 as a lone surrogate (which no written character
    matches). A path with characters beyond latin-1 (no WSGI server's) is taken as text."""
    try:
        return path.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return path


def wsgi_mount(mount: str) -> str:
    """A mount as a URL carries it (``/t%C3%A9``, ``SCRIPT_NAME`` as the browser sees
    it) in ``PATH_INFO``'s form (``/tÃ©``): its escapes decoded, the bytes as latin-1."""
    return unquote_to_bytes(mount).decode("latin-1")


def within(path: str, mount: str) -> str:
    """``path`` (``PATH_INFO``'s form) as the app mounted at ``mount`` (the same form)
    sees it: the mount taken off at a segment boundary, the mount itself read as
    ``/``; a path outside the mount as it stands."""
    if path == mount:
        return "/"
    if mount and path.startswith(mount) and path[len(mount)] == "/":
        return path[len(mount) :]
    return path


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
