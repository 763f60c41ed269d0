"""A mail server connection test ("Test connection"): resolve and guard the host, run the protocol's probe, and
explain the outcome in one line.

Every failure becomes a report, never an exception: refused by the SSRF guard, a name that does not resolve,
connection refused, a timeout, a certificate that does not verify (and why), a server without STARTTLS, a
failed login, a missing folder. TLS is always verified (the system trust store, plus a configured CA file);
there is no plaintext fallback. The password never appears in a report.
"""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Final

from postroom.mail.transport.netguard import HostRefusedError, HostUnresolvedError, Resolver, resolve_host
from postroom.mail.transport.probe_imap import probe_imap
from postroom.mail.transport.probe_pop3 import probe_pop3
from postroom.mail.transport.probe_smtp import probe_smtp
from postroom.mail.transport.probe_tls import describe_ssl_error, describe_verify_error
from postroom.mail.transport.probe_values import (
    FailureKind,
    Findings,
    ProbeFailure,
    ProbeProtocol,
    ProbeReport,
    ProbeTarget,
)
from postroom.mail.transport.tlspin import tls_context_for

Probe = Callable[[ProbeTarget, Sequence[str], Findings, ssl.SSLContext], None]
PROBES: Final[dict[ProbeProtocol, Probe]] = {
    ProbeProtocol.IMAP: probe_imap,
    ProbeProtocol.POP3: probe_pop3,
    ProbeProtocol.SMTP: probe_smtp,
}


def probe_server(target: ProbeTarget, *, allow_private: bool, resolver: Resolver = socket.getaddrinfo) -> ProbeReport:
    """Test one server as `target` describes; the report says what works, what was seen, and what failed."""
    started = time.monotonic()
    findings = Findings()
    resolved: tuple[str, ...] = ()
    failure: tuple[FailureKind, str] | None = None
    try:
        context = _load_tls_context(target.ca_file, target.pins)
        checked = resolve_host(target.host, target.port, allow_private=allow_private, resolver=resolver)
        resolved = checked.addresses
        PROBES[target.protocol](target, checked.addresses, findings, context)
    except HostRefusedError as e:
        resolved = e.addresses
        failure = (FailureKind.REFUSED_HOST, e.detail)
    except Exception as e:  # every way a probe can end is a line in the report, never a crash of the page
        failure = classify_failure(e, target)
    summary = findings.summary if failure is None else failure[1]
    return ProbeReport(
        purpose=target.purpose,
        protocol=target.protocol.value,
        host=target.host,
        port=target.port,
        tls_mode=target.tls,
        ok=failure is None,
        summary=_redact(summary, target),
        failure=failure[0].value if failure else None,
        resolved=resolved,
        connected_to=findings.connected_to,
        greeting=_redact(findings.greeting, target)[:300],
        tls=findings.tls,
        capabilities=findings.capabilities,
        authentication=_redact(findings.authentication, target),
        folders=findings.folders,
        notes=tuple(findings.notes),
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def _load_tls_context(ca_file: str | None, pins: tuple[str, ...]) -> ssl.SSLContext:
    """The verifying client context; a CA file that cannot be loaded is a configuration fault, said as such."""
    try:
        return tls_context_for(ca_file, pins)
    except (OSError, ssl.SSLError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ProbeFailure(FailureKind.CONFIGURATION, f"the CA file {ca_file} cannot be loaded: {reason}") from None


def classify_failure(error: BaseException, target: ProbeTarget) -> tuple[FailureKind, str]:  # noqa: PLR0911 (one return per kind)
    """One line for an exception raised while testing (socket, ssl, imaplib, poplib, smtplib, configuration)."""
    where = f"{target.host} port {target.port}"
    if isinstance(error, ProbeFailure):
        return error.kind, error.detail
    if isinstance(error, HostUnresolvedError):
        return FailureKind.UNRESOLVED, str(error)
    if isinstance(error, ssl.SSLCertVerificationError):
        return FailureKind.CERTIFICATE, describe_verify_error(error, target.host)
    if isinstance(error, ssl.SSLError):
        return FailureKind.TLS, describe_ssl_error(error)
    if isinstance(error, TimeoutError) or _caused_by(error, TimeoutError):
        return FailureKind.TIMEOUT, (
            f"no answer from {where} within {target.timeout_seconds:g} s "
            "(a firewall dropping the connection, or the wrong port)"
        )
    if isinstance(error, ConnectionRefusedError):
        return FailureKind.CONNECTION_REFUSED, (
            f"connection refused: nothing accepts connections on {where} (wrong port, or the server is down)"
        )
    if isinstance(error, (ConnectionResetError, EOFError, imaplib.IMAP4.abort, smtplib.SMTPServerDisconnected)):
        return FailureKind.NETWORK, f"{where} closed the connection unexpectedly"
    if isinstance(error, (imaplib.IMAP4.error, poplib.error_proto, smtplib.SMTPException)):
        return FailureKind.PROTOCOL, f"unexpected answer from {where}: {_error_text(error)}"
    if isinstance(error, OSError):
        return FailureKind.NETWORK, f"cannot reach {where}: {error.strerror or error}"
    if isinstance(error, ValueError):
        return FailureKind.CONFIGURATION, f"the settings cannot work: {error}"
    return FailureKind.PROTOCOL, f"the test stopped: {type(error).__name__}: {error}"


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is behind `error` (smtplib turns a read timeout into SMTPServerDisconnected)."""
    seen = error.__cause__ or error.__context__
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _error_text(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"{error.smtp_code} {reply}"
    item = error.args[0] if error.args else type(error).__name__
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _redact(text: str, target: ProbeTarget) -> str:
    """`text` with the password and the access token replaced, should a server have echoed either."""
    for secret in (target.password, target.access_token):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
