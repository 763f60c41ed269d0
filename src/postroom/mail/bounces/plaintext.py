"""Bounces without RFC 3464 fields (Postfix, Exim, qmail, Sendmail v5, Exchange, Gmail, ...): detected by
sender, subject and text, then failed recipients and their status read from the explanation."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import Message
from typing import Final

from postroom.mail.bounces.codes import FAILURE_STATUS, REPLY_CODE
from postroom.mail.bounces.dsn import MAX_DIAGNOSTIC_CHARS, MAX_RECIPIENTS, assemble, build_dsn, build_recipient
from postroom.mail.bounces.parts import (
    MAX_DEPTH,
    ORIGINAL_TYPES,
    SPACES,
    TEXT_MESSAGE_ID,
    blocks_from_text,
    header,
    human_text,
)
from postroom.mail.bounces.ses import parse_ses_notification
from postroom.mail.bounces.values import RecipientStatus, Report

MAX_GUESSED_RECIPIENTS: Final = 3  # a returned original's To/Cc is taken as the failed recipients only up to this

# starts only where a run of address characters starts, and is possessive, so that long junk stays linear
ADDRESS: Final = re.compile(r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]++@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
_ORIGINAL_TO: Final = re.compile(r"^[ \t>]*(?:To|Cc)[ \t]*:(.*)$", re.I | re.M)
REPLY_PREFIX: Final = re.compile(r"^\s*(?:re|aw|sv|fwd?|wg|tr|rif|r)\s*:", re.I)
BOUNCE_SUBJECT: Final = re.compile(
    r"undeliver|undelivered mail|returned mail|mail (?:delivery )?(?:failed|failure|problem)|delivery (?:status )?"
    r"notification|delivery (?:has )?fail|failure notice|message (?:delivery has failed|not delivered)|"
    r"could not send|non[- ]?deliver|delivery error|error sending your mail|mail system error|unzustellbar|"
    r"nicht zustellbar|non remis|non recapitabile|no se puede entregar|onbestelbaar|warning: could not send",
    re.I,
)
_BOUNCE_BODY: Final = re.compile(
    r"this is the mail system at host|created automatically by mail delivery software|this is the qmail-send "
    r"program|wasn't able to deliver your message|could not be delivered to one or more|(?:following|these) "
    r"(?:address(?:es|\(es\))?|recipients?(?:\(s\))?) (?:had permanent|failed|could not|returned)|did not reach the "
    r"following recipient|delivery has failed to these recipients|error (?:has occurred|occurred) while "
    r"(?:attempting|trying) to deliver|error delivering your mail|unable to deliver message to|transcript of "
    r"session follows|message could not be delivered|was undeliverable|delivery to the following recipient|"
    r"trouble delivering your message|your message (?:could not|wasn't|was not) (?:be )?delivered|"
    r"permanent (?:fatal )?errors?|undeliverable to the following|mail delivery failed",
    re.I,
)
DAEMON_SENDER: Final = re.compile(r"mailer-daemon|postmaster|mail delivery (?:system|subsystem)|<>", re.I)
_DELAY: Final = re.compile(
    r"delivery status notification \(delay\)|\bdelayed mail\b|message (?:is )?delayed|will (?:continue|keep) "
    r"(?:to )?(?:try|retry|attempt)|has not (?:yet )?been delivered|this is (?:a|only a) warning|warning message only|"
    r"no action is required|warning: could not send|still undelivered",
    re.I,
)
_PERMANENT: Final = re.compile(
    r"permanent|given up|giving up|no further (?:delivery )?attempts|returned mail|returning message", re.I
)
_FAILED_SUBJECT: Final = re.compile(r"fail|undeliver|returned|non[- ]?deliver", re.I)
_ORIGINAL_MARKER: Final = re.compile(
    r"^[ \t]*(?:-+[ \t]*)?(?:this is a copy of|below this line is a copy|below is a copy of|(?:the )?original "
    r"message(?! was received)|unsent message follows|returned message|the header of the original|"
    r"message headers follow|"
    r"undelivered message|a copy of the original)|^(?:Received|Return-Path|Content-Type):",
    re.I | re.M,
)

# the announcement of the failed recipients (Exchange, Exim, Sendmail, Gmail, Zoho ...)
_RECIPIENTS_FOLLOW: Final = re.compile(
    r"(?:following|these) (?:recipients?|address(?:es)?)(?:\(s\)|\(es\))?|(?:did not reach|could not be delivered to)"
    r" the following",
    re.I,
)
# the line with the code and up to three indented lines that continue it (Exim and Postfix wrap replies)
_CONTINUED: Final = re.compile(r"[^\n]*(?:\n[ \t]+\S[^\n]*){0,3}")

ReadNested = Callable[[Message, int], "Report | None"]


def read_plain_bounce(
    message: Message, parts: list[Message], ids: list[str], depth: int, *, forced: bool, read_nested: ReadNested
) -> Report | None:
    """Best effort for bounces without RFC 3464 fields: detection by sender, subject and text, then recipients.

    `forced`: the structure already says it is a report (multipart/report or a delivery-status part).
    `read_nested` reads a report returned inside a message/rfc822 part (a forwarded bounce).
    """
    text = human_text(parts)
    own_id = header(message, "message-id")
    ses = parse_ses_notification(text, own_id)
    if ses is not None:
        return ses
    subject = header(message, "subject")
    failed_header = header(message, "x-failed-recipients")  # Exim
    sender = " ".join((header(message, "from"), header(message, "return-path"), header(message, "sender")))
    subject_hit = BOUNCE_SUBJECT.search(subject) is not None and REPLY_PREFIX.match(subject) is None
    body_hit = _BOUNCE_BODY.search(text) is not None
    daemon = DAEMON_SENDER.search(sender) is not None
    if not (forced or failed_header or (daemon and (subject_hit or body_hit)) or (subject_hit and body_hit)):
        return None
    ids = ids + TEXT_MESSAGE_ID.findall(text)
    report = build_dsn(blocks_from_text(text), ids, own_id)  # some MTAs put RFC 3464 fields in text/plain
    if report is not None:
        return report
    head = text[: match.start()] if (match := _ORIGINAL_MARKER.search(text)) is not None else text
    recipients = _plain_recipients(message, head, failed_header, subject)
    if not recipients and depth < MAX_DEPTH:
        for part in parts:
            nested = _nested_report(part, depth, read_nested)
            if nested is not None:
                return nested
    reporting_mta = ADDRESS.search(sender)
    mta = reporting_mta.group(0).split("@", 1)[1] if reporting_mta else ""
    if not recipients:
        tail = text[len(head) :]
        addressees = [found.lower() for line in _ORIGINAL_TO.findall(tail) for found in ADDRESS.findall(line)]
        unique = list(dict.fromkeys(addressees)) if 0 < len(set(addressees)) <= MAX_GUESSED_RECIPIENTS else [""]
        recipients = [_recipient(address, head, subject, head) for address in unique]
    return assemble(recipients[:MAX_RECIPIENTS], ids, mta, own_id)


def _nested_report(part: Message, depth: int, read_nested: ReadNested) -> Report | None:
    if part.get_content_type() not in ORIGINAL_TYPES or not isinstance(part.get_payload(), list):
        return None
    for inner in part.get_payload():
        if isinstance(inner, Message) and inner.get_content_type() == "multipart/report":
            return read_nested(inner, depth + 1)
    return None


def _plain_status(segment: str, subject: str, context: str) -> tuple[str, str, str]:
    """(action, status, diagnostic) from the text about one recipient; `context` is the whole explanation."""
    found = FAILURE_STATUS.search(segment)
    code = REPLY_CODE.search(segment)
    status = found.group(0) if found else (f"{code.group(1)}.0.0" if code else "")
    permanent = _PERMANENT.search(f"{subject}\n{context}") is not None or _FAILED_SUBJECT.search(subject) is not None
    hinted = _DELAY.search(context) is not None or status.startswith("4")
    action = "delayed" if _DELAY.search(subject) or (hinted and not permanent) else "failed"
    evidence = found or code
    line = ""
    if evidence is not None:
        start = segment.rfind("\n", 0, evidence.start()) + 1
        continued = _CONTINUED.match(segment, start)
        line = continued.group(0) if continued is not None else ""
    return action, status, SPACES.sub(" ", line).strip()[:MAX_DIAGNOSTIC_CHARS]


def _recipient(address: str, segment: str, subject: str, head: str) -> RecipientStatus:
    """The recipient's status from its own segment of the explanation; the segment names the reason."""
    action, status, diagnostic = _plain_status(segment, subject, head)
    if not status and segment is not head:
        action, status, diagnostic = _plain_status(head, subject, head)
    return build_recipient(address, action, status, diagnostic, context=SPACES.sub(" ", segment)[:2000])


def _plain_recipients(message: Message, head: str, failed_header: str, subject: str) -> list[RecipientStatus]:
    """Failed addresses: X-Failed-Recipients, else addresses in the text other than the bounce's own parties."""
    own = {
        address.lower()
        for name in ("to", "from", "return-path", "sender")
        for address in ADDRESS.findall(header(message, name))
    }
    listed = [address.lower() for address in ADDRESS.findall(failed_header)]
    listing = head
    marker = _RECIPIENTS_FOLLOW.search(head)
    if marker is not None and ADDRESS.search(head, marker.end()) is not None:
        listing = head[marker.end() :]  # what comes before names the original's parties, not the failed recipients
    positions = [(match.start(), match.group(0).lower()) for match in ADDRESS.finditer(listing)]
    if not listed:
        listed = [address for _, address in positions if address not in own and DAEMON_SENDER.search(address) is None]
    unique = list(dict.fromkeys(listed))
    recipients: list[RecipientStatus] = []
    for index, address in enumerate(unique):
        start = next((pos for pos, found in positions if found == address), 0)
        later = [pos for pos, found in positions if pos > start and found in unique[index + 1 :]]
        in_listing = address in listing.lower()
        segment = listing[start : min(later) if later else len(listing)] if in_listing else head
        recipients.append(_recipient(address, segment, subject, head))
    return recipients
