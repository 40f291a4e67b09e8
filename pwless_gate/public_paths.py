"""Which paths of the wrapped app are public.

Entries are prefixes (``/static/``, ``/healthz``), matched at a segment
boundary, or regular expressions (starting with ``^``) that must match the
whole path. Only ``PATH_INFO`` is matched, never the query string, and only
when it is already normal: a path with ``.``/``..`` segments, ``//``, a
backslash, a NUL, or a ``?``, ``#`` or ``;`` that arrived percent-encoded
(also any of these percent-encoded once more, as ``%252e%252e``) is never
public, because the wrapped app may read it differently from the gate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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


class PublicPaths:
    """Matches request paths against the configured public prefixes and patterns."""

    def __init__(self, entries: Iterable[str]) -> None:
        prefixes: list[str] = []
        patterns: list[re.Pattern[str]] = []
        for entry in entries:
            if entry.startswith("^"):
                patterns.append(re.compile(entry))
            else:
                prefixes.append(entry)
        self._exact = frozenset(p.rstrip("/") or "/" for p in prefixes)
        self._starts = tuple(p.rstrip("/") + "/" for p in prefixes)
        self._patterns = tuple(patterns)

    def __bool__(self) -> bool:
        return bool(self._exact or self._patterns)

    def matches(self, path: str) -> bool:
        if not is_normal(path):
            return False
        if path in self._exact or path.startswith(self._starts):
            return True
        return any(p.fullmatch(path) for p in self._patterns)
