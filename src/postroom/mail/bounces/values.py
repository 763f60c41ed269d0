"""What a delivery report says: the report, one status per recipient, and the bounce reason taxonomy."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Outcome = Literal[
    "delivered", "delayed", "failed", "displayed", "deleted", "dispatched", "processed", "complained", "other"
]


class ReportKind(StrEnum):
    """Which standard the report follows."""

    DSN = "dsn"  # RFC 3464 (and plain-text bounces read as if they were one)
    MDN = "mdn"  # RFC 8098
    FEEDBACK = "feedback"  # RFC 5965 Abuse Reporting Format: a complaint about our message


class Reason(StrEnum):
    """Why a delivery failed; the names are Sisimai's (https://libsisimai.org/en/reason/), so its corpus measures us.

    docs/architecture/bounces.md says what each one means and which are hard.
    """

    USER_UNKNOWN = "userunknown"  # the mailbox does not exist (5.1.1)
    HOST_UNKNOWN = "hostunknown"  # the domain does not exist or has no mail server (5.1.2, 5.4.4)
    HAS_MOVED = "hasmoved"  # the mailbox moved and left no forwarding (5.1.6)
    NOT_ACCEPT = "notaccept"  # the domain accepts no mail at all (null MX, RFC 7505)
    MAILBOX_FULL = "mailboxfull"  # over quota (5.2.2)
    SUSPEND = "suspend"  # the mailbox is disabled or suspended (5.2.1)
    EXCEED_LIMIT = "exceedlimit"  # the message exceeds the recipient's own size limit (5.2.3)
    MESG_TOO_BIG = "mesgtoobig"  # the message exceeds the server's size limit (5.3.4)
    FILTERED = "filtered"  # the recipient's own filter refused it
    REJECTED = "rejected"  # the envelope sender or its domain was refused
    BLOCKED = "blocked"  # the sending host was refused (block list, reverse DNS, reputation)
    SPAM_DETECTED = "spamdetected"  # the content was judged spam
    VIRUS_DETECTED = "virusdetected"  # the content carried malware
    SECURITY_ERROR = "securityerror"  # authentication or a security policy (5.7.x)
    AUTH_FAILURE = "authfailure"  # SPF, DKIM or DMARC failed at the receiver
    REQUIRE_PTR = "requireptr"  # the sending host has no reverse DNS
    BAD_REPUTATION = "badreputation"  # the sending IP has a poor reputation
    NOT_COMPLIANT_RFC = "notcompliantrfc"  # the message breaks RFC 5322 (duplicate headers, bad line length)
    POLICY_VIOLATION = "policyviolation"  # a site policy refused it (content, attachment, recipient list)
    NO_RELAYING = "norelaying"  # relaying denied
    EXPIRED = "expired"  # the retry time ran out (4.4.7, 5.4.7)
    NETWORK_ERROR = "networkerror"  # DNS or routing failure, loop (4.4.x)
    TOO_MANY_CONN = "toomanyconn"  # too many connections or messages per connection
    SPEEDING = "speeding"  # rate limited
    SYSTEM_ERROR = "systemerror"  # the receiving system failed
    SYSTEM_FULL = "systemfull"  # the receiving system's disk is full (4.3.1)
    MAILER_ERROR = "mailererror"  # a local delivery program failed
    CONTENT_ERROR = "contenterror"  # the content could not be converted or is malformed (5.6.x)
    SYNTAX_ERROR = "syntaxerror"  # a command or argument syntax error (5.5.x)
    ON_HOLD = "onhold"  # the report gives no cause that can be told yet
    UNDEFINED = "undefined"  # nothing at all to tell the cause
    DELIVERED = "delivered"  # a success report (RFC 3464 action delivered/relayed/expanded)
    FEEDBACK = "feedback"  # a complaint (RFC 5965)


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One per-recipient block: the address, RFC 3464 action (or MDN disposition type), status and diagnostic,
    with what follows from them: the SMTP reply code, the reason and whether the address is dead (hard)."""

    recipient: str
    action: str
    status: str  # RFC 3463 enhanced code such as "5.1.1"; "" when none is known
    diagnostic: str
    reply_code: str = ""  # RFC 5321 reply code such as "550"; "" when none is known
    reason: Reason = Reason.UNDEFINED
    hard: bool = False  # the address itself is dead: further mail to it will fail the same way


@dataclass(frozen=True, slots=True)
class Report:
    """What a delivery, disposition or feedback report says about one of our outbound messages."""

    kind: ReportKind
    original_message_ids: tuple[str, ...]  # without angle brackets, best evidence first
    outcome: Outcome
    recipients: tuple[RecipientStatus, ...]
    reporting_mta: str
    summary: str
