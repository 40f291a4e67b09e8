"""Which request paths read only one way, and so may be public.

Public paths (``PWLESS_GATE_PUBLIC_PATHS``) are public rules
(:mod:`pwless_gate.rules`): entries are prefixes (``/static/``,
``/healthz``), matched at a segment boundary (a trailing ``/`` changes
nothing: ``/static/`` matches ``/static`` too), or regular expressions
(starting with ``^``) that must match the whole path. Only ``PATH_INFO`` is
matched, never the query string. A path with ``.``/``..`` segments, ``//``, a
backslash, a NUL, or a ``?``, ``#`` or ``;`` that arrived percent-encoded
(also any of these percent-encoded once more, as ``%252e%252e``) is never
public, because the wrapped app may read it differently from the gate. A
path with a ``%`` left in it (sent encoded twice: ``%252F``) is judged twice,
as it stands and decoded again (:meth:`pwless_gate.rules.RuleSet.match`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_ABNORMAL = re.compile(r"//|/\.\.?(/|$)|[\\\x00?#;]")


def is_normal(path: str) -> bool:
    """True for a plain absolute path with no segment tricks, also once more decoded.

    ``PATH_INFO`` arrives decoded once; an app (or a proxy behind the gate)
    that decodes again would read ``%2e%2e`` (sent as ``%252e%252e``) as ``..``.
    """
    if not path.startswith("/") or _ABNORMAL.search(path) is not None:
        return False
    return "%" not in path or _ABNORMAL.search(unquote(path)) is None


def reads_one_way(path: str) -> bool:
    """True for a normal path with no ``%`` in it: decoding it again changes nothing,
    so the app cannot read it as another path. (As cheap as :func:`is_normal`.)

    A path with a ``%`` is not: an app that decodes again reads ``/admin%2Fusers``
    (sent as ``/admin%252Fusers``) as ``/admin/users``, ``/%61dmin`` as ``/admin``.
    """
    return "%" not in path and path.startswith("/") and _ABNORMAL.search(path) is None
