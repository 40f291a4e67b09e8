"""The cookie value of a server-side session: its random id, signed with the secret key.

The SQLite and Redis stores keep a record under the sha256 of a random
256-bit id; the cookie carries ``<id>.<signature>``, an HMAC-SHA256 of the
id (itsdangerous) under ``secret_key``. A value is checked in memory before
the store is asked, with the current key and every one of
``previous_secret_keys``, so a session lives as long as the key that signed
it is kept, as a signed-cookie session does: rotating with the old key in
``previous_secret_keys`` keeps sessions (and a session written again, for
"last seen" or a token refresh, gets a cookie signed with the new key),
dropping the old key ends every session it signed, and so does pointing the
state directory at a gate with another key. A copy of the store's data holds
no usable cookie, with or without the key.

It does not bind a session to the tenant or the client: the gate checks the
record's claims for that (:func:`pwless_gate.idtokens.issued_for`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import itsdangerous

from ..sessions import new_session_id

SALT = "pwless-gate.session-id"
#: A signed id: 256 bits, then an HMAC-SHA256, each in URL-safe base64.
_SIGNED = re.compile(r"^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$")
#: An id alone, as cookies carried it before ids were signed.
_UNSIGNED = re.compile(r"^[A-Za-z0-9_-]{43}$")


class SignedIds:
    """Makes and checks the cookie values of a server-side store.

    ``keys`` is oldest first, as :attr:`~pwless_gate.config.GateConfig.signing_keys`
    gives them: every key verifies, the last one signs.
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("SignedIds needs at least one key")
        self._signer = itsdangerous.Signer(list(keys), salt=SALT, digest_method=hashlib.sha256)

    def new(self) -> tuple[str, str]:
        """A new random id and the cookie value that carries it."""
        sid = new_session_id()
        return sid, self.sign(sid)

    def sign(self, sid: str) -> str:
        """The cookie value of ``sid``, signed with the newest key (the same each time)."""
        return self._signer.sign(sid).decode()

    def named(self, value: str) -> str | None:
        """The id a cookie value names, signed with a key kept or not (an id from before
        ids were signed, one signed with a dropped key or a key this host lacks yet);
        None for a value of neither shape. Only for ending the session it names: the
        browser's own cookie, on sign-in and logout, so a session this gate can no longer
        accept does not stay listed until it expires. Ending one takes knowing its id,
        which is the session's secret."""
        if _SIGNED.match(value):
            return value.partition(".")[0]
        return value if _UNSIGNED.match(value) else None

    def unsign(self, value: str) -> str | None:
        """The id in a cookie value signed with one of the keys, or None (unsigned, forged,
        signed with a key no longer kept, or malformed)."""
        if not _SIGNED.match(value):
            return None
        try:
            return self._signer.unsign(value).decode()
        except itsdangerous.BadSignature:
            return None
