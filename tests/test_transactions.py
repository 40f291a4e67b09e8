"""Login transactions: signed as itsdangerous signs them, so tokens already out keep working."""

from __future__ import annotations

import dataclasses
import hashlib

import itsdangerous
import pytest

from pwless_gate.transactions import (
    SALT,
    Transaction,
    TransactionError,
    TransactionSigner,
    _timestamp_signer,
)

OLD, NEW = b"old-key-0123456789abcdef0123456", b"new-key-0123456789abcdef0123456"
NOW = 1_700_000_000.0


def library_serializer(keys: list[bytes], now: float) -> itsdangerous.URLSafeTimedSerializer:
    """itsdangerous's serializer as the gate has always configured it (one signer per call,
    keys derived per signature): what signed the transactions already out."""
    return itsdangerous.URLSafeTimedSerializer(
        keys,
        salt=SALT,
        signer=_timestamp_signer(lambda: now),
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def signer(keys: list[bytes], now: float = NOW, max_age: int = 600) -> TransactionSigner:
    return TransactionSigner(keys, max_age, clock=lambda: now)


def transaction(signing: TransactionSigner, form: str = "") -> Transaction:
    return signing.new(
        connection="email",
        identifier="ann@example.com",
        send="code",
        next="/wiki?a=1",
        browser_id="browser-0123456789abcdef",
        form=form,
    )


@pytest.mark.parametrize("form", ["", "f" * 32], ids=["seven-fields", "with-a-saved-form"])
def test_a_token_is_the_one_the_library_makes(form: str) -> None:
    signing = signer([OLD, NEW])
    tx = transaction(signing, form)
    token = signing.dumps(tx)
    data = [tx.connection, tx.identifier, tx.send, tx.next, tx.browser, tx.nonce, tx.tx_id]
    assert token == library_serializer([OLD, NEW], NOW).dumps(data + ([form] if form else []))
    assert signing.loads(token) == dataclasses.replace(tx, started_at=NOW)


def test_tokens_signed_before_still_load_with_every_key_kept() -> None:
    """A token the library signed with the old key (before a rotation) loads once the new
    key signs; one of a key no longer kept does not."""
    tx = transaction(signer([OLD]))
    data = [tx.connection, tx.identifier, tx.send, tx.next, tx.browser, tx.nonce, tx.tx_id]
    before = library_serializer([OLD], NOW - 60).dumps(data)
    loaded = signer([OLD, NEW]).loads(before)
    assert (loaded.identifier, loaded.nonce, loaded.started_at) == (
        tx.identifier,
        tx.nonce,
        NOW - 60,
    )
    with pytest.raises(TransactionError) as refused:
        signer([NEW]).loads(before)
    assert not refused.value.expired


def test_another_salt_or_a_changed_token_is_refused_and_age_still_counts() -> None:
    signing = signer([NEW])
    token = signing.dumps(transaction(signing))
    other_salt = itsdangerous.URLSafeTimedSerializer(
        [NEW], salt="another", signer_kwargs={"digest_method": hashlib.sha256}
    ).dumps(["email", "a@example.com", "code", "/", "b", "n", "t"])
    for bad in (other_salt, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")):
        with pytest.raises(TransactionError) as refused:
            signing.loads(bad)
        assert not refused.value.expired
    with pytest.raises(TransactionError) as late:
        signer([NEW], now=NOW + 601).loads(token)
    assert late.value.expired
    # The same signer keeps working after a refusal: nothing of one call stays for the next.
    assert signing.loads(token).identifier == "ann@example.com"
