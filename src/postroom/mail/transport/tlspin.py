"""Public-key pinning on top of normal certificate verification: the server's key must also match a configured
SHA-256 pin, as HTTP Public Key Pinning wrote them (RFC 7469 section 2.4: base64 of the SHA-256 of the DER
SubjectPublicKeyInfo, `sha256/...`).

A pin never replaces verification: the chain and the host name are checked first, as always; the pin is an extra
check on the leaf certificate's key (Python 3.11 exposes only the leaf), so an admin pinning a private server stays
safe when a public CA misissues a certificate for it. Pinning the key, not the certificate, survives renewals that
keep the key.

Get a server's pin with the connection test (it reports `spki_sha256`), or with
`openssl s_client -connect host:993 </dev/null | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
openssl dgst -sha256 -binary | base64`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import ssl
from collections.abc import Iterable
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from postroom.mail.transport.smtp_connect import build_tls_context, new_tls_context

_PREFIX: Final = "sha256/"
_HEX: Final = re.compile(r"[0-9a-fA-F]{64}")


class PinFormatError(ValueError):
    """A configured pin is neither `sha256/<base64>` nor 64 hex digits."""


def spki_sha256(der_certificate: bytes) -> str:
    """The pin of a DER certificate: `sha256/` + base64 of the SHA-256 of its SubjectPublicKeyInfo."""
    key = x509.load_der_x509_certificate(der_certificate).public_key()
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return _PREFIX + base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def normalise_pin(pin: str) -> str:
    """`sha256/<base64>`, bare base64, or 64 hex digits (openssl's `dgst -sha256` output) -> `sha256/<base64>`."""
    text = pin.strip()
    if _HEX.fullmatch(text):
        return _PREFIX + base64.b64encode(bytes.fromhex(text)).decode("ascii")
    body = text[len(_PREFIX) :] if text.lower().startswith(_PREFIX) else text
    try:
        digest = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != hashlib.sha256().digest_size:
        raise PinFormatError(f"{pin!r} is not a SHA-256 public-key pin (sha256/<base64> or 64 hex digits)")
    return _PREFIX + base64.b64encode(digest).decode("ascii")


def tls_context_for(ca_file: str | None, pins: Iterable[str] = ()) -> ssl.SSLContext:
    """The verifying context for a connection: the shared one per CA file, or with pins a new one of its own."""
    pins = tuple(pins)
    return pin_context(new_tls_context(ca_file), pins) if pins else build_tls_context(ca_file)


def pin_context(context: ssl.SSLContext, pins: Iterable[str]) -> ssl.SSLContext:
    """Make every socket `context` wraps check the pins right after its (verified) handshake.

    The context must be this connection's own (`new_tls_context`, never the shared `build_tls_context`): the check
    is set on the context's socket class, so a shared context would pin every connection that uses it.
    """
    wanted = frozenset(normalise_pin(pin) for pin in pins)
    if not wanted:
        return context

    class PinnedSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            check_pin(self.getpeercert(binary_form=True), wanted)

    context.sslsocket_class = PinnedSocket
    return context


def check_pin(der_certificate: bytes | None, wanted: frozenset[str]) -> None:
    """Raise a certificate verification error (the socket is closed by ssl) when the key matches no pin."""
    got = spki_sha256(der_certificate) if der_certificate else "no certificate"
    if got in wanted:
        return
    error = ssl.SSLCertVerificationError(f"public key pin mismatch: the server's key is {got}")
    error.verify_message = f"the server's public key ({got}) matches none of the configured pins"
    error.verify_code = 0
    raise error
