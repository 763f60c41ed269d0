"""Read the top-level header fields: decoded values, subject, message ids and the date."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Iterable
from typing import Final

from postroom.mail.parse.addresses import parse_address_list
from postroom.mail.parse.words import decode_address_words, decode_words
from postroom.mail.values import Address

MAX_IDS: Final = 500  # References entries kept; long threads rarely exceed 100 (our own bound)
_FOLD: Final = re.compile(r"\r?\n[ \t]*")
_ANGLE_ID: Final = re.compile(r"<([^<>\s]*)>")
_BARE_ID: Final = re.compile(r"[^\s<>,;()\"]+@[^\s<>,;()\"]+")
_LINE_BREAK: Final = re.compile(r"\r?\n|\r")
_TZ_JUNK: Final = re.compile(r"\s*\([^)]*\)\s*$")


def unfold(value: str) -> str:
    """Join folded lines (RFC 5322 section 2.2.3): a line break followed by white space becomes one space."""
    return _FOLD.sub(" ", value).strip() if "\n" in value else value.strip()


ADDRESS_FIELDS: Final = frozenset(
    {
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "bcc",
        "resent-from",
        "resent-to",
        "resent-cc",
        "resent-sender",
        "delivered-to",
        "x-original-to",
        "return-path",
        "disposition-notification-to",
        "errors-to",
    }
)


def build_header_list(raw_items: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Every top-level field as (name, unfolded decoded value), in order; address fields keep their
    mailbox structure (decoded names with specials are quoted)."""
    return tuple(
        (name, decode_address_words(unfold(value)) if name.lower() in ADDRESS_FIELDS else decode_words(unfold(value)))
        for name, value in raw_items
    )


def find_raw(raw_items: list[tuple[str, str]], name: str) -> list[str]:
    """The unfolded raw values of every field called `name` (case-insensitive), in order."""
    wanted = name.lower()
    return [unfold(value) for key, value in raw_items if key.lower() == wanted]


def parse_subject(raw_items: list[tuple[str, str]], defects: list[str]) -> str:
    """The first Subject, unfolded (RFC 5322 2.2.3: line breaks removed, white space kept) and decoded."""
    for key, value in raw_items:
        if key.lower() == "subject":
            unfolded = _LINE_BREAK.sub("", value).strip(" \t")
            return _LINE_BREAK.sub("", decode_words(unfolded, defects))
    return ""


def parse_addresses(raw_items: list[tuple[str, str]], *names: str) -> tuple[Address, ...]:
    """All mailboxes of the named fields, in header order, without repeating an address."""
    seen: set[str] = set()
    result: list[Address] = []
    for key, value in raw_items:
        if key.lower() not in names:
            continue
        for mailbox in parse_address_list(unfold(value)):
            marker = mailbox.address.lower() or mailbox.name
            if marker in seen:
                continue
            seen.add(marker)
            result.append(mailbox)
    return tuple(result)


def find_from(raw_items: list[tuple[str, str]]) -> Address | None:
    """The author: the first From mailbox that has an address (of any From field), else the first one."""
    mailboxes = [mailbox for value in find_raw(raw_items, "from") for mailbox in parse_address_list(value)]
    for mailbox in mailboxes:
        if "@" in mailbox.address:
            return mailbox
    return mailboxes[0] if mailboxes else None


def parse_ids(value: str) -> tuple[str, ...]:
    """Message ids without angle brackets; bare `local@domain` tokens are accepted when no <...> exist."""
    ids = [found for found in _ANGLE_ID.findall(value) if found]
    if not ids:
        ids = _BARE_ID.findall(value)
        if not ids and value.strip() and " " not in value.strip():
            ids = [value.strip().strip("<>")]
    unique: list[str] = []
    for found in ids[:MAX_IDS]:
        if found not in unique:
            unique.append(found)
    return tuple(unique)


def find_message_id(raw_items: list[tuple[str, str]]) -> str | None:
    """The first Message-ID, without angle brackets; None when missing or empty."""
    for value in find_raw(raw_items, "message-id"):
        ids = parse_ids(value)
        if ids:
            return ids[0]
    return None


def parse_date(
    raw_items: list[tuple[str, str]], received_at: dt.datetime | None, defects: list[str]
) -> dt.datetime | None:
    """The Date field as an aware datetime (-0000 and missing zones read as UTC); else `received_at`."""
    values = find_raw(raw_items, "date")
    if not values:
        defects.append("date_missing")
        return received_at
    text = _TZ_JUNK.sub("", restore_ascii(values[0]))
    parsed: dt.datetime | None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        parsed = _parse_iso(text)
    if parsed is None:
        defects.append("date_unparseable")
        return received_at
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _parse_iso(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def restore_ascii(value: str) -> str:
    """Drop characters a date or id cannot contain (surrogate escapes of 8-bit bytes)."""
    return value.encode("ascii", "ignore").decode("ascii")
