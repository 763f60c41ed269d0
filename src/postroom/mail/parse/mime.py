"""Parse bytes with the stdlib `email` package and flatten the MIME tree into leaves, within limits."""

from __future__ import annotations

import email
import email.message
import re
from dataclasses import dataclass
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.policy import EmailPolicy
from typing import Any, Final

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


class _HeaderClasses(HeaderRegistry):
    """`HeaderRegistry` that builds each header class once: the stdlib creates a new class per fetch."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = super().__getitem__(key)
        return found


_HEADER_CLASSES: Final = _HeaderClasses()


class MemoPolicy(EmailPolicy):
    """`policy.default`, except that a fetched header field is parsed once per message, not per access.

    The stdlib parses a structured field again on every `get()`: the feed parser alone reads Content-Type
    four or five times per part, and `get_param()`, `get_boundary()` and `get_payload()` once more each.
    Results are keyed by the raw (name, value) pair, so they are exactly what `policy.default` returns.
    One instance per message: the memo lives as long as the parsed tree, and is never shared between messages.
    """

    _memo: dict[tuple[str, str], str]

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("header_factory", _HEADER_CLASSES)
        super().__init__(**kw)
        object.__setattr__(self, "_memo", {})  # policies are immutable: no plain attribute assignment

    def header_fetch_parse(self, name: str, value: str) -> str:
        if type(value) is not str:  # already a header object (set by the program, not by the parser)
            fetched: str = super().header_fetch_parse(name, value)
            return fetched
        key = (name, value)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = super().header_fetch_parse(name, value)
        return found


def parse_bytes(raw: bytes) -> Message:
    """Parse with `policy.default` (RFC 5322/6532 semantics); `compat32` if the modern parser raises."""
    try:
        return email.message_from_bytes(raw, policy=MemoPolicy())
    except RecursionError:
        raise
    except Exception:  # stdlib parser bugs must not stop intake; compat32 is the fallback
        return email.message_from_bytes(raw, policy=policy.compat32)


def _as_compat(part: Message) -> Message:
    """A compat32 copy of the part's header fields, for when policy.default raises on one of them."""
    copy = email.message.Message(policy=policy.compat32)
    for name, value in part.raw_items():
        copy[name] = value
    return copy


def _param(header: object, name: str) -> str | None:
    params = getattr(header, "params", None)
    if params is None:
        return None
    value = params.get(name)
    return value if isinstance(value, str) else None


def _raw_fields(part: Message) -> tuple[str | None, str | None, str | None]:
    """Content-ID, -Description and -Location as raw strings (policy.default would parse them: slow)."""
    found: dict[str, str] = {}
    for name, value in part.raw_items():
        key = name.lower()
        if key in ("content-id", "content-description", "content-location") and key not in found:
            found[key] = " ".join(str(value).split())
    return found.get("content-id"), found.get("content-description"), found.get("content-location")


def _read_info(part: Message) -> PartInfo:
    # each .get() of a structured field runs the policy.default parser again: read every field once
    content_type_field = part.get("content-type")
    disposition_field = part.get("content-disposition")
    content_type = str(getattr(content_type_field, "content_type", "") or "")
    if content_type_field is None or not _CONTENT_TYPE.match(content_type):
        content_type = part.get_default_type()
    disposition = getattr(disposition_field, "content_disposition", None)
    filename = _param(disposition_field, "filename") or _param(content_type_field, "name")
    content_id, description, location = _raw_fields(part)
    return PartInfo(
        content_type=content_type.lower(),
        declared_type=content_type_field is not None,
        charset=_param(content_type_field, "charset"),
        disposition=str(disposition).lower() if disposition else None,
        filename=_clean_filename(filename),
        content_id=_clean_id(str(content_id)) if content_id is not None else None,
        description=decode_words(str(description)).strip() if description is not None else None,
        location=str(location).strip() if location is not None else None,
    )


def _read_info_compat(part: Message) -> PartInfo:
    copy = _as_compat(part)
    charset = copy.get_param("charset")
    filename = copy.get_filename()
    name = copy.get_param("name")
    content_type = copy.get_content_type()
    if not _CONTENT_TYPE.match(content_type):
        content_type = "text/plain"
    content_id = copy.get("content-id")
    description = copy.get("content-description")
    location = copy.get("content-location")
    return PartInfo(
        content_type=content_type.lower(),
        declared_type=copy.get("content-type") is not None,
        charset=charset if isinstance(charset, str) else None,
        disposition=copy.get_content_disposition(),
        filename=_clean_filename(filename or (name if isinstance(name, str) else None)),
        content_id=_clean_id(str(content_id)) if content_id is not None else None,
        description=decode_words(str(description)).strip() if description is not None else None,
        location=str(location).strip() if location is not None else None,
    )


def read_info(part: Message) -> PartInfo:
    """Read a part's header facts; falls back to compat32 parsing when policy.default raises."""
    try:
        return _read_info(part)
    except Exception:  # a malformed header must not lose the part
        return _read_info_compat(part)


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
