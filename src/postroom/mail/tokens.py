"""HMAC-signed threading tokens: build them for outbound mail, find them in replies, verify them.

A token names (ticket id, message id) and is signed with a per-tenant secret, so it binds the tenant too: a token
made for one tenant never verifies with another tenant's keys. Format, all lower case:

    <key_id>-<base32(varint(ticket_id) + varint(message_id) + tag)>
    tag = HMAC-SHA256(key, b"postroom-thread-v1|" + key_id + b"|" + varints)[:10]

Lower-case base32 (RFC 4648 section 6, no padding) and "-" are valid in a Message-ID's id-left (RFC 5322 section
3.6.4, dot-atom-text) and in a mailbox local part (RFC 5321 section 4.1.2), and survive providers that change the
case of addresses. Typical ids give 25-35 characters; the largest (2**63 - 1 twice, an 8-character key id) give 54.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html as html_entities
import re
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

DOMAIN_SEPARATION: Final = b"postroom-thread-v1|"
TAG_BYTES: Final = 10  # 80-bit tag: forging one by guessing takes 2**79 tries on average
MIN_KEY_BYTES: Final = 16  # 128-bit secrets at least
MAX_ID: Final = 2**63 - 1  # database bigint
MAX_VARINT_BYTES: Final = 9  # 63 bits in 7-bit groups
MARKER: Final = "pr"  # what announces a token in addresses, Message-IDs and body markers
MAX_LOCAL_PART_OCTETS: Final = 64  # RFC 5321 section 4.5.3.1.1
MAX_CANDIDATES: Final = 20  # tokens taken from one message; more is an attack or a loop (our bound)
MAX_SCAN_CHARS: Final = 1_000_000  # body text searched for markers (our bound)
RANDOM_BYTES: Final = 10  # the Message-ID's unique part: 80 random bits
# base32 of 12 (smallest payload) to 28 (largest) bytes is 20 to 45 characters
_SIGNED_SHAPE: Final = r"[a-z0-9]{1,8}-[a-z2-7]{20,45}"
_TOKEN: Final = re.compile(_SIGNED_SHAPE)
_KEY_ID: Final = re.compile(r"[a-z0-9]{1,8}")
_IN_MESSAGE_ID: Final = re.compile(rf"(?<![a-z0-9]){MARKER}-({_SIGNED_SHAPE})[.@]")
# a sub-address after "+" (Postfix/Exim/Gmail/Microsoft 365) or "-" (qmail), or the whole local part
_IN_LOCAL_PART: Final = re.compile(rf"(?:^|[+\-=.]){MARKER}-({_SIGNED_SHAPE})(?:$|[+=.])")
# VERP (envelope sender) tokens: own marker and own HMAC purpose, so a bounce address is never a reply address
BOUNCE_MARKER: Final = "rb"
BOUNCE_PURPOSE: Final = b"postroom-bounce-v1|"
_BOUNCE_IN_LOCAL_PART: Final = re.compile(rf"(?:^|[+\-=.]){BOUNCE_MARKER}-({_SIGNED_SHAPE})(?:$|[+=.])")
_IN_TEXT: Final = re.compile(rf"\[{MARKER}:({_SIGNED_SHAPE})\]", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True, slots=True)
class ThreadToken:
    """What a token names: a ticket, the outbound message it was sent with, and the signing key's id."""

    ticket_id: int
    message_id: int
    key_id: str


class TokenVerdict(StrEnum):
    VALID = "valid"
    FORGED = "forged"  # token-shaped, known key, but the tag does not verify
    UNKNOWN_KEY = "unknown_key"
    MALFORMED = "malformed"  # not token-shaped
    RETIRED_KEY = "retired_key"  # made with a key that is no longer accepted


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """The verdict on one token; `token` is set only when the tag verified (VALID, or RETIRED_KEY with its key)."""

    verdict: TokenVerdict
    token: ThreadToken | None
    text: str  # the token as found


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _read_varint(data: bytes, start: int) -> tuple[int, int] | None:
    """The value and the next offset; None when truncated, too long or not in its shortest form."""
    value = 0
    for index in range(MAX_VARINT_BYTES):
        if start + index >= len(data):
            return None
        byte = data[start + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if byte == 0 and index > 0:
                return None  # a trailing zero group: the same number has a shorter form
            return value, start + index + 1
    return None


def _tag(key: bytes, key_id: str, body: bytes, purpose: bytes = DOMAIN_SEPARATION) -> bytes:
    message = purpose + key_id.encode("ascii") + b"|" + body
    return hmac.new(key, message, hashlib.sha256).digest()[:TAG_BYTES]


def _b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def build_token(token: ThreadToken, key: bytes, purpose: bytes = DOMAIN_SEPARATION) -> str:
    """The token text for `token`, signed with `key`; ValueError for ids out of range, a bad key id or short key.

    `purpose` separates uses of the same key: a bounce token (BOUNCE_PURPOSE) never verifies as a reply token.
    """
    if not _KEY_ID.fullmatch(token.key_id):
        raise ValueError(f"key id must be 1-8 lower-case letters or digits: {token.key_id!r}")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"threading keys need at least {MIN_KEY_BYTES} bytes")
    for name, value in (("ticket_id", token.ticket_id), ("message_id", token.message_id)):
        if not 0 <= value <= MAX_ID:
            raise ValueError(f"{name} must be between 0 and {MAX_ID}: {value}")
    body = _varint(token.ticket_id) + _varint(token.message_id)
    return f"{token.key_id}-{_b32encode(body + _tag(key, token.key_id, body, purpose))}"


def verify_token(
    text: str, keys: Mapping[str, bytes], retired: Collection[str] = (), purpose: bytes = DOMAIN_SEPARATION
) -> TokenCheck:
    """Check one token against the tenant's keys (key id -> secret); never raises.

    Keys being rotated out stay in `keys` until no reply can carry them; listing a key id in `retired` makes its
    tokens RETIRED_KEY (still verified when its secret is known, so the caller can tell genuine from forged).
    """
    candidate = text.strip().lower()
    if not _TOKEN.fullmatch(candidate):
        return TokenCheck(TokenVerdict.MALFORMED, None, text)
    key_id, _, encoded = candidate.partition("-")
    try:
        data = base64.b32decode(encoded.upper() + "=" * (-len(encoded) % 8))
    except (binascii.Error, ValueError):
        return TokenCheck(TokenVerdict.MALFORMED, None, text)  # a length no byte string encodes to
    key = keys.get(key_id)
    if key is None:
        verdict = TokenVerdict.RETIRED_KEY if key_id in retired else TokenVerdict.UNKNOWN_KEY
        return TokenCheck(verdict, None, text)
    body, tag = data[:-TAG_BYTES], data[-TAG_BYTES:]
    # the last base32 character may carry unused bits: a changed unused bit is a changed token, not the same one
    canonical = _b32encode(data) == encoded
    if not hmac.compare_digest(_tag(key, key_id, body, purpose), tag) or not canonical:
        return TokenCheck(TokenVerdict.FORGED, None, text)
    ticket = _read_varint(body, 0)
    message = _read_varint(body, ticket[1]) if ticket is not None else None
    if ticket is None or message is None or message[1] != len(body):
        return TokenCheck(TokenVerdict.MALFORMED, None, text)  # signed by us yet unreadable: a bug, not an attack
    token = ThreadToken(ticket_id=ticket[0], message_id=message[0], key_id=key_id)
    verdict = TokenVerdict.RETIRED_KEY if key_id in retired else TokenVerdict.VALID
    return TokenCheck(verdict, token, text)


def _require_token(token_text: str) -> str:
    if not _TOKEN.fullmatch(token_text):
        raise ValueError(f"not a threading token: {token_text!r}")
    return token_text


def build_message_id(token_text: str, domain: str) -> str:
    """A fresh Message-ID carrying the token, without angle brackets: `pr-<token>.<random>@domain`.

    The random part makes it unique per outbound message even when the same token is sent twice (a re-send, a
    copy to a second recipient), as RFC 5322 section 3.6.4 requires.
    """
    if not domain or re.search(r"[\s<>@()\[\]\\,;:\"]", domain) or not domain.isascii():
        raise ValueError(f"not a usable Message-ID domain: {domain!r}")
    unique = _b32encode(secrets.token_bytes(RANDOM_BYTES))
    return f"{MARKER}-{_require_token(token_text)}.{unique}@{domain}"


def build_reply_address(base_address: str, token_text: str) -> str:
    """`support@x.com` -> `support+pr-<token>@x.com`; ValueError when the local part would pass 64 octets."""
    local, at, domain = base_address.rpartition("@")
    if not at or not local or not domain or local.startswith('"'):
        raise ValueError(f"need a plain local@domain address: {base_address!r}")
    tagged = f"{local}+{MARKER}-{_require_token(token_text)}"
    if len(tagged.encode("utf-8")) > MAX_LOCAL_PART_OCTETS:
        raise ValueError(f"the tagged local part would exceed {MAX_LOCAL_PART_OCTETS} octets: {tagged!r}")
    return f"{tagged}@{domain}"


def build_bounce_address(base_address: str, token_text: str) -> str:
    """The VERP return path (envelope sender) for one outbound message: `support@x.com` ->
    `support+rb-<token>@x.com`, with a token made with BOUNCE_PURPOSE. Bounces come back to it (RFC 5321 section
    4.5.5), so the address alone names the message they answer. ValueError past 64 octets of local part.
    """
    local, at, domain = base_address.rpartition("@")
    if not at or not local or not domain or local.startswith('"'):
        raise ValueError(f"need a plain local@domain address: {base_address!r}")
    tagged = f"{local}+{BOUNCE_MARKER}-{_require_token(token_text)}"
    if len(tagged.encode("utf-8")) > MAX_LOCAL_PART_OCTETS:
        raise ValueError(f"the tagged local part would exceed {MAX_LOCAL_PART_OCTETS} octets: {tagged!r}")
    return f"{tagged}@{domain}"


def find_bounce_tokens(addresses: Iterable[str]) -> tuple[str, ...]:
    """VERP token candidates in these addresses' local parts, lower case, each once; unverified (`verify_token`
    with `purpose=BOUNCE_PURPOSE`)."""
    found: list[str] = []
    for address in addresses:
        local = address.strip().strip("<>").rpartition("@")[0] or address.strip()
        for candidate in _BOUNCE_IN_LOCAL_PART.findall(local.lower()):
            if candidate not in found and len(found) < MAX_CANDIDATES:
                found.append(candidate)
    return tuple(found)


def build_text_marker(token_text: str) -> str:
    """The plain-text marker line, `[pr:<token>]`: no spaces, so wrapping never splits it, and quoting keeps it."""
    return f"[{MARKER}:{_require_token(token_text)}]"


def build_html_marker(token_text: str) -> str:
    """A visually hidden element carrying the text marker.

    `display:none` hides it in browsers and most clients; `mso-hide:all` in Outlook's Word renderer; the zero
    size, zero opacity and transparent colour in clients that drop `display`. A span is used, not an HTML comment,
    because many clients and gateways drop comments when they quote or sanitise.
    """
    style = (
        "display:none!important;mso-hide:all;font-size:0;line-height:0;max-height:0;max-width:0;"
        "opacity:0;overflow:hidden;color:transparent"
    )
    return f'<span style="{style}">{build_text_marker(token_text)}</span>'


def find_tokens(
    *, message_ids: Iterable[str] = (), addresses: Iterable[str] = (), text: str = "", html: str | None = None
) -> tuple[str, ...]:
    """Token candidates, lower case, each once, in this order: Message-IDs (References/In-Reply-To values),
    sub-addressed local parts, body markers in the text, body markers in the HTML. Unverified: see `verify_token`.
    """
    found: list[str] = []

    def add(candidates: Iterable[str]) -> None:
        for candidate in candidates:
            if candidate not in found and len(found) < MAX_CANDIDATES:
                found.append(candidate)

    for message_id in message_ids:
        add(_IN_MESSAGE_ID.findall(message_id.strip().strip("<>").lower()))
    for address in addresses:
        local = address.strip().strip("<>").rpartition("@")[0] or address.strip()
        add(_IN_LOCAL_PART.findall(local.lower()))
    add(match.lower() for match in _IN_TEXT.findall(text[:MAX_SCAN_CHARS]))
    if html:
        add(match.lower() for match in _IN_TEXT.findall(html_entities.unescape(html[:MAX_SCAN_CHARS])))
    return tuple(found)
