"""Tests an IMAP account (RFC 9051 / 3501): verified TLS, capabilities, LOGIN, the folder list, configured folders.

Read-only: folders are opened with EXAMINE, nothing is fetched, flagged or moved.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import imaplib
import re
import socket
import ssl
from collections.abc import Sequence
from typing import Final

from postroom.mail.transport.imap_append import encode_mailbox_name, quote_imap_string
from postroom.mail.transport.imap_fetch import GuardedIMAP4
from postroom.mail.transport.probe_tls import describe_tls
from postroom.mail.transport.probe_values import FailureKind, Findings, ProbeFailure, ProbeTarget

# One LIST response line (RFC 3501 section 7.2.2): (flags) "delimiter" name; the name quoted, an atom or a literal.
_LIST_LINE: Final = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delimiter>"(?:\\.|[^"\\])*"|NIL) (?P<name>.*)$')
_QUOTABLE: Final = re.compile(r"[\x20-\x7e]*")


def decode_mailbox_name(name: str) -> str:
    """A folder name from modified UTF-7 (RFC 3501 section 5.1.3): "Entw&APw-rfe" -> "Entwürfe"; bad input as-is."""
    out: list[str] = []
    i = 0
    while i < len(name):
        char = name[i]
        end = name.find("-", i + 1) if char == "&" else -1
        if char != "&" or end < 0:
            out.append(char)
            i += 1
            continue
        chunk = name[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            encoded = chunk.replace(",", "/")
            try:
                out.append(base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-16-be"))
            except (binascii.Error, UnicodeDecodeError):
                return name
        i = end + 1
    return "".join(out)


def parse_list_response(data: Sequence[object]) -> tuple[str, ...]:
    """Folder names (decoded) from imaplib's LIST data: lines, or (line, literal) pairs for literal names."""
    names: list[str] = []
    for item in data:
        literal: bytes | None = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bytes) and isinstance(item[1], bytes):
            line, literal = item
        elif isinstance(item, bytes):
            line = item
        else:
            continue
        match = _LIST_LINE.match(line)
        if match is None:
            continue
        flags = match.group("flags").lower()
        if b"\\noselect" in flags or b"\\nonexistent" in flags:
            continue
        raw = literal if literal is not None else match.group("name")
        if raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2:
            raw = re.sub(rb"\\(.)", rb"\1", raw[1:-1])
        names.append(decode_mailbox_name(raw.decode("utf-8", "replace")))
    return tuple(names)


def probe_imap(target: ProbeTarget, addresses: Sequence[str], findings: Findings, context: ssl.SSLContext) -> None:
    """Connect, secure, log in, list folders and EXAMINE the configured ones; raise ProbeFailure on the first fault."""
    conn = GuardedIMAP4(
        target.host,
        target.port,
        addresses,
        target.timeout_seconds,
        context if target.tls == "implicit" else None,
        proxy=target.proxy,
    )
    try:
        findings.connected_to = _peer(conn.sock)
        findings.greeting = _text(conn.welcome)
        if target.tls == "starttls":
            if "STARTTLS" not in conn.capabilities:
                raise ProbeFailure(
                    FailureKind.TLS, "the server does not offer STARTTLS, which is required; nothing was sent"
                )
            conn.starttls(ssl_context=context)  # raises unless the handshake verified: no fallback
        if isinstance(conn.sock, ssl.SSLSocket):
            findings.tls = describe_tls(conn.sock, target.ca_file)
        findings.capabilities = tuple(conn.capabilities)
        _log_in(conn, target, findings)
        findings.capabilities = _capabilities(conn) or findings.capabilities
        typ, data = conn.list()
        if typ != "OK":
            raise ProbeFailure(FailureKind.PROTOCOL, f"LIST refused: {_text(data)}")
        findings.folders = parse_list_response(data)
        _examine_folders(conn, target, findings)
        count = len(findings.folders)
        findings.summary = f"logged in as {target.username}; {count} folder{'' if count == 1 else 's'}"
    finally:
        _log_out(conn)


def _log_in(conn: imaplib.IMAP4, target: ProbeTarget, findings: Findings) -> None:
    """LOGIN, or AUTHENTICATE PLAIN (RFC 4616) for credentials LOGIN cannot carry."""
    if not target.username:
        findings.authentication = "not tried: no username is set"
        raise ProbeFailure(FailureKind.CONFIGURATION, "no username is set")
    ascii_only = _QUOTABLE.fullmatch(target.username) and _QUOTABLE.fullmatch(target.password)
    try:
        if target.access_token and not target.password:
            if "AUTH=XOAUTH2" not in conn.capabilities:
                findings.authentication = "not possible: the server does not offer AUTHENTICATE XOAUTH2"
                raise ProbeFailure(FailureKind.AUTHENTICATION, findings.authentication)
            initial = f"user={target.username}\x01auth=Bearer {target.access_token}\x01\x01".encode()
            answers = iter([initial])  # a refusal comes as a challenge first: answered empty (RFC 7628 3.2.3)
            conn.authenticate("XOAUTH2", lambda _challenge: next(answers, b""))
            method = "AUTHENTICATE XOAUTH2"
        elif ascii_only and "LOGINDISABLED" not in conn.capabilities:
            conn.login(quote_imap_string(target.username), target.password)
            method = "LOGIN"
        else:
            if "AUTH=PLAIN" not in conn.capabilities:
                findings.authentication = "not possible: LOGIN is disabled and AUTHENTICATE PLAIN is not offered"
                raise ProbeFailure(FailureKind.AUTHENTICATION, findings.authentication)
            initial = b"\0" + target.username.encode() + b"\0" + target.password.encode()
            answers = iter([initial])
            conn.authenticate("PLAIN", lambda _challenge: next(answers, b""))
            method = "AUTHENTICATE PLAIN"
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as e:
        reason = _redact(_redact(_text(e.args[0] if e.args else ""), target.password), target.access_token)
        findings.authentication = f"failed as {target.username}: {reason}"
        detail = f"authentication failed as {target.username}: {reason}"
        raise ProbeFailure(FailureKind.AUTHENTICATION, detail) from None
    findings.authentication = f"succeeded as {target.username} ({method})"


def _capabilities(conn: imaplib.IMAP4) -> tuple[str, ...]:
    """CAPABILITY again after login: servers announce more (or other) extensions to an authenticated client."""
    typ, data = conn.capability()
    if typ != "OK" or not data:
        return ()
    return tuple(_text(data).split())


def _examine_folders(conn: imaplib.IMAP4, target: ProbeTarget, findings: Findings) -> None:
    """EXAMINE (read-only SELECT) each folder the mailbox uses; INBOX is matched in any case (RFC 3501 5.1)."""
    known = {name.upper() if name.upper() == "INBOX" else name for name in findings.folders}
    for folder in target.folders or ("INBOX",):
        key = folder.upper() if folder.upper() == "INBOX" else folder
        if key not in known and target.folders_created_on_demand:
            findings.notes.append(f"folder {folder}: not there yet, the first copy creates it")
            continue
        if key not in known:
            raise ProbeFailure(FailureKind.FOLDER, f"the folder {folder!r} does not exist on the server")
        typ, data = conn.select(quote_imap_string(encode_mailbox_name(folder)), readonly=True)
        if typ != "OK":
            raise ProbeFailure(FailureKind.FOLDER, f"the folder {folder!r} cannot be opened: {_text(data)}")
        findings.notes.append(f"folder {folder}: {_text(data)} messages")


def _log_out(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (OSError, imaplib.IMAP4.error, EOFError):
        with contextlib.suppress(OSError):
            conn.shutdown()


def _peer(sock: socket.socket) -> str:
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return ""


def _text(data: object) -> str:
    item: object = data
    if isinstance(data, list):
        item = data[-1] if data else ""
    if isinstance(item, bytes):
        return item.decode("utf-8", "replace").strip()
    return str(item).strip()


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text
