"""Turns SMTP replies and smtplib/ssl/socket exceptions into a SendResult: sent, deferred or failed."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Iterable
from typing import Final

from postroom.mail.transport.smtp_connect import ConnectFailed
from postroom.mail.transport.smtp_values import SendResult, SendStatus, SmtpSettings, status_for_code

MAX_REPLY_CHARS: Final = 1000  # a reply line is at most 512 octets (RFC 5321 4.5.3.1.5); a few lines fit
REDACTED: Final = "[redacted]"
# OpenSSL's reason when the peer does not speak TLS at all: a plaintext port configured as implicit TLS.
_NOT_TLS_REASONS: Final = frozenset({"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"})


def format_reply(code: int, text: bytes | str) -> str:
    """'451 4.7.1 Try again later': the code and the text, multi-line replies joined with spaces."""
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    joined = " ".join(line.strip() for line in decoded.splitlines() if line.strip())
    return f"{code} {joined}".strip()[:MAX_REPLY_CHARS]


def result_for_reply(code: int, text: bytes | str) -> SendResult:
    """The outcome a single reply stands for: 2xx sent, 4xx deferred, 5xx failed."""
    return SendResult(status_for_code(code), code, format_reply(code, text))


def result_for_error(error: BaseException, settings: SmtpSettings, *, secrets: Iterable[str] = ()) -> SendResult:
    """Classify an exception raised while connecting or sending; `secrets` are cut out of the reply text.

    Deferred: 4xx replies, timeouts, refused/reset/lost connections, DNS errors and TLS handshakes broken by
    the network. Failed: 5xx replies, certificate verification, a peer that does not speak TLS, AUTH refused
    with 5xx (535), a missing extension (STARTTLS, AUTH, SMTPUTF8) and other configuration errors.
    """
    result = _classify(error, settings)
    return SendResult(result.status, result.code, redact(result.reply, secrets), result.refused)


def _classify(error: BaseException, settings: SmtpSettings) -> SendResult:
    if isinstance(error, ConnectFailed):
        return error.result
    if isinstance(error, ssl.SSLError):  # before OSError, its base
        return _tls_result(error, settings)
    if isinstance(error, smtplib.SMTPException):  # before OSError, its base
        return _smtp_result(error, settings)
    if isinstance(error, OSError):
        return _network_result(error, settings)
    if isinstance(error, UnicodeError):
        return SendResult(SendStatus.FAILED, None, f"cannot encode the envelope for {settings.host}: {error}")
    raise error


def _tls_result(error: ssl.SSLError, settings: SmtpSettings) -> SendResult:
    where = f"{settings.host} port {settings.port}"
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or error.reason or str(error)
        return SendResult(SendStatus.FAILED, None, f"TLS certificate verification failed for {settings.host}: {reason}")
    reason = error.reason or type(error).__name__
    if reason in _NOT_TLS_REASONS:
        return SendResult(
            SendStatus.FAILED,
            None,
            f"TLS handshake with {where} failed ({reason}): the server does not speak TLS on this port "
            "(use TLS mode 'starttls' for port 587 or 25)",
        )
    return SendResult(SendStatus.DEFERRED, None, f"TLS handshake with {where} failed: {reason}")


def _smtp_result(error: smtplib.SMTPException, settings: SmtpSettings) -> SendResult:
    where = f"{settings.host} port {settings.port}"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        reply = format_reply(error.smtp_code, error.smtp_error)
        status = SendStatus.DEFERRED if 400 <= error.smtp_code < 500 else SendStatus.FAILED
        text = f"authentication as {settings.username!r} at {where} failed: {reply}"
        return SendResult(status, error.smtp_code, text)
    if isinstance(error, smtplib.SMTPResponseException):  # banner, HELO, STARTTLS, sender and DATA replies
        result = result_for_reply(error.smtp_code, error.smtp_error)
        if result.status is SendStatus.SENT:  # a 2xx where another code was due: the server is confused
            return SendResult(SendStatus.DEFERRED, result.code, result.reply)
        return result
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return SendResult(SendStatus.DEFERRED, None, f"connection to {where} lost: {error}")
    # SMTPNotSupportedError (a missing extension), an AUTH loop: the server will not change by itself
    return SendResult(SendStatus.FAILED, None, f"{where}: {error}")


def _network_result(error: OSError, settings: SmtpSettings) -> SendResult:
    where = f"{settings.host} port {settings.port}"
    if isinstance(error, TimeoutError):
        reason = f"timed out after {settings.timeout_seconds:g} s"
    elif isinstance(error, socket.gaierror):
        reason = f"cannot resolve the host name ({error.strerror})"
    elif isinstance(error, ConnectionRefusedError):
        reason = "connection refused"
    else:
        reason = f"network error ({error.strerror or error})"
    return SendResult(SendStatus.DEFERRED, None, f"{where}: {reason}")


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (a password, a token) of four characters or more replaced."""
    for secret in secrets:
        if len(secret) >= 4 and secret in text:
            text = text.replace(secret, REDACTED)
    return text
