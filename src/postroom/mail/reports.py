"""Read delivery (RFC 3464) and disposition (RFC 8098) reports, and common plain-text bounces, about our mail."""

from __future__ import annotations

import email
import json
import re
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32
from enum import StrEnum
from typing import Final, Literal

from postroom.mail.parse.charsets import decode_bytes
from postroom.mail.parse.headers import parse_ids
from postroom.mail.parse.htmltext import html_to_text
from postroom.mail.parse.structure import strip_mbox_separator
from postroom.mail.parse.words import decode_words

Outcome = Literal["delivered", "delayed", "failed", "displayed", "deleted", "dispatched", "processed", "other"]

MAX_PARTS: Final = 200  # MIME parts looked at; a report has three (RFC 6522 §3), wrappers add a few (our bound)
MAX_DEPTH: Final = 4  # nesting of containers and embedded reports followed (our bound)
MAX_RECIPIENTS: Final = 100  # recipient records kept; one per RCPT TO, and MTAs cap those at 100 (RFC 5321 §4.5.3.1.8)
MAX_TEXT_CHARS: Final = 100_000  # human-readable text searched for plain-text bounce evidence (our bound)
MAX_GUESSED_RECIPIENTS: Final = 3  # a returned original's To/Cc is taken as the failed recipients only up to this
MAX_DIAGNOSTIC_CHARS: Final = (
    300  # diagnostic kept per recipient; the SMTP reply line limit is 512 (RFC 5321 §4.5.3.1.5)
)

DSN_TYPES: Final = frozenset({"message/delivery-status", "message/global-delivery-status"})  # RFC 3464 §2, RFC 6533 §6
MDN_TYPES: Final = frozenset({"message/disposition-notification", "message/global-disposition-notification"})
ORIGINAL_TYPES: Final = frozenset({"message/rfc822", "message/global"})  # returned content (RFC 6522 §3, RFC 6532)
ORIGINAL_HEADER_TYPES: Final = frozenset({"text/rfc822-headers", "message/global-headers"})  # RFC 6522 §4
REPORT_TYPES: Final = frozenset({"delivery-status", "disposition-notification", "global-delivery-status"})
MDN_DISPOSITIONS: Final = frozenset({"displayed", "deleted", "dispatched", "processed"})  # RFC 8098 §3.2.6.2
DELIVERED_ACTIONS: Final = frozenset({"delivered", "relayed", "expanded"})  # RFC 3464 §2.3.3

_FIELD: Final = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")
_TYPED_VALUE: Final = re.compile(r"^\s*[A-Za-z0-9-]+\s*;\s*(.*)$", re.S)  # "rfc822; bob@x", "smtp; 550 ..."
_STATUS: Final = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")  # RFC 3463 §2
_FAILURE_STATUS: Final = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
_REPLY_CODE: Final = re.compile(r"(?<![\d.#-])([45])\d\d(?=[ -]|$)", re.M)  # RFC 5321 §4.2
# starts only where a run of address characters starts, and is possessive, so that long junk stays linear
_ADDRESS: Final = re.compile(r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]++@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
_TEXT_MESSAGE_ID: Final = re.compile(
    r"^[ \t>]*(?:X-Original-)?Message-ID[ \t]*:[ \t]*<?([^\s<>@]+@[^\s<>]+?)>?[ \t]*$", re.I | re.M
)
_ORIGINAL_TO: Final = re.compile(r"^[ \t>]*(?:To|Cc)[ \t]*:(.*)$", re.I | re.M)
_DISPOSITION_TYPE: Final = re.compile(r";\s*([A-Za-z-]+)")
_NEWLINES: Final = re.compile(r"\r\n?")
_SPACES: Final = re.compile(r"\s+")

# Plain-text bounces (no message/delivery-status part): Postfix, Exim, qmail, Sendmail v5, Exchange, Gmail, ...
_REPLY_PREFIX: Final = re.compile(r"^\s*(?:re|aw|sv|fwd?|wg|tr|rif|r)\s*:", re.I)
_BOUNCE_SUBJECT: Final = re.compile(
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
_DAEMON_SENDER: Final = re.compile(r"mailer-daemon|postmaster|mail delivery (?:system|subsystem)|<>", re.I)
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


class ReportKind(StrEnum):
    """Which standard the report follows: a delivery status notification or a message disposition notification."""

    DSN = "dsn"  # RFC 3464 (and plain-text bounces read as if they were one)
    MDN = "mdn"  # RFC 8098


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One per-recipient block: the address, RFC 3464 action (or MDN disposition type), status and diagnostic."""

    recipient: str
    action: str
    status: str  # RFC 3463 enhanced code such as "5.1.1"; "" when none is known
    diagnostic: str


@dataclass(frozen=True, slots=True)
class Report:
    """What a delivery or disposition report says about one of our outbound messages."""

    kind: ReportKind
    original_message_ids: tuple[str, ...]  # without angle brackets, best evidence first
    outcome: Outcome
    recipients: tuple[RecipientStatus, ...]
    reporting_mta: str
    summary: str


def parse_report(raw: bytes) -> Report | None:
    """The report in these bytes, or None when they are not a DSN/MDN (or a recognisable bounce); never raises."""
    try:
        if b"\n" not in raw:
            raw = raw.replace(b"\r", b"\n")  # old Mac line ends: quoted-printable soft breaks need a line feed
        message = email.message_from_bytes(strip_mbox_separator(raw), policy=compat32)
        return _read_report(message, 0)
    except Exception:  # hostile input is simply "not a report"; the caller must never crash here
        return None


def _read_report(message: Message, depth: int) -> Report | None:
    parts = _walk(message, depth)
    report_type = str(message.get_param("report-type", "") or "").lower()
    if message.get_content_type() == "multipart/report" and report_type and report_type not in REPORT_TYPES:
        return None  # RFC 5965 feedback reports, RFC 8460 TLS reports: not about delivery of one message
    if any(part.get_content_type() == "message/feedback-report" for part in parts):
        return None
    ids = _original_ids(message, parts)
    own_id = _header(message, "message-id")
    for part in parts:
        if part.get_content_type() in MDN_TYPES:
            return _build_mdn(_fields(part), ids, own_id)
    status_parts = [part for part in parts if part.get_content_type() in DSN_TYPES]
    if status_parts:
        report = _build_dsn([block for part in status_parts for block in _blocks(part)], ids, own_id)
        if report is not None:
            return report
    return _read_plain_bounce(message, parts, ids, depth, forced=bool(status_parts) or report_type in REPORT_TYPES)


def _walk(message: Message, depth: int) -> list[Message]:
    """Parts in document order, not descending into returned originals (their parts are not the report)."""
    found: list[Message] = []

    def visit(part: Message, level: int) -> None:
        if len(found) >= MAX_PARTS:
            return
        found.append(part)
        payload = part.get_payload()
        if part.get_content_maintype() == "multipart" and isinstance(payload, list) and level < MAX_DEPTH:
            for child in payload:
                if isinstance(child, Message):
                    visit(child, level + 1)

    visit(message, depth)
    return found


def _text(part: Message) -> str:
    """The decoded text of a leaf part, or of the header blocks the stdlib parsed out of a message/* part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        pieces = []
        for sub in payload:
            if isinstance(sub, Message):
                head = "\n".join(f"{name}: {value}" for name, value in sub.items())
                body = sub.get_payload()
                pieces.append(head + ("\n\n" + body if isinstance(body, str) and body.strip() else ""))
        text = "\n\n".join(pieces)
    else:
        data = part.get_payload(decode=True)
        text = decode_bytes(data, part.get_content_charset()) if isinstance(data, bytes) else str(payload)
    return _NEWLINES.sub("\n", text[:MAX_TEXT_CHARS])


def _blocks_from_text(text: str) -> list[list[tuple[str, str]]]:
    """Field blocks separated by blank lines (RFC 3464 §2.1), continuation lines unfolded, names lower case."""
    blocks: list[list[tuple[str, str]]] = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        fields: list[tuple[str, str]] = []
        for line in chunk.split("\n"):
            if line[:1] in (" ", "\t") and fields:
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {line.strip()}".strip())
            elif (match := _FIELD.match(line)) is not None:
                fields.append((match.group(1).lower(), match.group(2).strip()))
        if fields:
            blocks.append(fields)
    return blocks


def _blocks(part: Message) -> list[list[tuple[str, str]]]:
    return _blocks_from_text(_text(part))


def _fields(part: Message) -> dict[str, str]:
    merged: dict[str, str] = {}
    for block in _blocks(part):
        for name, value in block:
            merged.setdefault(name, value)
    return merged


def _untyped(value: str) -> str:
    """Drop the type prefix of a typed field ("rfc822; <bob@x>" -> "bob@x", "smtp; 550 ..." -> "550 ...")."""
    match = _TYPED_VALUE.match(value)
    found = match.group(1) if match else value
    return _SPACES.sub(" ", found).strip().strip("<>").strip()


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    return decode_words(_SPACES.sub(" ", str(value))).strip() if value is not None else ""


def _original_ids(message: Message, parts: list[Message]) -> list[str]:
    """Candidate ids of our original message, best first: returned headers, then the report's own references."""
    ids: list[str] = []
    for part in parts:
        content_type = part.get_content_type()
        if content_type in ORIGINAL_TYPES:
            for inner in part.get_payload() if isinstance(part.get_payload(), list) else []:
                if isinstance(inner, Message):
                    ids.extend(parse_ids(_header(inner, "message-id")))
        if content_type in ORIGINAL_HEADER_TYPES or content_type in ORIGINAL_TYPES:
            ids.extend(_TEXT_MESSAGE_ID.findall(_text(part)))
    ids.extend(parse_ids(_header(message, "in-reply-to")))
    ids.extend(reversed(parse_ids(_header(message, "references"))))
    return ids


def _finish_ids(ids: list[str], message_id: str) -> tuple[str, ...]:
    own = set(parse_ids(message_id))
    unique: list[str] = []
    for found in ids:
        if found and found not in own and found not in unique:
            unique.append(found)
    return tuple(unique)


def _build_mdn(fields: dict[str, str], ids: list[str], own_id: str) -> Report:
    """RFC 8098 §3.2: Disposition "action-mode/sending-mode; type", plus Original-Message-ID and Final-Recipient."""
    disposition = fields.get("disposition", "")
    match = _DISPOSITION_TYPE.search(disposition)
    found = match.group(1).lower() if match else ""
    outcome: Outcome = "other"
    for candidate in ("displayed", "deleted", "dispatched", "processed"):
        if found == candidate:
            outcome = candidate
    recipient = _untyped(fields.get("final-recipient", "") or fields.get("original-recipient", ""))
    original = list(parse_ids(fields.get("original-message-id", "")))
    status = RecipientStatus(recipient=recipient, action=found, status="", diagnostic=disposition)
    return Report(
        kind=ReportKind.MDN,
        original_message_ids=_finish_ids(original + ids, own_id),
        outcome=outcome,
        recipients=(status,) if recipient or found else (),
        reporting_mta=_untyped(fields.get("reporting-ua", "")).split(";")[0].strip(),
        summary=f"{outcome} by {recipient or 'the recipient'}",
    )


def _status_of(status_field: str, diagnostic: str) -> str:
    """The RFC 3463 code; a generic X.0.0 is refined by a more specific code of the same class in the diagnostic."""
    declared = _STATUS.search(status_field)
    detailed = _STATUS.search(diagnostic)
    if declared is None:
        if detailed is not None:
            return detailed.group(0)
        code = _REPLY_CODE.search(diagnostic)
        return f"{code.group(1)}.0.0" if code else ""
    if detailed is not None and declared.group(0).endswith(".0.0") and detailed.group(1) == declared.group(1):
        return detailed.group(0)
    return declared.group(0)


def _action_of(action_field: str, status: str) -> str:
    action = action_field.strip().split(" ")[0].lower() if action_field.strip() else ""
    if action:
        return action
    return {"5": "failed", "4": "delayed", "2": "delivered"}.get(status[:1], "")


def _build_dsn(blocks: list[list[tuple[str, str]]], ids: list[str], message_id: str) -> Report | None:
    """RFC 3464 §2.2/§2.3: per-message fields (Reporting-MTA) and one block per recipient."""
    reporting_mta = ""
    recipients: list[RecipientStatus] = []
    for block in blocks:
        fields: dict[str, str] = {}
        for name, value in block:
            fields.setdefault(name, value)
        reporting_mta = reporting_mta or _untyped(fields.get("reporting-mta", ""))
        address = fields.get("final-recipient") or fields.get("original-recipient") or fields.get("x-actual-recipient")
        if not address and "status" not in fields and "action" not in fields:
            continue
        diagnostic = _untyped(fields.get("diagnostic-code", ""))[:MAX_DIAGNOSTIC_CHARS]
        status = _status_of(fields.get("status", ""), diagnostic)
        recipients.append(
            RecipientStatus(_untyped(address or ""), _action_of(fields.get("action", ""), status), status, diagnostic)
        )
    if not recipients:
        return None
    return _assemble(recipients[:MAX_RECIPIENTS], ids, reporting_mta, message_id)


def _assemble(recipients: list[RecipientStatus], ids: list[str], reporting_mta: str, message_id: str) -> Report:
    actions = {recipient.action for recipient in recipients}
    outcome: Outcome = "other"
    if "failed" in actions:
        outcome = "failed"
    elif "delayed" in actions:
        outcome = "delayed"
    elif actions & DELIVERED_ACTIONS:
        outcome = "delivered"
    first = next((r for r in recipients if r.action == outcome), recipients[0])
    others = f" (+{len(recipients) - 1} more)" if len(recipients) > 1 else ""
    detail = " ".join(piece for piece in (first.status, first.diagnostic) if piece)
    summary = f"{outcome} for {first.recipient or 'an unknown recipient'}{others}" + (f": {detail}" if detail else "")
    return Report(
        kind=ReportKind.DSN,
        original_message_ids=_finish_ids(ids, message_id),
        outcome=outcome,
        recipients=tuple(recipients),
        reporting_mta=reporting_mta,
        summary=summary[:MAX_DIAGNOSTIC_CHARS],
    )


def _human_text(parts: list[Message]) -> str:
    """The report's own text (not the returned original): text/plain and text/html leaves, in order."""
    pieces: list[str] = []
    for part in parts:
        content_type = part.get_content_type()
        lost_boundary = part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), str)
        if content_type == "text/plain" or lost_boundary or (content_type == "text/html" and not pieces):
            text = _text(part)
            pieces.append(html_to_text(text) if content_type == "text/html" else text)
    return "\n\n".join(pieces)[:MAX_TEXT_CHARS]


def _read_plain_bounce(
    message: Message, parts: list[Message], ids: list[str], depth: int, *, forced: bool
) -> Report | None:
    """Best effort for bounces without RFC 3464 fields: detection by sender, subject and text, then recipients."""
    text = _human_text(parts)
    own_id = _header(message, "message-id")
    ses = _read_ses_notification(text, own_id)
    if ses is not None:
        return ses
    subject = _header(message, "subject")
    failed_header = _header(message, "x-failed-recipients")  # Exim
    sender = " ".join((_header(message, "from"), _header(message, "return-path"), _header(message, "sender")))
    subject_hit = _BOUNCE_SUBJECT.search(subject) is not None and _REPLY_PREFIX.match(subject) is None
    body_hit = _BOUNCE_BODY.search(text) is not None
    daemon = _DAEMON_SENDER.search(sender) is not None
    if not (forced or failed_header or (daemon and (subject_hit or body_hit)) or (subject_hit and body_hit)):
        return None
    ids = ids + _TEXT_MESSAGE_ID.findall(text)
    report = _build_dsn(_blocks_from_text(text), ids, own_id)  # some MTAs put RFC 3464 fields in text/plain
    if report is not None:
        return report
    head = text[: match.start()] if (match := _ORIGINAL_MARKER.search(text)) is not None else text
    recipients = _plain_recipients(message, head, failed_header, subject)
    if not recipients and depth < MAX_DEPTH:
        for part in parts:
            nested = _nested_report(part, depth)
            if nested is not None:
                return nested
    reporting_mta = _ADDRESS.search(sender)
    mta = reporting_mta.group(0).split("@", 1)[1] if reporting_mta else ""
    if not recipients:
        tail = text[len(head) :]
        addressees = [found.lower() for line in _ORIGINAL_TO.findall(tail) for found in _ADDRESS.findall(line)]
        action, status, diagnostic = _plain_status(head, subject, head)
        unique = list(dict.fromkeys(addressees)) if 0 < len(set(addressees)) <= MAX_GUESSED_RECIPIENTS else [""]
        recipients = [RecipientStatus(address, action, status, diagnostic) for address in unique]
    return _assemble(recipients[:MAX_RECIPIENTS], ids, mta, own_id)


def _nested_report(part: Message, depth: int) -> Report | None:
    if part.get_content_type() not in ORIGINAL_TYPES or not isinstance(part.get_payload(), list):
        return None
    for inner in part.get_payload():
        if isinstance(inner, Message) and inner.get_content_type() == "multipart/report":
            return _read_report(inner, depth + 1)
    return None


def _plain_status(segment: str, subject: str, context: str) -> tuple[str, str, str]:
    """(action, status, diagnostic) from the text about one recipient; `context` is the whole explanation."""
    found = _FAILURE_STATUS.search(segment)
    code = _REPLY_CODE.search(segment)
    status = found.group(0) if found else (f"{code.group(1)}.0.0" if code else "")
    permanent = _PERMANENT.search(f"{subject}\n{context}") is not None or _FAILED_SUBJECT.search(subject) is not None
    hinted = _DELAY.search(context) is not None or status.startswith("4")
    action = "delayed" if _DELAY.search(subject) or (hinted and not permanent) else "failed"
    evidence = found or code
    line = ""
    if evidence is not None:
        start = segment.rfind("\n", 0, evidence.start()) + 1
        end = segment.find("\n", evidence.end())
        line = segment[start : end if end >= 0 else len(segment)]
    return action, status, _SPACES.sub(" ", line).strip()[:MAX_DIAGNOSTIC_CHARS]


def _plain_recipients(message: Message, head: str, failed_header: str, subject: str) -> list[RecipientStatus]:
    """Failed addresses: X-Failed-Recipients, else addresses in the text other than the bounce's own parties."""
    own = {
        address.lower()
        for name in ("to", "from", "return-path", "sender")
        for address in _ADDRESS.findall(_header(message, name))
    }
    listed = [address.lower() for address in _ADDRESS.findall(failed_header)]
    positions = [(match.start(), match.group(0).lower()) for match in _ADDRESS.finditer(head)]
    if not listed:
        listed = [address for _, address in positions if address not in own and _DAEMON_SENDER.search(address) is None]
    unique = list(dict.fromkeys(listed))
    recipients: list[RecipientStatus] = []
    for index, address in enumerate(unique):
        start = next((pos for pos, found in positions if found == address), 0)
        later = [pos for pos, found in positions if pos > start and found in unique[index + 1 :]]
        segment = head[start : min(later) if later else len(head)] if address in head.lower() else head
        action, status, diagnostic = _plain_status(segment, subject, head)
        if not status:
            action, status, diagnostic = _plain_status(head, subject, head)
        recipients.append(RecipientStatus(address, action, status, diagnostic))
    return recipients


def _as_dict(value: object) -> dict[str, object]:
    return {str(key): item for key, item in value.items()} if isinstance(value, dict) else {}


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _read_ses_notification(text: str, own_id: str) -> Report | None:
    """Amazon SES event JSON, bare or wrapped in an SNS envelope: Bounce and Delivery become DSNs."""
    start = text.lstrip()
    if not start.startswith("{"):
        return None
    try:
        event = _as_dict(json.JSONDecoder(strict=False).raw_decode(start)[0])
        if isinstance(event.get("Message"), str):
            event = _as_dict(json.loads(str(event["Message"]), strict=False))
    except ValueError:
        return None
    kind = str(event.get("notificationType") or event.get("eventType") or "")
    mail = _as_dict(event.get("mail"))
    ids = [
        found
        for header in map(_as_dict, _as_list(mail.get("headers")))
        if str(header.get("name", "")).lower() == "message-id"
        for found in parse_ids(str(header.get("value", "")))
    ]
    ids.extend(parse_ids(str(_as_dict(mail.get("commonHeaders")).get("messageId", ""))))
    recipients: list[RecipientStatus] = []
    if kind == "Bounce":
        bounce = _as_dict(event.get("bounce"))
        for entry in map(_as_dict, _as_list(bounce.get("bouncedRecipients"))):
            diagnostic = _untyped(str(entry.get("diagnosticCode", "")))[:MAX_DIAGNOSTIC_CHARS]
            status = _status_of(str(entry.get("status", "")), diagnostic)
            action = _action_of(str(entry.get("action", "")), status) or "failed"
            recipients.append(RecipientStatus(str(entry.get("emailAddress", "")), action, status, diagnostic))
        recipients = recipients or [RecipientStatus("", "failed", "", "")]
        return _assemble(recipients, ids, _untyped(str(bounce.get("reportingMTA", ""))), own_id)
    if kind == "Delivery":
        delivery = _as_dict(event.get("delivery"))
        response = str(delivery.get("smtpResponse", ""))
        for address in _as_list(delivery.get("recipients")):
            recipients.append(RecipientStatus(str(address), "delivered", _status_of("", response), response))
        recipients = recipients or [RecipientStatus("", "delivered", "", response)]
        return _assemble(recipients, ids, str(delivery.get("reportingMTA", "")), own_id)
    return None


# Read receipts and the few bounce subjects `_BOUNCE_SUBJECT` does not need (it works with body evidence).
_RECEIPT_SUBJECT: Final = re.compile(
    r"read:|gelesen:|lu :|disposition|receipt|delivery|zustellung|nicht zugestellt|rapport|non.?remis|no entregado",
    re.I,
)


def may_be_report(headers: tuple[tuple[str, str], ...], subject: str, sender: str) -> bool:
    """A cheap test on already-parsed headers: False means `parse_report` need not look (most mail).

    True for multipart/report, X-Failed-Recipients, a null Return-Path, a MAILER-DAEMON/postmaster sender or a
    subject that reads like a bounce or a read receipt; `parse_report` then decides.
    """
    head = subject[:300]
    if _DAEMON_SENDER.search(sender) or _BOUNCE_SUBJECT.search(head) or _RECEIPT_SUBJECT.search(head):
        return True
    for name, value in headers:
        key = name.lower()
        if key == "content-type" and "report" in value.lower():
            return True
        if key == "x-failed-recipients" or (key == "return-path" and value.strip() in {"<>", ""}):
            return True
    return False
