"""``pwless-gate demo``: the local tenant, a sample internal tool, and the gate in front.

Everything runs in this one process on loopback: the tenant on a free port
(its "sent" codes are printed), the gate with the sample tool behind it on
``--port``. For trying the product, never for production.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from werkzeug.serving import make_server

from .config import GateConfig
from .devtenant import DevTenant, Message, serve_in_thread
from .middleware import PasswordlessGate

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEMO_CLIENT_ID = "pwless-gate-demo"


def sample_tool(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A tiny "internal tool": shows who is signed in and offers a sign-out button."""
    user = environ.get("REMOTE_USER", "")
    claims = environ.get("pwless_gate.claims", {})
    script = environ.get("SCRIPT_NAME", "")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sample internal tool</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto">
<h1>Sample internal tool</h1>
<p>Signed in as <strong id="remote-user">{html.escape(user)}</strong>.</p>
<h2>Your claims</h2>
<pre id="claims">{html.escape(json.dumps(claims, indent=2, sort_keys=True))}</pre>
<form method="get" action="{html.escape(script)}/_gate/logout">
<button type="submit">Sign out</button></form>
</body></html>"""
    body = page.encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def run_demo(port: int = 8000, out: TextIO = sys.stdout) -> None:
    """Serve the whole demo until interrupted."""
    client_secret = secrets.token_urlsafe(32)

    def announce(message: Message) -> None:
        what = f"code {message.code}" if message.code else ""
        if message.link:
            what += f"  link {message.link}"
        print(f"\n>>> {message.channel} to {message.to}: {what}\n", file=out, flush=True)

    gate_url = f"http://127.0.0.1:{port}"
    tenant = DevTenant(
        client_id=DEMO_CLIENT_ID,
        client_secret=client_secret,
        allowed_callbacks=[f"{gate_url}/_gate/callback", f"http://localhost:{port}/_gate/callback"],
        allowed_logout_urls=[f"{gate_url}/", f"http://localhost:{port}/"],
        on_message=announce,
        # The settings the README asks of a real tenant: links started by the gate
        # work, and each person's IP counts at Auth0, not the gate's.
        allow_magiclink_verify_without_session=True,
        trust_forwarded_for=True,
    )
    running = serve_in_thread(tenant)
    config = GateConfig(
        auth0_domain=running.url,
        client_id=DEMO_CLIENT_ID,
        client_secret=client_secret,
        secret_key=secrets.token_urlsafe(32),
        methods=("email-code", "email-link", "sms-code"),
        default_region="US",
        brand_name="Demo internal tool",
        # The demo admits anyone, on purpose; a real gate lists who may enter.
        allowed_domains=("*",),
        allowed_phones=("*",),
        # No public_url: on loopback the gate builds its links from the Host the
        # browser used, so both 127.0.0.1 and localhost work (the tenant allows both).
        # Sessions and counters in pwless-gate.sqlite3, here or in PWLESS_GATE_STATE_DIR.
        state_dir=os.environ.get("PWLESS_GATE_STATE_DIR") or None,
    )
    app = PasswordlessGate(sample_tool, config)
    try:
        # Bound before the banner: a port in use is Werkzeug's one message, nothing else.
        server = make_server("127.0.0.1", port, app, threaded=True)
    except BaseException:
        running.stop()
        raise
    print(
        f"pwless-gate demo\n"
        f"  local tenant: {running.url}\n"
        f"  open:         {gate_url}/\n"
        f"  who may sign in: {config.allow.describe()} (PWLESS_GATE_ALLOWED_DOMAINS=*\n"
        f"                   and PWLESS_GATE_ALLOWED_PHONES=*: a demo admits anyone)\n"
        f"  state:        SQLite at {config.sqlite_path}\n"
        f"Sign in with any email address or phone number; the codes and links\n"
        f"the tenant 'sends' are printed here.\n"
        f"Press Ctrl-C to stop.",
        file=out,
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
        running.stop()
