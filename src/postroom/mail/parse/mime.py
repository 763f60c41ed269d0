"""Parse bytes with the stdlib `email` package and flatten the MIME tree into leaves, within limits."""

from __future__ import annotations

import email
import email.message
import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from typing import Final

from postroom.mail.parse.words import decode_words
from postroom.mail.values import LimitBreach, Limits

_CONTENT_TYPE: Final = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$")


@dataclass(frozen=True, slots=True)
class PartInfo:
    """The header facts of one MIME part, read leniently."""

    content_type: str  # lower case, no parameters; text/plain when missing or malformed
    declared_type: bool  # the part carried a readable Content-Type field
    charset: str | None
    disposition: str | None  # "inline", "attachment" or another token; None when missing
    filename: str | None
    content_id: str | None
    description: str | None
    location: str | None


@dataclass(frozen=True, slots=True)
class Leaf:
    """A part that carries content (not a multipart container), where it sits and what it says it is."""

    part: Message
    info: PartInfo
    alternative: int | None  # index of the nearest multipart/alternative ancestor
    related: int | None  # index of the nearest multipart/related ancestor
    related_root: bool  # the first child of that multipart/related (the document that refers to the rest)


@dataclass(frozen=True, slots=True)
class Tree:
    """The flattened message: leaves in document order, plus what went wrong while walking."""

    leaves: tuple[Leaf, ...]
    defects: tuple[str, ...]
    breach: LimitBreach | None


def parse_bytes(raw: bytes) -> Message:
    """Parse with `policy.default` (RFC 5322/6532 semantics); `compat32` if the modern parser raises."""
    try:
        return email.message_from_bytes(raw, policy=policy.default)
    except RecursionError:
        raise
    except Exception:  # noqa: BLE001 - stdlib parser bugs must not stop intake; compat32 is the fallback
        return email.message_from_bytes(raw, policy=policy.compat32)


def _as_compat(part: Message) -> Message:
    """A compat32 copy of the part's header fields, for when policy.default raises on one of them."""
    copy = email.message.Message(policy=policy.compat32)
    for name, value in part.raw_items():
        copy[name] = value
    return copy


def _read_info(part: Message) -> PartInfo:
    declared = part.get("content-type") is not None
    content_type = part.get_content_type()
    if not _CONTENT_TYPE.match(content_type):
        content_type = "text/plain"
    charset = part.get_param("charset")
    disposition = part.get_content_disposition()
    filename = part.get_filename()
    if filename is None:
        name = part.get_param("name")
        filename = name if isinstance(name, str) else None
    content_id = part.get("content-id")
    description = part.get("content-description")
    location = part.get("content-location")
    return PartInfo(
        content_type=content_type.lower(),
        declared_type=declared,
        charset=charset if isinstance(charset, str) else None,
        disposition=disposition,
        filename=_clean_filename(filename),
        content_id=_clean_id(str(content_id)) if content_id is not None else None,
        description=decode_words(str(description)).strip() if description is not None else None,
        location=str(location).strip() if location is not None else None,
    )


def read_info(part: Message) -> PartInfo:
    """Read a part's header facts; falls back to compat32 parsing when policy.default raises."""
    try:
        return _read_info(part)
    except Exception:  # noqa: BLE001 - a malformed header must not lose the part
        return _read_info(_as_compat(part))


def _clean_filename(value: str | None) -> str | None:
    if value is None:
        return None
    value = decode_words(str(value)).replace("\r", "").replace("\n", "").strip()
    return value or None


def _clean_id(value: str) -> str | None:
    value = value.strip()
    if value.startswith("<"):
        value = value[1:]
    if value.endswith(">"):
        value = value[:-1]
    value = value.strip()
    return value or None


def walk_leaves(message: Message, limits: Limits) -> Tree:
    """Flatten the tree without recursion; message/rfc822 parts stay leaves (attached as .eml)."""
    leaves: list[Leaf] = []
    defects: list[str] = []
    breach: LimitBreach | None = None
    containers = 0
    # (part, depth, alternative index, related index, is related root)
    stack: list[tuple[Message, int, int | None, int | None, bool]] = [(message, 0, None, None, False)]
    while stack:
        part, depth, alternative, related, related_root = stack.pop()
        if len(leaves) + containers >= limits.max_parts:
            breach = LimitBreach.PARTS
            defects.append("limit:parts")
            break
        if depth > limits.max_depth:
            breach = LimitBreach.DEPTH
            defects.append("limit:depth")
            break
        info = read_info(part)
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list) and not info.content_type.startswith("message/"):
            containers += 1
            subtype = info.content_type.partition("/")[2]
            children: list[Message] = [child for child in payload if isinstance(child, Message)]
            if subtype == "alternative":
                alternative = containers
            if subtype == "related":
                related = containers
            for index in range(len(children) - 1, -1, -1):
                root = subtype == "related" and index == 0
                stack.append((children[index], depth + 1, alternative, related, root or related_root))
            continue
        leaves.append(Leaf(part, info, alternative, related, related_root))
    return Tree(tuple(leaves), tuple(defects), breach)


def collect_defects(message: Message, limit: int = 50) -> list[str]:
    """The stdlib parser's own defect reports, as short snake_case strings, for every part."""
    found: list[str] = []
    stack: list[Message] = [message]
    seen = 0
    while stack and seen < limit * 10:
        part = stack.pop()
        seen += 1
        for defect in getattr(part, "defects", []):
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(defect).__name__).lower()
            name = name.removesuffix("_defect")
            entry = {
                "start_boundary_not_found": "truncated_multipart",
                "close_boundary_not_found": "truncated_multipart",
                "multipart_invariant_violation": "truncated_multipart",
            }.get(name, name)
            if entry not in found:
                found.append(entry)
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(child for child in payload if isinstance(child, Message))
        if len(found) >= limit:
            break
    return found
