"""The stable JSON view of a parsed message that `postroom inspect` prints (see docs/inspect.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from pathlib import Path
from typing import TextIO

from postroom.mail.auth import summarise_offline_auth
from postroom.mail.automation import detect_automation
from postroom.mail.forwards import ForwardInfo, detect_forward
from postroom.mail.parse import parse_message
from postroom.mail.quotes import split_reply, split_reply_html
from postroom.mail.reports import ReportKind, parse_report
from postroom.mail.threads import extract_thread_signals, thread_record
from postroom.mail.values import Address, ParsedMessage

DEFAULT_TICKET_PREFIX = "PR"


def _address(mailbox: Address) -> dict[str, str]:
    return {"name": mailbox.name, "address": mailbox.address}


def _reply_record(parsed: ParsedMessage) -> dict[str, str]:
    # Like the pipeline's analyse stage: the text part when there is one, else the HTML.
    use_text = parsed.text.strip() or not parsed.html
    parts = split_reply(parsed.text) if use_text else split_reply_html(parsed.html or "")
    return {"new_text": parts.new_text, "quoted_text": parts.quoted_text, "signature": parts.signature}


def _forward_record(forward: ForwardInfo | None) -> dict[str, object] | None:
    if forward is None:
        return None
    return {
        "from": _address(forward.from_) if forward.from_ is not None else None,
        "date": forward.date.isoformat() if forward.date is not None else forward.date_text,
        "subject": forward.subject,
        "text": forward.text,
    }


def _bounce_record(raw: bytes | None) -> dict[str, object] | None:
    """A delivery failure or delay report's recipients (docs/architecture/bounces.md); null for any other mail."""
    report = parse_report(raw) if raw is not None else None
    if report is None or report.kind is not ReportKind.DSN or report.outcome not in ("failed", "delayed"):
        return None
    return {
        "recipients": [
            {
                "address": r.recipient,
                "status": r.status,
                "reply_code": r.reply_code,
                "reason": str(r.reason),
                "hard": r.hard,
            }
            for r in report.recipients
            if r.action in ("failed", "delayed")
        ],
        "original_message_id": report.original_message_ids[0] if report.original_message_ids else None,
    }


def build_inspect_record(
    parsed: ParsedMessage,
    file: str,
    *,
    ticket_prefix: str = DEFAULT_TICKET_PREFIX,
    raw: bytes | None = None,
    trusted_authserv_ids: Collection[str] = (),
) -> dict[str, object]:
    """One message as a JSON-ready dict with exactly the documented keys, in the documented order.

    `auth` needs the raw bytes (the message's own header fields, unfolded as received): null without them, and
    null when no Authentication-Results of a trusted id is present (offline: no DNS, no client IP).
    """
    summary = summarise_offline_auth(raw, trusted_authserv_ids=trusted_authserv_ids) if raw is not None else None
    return {
        "file": file,
        "from": _address(parsed.from_) if parsed.from_ is not None else None,
        "sender": [_address(mailbox) for mailbox in parsed.sender],
        "reply_to": [_address(mailbox) for mailbox in parsed.reply_to],
        "to": [_address(mailbox) for mailbox in parsed.to],
        "cc": [_address(mailbox) for mailbox in parsed.cc],
        "delivered_to": [_address(mailbox) for mailbox in parsed.delivered_to],
        "subject": parsed.subject,
        "message_id": parsed.message_id,
        "in_reply_to": list(parsed.in_reply_to),
        "references": list(parsed.references),
        "date": parsed.date.isoformat() if parsed.date is not None else None,
        "text": parsed.text,
        "html": parsed.html,
        "attachments": [
            {
                "filename": attachment.filename,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "md5": attachment.md5,
                "sha256": attachment.sha256,
                "inline": attachment.inline,
                "content_id": attachment.content_id,
            }
            for attachment in parsed.attachments
        ],
        "defects": list(parsed.defects),
        "thread": thread_record(extract_thread_signals(parsed, ticket_prefix=ticket_prefix)),
        "reply": _reply_record(parsed),
        "forward": _forward_record(detect_forward(parsed)),
        "automation": detect_automation(parsed).as_record(),
        "auth": summary.as_record() if summary is not None else None,
        "bounce": _bounce_record(raw),
    }


def inspect_paths(
    paths: list[str],
    out: TextIO,
    err: TextIO | None = None,
    *,
    ticket_prefix: str = DEFAULT_TICKET_PREFIX,
    trusted_authserv_ids: Collection[str] = (),
) -> int:
    """Print one JSON object per file (one line each); 1 if a file could not be read, else 0.

    A malformed message is not an error: it still gives an object, with its defects listed.
    """
    errors = err if err is not None else sys.stderr
    status = 0
    for path in paths:
        try:
            raw = Path(path).read_bytes()
        except OSError as error:
            errors.write(f"postroom inspect: cannot read {path}: {error.strerror or error}\n")
            status = 1
            continue
        record = build_inspect_record(
            parse_message(raw), path, ticket_prefix=ticket_prefix, raw=raw, trusted_authserv_ids=trusted_authserv_ids
        )
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return status
