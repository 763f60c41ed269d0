"""Parse one raw message into a `ParsedMessage`: limits first, then headers, body and attachments."""

from __future__ import annotations

import datetime as dt
import email
from collections.abc import Callable
from email import policy
from email.message import Message
from email.utils import getaddresses
from typing import Final

from postroom.mail.parse.attachments import build_attachment
from postroom.mail.parse.body import choose_body
from postroom.mail.parse.charsets import restore_surrogates
from postroom.mail.parse.filenames import build_filename, make_unique, repair_rfc2231
from postroom.mail.parse.headers import (
    build_header_list,
    find_from,
    find_message_id,
    find_raw,
    parse_addresses,
    parse_date,
    parse_ids,
    parse_subject,
)
from postroom.mail.parse.htmltext import html_to_text
from postroom.mail.parse.mime import Leaf, collect_defects, parse_bytes, walk_leaves
from postroom.mail.parse.payloads import read_bytes
from postroom.mail.parse.structure import measure_shape, repair_header_block, strip_mbox_separator
from postroom.mail.parse.tnef import is_tnef, read_tnef
from postroom.mail.parse.uuencode import extract_uu_files
from postroom.mail.parse.words import decode_words
from postroom.mail.values import Address, LimitBreach, Limits, ParsedAttachment, ParsedMessage

DEFAULT_LIMITS: Final = Limits()
MAX_DEFECTS: Final = 100  # defects kept per message; the rest add nothing (our own bound)
EMBEDDED_TYPES: Final = frozenset({"message/rfc822", "message/global"})
# add(payload, filename, declared type, inline, content id): records one attachment
Adder = Callable[[bytes, str, str | None, bool, str | None], None]


def parse_message(
    raw: bytes, *, received_at: dt.datetime | None = None, limits: Limits = DEFAULT_LIMITS
) -> ParsedMessage:
    """Parse raw message bytes; never raises. Limit breaches and damage are reported, not thrown."""
    defects: list[str] = []
    if len(raw) > limits.max_bytes:
        # do not even scan a message that is too big: read the header block and stop
        shape_breach, header_block = LimitBreach.SIZE, raw[: limits.max_header_bytes]
        defects.append("limit:size")
        return _headers_only(header_block, received_at, defects, shape_breach)
    raw = strip_mbox_separator(raw)
    shape = measure_shape(raw, limits)
    if shape.breach is not None:
        defects.append(shape.defect or f"limit:{shape.breach.value}")
        return _headers_only(shape.header_block, received_at, defects, shape.breach)
    try:
        message = parse_bytes(repair_header_block(raw))
        linesep = "\r\n" if b"\r\n" in raw[:4096] else "\n"
        return _build(message, received_at, limits, defects, linesep)
    except RecursionError:
        defects.append("limit:depth")
        return _headers_only(shape.header_block, received_at, defects, LimitBreach.DEPTH)
    except Exception as error:  # the parser's promise: damage becomes a defect, never an exception
        defects.append(f"parser_error:{type(error).__name__}")
        return _headers_only(shape.header_block, received_at, defects, None)


def _headers_only(
    header_block: bytes, received_at: dt.datetime | None, defects: list[str], breach: LimitBreach | None
) -> ParsedMessage:
    """A message built from the header block alone (after a breach): no body, no attachments."""
    try:
        message = email.message_from_bytes(header_block + b"\n\n", policy=policy.compat32)
        raw_items = [(name, restore_surrogates(str(value))) for name, value in message.raw_items()]
        return _assemble(raw_items, received_at, defects, text="", html=None, attachments=(), breach=breach)
    except Exception as error:  # even the header block is unreadable: keep nothing but the defects
        defects.append(f"parser_error:{type(error).__name__}")
        return _assemble([], received_at, defects, text="", html=None, attachments=(), breach=breach)


def is_repaired(author: Address, raw_values: list[str]) -> bool:
    """True when a strict RFC 5322 reading of From gives a different address than our lenient one."""
    strict = [address for _, address in getaddresses(raw_values) if address]
    return bool(author.address) and not any(
        address.rpartition("@")[0] == author.address.rpartition("@")[0]
        and address.rpartition("@")[2].lower() == author.address.rpartition("@")[2].lower()
        for address in strict
    )


def _assemble(
    raw_items: list[tuple[str, str]],
    received_at: dt.datetime | None,
    defects: list[str],
    *,
    text: str,
    html: str | None,
    attachments: tuple[ParsedAttachment, ...],
    breach: LimitBreach | None,
) -> ParsedMessage:
    subject = parse_subject(raw_items, defects)
    date = parse_date(raw_items, received_at, defects)
    in_reply_to = tuple(i for value in find_raw(raw_items, "in-reply-to") for i in parse_ids(value))
    references = tuple(i for value in find_raw(raw_items, "references") for i in parse_ids(value))
    author = find_from(raw_items)
    if author is not None and is_repaired(author, find_raw(raw_items, "from")):
        defects.append("address_repaired:from")
    unique_defects = list(dict.fromkeys(defects))[:MAX_DEFECTS]
    return ParsedMessage(
        from_=author,
        sender=parse_addresses(raw_items, "sender"),
        reply_to=parse_addresses(raw_items, "reply-to"),
        to=parse_addresses(raw_items, "to"),
        cc=parse_addresses(raw_items, "cc"),
        delivered_to=parse_addresses(raw_items, "delivered-to", "x-original-to"),
        subject=subject,
        message_id=find_message_id(raw_items),
        in_reply_to=in_reply_to,
        references=references,
        date=date,
        text=text,
        html=html,
        attachments=attachments,
        defects=tuple(unique_defects),
        headers=build_header_list(raw_items),
        limit_breach=breach,
    )


def _build(
    message: Message, received_at: dt.datetime | None, limits: Limits, defects: list[str], linesep: str
) -> ParsedMessage:
    tree = walk_leaves(message, limits)
    fields = [(name, str(value)) for name, value in message.raw_items()]
    # the hint only matters for 8-bit header bytes, which most messages do not have
    hint = _charset_hint(message, tree.leaves) if not all(value.isascii() for _, value in fields) else None
    raw_items = [(name, restore_surrogates(value, hint)) for name, value in fields]
    if not raw_items:
        defects.append("headers_missing")
    defects.extend(f"header_defect:{name}" if name.startswith("header") else name for name in collect_defects(message))
    defects.extend(tree.defects)
    choice = choose_body(tree.leaves, defects)
    text, html = choice.text, choice.html
    files: list[ParsedAttachment] = []
    taken: list[str] = []

    def add(payload: bytes, name: str, declared: str | None, inline: bool, cid: str | None) -> None:
        unique = make_unique(name, taken)
        taken.append(unique)
        files.append(build_attachment(payload, filename=unique, declared_type=declared, inline=inline, content_id=cid))

    if "begin " in text:
        text, uu_files = extract_uu_files(text)
        for uu in uu_files:
            add(uu.payload, uu.filename or "file", None, False, None)
    for leaf in choice.rest:
        text, html = _add_leaf(leaf, html, text, add, defects, linesep=linesep)
    if not text.strip() and html:
        text = choice.html_text if html is choice.html and choice.html_text is not None else html_to_text(html)
    return _assemble(
        raw_items, received_at, defects, text=text, html=html, attachments=tuple(files), breach=tree.breach
    )


def _add_leaf(
    leaf: Leaf, html: str | None, text: str, add: Adder, defects: list[str], *, linesep: str
) -> tuple[str, str | None]:
    info = leaf.info
    payload = read_bytes(leaf.part, linesep, info.content_type)
    if is_tnef(info.content_type, info.filename, payload):
        content = read_tnef(payload)
        if content is None:
            defects.append("tnef_unreadable")  # keep winmail.dat itself: someone may open it elsewhere
        else:
            for item in content.files:
                add(item.payload, item.filename, None, False, None)
            if not text.strip() and content.text:
                text = content.text
            if html is None and content.html:
                html = content.html
            return text, html
    subject = None
    if info.content_type in EMBEDDED_TYPES and not info.filename:
        subject = _embedded_subject(leaf.part)
    name = build_filename(info, subject)
    if "\ufffd" in name:
        raw_disposition = str(leaf.part.get("content-disposition", "")) + str(leaf.part.get("content-type", ""))
        name = repair_rfc2231(name, _raw_header(leaf.part, "content-disposition") or raw_disposition)
    cid = info.content_id
    inline = info.disposition == "inline" or (
        info.disposition is None and cid is not None and (leaf.related is not None or f"cid:{cid}" in (html or ""))
    )
    add(payload, name, info.content_type if info.declared_type else None, inline, cid)
    return text, html


def _charset_hint(message: Message, leaves: tuple[Leaf, ...]) -> str | None:
    """The charset 8-bit header bytes are most likely in: the message's, else its first text part's."""
    try:
        charset = message.get_param("charset")
    except Exception:  # a malformed Content-Type gives no hint
        charset = None
    if isinstance(charset, str):
        return charset
    return next((leaf.info.charset for leaf in leaves if leaf.info.charset), None)


def _raw_header(part: Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _embedded_subject(part: Message) -> str | None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return None
    for key, value in inner.raw_items():
        if key.lower() == "subject":
            subject = " ".join(decode_words(str(value)).split())
            return subject or None
    return None
