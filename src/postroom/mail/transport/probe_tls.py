"""TLS facts for a connection test: the session and certificate in words, and why a handshake or chain failed."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Mapping
from typing import Any, Final

from postroom.mail.transport.probe_values import CertificateInfo, TlsInfo
from postroom.mail.transport.tlspin import spki_sha256

# OpenSSL's X509_V_ERR_* codes (openssl/x509_vfy.h) with what an admin should read for them.
_VERIFY_REASONS: Final[dict[int, str]] = {
    9: "the certificate is not valid yet (check the server's clock)",
    10: "the certificate has expired",
    18: "the certificate is self-signed: add it (or its CA) as the CA file",
    19: "the chain ends in a self-signed CA that is not trusted: add that CA as the CA file",
    20: "the certificate was not issued by a trusted authority (a private CA? add it as the CA file)",
    21: "the certificate was not issued by a trusted authority (a private CA? add it as the CA file)",
}
_NAME_MISMATCH: Final = frozenset({62, 64})  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


def describe_tls(sock: ssl.SSLSocket, ca_file: str | None, now: dt.datetime | None = None) -> TlsInfo:
    """The negotiated version and cipher and the verified certificate of a TLS socket."""
    cipher = sock.cipher()
    return TlsInfo(
        version=sock.version() or "unknown",
        cipher=cipher[0] if cipher else "unknown",
        bits=cipher[2] if cipher else None,
        verified_against=f"the system trust store and {ca_file}" if ca_file else "the system trust store",
        certificate=describe_certificate(sock.getpeercert(), now),
        spki_sha256=_pin_of(sock),
    )


def _pin_of(sock: ssl.SSLSocket) -> str:
    der = sock.getpeercert(binary_form=True)
    return spki_sha256(der) if der else ""


def describe_certificate(cert: Mapping[str, Any] | None, now: dt.datetime | None = None) -> CertificateInfo | None:
    """Subject, issuer, validity and names from `SSLSocket.getpeercert()` (the dict of a verified certificate)."""
    if not cert:
        return None
    not_before = _parse_time(cert.get("notBefore"))
    not_after = _parse_time(cert.get("notAfter"))
    moment = now or dt.datetime.now(dt.UTC)
    return CertificateInfo(
        subject=_format_name(cert.get("subject", ())),
        issuer=_format_name(cert.get("issuer", ())),
        not_before=not_before.isoformat() if not_before else "",
        not_after=not_after.isoformat() if not_after else "",
        days_left=(not_after - moment).days if not_after else 0,
        alt_names=tuple(f"{kind} {value}" for kind, value in cert.get("subjectAltName", ())),
    )


def describe_verify_error(error: ssl.SSLCertVerificationError, host: str) -> str:
    """Why the certificate did not verify, in words an admin can act on."""
    code = getattr(error, "verify_code", None)
    if code in _NAME_MISMATCH:
        return f"certificate invalid: it is not issued for {host} ({error.verify_message or error})"
    reason = _VERIFY_REASONS.get(code) if isinstance(code, int) else None
    return f"certificate invalid: {reason or error.verify_message or error}"


def describe_ssl_error(error: ssl.SSLError) -> str:
    """A failed handshake that was not about the certificate (protocol versions, a plaintext port)."""
    reason = error.reason or str(error)
    if reason == "WRONG_VERSION_NUMBER":
        return "TLS handshake failed: the server did not answer in TLS (is this a plaintext port? use STARTTLS)"
    if reason in {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE"}:
        return "TLS handshake failed: the server offers no TLS version Postroom accepts (1.2 or newer)"
    return f"TLS handshake failed: {reason}"


def _format_name(name: Any) -> str:
    """(("commonName", "mail.example.com"),), ... -> "CN=mail.example.com, O=Example"."""
    short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C"}
    parts = [f"{short.get(key, key)}={value}" for rdn in name for key, value in rdn]
    return ", ".join(parts) or "(empty)"


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(value), dt.UTC)
    except ValueError:
        return None
