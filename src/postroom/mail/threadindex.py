"""Read Outlook's Thread-Index header: the conversation it belongs to and how deep in it the message is.

The header is base64 of PidTagConversationIndex ([MS-OXOMSG] section 2.2.1.3): a 22-byte header block (one
reserved byte 0x01, the 40 high bits of a FILETIME, a 16-byte conversation GUID) and one 5-byte child block per
reply or forward. Every message of a conversation shares the header block, so its base64 is the key to index on.

Older Outlook versions (ScCreateConversationIndex up to Outlook 2007) write the 48 high bits of the FILETIME in the
first 6 bytes instead; since FILETIME's top byte is 0x01 between 1858 and 2140, both forms start with 0x01 and
are told apart by the second byte (0x01 only in the newer form).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Final

HEADER_BYTES: Final = 22
CHILD_BYTES: Final = 5
RESERVED: Final = 0x01  # "Reserved (8 bits): Set to 0x01."
FILETIME_SHIFT: Final = 24  # the 24 least significant FILETIME bits are left out of the header block
OLD_FILETIME_SHIFT: Final = 16  # the older form leaves out 16 bits
FILETIME_EPOCH: Final = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)  # FILETIME counts 100 ns ticks from here
MAX_DEPTH: Final = 500  # child blocks; a real conversation nests far less (our bound, keeps the value < 4 KB)
MAX_CHARS: Final = 4 * (HEADER_BYTES + CHILD_BYTES * MAX_DEPTH) // 3 + 64  # base64 plus stray whitespace


@dataclass(frozen=True, slots=True)
class ThreadIndex:
    """One parsed Thread-Index value; base64 fields are canonical (padded, no whitespace)."""

    value: str  # the whole index
    root: str  # the 22-byte header block: the conversation key
    parent: str | None  # the index of the message this one answers; None for the first message
    conversation_guid: str  # 32 lower-case hex digits, in the order the header stores them
    depth: int  # child blocks: 0 for the first message, 1 for a reply to it, ...
    started_at: dt.datetime  # when the conversation started, to about 1.7 s (a sender's clock, not trusted)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def parse_thread_index(value: str) -> ThreadIndex | None:
    """The Thread-Index, or None when the value is not one (wrong length, bad base64, wrong reserved byte)."""
    if len(value) > MAX_CHARS:
        return None
    compact = "".join(value.split())
    try:
        data = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(data) < HEADER_BYTES or (len(data) - HEADER_BYTES) % CHILD_BYTES or data[0] != RESERVED:
        return None
    depth = (len(data) - HEADER_BYTES) // CHILD_BYTES
    return ThreadIndex(
        value=_b64(data),
        root=_b64(data[:HEADER_BYTES]),
        parent=_b64(data[:-CHILD_BYTES]) if depth else None,
        conversation_guid=data[6:HEADER_BYTES].hex(),
        depth=depth,
        started_at=_read_start(data),
    )


def _read_start(data: bytes) -> dt.datetime:
    # with the leading 0x01 either form stays below 2**57 ticks (the year 2057): no overflow is possible
    if data[1] == RESERVED:
        ticks = int.from_bytes(data[1:6], "big") << FILETIME_SHIFT
    else:
        ticks = int.from_bytes(data[0:6], "big") << OLD_FILETIME_SHIFT
    return FILETIME_EPOCH + dt.timedelta(microseconds=ticks // 10)
