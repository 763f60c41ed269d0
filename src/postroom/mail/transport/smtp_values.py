"""The outbound SMTP client's values: settings, TLS mode, send status and result, and its config error."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from postroom.mail.errors import PermanentError
from postroom.mail.transport.proxy import ProxySettings

AuthMechanism = Literal["auto", "plain", "login", "xoauth2", "oauthbearer"]
AUTH_MECHANISMS: tuple[AuthMechanism, ...] = ("auto", "plain", "login", "xoauth2", "oauthbearer")


class SmtpConfigError(PermanentError, ValueError):
    """The SMTP settings can never work (e.g. plaintext to a remote host); raised before any connection."""


class TlsMode(StrEnum):
    """How the connection is encrypted. There is no "opportunistic" mode: STARTTLS never falls back."""

    IMPLICIT = "implicit"  # TLS from the first byte (port 465, RFC 8314)
    STARTTLS = "starttls"  # plaintext greeting, then STARTTLS is required (port 587)
    NONE = "none"  # plaintext: only to a loopback relay on this machine


class SendStatus(StrEnum):
    """What the caller does next: forget the message, retry it later, or give up and tell an agent."""

    SENT = "sent"
    DEFERRED = "deferred"  # temporary: retry with `next_retry_delay`
    FAILED = "failed"  # permanent, or a configuration error that retrying cannot fix


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to submit outbound mail. Certificate verification is always on.

    `ca_file` adds a trust anchor to the system ones (a private CA or a test CA); it never turns checks off.
    `max_messages_per_connection` and `idle_seconds` only matter to `SmtpPool`: a pooled connection is
    replaced after that many messages or when it sat unused for longer than `idle_seconds` (below the
    common server idle timeouts: Postfix's smtpd_timeout is 300 s).
    """

    host: str
    port: int
    tls: TlsMode
    username: str = ""
    password: str = field(default="", repr=False)
    auth_mechanism: AuthMechanism = "auto"
    ca_file: str | None = None
    timeout_seconds: float = 30.0
    local_hostname: str | None = None
    max_messages_per_connection: int = 100
    idle_seconds: float = 60.0
    proxy: ProxySettings | None = None  # the operator's proxy the connection goes through (mail/transport/proxy.py)

    def __post_init__(self) -> None:
        if not self.host:
            raise SmtpConfigError("SMTP host is empty")
        if not 0 < self.port < 65536:
            raise SmtpConfigError(f"SMTP port {self.port} is out of range")
        if not isinstance(self.tls, TlsMode):
            raise SmtpConfigError(f"unknown TLS mode {self.tls!r}")
        if self.tls is TlsMode.NONE and not is_loopback_host(self.host):
            raise SmtpConfigError(
                f"TLS mode 'none' is only allowed to a loopback host, not {self.host}: use starttls or implicit"
            )
        if self.auth_mechanism not in AUTH_MECHANISMS:
            raise SmtpConfigError(f"unknown SMTP auth mechanism {self.auth_mechanism!r}")
        if self.auth_mechanism != "auto" and not self.username:
            raise SmtpConfigError(f"SMTP auth mechanism {self.auth_mechanism!r} needs a username")
        if self.timeout_seconds <= 0:
            raise SmtpConfigError("SMTP timeout must be positive")
        if self.max_messages_per_connection < 1:
            raise SmtpConfigError("max_messages_per_connection must be at least 1")
        if self.idle_seconds < 0:
            raise SmtpConfigError("idle_seconds must not be negative")


# The XOAUTH2/OAUTHBEARER hook: returns a fresh access token for these settings (the OAuth connector plugs in
# here). It is called once per new connection, possibly from several threads at once, and never logged. A provider
# that also has an `invalidate()` method (RefreshableTokenProvider) gets one retry with a new token after a 535.
TokenProvider = Callable[[SmtpSettings], str]


@runtime_checkable
class RefreshableTokenProvider(Protocol):
    def __call__(self, settings: SmtpSettings) -> str: ...

    def invalidate(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one message, with the server's reply for agents to read.

    `code` is the SMTP reply code the outcome rests on (None when there was no reply: a timeout, a refused
    connection, a TLS failure). `reply` is that reply, e.g. "451 4.7.1 Try again later", or a sentence
    saying what went wrong; it never contains a password or token. `refused` maps each refused recipient to
    its (code, reply): on SENT the recipients that did not get the message (some may be temporary 4xx
    refusals worth retrying for those recipients alone), on a failure with every recipient refused all of
    them.
    """

    status: SendStatus
    code: int | None
    reply: str
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def is_sent(self) -> bool:
        return self.status is SendStatus.SENT


def is_loopback_host(host: str) -> bool:
    """Whether `host` is this machine: "localhost", 127.0.0.0/8 or ::1 (a name other than localhost is not)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def status_for_code(code: int) -> SendStatus:
    """2xx sent, 4xx deferred, anything else (5xx, or nonsense) failed."""
    if 200 <= code < 300:
        return SendStatus.SENT
    if 400 <= code < 500:
        return SendStatus.DEFERRED
    return SendStatus.FAILED
