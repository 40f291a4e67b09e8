"""The ``pwless-gate`` command: demo, dev-tenant, serve, check, sessions, tokens, explain.

Configuration errors print one line naming the setting and exit with 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import math
import os
import sys
from collections.abc import Sequence

from .config import GateConfig
from .errors import ConfigError


class _OfflineAccess(argparse.Action):
    """``--api AUDIENCE --offline-access``: the flag belongs to the ``--api`` before it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        api = _last_api(parser, namespace, "--offline-access")
        chosen = list(getattr(namespace, self.dest, None) or [])
        setattr(namespace, self.dest, [*chosen, api])


class _TokenProfile(argparse.Action):
    """``--api AUDIENCE --token-profile rfc9068``: the profile of the ``--api`` before it;
    ``dest`` collects the APIs given ``rfc9068``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        api = _last_api(parser, namespace, "--token-profile")
        chosen = [a for a in getattr(namespace, self.dest, None) or [] if a != api]
        setattr(namespace, self.dest, [*chosen, api] if values == "rfc9068" else chosen)


def _last_api(parser: argparse.ArgumentParser, namespace: argparse.Namespace, flag: str) -> str:
    """The ``--api`` given last so far, which ``flag`` belongs to (else a usage error)."""
    apis = getattr(namespace, "api", None) or []
    if not apis:
        parser.error(f"{flag} must follow the --api AUDIENCE it applies to")
    return str(apis[-1])


def _port(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return int(text)


def _port_or_any(text: str) -> int:
    """An argparse type: a TCP port, or 0 for any free one (the tenant prints which)."""
    return 0 if text.strip() == "0" else _port(text)


def _seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pwless-gate", description="An Auth0 Passwordless login in front of any WSGI app."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the local tenant, a sample tool and the gate")
    demo.add_argument("--port", type=_port, default=8000, help="the gate's port (default 8000)")

    tenant = commands.add_parser("dev-tenant", help="run the local Auth0-compatible tenant")
    tenant.add_argument("--host", default="127.0.0.1", help="a loopback address (default)")
    tenant.add_argument(
        "--unsafe-listen-anywhere",
        action="store_true",
        help="allow a --host that is not loopback: anyone who reaches it can mint tokens",
    )
    tenant.add_argument(
        "--port", type=_port_or_any, default=8001, help="default 8001; 0: any free port"
    )
    tenant.add_argument("--client-id", default="pwless-gate-dev")
    tenant.add_argument("--client-secret", default="pwless-gate-dev-secret")
    tenant.add_argument(
        "--allowed-callback",
        action="append",
        default=[],
        metavar="URL",
        help="an allowed callback URL for magic links (repeatable)",
    )
    tenant.add_argument(
        "--api",
        action="append",
        default=[],
        metavar="AUDIENCE",
        help="an API identifier an audience may name (repeatable)",
    )
    tenant.add_argument(
        "--offline-access",
        action=_OfflineAccess,
        nargs=0,
        dest="offline_access_apis",
        default=[],
        help="turn on Allow Offline Access (refresh tokens) for the --api just before it",
    )
    tenant.add_argument(
        "--token-profile",
        action=_TokenProfile,
        choices=("auth0", "rfc9068"),  # devtenant.constants.TOKEN_PROFILES, not imported here
        dest="rfc9068_apis",
        default=[],
        help="the access token profile (JWT Profile) of the --api just before it: auth0 "
        "(the default) or rfc9068",
    )
    tenant.add_argument(
        "--m2m-client",
        action="append",
        default=[],
        metavar="ID:SECRET",
        help="a machine-to-machine application that may use the client_credentials grant "
        "for every --api (repeatable)",
    )
    tenant.add_argument(
        "--m2m-grant",
        action="append",
        default=[],
        metavar="ID=AUDIENCE[=SCOPES]",
        help="authorise the --m2m-client ID for the --api AUDIENCE only (with the scopes, "
        "comma-separated); repeatable; a client with grants gets no other API",
    )
    tenant.add_argument(
        "--trust-forwarded-for",
        action="store_true",
        help='turn on the application\'s "Trust Token Endpoint IP Header" (off in a new tenant)',
    )
    tenant.add_argument(
        "--allow-magiclink-verify-without-session",
        action="store_true",
        help="turn on the tenant flag that lets magic links started by a server work "
        "(off in a new tenant)",
    )
    tenant.add_argument(
        "--code-lifetime",
        type=_seconds,
        default=180,
        metavar="S",
        help="seconds a one-time code or magic link lives (default 180)",
    )
    tenant.add_argument(
        "--authorization-code-lifetime",
        type=_seconds,
        default=600,
        metavar="S",
        help="seconds the authorization code a magic link leads to lives (default 600)",
    )
    tenant.add_argument(
        "--roles-claim",
        metavar="URL",
        help="add each user's roles to id_tokens and access tokens under this namespaced "
        "claim, as a post-login Action does (e.g. https://example.com/roles)",
    )
    tenant.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="EMAIL=ROLE",
        help="give the user with this email address (or +E.164 number) a role (repeatable)",
    )
    tenant.add_argument(
        "--allowed-logout-url",
        action="append",
        default=[],
        metavar="URL",
        help="an allowed returnTo URL for /v2/logout (repeatable)",
    )

    serve = commands.add_parser("serve", help="wrap MODULE:APP and serve it (development server)")
    serve.add_argument("app", metavar="MODULE:APP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)

    check = commands.add_parser(
        "check", help="validate the configuration, reach the store and the tenant, import APP"
    )
    check.add_argument("app", nargs="?", metavar="APP", help="MODULE:APP to import, as serve does")

    sessions = commands.add_parser(
        "sessions", help="list or end sessions in the SQLite or Redis store"
    )
    actions = sessions.add_subparsers(dest="action", required=True, metavar="ACTION")
    user_help = "the person: an Auth0 sub (email|…, sms|…), an email address or a phone number"
    listing = actions.add_parser("list", help="one line per session, then the count")
    listing.add_argument("--user", metavar="ID", help=user_help)
    ending = actions.add_parser("revoke", help="end sessions; prints how many")
    who = ending.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", metavar="ID", help=user_help)
    who.add_argument("--all", action="store_true", help="everyone's sessions")

    tokens = commands.add_parser("tokens", help="list or revoke app tokens in the store")
    token_actions = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    token_list = token_actions.add_parser("list", help="one line per token, then the count")
    token_list.add_argument("--user", metavar="ID", help=user_help)
    token_revoke = token_actions.add_parser("revoke", help="revoke tokens; prints how many")
    whose = token_revoke.add_mutually_exclusive_group(required=True)
    whose.add_argument("--user", metavar="ID", help=user_help)
    whose.add_argument(
        "--token-id",
        metavar="ID",
        help="one token, by the id the list shows (--token-id=ID for an id starting with -)",
    )

    explain = commands.add_parser(
        "explain",
        help="which access rule decides a request, and what it says "
        "(exit 0 allowed, 1 refused, 2 sign-in needed)",
    )
    explain.add_argument(
        "--user",
        metavar="ID",
        help="signed in as this email address or phone number, or a machine: CLIENT_ID@clients",
    )
    explain.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="R",
        help="with this role (repeatable; needs PWLESS_GATE_ROLES_CLAIM)",
    )
    explain.add_argument("method", metavar="METHOD", help="GET, POST, …")
    explain.add_argument(
        "url", metavar="URL", help="https://host/path?query, or a path such as /admin/users"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "demo":
            from .demo import run_demo

            run_demo(port=args.port)
        elif args.command == "dev-tenant":
            from .devtenant import main_serve

            if not (args.unsafe_listen_anywhere or _is_loopback(args.host)):
                print(
                    f"pwless-gate: --host {args.host} is not a loopback address; the local "
                    "tenant signs tokens for anyone who reaches it (add "
                    "--unsafe-listen-anywhere to listen there anyway)",
                    file=sys.stderr,
                )
                return 2

            roles = _roles(args.role)
            if roles is None:
                return 2
            if roles and not args.roles_claim:
                print("pwless-gate: --role needs --roles-claim URL", file=sys.stderr)
                return 2
            if args.roles_claim:
                from .devtenant.app import check_roles_claim

                try:
                    check_roles_claim(args.roles_claim)
                except ValueError as exc:
                    print(f"pwless-gate: --roles-claim: {exc}", file=sys.stderr)
                    return 2
            machines = _m2m_clients(args.m2m_client)
            grants = _m2m_grants(args.m2m_grant)
            if isinstance(machines, str) or isinstance(grants, str):
                print(
                    f"pwless-gate: {machines if isinstance(machines, str) else grants}",
                    file=sys.stderr,
                )
                return 2
            return main_serve(
                args.host,
                args.port,
                args.client_id,
                args.client_secret,
                args.allowed_callback,
                args.allowed_logout_url,
                args.api,
                offline_access_apis=args.offline_access_apis,
                rfc9068_apis=args.rfc9068_apis,
                trust_forwarded_for=args.trust_forwarded_for,
                allow_magiclink_verify_without_session=args.allow_magiclink_verify_without_session,
                code_lifetime=args.code_lifetime,
                authorization_code_lifetime=args.authorization_code_lifetime,
                roles_claim=args.roles_claim,
                roles=roles,
                machine_clients=machines,
                client_grants=grants,
            )
        elif args.command == "serve":
            return _serve(args.app, args.host, args.port)
        elif args.command == "check":
            return _check(args.app)
        elif args.command == "sessions":
            return _sessions(args)
        elif args.command == "tokens":
            return _tokens(args)
        elif args.command == "explain":
            from .explain import run_explain

            return run_explain(
                GateConfig.from_env(), args.method, args.url, user=args.user, roles=args.role
            )
    except ConfigError as exc:
        print(f"pwless-gate: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # the local tenant's switches contradict each other
        if args.command != "dev-tenant":
            raise
        print(f"pwless-gate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


def _roles(entries: Sequence[str]) -> dict[str, list[str]] | None:
    """``--role EMAIL=ROLE`` options as identifier → roles; None (after one line on
    stderr) for an entry without ``=``."""
    roles: dict[str, list[str]] = {}
    for entry in entries:
        who, _, role = entry.partition("=")
        if not who.strip() or not role.strip():
            print(
                f"pwless-gate: --role {entry!r} must look like ada@example.com=finance",
                file=sys.stderr,
            )
            return None
        roles.setdefault(who.strip(), []).append(role.strip())
    return roles


def _serve(spec: str, host: str, port: int) -> int:
    from werkzeug.serving import run_simple

    from .middleware import gate

    # Like gunicorn: the app is imported relative to the current directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    app = gate(spec)
    run_simple(host, port, app, threaded=True)
    return 0


def _m2m_clients(values: Sequence[str]) -> dict[str, str] | str:
    """``--m2m-client ID:SECRET`` values as {id: secret}, or the problem."""
    clients: dict[str, str] = {}
    for value in values:
        client_id, _, secret = value.partition(":")
        if not client_id or not secret:
            return f"--m2m-client {value!r} must look like ID:SECRET"
        clients[client_id] = secret
    return clients


def _m2m_grants(values: Sequence[str]) -> dict[str, dict[str, list[str]]] | str:
    """``--m2m-grant ID=AUDIENCE[=SCOPES]`` values as {id: {audience: scopes}}, or the problem."""
    grants: dict[str, dict[str, list[str]]] = {}
    for value in values:
        client_id, _, rest = value.partition("=")
        audience, _, scopes = rest.partition("=")
        if not client_id or not audience:
            return f"--m2m-grant {value!r} must look like ID=AUDIENCE or ID=AUDIENCE=SCOPE,SCOPE"
        names = scopes.replace(",", " ").split()
        grants.setdefault(client_id, {})[audience] = names
    return grants


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check(app: str | None) -> int:
    """Validate the config, then say what was found or what is wrong (:mod:`.check`)."""
    from .check import run_check
    from .pages import Pages

    config = GateConfig.from_env()
    Pages(config)  # as at start-up: the operator's templates compile (ConfigError else)
    # urllib3 warns of each retried connection; the check's own line names the failure.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    if app is not None and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as serve and gunicorn import it
    return run_check(config, app)


def _sessions(args: argparse.Namespace) -> int:
    """``sessions list|revoke`` (:mod:`.sessions_cli`); 1 when the store does not answer."""
    from .errors import StoreUnavailable
    from .sessions_cli import UnreadableUser, run

    config = GateConfig.from_env()
    try:
        return run(config, args.action, user=args.user, everyone=getattr(args, "all", False))
    except UnreadableUser as exc:
        print(f"pwless-gate: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"pwless-gate: the session store is not answering: {exc}", file=sys.stderr)
        return 1


def _tokens(args: argparse.Namespace) -> int:
    """``tokens list|revoke`` (:mod:`.tokens_cli`); 1 when the store does not answer."""
    from .errors import StoreUnavailable
    from .sessions_cli import UnreadableUser
    from .tokens_cli import run

    config = GateConfig.from_env()
    try:
        return run(config, args.action, user=args.user, token_id=getattr(args, "token_id", None))
    except UnreadableUser as exc:
        print(f"pwless-gate: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"pwless-gate: the token store is not answering: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
