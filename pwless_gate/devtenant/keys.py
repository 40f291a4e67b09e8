"""The tenant's signing keys: the one that signs, the next one, and retired ones.

Auth0 publishes more than one key in its JWKS: the current signing key and
the next one, already published so that relying parties know it before it
signs anything; after a rotation, the previous key stays published until it
is revoked. Each JWK carries its certificate (``x5c``, a self-signed X.509
certificate for the tenant's host) and the certificate's SHA-1 thumbprint
(``x5t``), as Auth0's do.

Keys are generated in memory at start-up (the next one on first use) and
never leave the process.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .constants import RSA_KEY_BITS, SIGNING_CERT_DAYS


class SigningKey:
    """An RSA key pair, its JWK and its ``kid`` (the RFC 7638 thumbprint)."""

    def __init__(self, bits: int = RSA_KEY_BITS) -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        public = self._private.public_key().public_numbers()
        self._jwk = {"kty": "RSA", "n": _b64_uint(public.n), "e": _b64_uint(public.e)}
        canonical = json.dumps(self._jwk, sort_keys=True, separators=(",", ":"))
        self.kid = _b64(hashlib.sha256(canonical.encode()).digest())
        self._certificates: dict[str, bytes] = {}

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The public half, to verify what this key signed."""
        return self._private.public_key()

    def jwk(self, host: str) -> dict[str, object]:
        """Return the public JWK, with the DER certificate for ``host`` in ``x5c``."""
        der = self._certificate(host)
        return {
            **self._jwk,
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "x5c": [base64.b64encode(der).decode("ascii")],
            "x5t": _b64(hashlib.sha1(der, usedforsecurity=False).digest()),
        }

    def sign(self, claims: dict[str, object], typ: str = "JWT") -> str:
        """Return ``claims`` as an RS256 JWT whose header names this key and ``typ``."""
        return jwt.encode(
            claims, self._private, algorithm="RS256", headers={"kid": self.kid, "typ": typ}
        )

    def _certificate(self, host: str) -> bytes:
        """A self-signed certificate for ``host``, made once per host."""
        der = self._certificates.get(host)
        if der is None:
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host or "localhost")])
            now = datetime.datetime.now(datetime.timezone.utc)
            certificate = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(self.public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=SIGNING_CERT_DAYS))
                .sign(self._private, hashes.SHA256())
            )
            der = certificate.public_bytes(serialization.Encoding.DER)
            self._certificates[host] = der
        return der


class KeyRing:
    """The current signing key, the next one and the retired ones still published."""

    def __init__(self, bits: int = RSA_KEY_BITS) -> None:
        self._bits = bits
        self.current = SigningKey(bits)
        self._next: SigningKey | None = None  # made when first needed
        self._retired: list[SigningKey] = []

    @property
    def next(self) -> SigningKey:
        """The key that signs after the next rotation, published already."""
        if self._next is None:
            self._next = SigningKey(self._bits)
        return self._next

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The current key's public half."""
        return self.current.public_key

    def published(self) -> list[SigningKey]:
        """Every key in the JWKS: the current one first, then the next, then retired ones."""
        return [self.current, self.next, *self._retired]

    def jwks(self, host: str) -> dict[str, object]:
        """Return the JSON Web Key Set, certificates made out to ``host``."""
        return {"keys": [key.jwk(host) for key in self.published()]}

    def sign(self, claims: dict[str, object], typ: str = "JWT") -> str:
        """Sign with the current key."""
        return self.current.sign(claims, typ)

    def rotate(self) -> None:
        """Make the next key the signing one; the old one stays published, retired."""
        self._retired.insert(0, self.current)
        self.current = self.next
        self._next = None

    def revoke_retired(self) -> None:
        """Stop publishing retired keys: what they signed no longer verifies."""
        self._retired.clear()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64_uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))
