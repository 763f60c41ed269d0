"""Tests an SMTP submission server: greeting, EHLO, verified TLS (RFC 8314 / RFC 3207), AUTH (RFC 4954); no mail."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence

from postroom.mail.transport.mailbox_endpoint import open_guarded_socket
from postroom.mail.transport.probe_tls import describe_tls
from postroom.mail.transport.probe_values import FailureKind, Findings, ProbeFailure, ProbeTarget
from postroom.mail.transport.proxy import ProxySettings
from postroom.mail.transport.smtp_connect import ConnectFailed, authenticate, default_local_hostname
from postroom.mail.transport.smtp_values import AUTH_MECHANISMS, SmtpSettings, TlsMode


class _Smtp(smtplib.SMTP):
    """SMTP connecting to the addresses the SSRF guard checked, optionally TLS from the first byte."""

    def __init__(
        self,
        host: str,
        addresses: Sequence[str],
        local_hostname: str,
        timeout: float,
        context: ssl.SSLContext | None,
        *,
        proxy: ProxySettings | None = None,
    ) -> None:
        self._addresses = tuple(addresses)
        self._context = context
        self._proxy = proxy
        super().__init__(local_hostname=local_hostname, timeout=timeout)  # no host: connect() is called by us
        self._server_name = host  # what TLS verifies the certificate against (smtplib's starttls reads _host)
        self._host = host

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return open_guarded_socket(
            self._addresses, self._server_name, port, timeout, context=self._context, proxy=self._proxy
        )


def probe_smtp(target: ProbeTarget, addresses: Sequence[str], findings: Findings, context: ssl.SSLContext) -> None:
    """Connect, greet, secure, authenticate and QUIT; raise ProbeFailure on the first fault. Nothing is sent."""
    conn = _Smtp(
        target.host,
        addresses,
        target.local_hostname or default_local_hostname(),
        target.timeout_seconds,
        context if target.tls == "implicit" else None,
        proxy=target.proxy,
    )
    try:
        code, greeting = conn.connect(target.host, target.port)
        findings.connected_to = _peer(conn.sock)
        findings.greeting = f"{code} {greeting.decode('utf-8', 'replace')}"
        if code != 220:
            raise ProbeFailure(FailureKind.PROTOCOL, f"the server does not accept sessions: {findings.greeting}")
        conn.ehlo()
        if target.tls == "starttls":
            if not conn.has_extn("starttls"):
                raise ProbeFailure(
                    FailureKind.TLS, "the server does not offer STARTTLS, which is required; nothing was sent"
                )
            conn.starttls(context=context)  # raises on refusal or an unverified handshake: no fallback
            conn.ehlo()  # RFC 3207: what the server said before TLS no longer counts
        if isinstance(conn.sock, ssl.SSLSocket):
            findings.tls = describe_tls(conn.sock, target.ca_file)
        findings.capabilities = tuple(f"{name.upper()} {value}".strip() for name, value in conn.esmtp_features.items())
        _authenticate(conn, target, findings)
        findings.summary = (
            f"ready to send as {target.username}" if target.username else "ready to send (no authentication)"
        )
    finally:
        _quit(conn)


def _authenticate(conn: smtplib.SMTP, target: ProbeTarget, findings: Findings) -> None:
    if not target.username:
        findings.authentication = "not configured: no username (the server must accept mail without AUTH)"
        return
    mechanism = target.auth_mechanism if target.auth_mechanism in AUTH_MECHANISMS else "auto"
    settings = SmtpSettings(
        host=target.host,
        port=target.port,
        tls=TlsMode(target.tls),
        username=target.username,
        password=target.password,
        auth_mechanism=mechanism,
        ca_file=target.ca_file,
        timeout_seconds=target.timeout_seconds,
    )
    try:
        authenticate(conn, settings, None)
    except ConnectFailed as e:
        findings.authentication = f"not possible: {e.result.reply}"
        raise ProbeFailure(FailureKind.AUTHENTICATION, findings.authentication) from None
    except smtplib.SMTPAuthenticationError as e:
        reply = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        reply = reply.replace(target.password, "[redacted]") if target.password else reply
        findings.authentication = f"failed as {target.username}: {e.smtp_code} {reply}"
        raise ProbeFailure(
            FailureKind.AUTHENTICATION, f"authentication failed as {target.username}: {e.smtp_code} {reply}"
        ) from None
    findings.authentication = f"succeeded as {target.username}"


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        conn.close()


def _peer(sock: socket.socket | None) -> str:
    try:
        return str(sock.getpeername()[0]) if sock is not None else ""
    except OSError:
        return ""
