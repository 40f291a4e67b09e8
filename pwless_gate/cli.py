"""The ``pwless-gate`` command: demo, dev-tenant, serve, check.

Configuration errors print one line naming the setting and exit with 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from .config import GateConfig
from .errors import ConfigError, PwlessGateError


class _OfflineAccess(argparse.Action):
    """``--api AUDIENCE --offline-access``: the flag belongs to the ``--api`` before it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        apis = getattr(namespace, "api", None) or []
        if not apis:
            parser.error("--offline-access must follow the --api AUDIENCE it applies to")
        chosen = list(getattr(namespace, self.dest, None) or [])
        setattr(namespace, self.dest, [*chosen, apis[-1]])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pwless-gate", description="An Auth0 Passwordless login in front of any WSGI app."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the local tenant, a sample tool and the gate")
    demo.add_argument("--port", type=int, default=8000, help="the gate's port (default 8000)")

    tenant = commands.add_parser("dev-tenant", help="run the local Auth0-compatible tenant")
    tenant.add_argument("--host", default="127.0.0.1", help="a loopback address (default)")
    tenant.add_argument(
        "--unsafe-listen-anywhere",
        action="store_true",
        help="allow a --host that is not loopback: anyone who reaches it can mint tokens",
    )
    tenant.add_argument("--port", type=int, default=8001)
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
        "--allowed-logout-url",
        action="append",
        default=[],
        metavar="URL",
        help="an allowed returnTo URL for /v2/logout (repeatable)",
    )

    serve = commands.add_parser("serve", help="wrap MODULE:APP and serve it (development server)")
    serve.add_argument("app", metavar="MODULE:APP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    commands.add_parser("check", help="validate the configuration and reach the tenant")
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

            main_serve(
                args.host,
                args.port,
                args.client_id,
                args.client_secret,
                args.allowed_callback,
                args.allowed_logout_url,
                args.api,
                offline_access_apis=args.offline_access_apis,
            )
        elif args.command == "serve":
            return _serve(args.app, args.host, args.port)
        elif args.command == "check":
            return _check()
    except ConfigError as exc:
        print(f"pwless-gate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


def _serve(spec: str, host: str, port: int) -> int:
    from werkzeug.serving import run_simple

    from .middleware import gate

    # Like gunicorn: the app is imported relative to the current directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    app = gate(spec)
    run_simple(host, port, app, threaded=True)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check() -> int:
    """Validate the config, reach the tenant, and say what was found or what is wrong."""
    from .auth0 import Auth0Client
    from .errors import ClientAuthError, WrongCode

    config = GateConfig.from_env()
    client = Auth0Client(
        config.auth0_base_url, config.client_id, config.client_secret, timeout=config.auth0_timeout
    )
    problems: list[str] = []
    print(f"config:     ok ({', '.join(config.methods)}; prefix {config.prefix})")
    try:
        discovery = client.discovery()
        keys = client.jwks().get("keys", [])
    except PwlessGateError as exc:
        print(f"pwless-gate: cannot reach {config.auth0_base_url}: {exc}", file=sys.stderr)
        return 1
    issuer = discovery.get("issuer")
    print(f"tenant:     {config.auth0_base_url} (issuer {issuer})")
    if issuer != config.issuer:
        problems.append(f"the tenant's issuer is {issuer!r}, expected {config.issuer!r}")
    rsa = [k for k in keys if isinstance(k, dict) and k.get("kty") == "RSA" and k.get("kid")]
    print(f"keys:       {len(rsa)} RSA signing key(s)")
    if not rsa:
        problems.append("the tenant publishes no RSA signing keys")
    try:
        # A code for an address that never asked for one: a correctly set-up
        # client gets "wrong code"; anything else names the problem.
        client.exchange_otp(
            realm="sms" if config.methods == ("sms-code",) else "email",
            username="+10000000000" if config.methods == ("sms-code",) else "check@invalid.invalid",
            otp="000000",
            scope=config.scope,
        )
    except WrongCode:
        print("client:     ok (credentials accepted, passwordless grant allowed)")
    except ClientAuthError as exc:
        problems.append(f"Auth0 refused the client: {exc.error}: {exc.description}")
    except PwlessGateError as exc:
        problems.append(f"checking the client failed: {exc}")
    if config.public_url:
        print(f"public URL: {config.public_origin}{config.public_path}")
    elif "email-link" in config.methods or config.federated_logout:
        missing = (
            "PWLESS_GATE_PUBLIC_URL is not set: magic links and federated logout need "
            "absolute URLs, and without it the gate builds them only on loopback hosts"
        )
        if _is_loopback(urlsplit(config.auth0_base_url).hostname or ""):
            print(f"note:       {missing}")  # the local tenant: development on loopback
        else:
            problems.append(missing)
    if "email-link" in config.methods:
        print(
            "note:       magic links need the tenant flag "
            "universal_login.passwordless.allow_magiclink_verify_without_session on, and "
            f"<your site>{config.prefix}/callback among the application's callback URLs"
        )
    for problem in problems:
        print(f"pwless-gate: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
