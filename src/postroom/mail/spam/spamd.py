"""A small synchronous client for SpamAssassin's spamd: the SPAMC/1.5 protocol's SYMBOLS command.

The protocol (spamd(1), "The SPAMC/SPAMD protocol" in SpamAssassin's spamd/PROTOCOL): the client sends
`SYMBOLS SPAMC/1.5`, a `Content-length` header, an empty line and the message, then half-closes; spamd answers
`SPAMD/1.1 0 EX_OK`, headers (`Spam: True ; 1000.0 / 5.0`), an empty line and the comma-separated rule names.
A code other than 0 is one of sysexits.h's EX_* values. Why not a library: docs/adr/0011-spam-scanners.md.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

from postroom.mail.spam.values import MAX_RULES, ScannerError, ScanOutcome, SpamScan

SCANNER: Final = "spamd"
DEFAULT_PORT: Final = 783  # spamd's registered port
MAX_RESPONSE_BYTES: Final = 1024 * 1024  # SYMBOLS answers are a few hundred bytes; a bound against a bad peer
_STATUS: Final = re.compile(rb"SPAMD/(\d+\.\d+) (\d+) (.*)")
_SPAM_HEADER: Final = re.compile(rb"(True|False|Yes|No)\s*;\s*(-?[\d.]+)\s*/\s*(-?[\d.]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SpamdAddress:
    """Where spamd listens: a TCP host and port, or a Unix socket path."""

    host: str = ""
    port: int = DEFAULT_PORT
    socket_path: str = ""

    def describe(self) -> str:
        return f"unix:{self.socket_path}" if self.socket_path else f"{self.host}:{self.port}"


def parse_spamd_url(url: str) -> SpamdAddress:
    """`spamd://127.0.0.1:783` (port optional, default 783) or `spamd:///run/spamd.sock` (a Unix socket)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "spamd":
        raise ValueError(f"not a spamd URL: {url[:80]!r} (use spamd://host:port or spamd:///path/to/socket)")
    if not parts.netloc:
        if not parts.path.startswith("/"):
            raise ValueError(f"spamd URL without host or socket path: {url[:80]!r}")
        return SpamdAddress(socket_path=unquote(parts.path))
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as e:
        raise ValueError(f"bad port in spamd URL {url[:80]!r}") from e
    if not parts.hostname:
        raise ValueError(f"spamd URL without host: {url[:80]!r}")
    return SpamdAddress(host=parts.hostname, port=port)


def build_request(message: bytes, command: str = "SYMBOLS") -> bytes:
    return f"{command} SPAMC/1.5\r\nContent-length: {len(message)}\r\n\r\n".encode("ascii") + message


def parse_response(data: bytes) -> SpamScan:
    """spamd's answer to SYMBOLS as a scan; ScannerError for an error code or an answer that is not one."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = _STATUS.fullmatch(lines[0].strip()) if lines else None
    if status is None:
        raise ScannerError(f"spamd answered something else than SPAMD/1.x: {lines[0][:60]!r}")
    if status.group(2) != b"0":
        message = status.group(3).decode("ascii", "replace")[:120]
        raise ScannerError(f"spamd refused the message: {int(status.group(2))} {message}")
    spam = next((line[5:] for line in lines[1:] if line.lower().startswith(b"spam:")), None)
    matched = _SPAM_HEADER.search(spam) if spam is not None else None
    if not sep or matched is None:
        raise ScannerError("spamd's answer has no Spam: header")
    rules = tuple(name for name in body.decode("ascii", "replace").strip().split(",") if name)
    return SpamScan(
        scanner=SCANNER,
        outcome=ScanOutcome.SCANNED,
        score=float(matched.group(2)),
        required=float(matched.group(3)),
        scanner_flag=matched.group(1).lower() in {b"true", b"yes"},
        rules=rules[:MAX_RULES],
    )


def _connect(address: SpamdAddress, timeout: float) -> socket.socket:
    if address.socket_path:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address.socket_path)
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection((address.host, address.port), timeout=timeout)


def scan_with_spamd(message: bytes, address: SpamdAddress, *, timeout: float) -> SpamScan:
    """Score the message with spamd; ScannerError when it cannot (down, slow, or it refused).

    `timeout` bounds the connect and each read and write; spamd takes 40-100 ms per message on a small machine.
    """
    try:
        with _connect(address, timeout) as sock:
            sock.sendall(build_request(message))
            sock.shutdown(socket.SHUT_WR)
            chunks: list[bytes] = []
            size = 0
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise ScannerError("spamd's answer is larger than 1 MiB")
    except TimeoutError as e:
        raise ScannerError(f"spamd at {address.describe()} did not answer within {timeout:g} s") from e
    except OSError as e:
        raise ScannerError(f"spamd at {address.describe()} unreachable: {e.strerror or e}") from e
    return parse_response(b"".join(chunks))
