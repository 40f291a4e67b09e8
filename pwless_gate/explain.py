"""``pwless-gate explain``: which access rule decides a request, and what it says.

Like Authelia's ``access-control check-policy``: it reads the same settings
as the gate (``PWLESS_GATE_RULES_FILE``, ``PWLESS_GATE_PUBLIC_PATHS``, the
allow-lists) and prints two lines, the rule (or "no rule") and the outcome;
the exit status is 0 allowed, 1 refused, 2 a sign-in needed first (also a
usage error, as argparse's). It does not sign anyone in, read a session or
reach the tenant; ``max_age`` is reported, not checked.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import unquote_to_bytes, urlsplit

from .config import GateConfig
from .identity import InvalidIdentifier, normalise_email, normalise_phone
from .public_paths import is_normal
from .rules import MACHINE, Rule, RuleSet, Verdict, request_host, verdict, wsgi_mount

#: An HTTP method: a token (RFC 9110), such as ``GET`` or ``PROPFIND``.
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")

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
    mount: str = "",
    who: tuple[str, str] | None,
    admitted: bool,
    roles: Sequence[str] = (),
) -> Explanation:
    """Which rule decides ``method path`` on ``host`` (``path`` of the whole site, the
    app mounted at ``mount``: see :meth:`~pwless_gate.rules.RuleSet.match_mounted`)
    and what it says of ``who`` (``(connection, identifier)``; None: nobody signed
    in), whom the global allow-lists admit (``admitted``), with ``roles``."""
    rule = rules.match_mounted(method, path, host, mount)
    if rule is not None and rule.closed:
        return Explanation(rule, "refused", "closed to everyone")
    if rule is not None and rule.public:
        return Explanation(rule, "allowed", "public: no sign-in needed")
    if who is None:
        return Explanation(rule, "sign-in needed", "only for people signed in")
    connection, identifier = who
    if not admitted:
        if connection == MACHINE:
            return Explanation(
                rule, "refused", f"{identifier} is not in PWLESS_GATE_ALLOWED_CLIENTS"
            )
        return Explanation(rule, "refused", f"{identifier} may not sign in at all")
    signed_in_at = None if connection == MACHINE else 0.0  # a token is no sign-in
    said = verdict(rule, connection, identifier, roles, signed_in_at, 0.0)
    if said == Verdict.REFUSE:
        if rule is not None and rule.max_age is not None and connection == MACHINE:
            return Explanation(
                rule, "refused", f"{identifier} is a machine: its token is no recent sign-in"
            )
        return Explanation(rule, "refused", f"{identifier} is not on this rule's allow list")
    if rule is not None and rule.max_age is not None:
        return Explanation(
            rule, "allowed", f"{identifier}, if signed in within the last {rule.max_age} s"
        )
    return Explanation(rule, "allowed", f"{identifier} may enter")


def run_explain(
    config: GateConfig,
    method: str,
    url: str,
    *,
    user: str | None = None,
    roles: Sequence[str] = (),
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Print the deciding rule and the outcome for ``method url``; return the exit status."""
    if roles and config.roles_claim is None:
        print("pwless-gate: --role needs PWLESS_GATE_ROLES_CLAIM to be set", file=err)
        return 2
    if not _METHOD.fullmatch(method):
        print(f"pwless-gate: {method!r} is not an HTTP method", file=err)
        return 2
    try:
        parts = urlsplit(url)
        host = request_host(parts.netloc or (config.public_host or ""))
    except ValueError as exc:
        print(f"pwless-gate: {url!r} is not a URL: {exc}", file=err)
        return 2
    raw_path = parts.path or "/"
    if not raw_path.startswith("/"):
        print(f"pwless-gate: {url!r} is not a URL or a path starting with /", file=err)
        return 2
    # As a WSGI server builds PATH_INFO: percent-decoded bytes read as latin-1 (a path
    # typed as text is its UTF-8; bytes the shell passed that are not, as they came).
    path = unquote_to_bytes(raw_path.encode("utf-8", "surrogateescape")).decode("latin-1")
    # The path of the whole site: under public_url's path (the mount) it is judged as
    # the app sees it, outside it as it stands, as {prefix}/auth does.
    mount = wsgi_mount(config.public_path)
    pages = mount + config.prefix
    plain = "%" not in path and is_normal(path)
    if plain and (path == pages or path.startswith(pages + "/")):
        print(f"{config.public_path}{config.prefix}: the gate's own pages", file=out)
        print("allowed: sign-in pages are open to everyone", file=out)
        return 0
    who = None
    admitted = False
    if user is not None:
        try:
            if user.strip().endswith("@clients"):  # a machine, by its client id
                who = (MACHINE, user.strip())
                admitted = who[1].removesuffix("@clients") in config.allowed_clients
            elif user.strip().startswith("+"):
                who = ("sms", normalise_phone(user, config.default_region))
                admitted = config.allow.allows_phone(who[1])
            else:
                who = ("email", normalise_email(user))
                admitted = config.allow.allows_email(who[1])
        except InvalidIdentifier as exc:
            print(f"pwless-gate: --user {user!r}: {exc}", file=err)
            return 2
    result = explain(
        config.rules,
        method.upper(),
        path,
        host,
        mount=mount,
        who=who,
        admitted=admitted,
        roles=tuple(roles),
    )
    for line in result.lines():
        print(line, file=out)
    return result.status
