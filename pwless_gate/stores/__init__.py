"""Where sessions live between requests: signed cookies, a SQLite file or Redis.

Each store implements :class:`pwless_gate.sessions.SessionStore`; the
verified-session cache in :mod:`pwless_gate.sessions` sits in front of any of
them.
"""

from .cookie import CookieStore

__all__ = ["CookieStore"]
