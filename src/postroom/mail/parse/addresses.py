"""Read address header fields into `Address` values, repairing what a person could still read."""

from __future__ import annotations

import re
from typing import Final

from postroom.mail.parse.words import decode_words
from postroom.mail.values import Address

MAX_ADDRESSES: Final = 1000  # per field; more is a mailing-list bomb, not a message (our own bound)
_ANGLE: Final = re.compile(r"<([^<>]*)>")
_BARE: Final = re.compile(r"[^\s<>()\",;:]+@[^\s<>()\",;:]+")
_QUOTED_LOCAL: Final = re.compile(r'"([^"]+)"@([^\s<>(),;"]+)')
_SPACED_AT: Final = re.compile(r"(?<=[\w.])[ \t]+@[ \t]*(?=[\w-])|(?<=[\w.])@[ \t]+(?=[\w-])")
_SPACES: Final = re.compile(r"[ \t\r\n]+")  # not \s: U+3000 belongs to CJK names
_COMMENT: Final = re.compile(r"\(([^()]*)\)")


def split_mailboxes(value: str) -> list[str]:  # noqa: PLR0912 - one character-level state machine
    """Split a field at commas (and semicolons) outside quotes, angle brackets and comments; drop groups."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = False
    angle = 0
    comment = 0
    escaped = False
    for index, ch in enumerate(value):
        if ch == "," and angle and not quoted and not comment and value.find(">", index) < 0:
            angle = 0  # an unclosed `<` must not swallow the rest of the list
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\" and (quoted or comment):
            current.append(ch)
            escaped = True
            continue
        if ch == '"' and not comment:
            quoted = not quoted
        elif not quoted:
            if ch == "(":
                comment += 1
            elif ch == ")" and comment:
                comment -= 1
            elif ch == "<" and not comment:
                angle += 1
            elif ch == ">" and angle and not comment:
                angle -= 1
            elif ch in ",;" and not angle and not comment:
                pieces.append("".join(current))
                current = []
                continue
            elif ch == ":" and not angle and not comment and "@" not in "".join(current):
                # "Group name:" opens an RFC 5322 group: the name is not a mailbox
                current = []
                continue
        current.append(ch)
    pieces.append("".join(current))
    if quoted:
        # an unbalanced quote swallowed the rest: fall back to a plain split
        return [p for p in value.split(",") if p.strip()]
    return [p for p in pieces if p.strip()]


def clean_address(address: str) -> str:
    """Normalise an address: no spaces or stray brackets/dots, domain lower case, local part as written."""
    address = _SPACES.sub("", address).strip("<>\"'.,;:[]")
    address = address.replace("mailto:", "") if address.lower().startswith("mailto:") else address
    if "@" not in address:
        return address
    local, _, domain = address.rpartition("@")
    domain = domain.strip(".>]").lower()
    local = local.lstrip("<")
    return f"{local}@{domain}" if local else domain


def clean_name(name: str) -> str:
    """Strip quotes, escapes and surrounding punctuation from a decoded display name."""
    name = _SPACES.sub(" ", name).strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1]
    name = name.replace('\\"', '"').replace("\\\\", "\\")
    name = name.strip().strip('"').strip()
    if name.startswith("(") and name.endswith(")"):
        name = name[1:-1].strip()
    return name


def parse_mailbox(piece: str) -> Address:
    """Read one mailbox: `Name <a@b>`, `a@b (Name)`, `a@b`, `Name a@b`, `"a@b"` and broken variants."""
    piece = _SPACED_AT.sub("@", piece)
    if "<" in piece and ">" not in piece:
        piece += ">"
    angle = _ANGLE.search(piece)
    if angle is not None:
        address = angle.group(1)
        rest = piece[: angle.start()] + piece[angle.end() :]
        name_part = _COMMENT.sub("", rest) if rest[: angle.start()].strip() else rest
        name = clean_name(decode_words(name_part.strip()))
        if not name:
            comments = _COMMENT.findall(rest)
            name = clean_name(decode_words(comments[0])) if comments else ""
        return Address(name=name, address=clean_address(address))
    comments = _COMMENT.findall(piece)
    bare_text = _COMMENT.sub(" ", piece)
    quoted_at = _QUOTED_LOCAL.search(bare_text)
    if quoted_at is not None:
        # "john smith"@example.com: a quoted local part (RFC 5322 3.4.1) is kept as written
        local, domain = quoted_at.group(1), quoted_at.group(2).strip(".>]").lower()
        return Address(name="", address=f'"{local}"@{domain}')
    bare = _BARE.search(bare_text)
    if bare is None:
        # no address at all: "MAILER-DAEMON (Mail Delivery System)" or just a name
        word = bare_text.strip()
        name = clean_name(decode_words(comments[0])) if comments else ""
        if word and " " not in word and not comments:
            return Address(name="", address=clean_address(word))
        return Address(name=name, address=clean_address(word) if " " not in word else "")
    address = bare.group(0)
    leftover = (bare_text[: bare.start()] + " " + bare_text[bare.end() :]).strip()
    name = clean_name(decode_words(leftover)) if leftover else ""
    if not name and comments:
        name = clean_name(decode_words(comments[0]))
    return Address(name=name, address=clean_address(address))


def parse_address_list(value: str) -> tuple[Address, ...]:
    """Read every mailbox of an address field (decoded lazily: names may hold encoded words)."""
    if not value.strip():
        return ()
    value = _SPACES.sub(" ", value)
    result: list[Address] = []
    for piece in split_mailboxes(value)[:MAX_ADDRESSES]:
        mailbox = parse_mailbox(piece)
        if mailbox.address or mailbox.name:
            result.append(mailbox)
    return tuple(result)
