"""Reading a report's MIME structure: its parts, their text, RFC 3464 field blocks and the original's ids."""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from postroom.mail.parse.charsets import decode_bytes
from postroom.mail.parse.headers import parse_ids
from postroom.mail.parse.htmltext import html_to_text
from postroom.mail.parse.words import decode_words

MAX_PARTS: Final = 200  # MIME parts looked at; a report has three (RFC 6522 §3), wrappers add a few (our bound)
MAX_DEPTH: Final = 4  # nesting of containers and embedded reports followed (our bound)
MAX_TEXT_CHARS: Final = 100_000  # human-readable text searched for plain-text bounce evidence (our bound)

DSN_TYPES: Final = frozenset({"message/delivery-status", "message/global-delivery-status"})  # RFC 3464 §2, RFC 6533 §6
MDN_TYPES: Final = frozenset({"message/disposition-notification", "message/global-disposition-notification"})
FEEDBACK_TYPES: Final = frozenset({"message/feedback-report"})  # RFC 5965 §3
ORIGINAL_TYPES: Final = frozenset({"message/rfc822", "message/global"})  # returned content (RFC 6522 §3, RFC 6532)
ORIGINAL_HEADER_TYPES: Final = frozenset({"text/rfc822-headers", "message/global-headers"})  # RFC 6522 §4

Block = list[tuple[str, str]]  # one blank-line-separated group of "Name: value" fields, names lower case

_FIELD: Final = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")
_TYPED_VALUE: Final = re.compile(r"^\s*[A-Za-z0-9-]+\s*;\s*(.*)$", re.S)  # "rfc822; bob@x", "smtp; 550 ..."
TEXT_MESSAGE_ID: Final = re.compile(
    r"^[ \t>]*(?:X-Original-)?Message-ID[ \t]*:[ \t]*<?([^\s<>@]+@[^\s<>]+?)>?[ \t]*$", re.I | re.M
)
_NEWLINES: Final = re.compile(r"\r\n?")
SPACES: Final = re.compile(r"\s+")


def walk(message: Message, depth: int) -> list[Message]:
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


def part_text(part: Message) -> str:
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


def human_text(parts: list[Message]) -> str:
    """The report's own text (not the returned original): text/plain and text/html leaves, in order."""
    pieces: list[str] = []
    for part in parts:
        content_type = part.get_content_type()
        lost_boundary = part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), str)
        if content_type == "text/plain" or lost_boundary or (content_type == "text/html" and not pieces):
            text = part_text(part)
            pieces.append(html_to_text(text) if content_type == "text/html" else text)
    return "\n\n".join(pieces)[:MAX_TEXT_CHARS]


def blocks_from_text(text: str) -> list[Block]:
    """Field blocks separated by blank lines (RFC 3464 §2.1), continuation lines unfolded, names lower case."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        fields: Block = []
        for line in chunk.split("\n"):
            if line[:1] in (" ", "\t") and fields:
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {line.strip()}".strip())
            elif (match := _FIELD.match(line)) is not None:
                fields.append((match.group(1).lower(), match.group(2).strip()))
        if fields:
            blocks.append(fields)
    return blocks


def part_blocks(part: Message) -> list[Block]:
    return blocks_from_text(part_text(part))


def part_fields(part: Message) -> dict[str, str]:
    """All fields of a part's blocks, the first of each name kept."""
    merged: dict[str, str] = {}
    for block in part_blocks(part):
        for name, value in block:
            merged.setdefault(name, value)
    return merged


def untyped(value: str) -> str:
    """Drop the type prefix of a typed field ("rfc822; <bob@x>" -> "bob@x", "smtp; 550 ..." -> "550 ...")."""
    match = _TYPED_VALUE.match(value)
    found = match.group(1) if match else value
    return SPACES.sub(" ", found).strip().strip("<>").strip()


def header(message: Message, name: str) -> str:
    value = message.get(name)
    return decode_words(SPACES.sub(" ", str(value))).strip() if value is not None else ""


def original_ids(message: Message, parts: list[Message]) -> list[str]:
    """Candidate ids of our original message, best first: returned headers, then the report's own references."""
    ids: list[str] = []
    for part in parts:
        content_type = part.get_content_type()
        if content_type in ORIGINAL_TYPES:
            for inner in part.get_payload() if isinstance(part.get_payload(), list) else []:
                if isinstance(inner, Message):
                    ids.extend(parse_ids(header(inner, "message-id")))
        if content_type in ORIGINAL_HEADER_TYPES or content_type in ORIGINAL_TYPES:
            ids.extend(TEXT_MESSAGE_ID.findall(part_text(part)))
    ids.extend(parse_ids(header(message, "in-reply-to")))
    ids.extend(reversed(parse_ids(header(message, "references"))))
    return ids


def finish_ids(ids: list[str], message_id: str) -> tuple[str, ...]:
    """The candidates once each, in order, without the report's own Message-ID."""
    own = set(parse_ids(message_id))
    unique: list[str] = []
    for found in ids:
        if found and found not in own and found not in unique:
            unique.append(found)
    return tuple(unique)
