"""AES-GCM encryption of secrets at rest, keyed from the installation's secret (HKDF per purpose).

Format: `v1:` + urlsafe base64 of nonce(12) || ciphertext+tag. The version prefix lets key rotation and
per-tenant envelope keys (security & compliance issue) add `v2:` without breaking stored values.
"""

from __future__ import annotations

import base64
import os
from functools import cache
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION: Final = "v1:"
NONCE_BYTES: Final = 12  # NIST SP 800-38D recommended IV length for GCM


class DecryptionError(ValueError):
    """The stored value was not produced with this installation's key, or was altered."""


@cache
def derive_key(secret: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(secret.encode())


def encrypt_text(plaintext: str, *, secret: str, purpose: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(derive_key(secret, purpose)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt_text(token: str, *, secret: str, purpose: str) -> str:
    if not token.startswith(VERSION):
        raise DecryptionError("unknown encryption format")
    try:
        blob = base64.urlsafe_b64decode(token[len(VERSION) :])
        opened = AESGCM(derive_key(secret, purpose)).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], purpose.encode())
    except Exception as e:
        raise DecryptionError("stored secret cannot be decrypted with this key") from e
    return opened.decode()
