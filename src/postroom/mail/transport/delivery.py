"""The values the inbound listener hands to its delivery callable and gets back: envelope and outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message as received over SMTP/LMTP: the SMTP envelope plus the DATA bytes, exactly as sent.

    `mail_from` is "" for the null reverse-path (`MAIL FROM:<>`, bounces and auto-replies); `raw` is the
    DATA content after dot-unstuffing, CRLF line endings preserved, no header added; `peer` is the client's
    "host:port" ("[v6-address]:port" for IPv6).
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes = field(repr=False)
    peer: str
    helo: str = ""  # the client's HELO/EHLO name: SPF checks it for the null reverse-path (RFC 7208 section 2.3)


class DeliveryStatus(StrEnum):
    """Whose fault a failed delivery is decides the reply code the sending server gets."""

    ACCEPTED = "accepted"  # committed: the listener replies 250, the sender forgets the message
    TEMPORARY_FAILURE = "temporary_failure"  # our fault (e.g. database down): 451, the sender retries
    REJECTED = "rejected"  # the sender's fault, permanent: 554, the sender bounces


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What the delivery callable decided, with a reason.

    The reason of a REJECTED outcome is sent to the client in the 554 reply (keep it short and free of
    personal data); the reason of a TEMPORARY_FAILURE is only logged, since it describes our internals.
    """

    status: DeliveryStatus
    reason: str = ""
    code: str = ""  # a REJECTED outcome's reply code and enhanced status (RFC 3463), e.g. "550 5.7.26"; else 554 5.6.0

    @classmethod
    def accepted(cls, reason: str = "") -> DeliveryOutcome:
        return cls(DeliveryStatus.ACCEPTED, reason)

    @classmethod
    def temporary_failure(cls, reason: str) -> DeliveryOutcome:
        return cls(DeliveryStatus.TEMPORARY_FAILURE, reason)

    @classmethod
    def rejected(cls, reason: str, code: str = "") -> DeliveryOutcome:
        return cls(DeliveryStatus.REJECTED, reason, code)
