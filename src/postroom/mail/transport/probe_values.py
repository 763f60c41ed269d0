"""What a connection test is given (a server to try) and what it finds out, in values an admin can read."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final, Literal

from postroom.mail.transport.proxy import ProxySettings
from postroom.mail.transport.smtp_values import is_loopback_host

ProbeTls = Literal["implicit", "starttls", "none"]
PROBE_TLS_MODES: Final[tuple[ProbeTls, ...]] = ("implicit", "starttls", "none")
DEFAULT_PROBE_TIMEOUT_SECONDS: Final = 15.0  # long enough for a slow TLS handshake, short enough for a web request


class ProbeProtocol(enum.StrEnum):
    IMAP = "imap"
    POP3 = "pop3"
    SMTP = "smtp"


class FailureKind(enum.StrEnum):
    """Why a test failed, for machines; `ProbeReport.summary` says it in words."""

    REFUSED_HOST = "refused_host"  # the SSRF guard refused the address
    UNRESOLVED = "unresolved"  # the name does not resolve
    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    NETWORK = "network"  # unreachable, reset
    TLS = "tls"  # handshake failed, STARTTLS missing or refused
    CERTIFICATE = "certificate"  # the chain or name did not verify
    AUTHENTICATION = "authentication"
    PROTOCOL = "protocol"  # the server said something unexpected
    FOLDER = "folder"  # a configured IMAP folder does not exist
    CONFIGURATION = "configuration"  # the settings cannot work (caught before connecting)


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """One server to test: where, how, as whom. Certificate verification is always on; `ca_file` adds a trust anchor.

    `purpose` names the connection for people ("inbound", "outbound", "sent copy"); `folders` (IMAP) are the
    folders the mailbox reads, checked against the server's list; `auth_mechanism` is the SMTP one.
    """

    purpose: str
    protocol: ProbeProtocol
    host: str
    port: int
    tls: ProbeTls
    username: str = ""
    password: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)  # IMAP: AUTHENTICATE XOAUTH2 when there is no password
    ca_file: str | None = None
    folders: tuple[str, ...] = ()
    folders_created_on_demand: bool = False  # a missing folder is fine: the first APPEND creates it (Sent copy)
    pins: tuple[str, ...] = ()  # public-key pins checked after verification (mail/transport/tlspin.py)
    proxy: ProxySettings | None = None  # the operator's proxy the mailbox goes through (mail/transport/proxy.py)
    auth_mechanism: str = "auto"
    timeout_seconds: float = DEFAULT_PROBE_TIMEOUT_SECONDS
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("the host is empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is out of range")
        if self.tls not in PROBE_TLS_MODES:
            raise ValueError(f"unknown TLS mode {self.tls!r}: use implicit, starttls or none")
        if self.tls == "none" and not is_loopback_host(self.host):
            raise ValueError(f"TLS mode 'none' is only allowed to a loopback host, not {self.host}")
        if self.timeout_seconds <= 0:
            raise ValueError("the timeout must be positive")


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The server's certificate as verified: names, issuer and validity (ISO 8601 dates, UTC)."""

    subject: str
    issuer: str
    not_before: str
    not_after: str
    days_left: int
    alt_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """The negotiated TLS session: version, cipher suite, the certificate and what it was verified against."""

    version: str
    cipher: str
    bits: int | None
    verified_against: str
    certificate: CertificateInfo | None = None
    spki_sha256: str = ""  # the server key's pin (sha256/<base64>), what the setting pin_sha256 takes


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """The outcome of one connection test: each fact found, and one line saying whether it works and why not."""

    purpose: str
    protocol: str
    host: str
    port: int
    tls_mode: str
    ok: bool
    summary: str
    failure: str | None = None  # a FailureKind value
    resolved: tuple[str, ...] = ()
    connected_to: str | None = None
    greeting: str = ""
    tls: TlsInfo | None = None
    capabilities: tuple[str, ...] = ()
    authentication: str = "not tried"
    folders: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # further findings: folder checks, message counts
    duration_ms: int = 0

    def render_lines(self) -> list[str]:
        """The report in plain words, one fact per line (the CLI prints these; the console shows the same)."""
        head = f"{self.purpose} {self.protocol.upper()} {self.host} port {self.port} ({_describe_mode(self.tls_mode)})"
        lines = [f"{head}: {'OK' if self.ok else 'FAILED'} - {self.summary}"]
        if self.resolved == (self.host,):
            lines.append(f"  address: {self.host} (an IP address: nothing to resolve)")
        elif self.resolved:
            lines.append(f"  address: {self.host} resolved to {', '.join(self.resolved)}")
        if self.connected_to:
            lines.append(f"  connected to: {self.connected_to}")
        if self.greeting:
            lines.append(f"  greeting: {self.greeting}")
        if self.tls is not None:
            bits = f", {self.tls.bits} bits" if self.tls.bits else ""
            lines.append(f"  TLS: {self.tls.version}, cipher {self.tls.cipher}{bits}")
            certificate = self.tls.certificate
            if certificate is not None:
                lines.append(f"  certificate: {certificate.subject}, issued by {certificate.issuer}")
                lines.append(
                    f"  certificate valid until {certificate.not_after} ({certificate.days_left} days left), "
                    f"verified against {self.tls.verified_against}"
                )
                if certificate.alt_names:
                    lines.append(f"  certificate names: {', '.join(certificate.alt_names)}")
            if self.tls.spki_sha256:
                lines.append(f"  public key pin: {self.tls.spki_sha256}")
        if self.capabilities:
            lines.append(f"  capabilities: {' '.join(self.capabilities)}")
        lines.append(f"  authentication: {self.authentication}")
        if self.folders:
            lines.append(f"  folders: {', '.join(self.folders)}")
        lines.extend(f"  {note}" for note in self.notes)
        lines.append(f"  took {self.duration_ms} ms")
        return lines


def _describe_mode(mode: str) -> str:
    return {"implicit": "TLS", "starttls": "STARTTLS", "none": "no TLS"}.get(mode, mode)


class ProbeFailure(Exception):  # noqa: N818 (an outcome of the test, carried out of the session)
    """The test found something that does not work; `detail` is the one line an admin reads."""

    def __init__(self, kind: FailureKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(slots=True)
class Findings:
    """What a protocol probe learnt so far; kept when it fails halfway, so the report shows how far it got."""

    connected_to: str | None = None
    greeting: str = ""
    tls: TlsInfo | None = None
    capabilities: tuple[str, ...] = ()
    authentication: str = "not tried"
    folders: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    summary: str = ""
