"""What every mailbox client (IMAP, POP3) checks before it opens a socket (the TLS mode, the SSRF guard, the
context), and how it words a connection failure.

A client passes its own two error types: `setup_error` for what the admin must fix (plaintext to a remote host, a
refused address), `error` for what may pass (a name that does not resolve right now).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Literal

from postroom.mail.transport.netguard import (
    HostRefusedError,
    HostUnresolvedError,
    ResolvedHost,
    connect_first,
    resolve_host,
)
from postroom.mail.transport.proxy import ProxySettings
from postroom.mail.transport.smtp_values import is_loopback_host
from postroom.mail.transport.tlspin import tls_context_for

TlsMode = Literal["implicit", "starttls", "none"]


def prepare_endpoint(
    host: str,
    port: int,
    tls: TlsMode,
    ca_file: str | None,
    *,
    allow_private: bool,
    setup_error: type[Exception],
    error: type[Exception],
    pins: Iterable[str] = (),
) -> tuple[ResolvedHost, ssl.SSLContext | None]:
    """The checked addresses and the verifying TLS context (None only for plaintext to a loopback host); with
    `pins`, the context also checks the server's public key against them (postroom.mail.transport.tlspin)."""
    if tls == "none" and not is_loopback_host(host):
        raise setup_error(f"TLS mode 'none' is only allowed to a loopback host, not {host}")
    try:
        checked = resolve_host(host, port, allow_private=allow_private)
    except HostRefusedError as e:
        raise setup_error(e.detail) from e
    except HostUnresolvedError as e:
        raise error(str(e)) from e
    if tls == "none":
        if pins:
            raise setup_error("a public-key pin needs TLS; TLS mode 'none' cannot check it")
        return checked, None
    return checked, tls_context_for(ca_file, pins)


def open_guarded_socket(
    addresses: Sequence[str],
    host: str,
    port: int,
    timeout: float,
    *,
    context: ssl.SSLContext | None,
    proxy: ProxySettings | None,
) -> socket.socket:
    """A socket to the first checked address that answers (through the mailbox's proxy when it has one), TLS
    wrapped at once when `context` is given (implicit TLS), with `host` for SNI and the certificate check; what the
    guarded imaplib, poplib and smtplib subclasses return from their socket hooks."""
    sock = connect_first(addresses, port, timeout, proxy)
    if context is None:
        return sock
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def describe_connection_error(error: BaseException) -> str:
    """One plain line for a socket or TLS failure (the health record, the alert); no secrets ever appear in it."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {error.verify_message or error}"
    if isinstance(error, TimeoutError):
        return "the server did not answer in time"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the port right and the server running?)"
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]


def describe_untrusted_certificate(error: ssl.SSLCertVerificationError, ca_file: str | None) -> str:
    """Why the server's certificate was refused, and against which trust anchors."""
    anchors = f"the system store and {ca_file}" if ca_file else "the system store"
    return f"the server's certificate is not trusted ({error.verify_message or error}; checked against {anchors})"
