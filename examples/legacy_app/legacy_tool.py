"""An unmodified legacy internal tool: a WSGI module that knows nothing about pwless-gate.

It trusts ``REMOTE_USER``, as tools written for Apache's ``AuthType`` or a
single-sign-on proxy do, and reads nothing else. It is protected without a
line changed here, by wrapping it when gunicorn loads it::

    gunicorn --chdir examples/legacy_app 'pwless_gate:gate("legacy_tool:application")'

The gate drops any ``REMOTE_USER`` (or ``Remote-User``/``X-Forwarded-User``
header) a client sends, and calls this tool only for signed-in people, so
``REMOTE_USER`` here is always an address the gate verified.
"""

import html

ORDERS = [("A-1001", "12 chairs"), ("A-1002", "3 desks"), ("A-1003", "1 whiteboard")]


def application(environ, start_response):
    user = environ.get("REMOTE_USER", "")
    rows = "".join(
        f"<tr><td>{number}</td><td>{html.escape(item)}</td></tr>" for number, item in ORDERS
    )
    page = (
        "<!doctype html><title>Purchase orders</title>"
        "<h1>Purchase orders</h1>"
        f'<p>Signed in as <strong id="remote-user">{html.escape(user)}</strong></p>'
        f"<table>{rows}</table>"
    )
    body = page.encode("utf-8")
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
