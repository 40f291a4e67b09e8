"""WSGI apps that tests run behind the gate in real servers."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any


def whoami(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answers with the user the gate put in the environ, the worker's pid and the
    ``Cookie`` header the app is given.

    ``?sleep=0.2`` holds the worker that long, so concurrent requests spread.
    """
    if environ.get("QUERY_STRING", "").startswith("sleep="):
        time.sleep(min(float(environ["QUERY_STRING"][6:] or 0), 2.0))
    body = json.dumps(
        {
            "remote_user": environ.get("REMOTE_USER"),
            "auth_method": environ.get("pwless_gate.auth_method"),
            "user_sub": getattr(environ.get("pwless_gate.user"), "sub", None),
            "claims": environ.get("pwless_gate.claims"),
            "pid": os.getpid(),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING"),
            "cookie": environ.get("HTTP_COOKIE"),
        }
    ).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def public_report(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """A page for whoever is signed in that its app calls public for ten minutes.

    The worst case for a shared cache in front of the gate.
    """
    body = f"report for {environ.get('REMOTE_USER') or 'nobody'}".encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "public, max-age=600"),
        ],
    )
    return [body]


# -- third-party tools behind the gate (issue 13): their place comes from TOOL_ROOT --------


def pypi() -> Any:
    """pypiserver serving the packages in ``$TOOL_ROOT``, with no login of its own."""
    import pypiserver

    return pypiserver.app(roots=[os.environ["TOOL_ROOT"]], authenticate=[], password_file=".")


def git_repos() -> Any:
    """dulwich's smart HTTP server for the repositories under ``$TOOL_ROOT``."""
    from dulwich.repo import Repo
    from dulwich.server import DictBackend
    from dulwich.web import make_wsgi_chain

    root = os.environ["TOOL_ROOT"]
    repos = {f"/{name}": Repo(os.path.join(root, name)) for name in sorted(os.listdir(root))}
    return make_wsgi_chain(DictBackend(repos))


def calendars() -> Any:
    """Radicale keeping calendars under ``$TOOL_ROOT``, trusting ``REMOTE_USER``."""
    import radicale
    import radicale.config

    configuration = radicale.config.load()
    configuration.update(
        {
            "auth": {"type": "remote_user"},
            "rights": {"type": "owner_only"},
            "storage": {"filesystem_folder": os.environ["TOOL_ROOT"]},
        },
        "tests",
    )
    return radicale.Application(configuration)


def form_echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answers a POST with what it received: the user, the fields and the files (name,
    type and content), as JSON; a GET with a small page."""
    from werkzeug.wrappers import Request

    request = Request(environ)
    body = json.dumps(
        {
            "remote_user": environ.get("REMOTE_USER"),
            "method": request.method,
            "path": request.path,
            "query": environ.get("QUERY_STRING"),
            "fields": [[k, v] for k, v in request.form.items(multi=True)],
            "files": [
                [k, f.filename, f.content_type, f.read().decode("latin-1")]
                for k, f in request.files.items(multi=True)
            ],
        }
    ).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


#: The fields of :func:`notes`' long form: (name, label, kind).
NOTE_FIELDS = [
    ("title", "Title", "text"),
    ("author", "Author", "text"),
    ("meeting_date", "Meeting date", "date"),
    ("room", "Room", "text"),
    ("attendees", "Attendees", "textarea"),
    ("agenda", "Agenda", "textarea"),
    ("minutes", "Minutes", "textarea"),
    ("decisions", "Decisions", "textarea"),
    ("actions", "Action items", "textarea"),
    ("budget", "Budget (EUR)", "number"),
    ("next_meeting", "Next meeting", "text"),
]


def notes(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """A legacy tool's long form, with its own CSRF field, a select, checkboxes and a file.

    ``GET /notes/new`` shows the form; its POST (to ``/notes/save?draft=1``) is
    answered with a page showing, in ``<pre id="received">``, what arrived as
    JSON: the user, the fields in order and the files (name, type, content).
    """
    import html as html_module

    from werkzeug.wrappers import Request

    request = Request(environ)
    user = html_module.escape(environ.get("REMOTE_USER", ""))
    if request.method == "POST":
        received = {
            "remote_user": environ.get("REMOTE_USER"),
            "path": request.full_path.rstrip("?"),
            "fields": [[k, v] for k, v in request.form.items(multi=True)],
            "files": [
                [k, f.filename, f.content_type, f.read().decode("utf-8", "replace")]
                for k, f in request.files.items(multi=True)
            ],
        }
        content = (
            f'<h1>Saved</h1><p>Signed in as <strong id="user">{user}</strong></p>'
            f'<pre id="received">{html_module.escape(json.dumps(received))}</pre>'
        )
    else:
        rows = []
        for name, label, kind in NOTE_FIELDS:
            if kind == "textarea":
                control = f'<textarea id="{name}" name="{name}" rows="3"></textarea>'
            else:
                control = f'<input id="{name}" name="{name}" type="{kind}">'
            rows.append(f'<p><label for="{name}">{label}</label><br>{control}</p>')
        content = (
            f'<h1>New minutes</h1><p>Signed in as <strong id="user">{user}</strong></p>'
            '<form method="post" action="/notes/save?draft=1" enctype="multipart/form-data">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="legacy-csrf-4711">'
            + "".join(rows)
            + '<p><label for="team">Team</label><select id="team" name="team">'
            "<option>Finance</option><option>Legal</option><option>Board</option></select></p>"
            '<p><input type="checkbox" id="confidential" name="flags" value="confidential">'
            '<label for="confidential">Confidential</label>'
            '<input type="checkbox" id="final" name="flags" value="final">'
            '<label for="final">Final</label></p>'
            '<p><label for="attachment">Attachment</label><input type="file" id="attachment"'
            ' name="attachment"></p><button type="submit">Save</button></form>'
        )
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Minutes</title>'
        f"</head><body><main>{content}</main></body></html>"
    ).encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def proxied_identity(**headers: str) -> Any:
    """An app behind a proxy that asks the gate (nginx, Traefik): it answers, as JSON,
    each of ``headers`` (name: WSGI key) the proxy set, the ``Authorization`` it passed
    on and the path (None for what is missing)."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen = {name: environ.get(key) for name, key in headers.items()}
        seen.update(authorization=environ.get("HTTP_AUTHORIZATION"), path=environ.get("PATH_INFO"))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(seen).encode()]

    return app
