"""Secrets at rest: AES-256-GCM, a fresh 96-bit nonce per write, a key id per ciphertext.

The associated data binds each ciphertext to its row and field, so a ciphertext copied
to another row or column fails to decrypt instead of handing out someone else's token.
Stored form: ``v1.<key id>.<base64(nonce || ciphertext+tag)>``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
VERSION = "v1"


class VaultError(Exception):
    """A ciphertext cannot be decrypted: wrong row or field, unknown key, or tampering."""


def key_id(key: bytes) -> str:
    """A short, stable, non-secret name for a key."""
    return hashlib.sha256(b"ledgerbridge-key-id:" + key).hexdigest()[:12]


@dataclass(frozen=True)
class Vault:
    """Encrypts with the first key; decrypts with any key it knows by id."""

    keys: dict[str, AESGCM]
    active_id: str

    @classmethod
    def from_keys(cls, encoded_keys: Sequence[str]) -> Vault:
        if not encoded_keys:
            raise ValueError("at least one token-encryption key is required")
        raw = [base64.b64decode(k, validate=True) for k in encoded_keys]
        if any(len(k) != 32 for k in raw):
            raise ValueError("token-encryption keys must be 32 bytes, base64-encoded")
        return cls({key_id(k): AESGCM(k) for k in raw}, key_id(raw[0]))

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys[self.active_id].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}.{self.active_id}.{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, *, context: str) -> str:
        try:
            version, kid, payload = stored.split(".", 2)
        except ValueError:
            raise VaultError("not a vault ciphertext") from None
        if version != VERSION:
            raise VaultError(f"unknown ciphertext version {version!r}")
        key = self.keys.get(kid)
        if key is None:
            raise VaultError(f"ciphertext was written with key {kid}, which is not configured")
        blob = base64.b64decode(payload)
        try:
            return key.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode()).decode()
        except InvalidTag:
            raise VaultError("ciphertext does not belong to this row and field") from None

    def key_id_of(self, stored: str) -> str:
        return stored.split(".", 2)[1]

    def needs_rotation(self, stored: str) -> bool:
        return self.key_id_of(stored) != self.active_id


def token_context(connection_id: int, field: str) -> str:
    return f"connection:{connection_id}:{field}"
