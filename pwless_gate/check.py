"""``pwless-gate check``: what can be told about a gate's setup from the outside.

:func:`run_check` takes a valid :class:`~pwless_gate.config.GateConfig` and
says, one line each, who may sign in, the public URL, whether the store
answers (a Redis ``PING``; for Redis Sentinel also the master the sentinels
name now), what an app string imports to, and what the
tenant answers: its discovery document and signing keys, then the
passwordless OTP grant for a made-up identifier with a wrong code. That
grant sends nothing to anyone, and the error it answers tells apart refused
client credentials, a grant the application does not allow, a connection
missing or not enabled, and an audience that names no API. With
``federated_logout``, ``/v2/logout`` tells whether the gate's return URL is
an allowed logout URL.

It does not send a code or a link: whether messages are delivered, the
magic-link tenant flag and the allowed callback URLs are printed as "not
checked", with what to set. Each problem is one line on stderr naming the
setting (and the host when there is one).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from typing import TextIO
from urllib.parse import urlsplit

from .auth0 import Auth0Client
from .config import GateConfig
from .errors import (
    AccessDenied,
    AccountBlocked,
    Auth0Error,
    Auth0Unavailable,
    ClientAuthError,
    ConfigError,
    InvalidRequest,
    PwlessGateError,
    RateLimited,
    UnknownAudience,
    WrongCode,
)
from .loading import describe_app, load_app
from .proxies import is_loopback
from .transport import Timeout, Transport, TransportError

#: The NANP area codes a probe number may use: three digits from 200, none an N11
#: service code.
PROBE_AREA_CODES = [code for code in range(200, 1000) if code % 100 != 11]


def probe_identifier(realm: str) -> str:
    """A made-up identifier nobody can own, new at each run, for the OTP grant probe: an
    address under the ``.invalid`` TLD (RFC 2606), or a number of the 555-0100 to 555-0199
    range kept for fiction in every North American area code.

    New at each run because each probe is a failed login: after ten for one identifier
    from one IP, Auth0's brute-force protection blocks it for 30 days."""
    if realm == "sms":
        area = secrets.choice(PROBE_AREA_CODES)
        return f"+1{area}55501{secrets.randbelow(100):02d}"
    return f"pwless-gate-check-{secrets.token_hex(6)}@example.invalid"


#: The probe's ``auth0-forwarded-for`` (TEST-NET-1, RFC 5737): where Auth0
#: trusts the header, the probe's failed attempt counts against this address
#: rather than the gate's own.
PROBE_IP = "192.0.2.1"
LABEL_WIDTH = 12

#: Said of a URL built from a ``public_url`` without a path: the gate's URLs carry the
#: mount it is served under (``SCRIPT_NAME``, ``X-Forwarded-Prefix``).
_MOUNTED = (
    " (a gate served under a path, such as /tools, uses the URL with that path "
    "before the prefix: register that one)"
)


class Checkup:
    """One run of the check: findings printed to ``out``, problems collected."""

    def __init__(self, config: GateConfig, out: TextIO) -> None:
        self.config = config
        self.out = out
        self.problems: list[str] = []
        self.client = Auth0Client(
            config.auth0_base_url,
            config.client_id,
            config.client_secret,
            timeout=config.auth0_timeout,
        )
        self.host = self.client.host
        self.client_ok = False
        self.send_audience = config.audience is not None

    def say(self, label: str, text: str) -> None:
        print(f"{label + ':':<{LABEL_WIDTH}}{text}", file=self.out)

    def problem(self, setting: str, text: str) -> None:
        self.problems.append(f"{setting}: {text}")

    # -- what needs no network -------------------------------------------------------

    def settings(self) -> None:
        config = self.config
        self.say("config", f"ok ({', '.join(config.methods)}; prefix {config.prefix})")
        self.say("allow", config.allow.describe())
        self.rules()
        if config.public_url:
            self.say("public URL", f"{config.public_origin}{config.public_path}")
            return
        needs = "email-link" in config.methods or config.federated_logout
        missing = (
            "PWLESS_GATE_PUBLIC_URL is not set: magic links and federated logout need "
            "absolute URLs, and without it the gate builds them only on loopback hosts"
        )
        if not needs:
            # Trusted X-Forwarded-Uri: a forwardAuth proxy may ask {prefix}/auth, whose
            # redirect to the sign-in page needs an absolute URL (views._sign_in_first).
            forward = (
                "; behind a forwardAuth proxy such as Traefik, a browser without a session "
                "gets a 401 instead of the sign-in page"
                if config.proxies.x_uri
                else ""
            )
            self.say(
                "public URL",
                f"not set (not needed without magic links or federated logout{forward})",
            )
        elif is_loopback(urlsplit(config.auth0_base_url).hostname or ""):
            self.say("public URL", f"{missing} (fine with the local tenant)")
        else:
            self.problems.append(missing)

    def rules(self) -> None:
        """How many access rules, from where (a bad file already stopped the check)."""
        config = self.config
        rules = config.rules
        from_file = sum(1 for rule in rules.rules if rule.number)
        public = len(rules) - from_file
        parts = []
        if config.rules_file is not None:
            parts.append(f"{from_file} from {config.rules_file}")
        if public:
            parts.append(f"{public} public path{'s' if public != 1 else ''}")
        if parts:
            roles = f"; roles from {config.roles_claim}" if config.roles_claim else ""
            self.say("rules", f"{', '.join(parts)}{roles}")

    def store(self) -> None:
        if self.config.sqlite_path is not None:
            self.sqlite(self.config.sqlite_path)
            return
        url = self.config.redis_url
        if url is None:
            self.say("store", "cookie (stateless)")
            return
        from .stores.redis import connect, current_master, location

        setting = self.config.store_setting  # the variable the operator set
        redis = connect(url, timeout=self.config.redis_timeout, setting=setting)
        where = location(redis)
        started = time.monotonic()
        try:
            redis.ping()
            master = current_master(redis)
        except Exception as exc:  # redis-py raises many kinds; all mean "not answering"
            self.problem(setting, f"{where} unreachable: {type(exc).__name__}")
            return
        finally:
            redis.close()
        elapsed = (time.monotonic() - started) * 1000
        found = f"{where}: ok, master {master}" if master else f"{where}: ok"
        self.say("store", f"{found} (PING answered in {elapsed:.0f} ms)")

    def sqlite(self, path: str) -> None:
        """Open (upgrading) the file, as the gate will at start-up; one that is not there
        is not made: said, with where the gate would make it."""
        from .stores.sqlite import SQLiteDatabase

        default = " (the default; PWLESS_GATE_STORE chooses another)"
        default = default if self.config.store_is_default else ""
        if not os.path.exists(path):
            # Not made here: a check run elsewhere than the gate (another working
            # directory, another user) would leave a stray empty file, and say all is well.
            folder = os.path.dirname(os.path.abspath(path))
            existing = folder
            while not os.path.exists(existing):
                existing = os.path.dirname(existing)
            if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
                self.problem(
                    self.config.store_setting,
                    f"no SQLite file at {path}, and {existing} is no folder this user can "
                    "make it in",
                )
                return
            made = "" if existing == folder else f" (and the folder {folder})"
            self.say(
                "store",
                f"SQLite at {path}: no file yet, the gate makes it there{made} when it starts "
                f"(run check where the gate runs, with its settings){default}",
            )
            return
        try:
            database = SQLiteDatabase(path, setting=self.config.store_setting)
        except ConfigError as exc:
            self.problem(exc.setting, exc.problem)
            return
        self.say("store", f"{database.location} (schema v{database.version}){default}")

    def app(self, spec: str | None) -> None:
        if spec is None:
            self.say("app", "not checked (give MODULE:APP to import it)")
            return
        try:
            found = load_app(spec)
        except ConfigError as exc:
            self.problems.append(str(exc))
            return
        self.say("app", f"{spec} is {describe_app(found)}")

    # -- what the tenant answers -----------------------------------------------------------

    def tenant(self) -> None:
        config = self.config
        try:
            discovery = self.client.discovery()
            keys = self.client.jwks().get("keys", [])
        except Auth0Unavailable as exc:
            what = "cannot reach the tenant" if exc.status_code == 503 else "not an Auth0 tenant"
            self.problem("PWLESS_GATE_AUTH0_DOMAIN", f"{what}: {exc}")
            self.say("tenant", f"not checked (no answer from {self.host})")
            return
        except PwlessGateError as exc:
            self.problem(
                "PWLESS_GATE_AUTH0_DOMAIN", f"{self.host} does not answer as Auth0 does: {exc}"
            )
            self.say("tenant", f"not checked (no answer from {self.host})")
            return
        issuer = discovery.get("issuer")
        self.say("tenant", f"{config.auth0_base_url} (issuer {issuer})")
        if issuer != config.issuer:
            self.problem(
                "PWLESS_GATE_AUTH0_DOMAIN",
                f"the tenant at {self.host} names its issuer {issuer!r}, "
                f"expected {config.issuer!r}",
            )
        rsa = [k for k in keys if isinstance(k, dict) and k.get("kty") == "RSA" and k.get("kid")]
        if rsa:
            self.say("keys", f"{len(rsa)} RSA signing key(s)")
        else:
            self.problem("PWLESS_GATE_AUTH0_DOMAIN", f"{self.host} publishes no RSA signing keys")
        realms = [r for r in ("email", "sms") if any(m.startswith(r) for m in config.methods)]
        for realm in realms:
            if not self.otp_grant(realm):
                break
        self.logout()
        self.not_checked()

    def otp_grant(self, realm: str) -> bool:
        """Probe the OTP grant for ``realm``; False when nothing more can be learnt.

        The configured audience is sent too; once the tenant refuses it, the
        probe is made again without it, for the rest.
        """
        config = self.config
        method = next(m for m in config.methods if m.startswith(realm))
        try:
            self.client.exchange_otp(
                realm=realm,
                username=probe_identifier(realm),
                otp="000000",
                scope=config.scope,
                audience=config.audience if self.send_audience else None,
                forwarded_for=PROBE_IP,
            )
        except WrongCode:  # every check before the code passed
            if not self.client_ok:
                self.say("client", "ok (credentials accepted, Passwordless OTP grant allowed)")
                self.client_ok = True
            self.say("connection", f"{realm}: ok (enabled for the application)")
            if self.send_audience:
                self.say("audience", f"{config.audience}: not refused before the code")
            return True
        except ClientAuthError as exc:
            self.client_refused(exc)
            return False
        except InvalidRequest as exc:
            self.problem(
                "PWLESS_GATE_METHODS",
                f"{method} needs the {realm!r} passwordless connection, which the tenant at "
                f"{self.host} does not have or has not enabled for this application "
                f"({exc.error}: {exc.description})",
            )
            return True
        except UnknownAudience as exc:
            if not self.send_audience:  # no audience was sent: nothing more to learn
                self.say("client", f"not checked ({exc.error}: {exc.description})")
                return False
            self.problem(
                "PWLESS_GATE_AUDIENCE",
                f"the tenant at {self.host} has no API {config.audience!r} "
                f"({exc.error}: {exc.description})",
            )
            self.send_audience = False
            return self.otp_grant(realm)
        except AccessDenied as exc:
            if exc.status_code == 401:  # Auth0's usual answer to bad client credentials
                self.client_refused(exc)
                return False
            self.say("client", f"not checked ({exc.error}: {exc.description})")
            return False
        except RateLimited as exc:
            self.say("client", f"not checked (rate limited by {self.host}: {exc.error})")
            return False
        except AccountBlocked as exc:  # the tenant's answer to the probe, not to the gate
            self.say(
                "client",
                f"not checked (the probe user is blocked by brute-force protection at "
                f"{self.host}: {exc.error})",
            )
            return False
        except Auth0Unavailable as exc:
            self.problem("PWLESS_GATE_AUTH0_DOMAIN", str(exc))
            return False
        except Auth0Error as exc:
            self.problem(
                "PWLESS_GATE_AUTH0_DOMAIN",
                f"the tenant at {self.host} answered the OTP grant with "
                f"{exc.status_code} {exc.error}: {exc.description}",
            )
            return False
        self.problem(
            "PWLESS_GATE_AUTH0_DOMAIN",
            f"the tenant at {self.host} accepted a made-up code: this is not an Auth0 tenant",
        )
        return False

    def client_refused(self, exc: Auth0Error) -> None:
        if exc.error == "unauthorized_client" and "grant type" in exc.description.lower():
            self.problem(
                "PWLESS_GATE_CLIENT_ID",
                f"the application at {self.host} does not allow the Passwordless OTP grant "
                "(Applications > the application > Advanced Settings > Grant Types) "
                f"({exc.error})",
            )
        else:
            self.problem(
                "PWLESS_GATE_CLIENT_ID/CLIENT_SECRET",
                f"the tenant at {self.host} refused the client's credentials "
                f"({exc.status_code} {exc.error}: {exc.description})",
            )

    def logout(self) -> None:
        config = self.config
        if not config.federated_logout or config.public_origin is None:
            return
        return_to = f"{config.public_origin}{config.public_path}{config.prefix}/logout"
        http = Transport(config.auth0_base_url, pool_size=1)
        timeout = Timeout(connect=config.auth0_timeout, read=config.auth0_timeout)
        try:
            # The transport follows no redirect: the Location is the answer looked for.
            answer = http.request("GET", self.client.logout_path(return_to), timeout=timeout)
        except (TransportError, ValueError) as exc:  # the tenant answered the rest just now
            self.say("logout URL", f"not checked ({exc})")
            return
        finally:
            http.close()
        # The gate returns to its own address, the mount it is served under included:
        # public_url's path when it has one, else wherever the gate is mounted.
        mounted = "" if config.public_path else _MOUNTED
        if answer.status in (301, 302, 303) and answer.headers.get("Location") == return_to:
            self.say("logout URL", f"{return_to}: ok (an allowed logout URL){mounted}")
        else:
            self.problem(
                "PWLESS_GATE_PUBLIC_URL",
                f"{return_to} is not among the Allowed Logout URLs of the application at "
                f"{self.host} (GET /v2/logout answered {answer.status}){mounted}",
            )

    def not_checked(self) -> None:
        config = self.config
        public = f"{config.public_origin or '<your site>'}{config.public_path}"
        if "email-link" in config.methods:
            self.say(
                "magic link",
                "not checked: turn on the tenant flag "
                "universal_login.passwordless.allow_magiclink_verify_without_session, and "
                f"add {public}{config.prefix}/callback to the application's Allowed Callback "
                f"URLs{'' if config.public_path else _MOUNTED}",
            )
        self.say("delivery", "not checked (only a real email or text message would tell)")


def run_check(
    config: GateConfig,
    app: str | None = None,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Check ``config`` (and the app string ``app``); returns 0 when fine, 1 with problems.

    Findings go to ``out``, one line each; each problem is one line on ``err``,
    ``pwless-gate: <setting>: <problem>``.
    """
    checkup = Checkup(config, out)
    checkup.settings()
    checkup.store()
    checkup.app(app)
    checkup.tenant()
    for problem in checkup.problems:
        print(f"pwless-gate: {problem}", file=err)
    if checkup.problems:
        return 1
    print("ok", file=out)
    return 0
