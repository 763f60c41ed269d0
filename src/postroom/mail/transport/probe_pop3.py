"""Tests a POP3 account (RFC 1939): verified TLS (implicit, or STLS per RFC 2595), CAPA (RFC 2449), USER/PASS, STAT.

Read-only: nothing is retrieved or deleted; QUIT ends the session without changes.
"""

from __future__ import annotations

import poplib
import socket
import ssl
from collections.abc import Sequence

from postroom.mail.transport.pop3_fetch import GuardedPOP3
from postroom.mail.transport.probe_tls import describe_tls
from postroom.mail.transport.probe_values import FailureKind, Findings, ProbeFailure, ProbeTarget


def probe_pop3(target: ProbeTarget, addresses: Sequence[str], findings: Findings, context: ssl.SSLContext) -> None:
    """Connect, secure, log in and count the messages; raise ProbeFailure on the first fault."""
    conn = GuardedPOP3(
        target.host,
        target.port,
        addresses,
        target.timeout_seconds,
        context if target.tls == "implicit" else None,
        proxy=target.proxy,
    )
    try:
        findings.connected_to = _peer(conn.sock)
        findings.greeting = conn.getwelcome().decode("utf-8", "replace")
        if target.tls == "starttls":
            if "STLS" not in _capabilities(conn):
                raise ProbeFailure(
                    FailureKind.TLS, "the server does not offer STLS (STARTTLS), which is required; nothing was sent"
                )
            conn.stls(context=context)  # raises unless the handshake verified: no fallback
        if isinstance(conn.sock, ssl.SSLSocket):
            findings.tls = describe_tls(conn.sock, target.ca_file)
        findings.capabilities = tuple(f"{name} {' '.join(args)}".strip() for name, args in _capabilities(conn).items())
        _log_in(conn, target, findings)
        count, size = conn.stat()
        findings.notes.append(f"the mailbox holds {count} messages ({size} bytes)")
        findings.summary = f"logged in as {target.username}; {count} messages waiting"
    finally:
        _quit(conn)


def _capabilities(conn: poplib.POP3) -> dict[str, list[str]]:
    try:
        return conn.capa()
    except poplib.error_proto:  # CAPA is optional (RFC 2449): an old server answers -ERR
        return {}


def _log_in(conn: poplib.POP3, target: ProbeTarget, findings: Findings) -> None:
    if not target.username:
        findings.authentication = "not tried: no username is set"
        raise ProbeFailure(FailureKind.CONFIGURATION, "no username is set")
    try:
        conn.user(target.username)
        conn.pass_(target.password)
    except poplib.error_proto as e:
        reason = _text(e).replace(target.password, "[redacted]") if target.password else _text(e)
        findings.authentication = f"failed as {target.username}: {reason}"
        detail = f"authentication failed as {target.username}: {reason}"
        raise ProbeFailure(FailureKind.AUTHENTICATION, detail) from None
    findings.authentication = f"succeeded as {target.username} (USER/PASS)"


def _quit(conn: poplib.POP3) -> None:
    try:
        conn.quit()
    except (OSError, poplib.error_proto, EOFError):
        conn.close()


def _peer(sock: socket.socket) -> str:
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return ""


def _text(error: BaseException) -> str:
    item = error.args[0] if error.args else ""
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
