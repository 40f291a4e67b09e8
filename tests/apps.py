"""WSGI apps that tests run behind the gate in real servers."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any


def whoami(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answers with the user the gate put in the environ and the worker's pid.

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
