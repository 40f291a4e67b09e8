"""Login transactions: what the gate remembers between "send me a code" and "here it is".

A transaction is signed (itsdangerous, timed) and travels in the code form's
hidden ``tx`` field and in a magic link's ``state``, so several tabs can sign
in at once without overwriting each other's cookie. It is bound to the
browser that started it by a hash of that browser's random id; it is signed,
not encrypted, so it holds nothing secret (the identifier the user typed, the
``next`` path, a nonce that is compared, never trusted on its own, and the
hash of a saved form's handle, see :mod:`pwless_gate.savedforms`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import itsdangerous

SALT = "pwless-gate.login"
#: The fields of a transaction: 7 before saved forms, 8 since.
_FIELDS = (7, 8)


class TransactionError(ValueError):
    """The transaction is forged, malformed or too old (``expired`` says which)."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class Transaction:
    connection: str
    identifier: str
    send: str
    next: str
    browser: str
    nonce: str
    tx_id: str
    #: The hash of the handle of the form kept in this browser when the sign-in started
    #: ("" for none): the sign-in that may offer it (:mod:`pwless_gate.savedforms`).
    form: str = ""
    #: When the sign-in started (Unix time, from the signature's timestamp).
    started_at: float = 0.0

    def bound_to(self, browser_id: str | None) -> bool:
        """True if this transaction was started by the browser with ``browser_id``."""
        if not browser_id:
            return False
        return hmac.compare_digest(self.browser, browser_binding(browser_id))


def browser_binding(browser_id: str) -> str:
    return hashlib.sha256(b"pwless-gate browser\x00" + browser_id.encode()).hexdigest()[:32]


def _timestamp_signer(clock: Callable[[], float]) -> type[itsdangerous.TimestampSigner]:
    class ClockedSigner(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return ClockedSigner


class _Serializer(itsdangerous.URLSafeTimedSerializer):
    """itsdangerous's URL-safe timed serializer with its signer built once.

    The library builds a signer on every call, and the signer derives each
    key from the salt on every signature; it keeps nothing between calls. So
    the keys are derived here once, exactly as it derives them, and one
    signer uses them as they are: the same signatures, at a fraction of the cost.
    """

    def __init__(self, keys: Sequence[bytes], signer: type[itsdangerous.TimestampSigner]) -> None:
        super().__init__(
            list(keys), salt=SALT, signer=signer, signer_kwargs={"digest_method": hashlib.sha256}
        )
        deriving = super().make_signer()
        derived = [deriving.derive_key(key) for key in deriving.secret_keys]
        self._signer = signer(
            derived, salt=SALT, digest_method=hashlib.sha256, key_derivation="none"
        )

    def make_signer(self, salt: str | bytes | None = None) -> itsdangerous.Signer:
        if salt is None or salt == self.salt:  # loads() passes the salt itself
            return self._signer
        return super().make_signer(salt)


class TransactionSigner:
    """Signs and checks transactions; ``keys`` oldest first, the last one signs."""

    def __init__(
        self, keys: Sequence[bytes], max_age: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._serializer = _Serializer(keys, _timestamp_signer(clock))
        self.max_age = max_age

    def new(
        self,
        *,
        connection: str,
        identifier: str,
        send: str,
        next: str,
        browser_id: str,
        form: str = "",
    ) -> Transaction:
        return Transaction(
            connection=connection,
            identifier=identifier,
            send=send,
            next=next,
            browser=browser_binding(browser_id),
            nonce=secrets.token_urlsafe(16),
            tx_id=secrets.token_urlsafe(9),
            form=form,
        )

    def dumps(self, tx: Transaction) -> str:
        data = [tx.connection, tx.identifier, tx.send, tx.next, tx.browser, tx.nonce, tx.tx_id]
        if tx.form:
            data.append(tx.form)
        return str(self._serializer.dumps(data))

    def loads(self, token: str | None) -> Transaction:
        """Raises :class:`TransactionError`."""
        if not token or len(token) > 4096:
            raise TransactionError("missing sign-in transaction")
        try:
            data, signed_at = self._serializer.loads(
                token, max_age=self.max_age, return_timestamp=True
            )
        except itsdangerous.SignatureExpired:
            raise TransactionError("sign-in transaction expired", expired=True) from None
        except itsdangerous.BadData:
            raise TransactionError("sign-in transaction is not valid") from None
        if (
            not isinstance(data, list)
            or len(data) not in _FIELDS
            or not all(isinstance(v, str) for v in data)
        ):
            raise TransactionError("sign-in transaction is malformed")
        return dataclasses.replace(Transaction(*data), started_at=signed_at.timestamp())
