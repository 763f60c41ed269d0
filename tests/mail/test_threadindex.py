"""Outlook Thread-Index: the conversation key shared by a message and its replies ([MS-OXOMSG] 2.2.1.3)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom.mail.threadindex import parse_thread_index

GUID = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
STARTED = dt.datetime(2024, 3, 5, 14, 30, tzinfo=dt.UTC)


def _filetime(moment: dt.datetime) -> int:
    """100-ns ticks since 1601-01-01 UTC."""
    return (moment - dt.datetime(1601, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1) * 10


def _header(moment: dt.datetime = STARTED, guid: uuid.UUID = GUID) -> bytes:
    """A 22-byte header block as the spec lays it out: 0x01, the 40 high FILETIME bits big-endian, the GUID."""
    return b"\x01" + (_filetime(moment) >> 24).to_bytes(5, "big") + guid.bytes


def _child(delta_ticks: int, random_and_sequence: int = 0x5A) -> bytes:
    """One 5-byte child block: delta code 0, 31 bits of time difference (bits 18-48), 8 bits random/sequence."""
    return ((((delta_ticks >> 18) & 0x7FFFFFFF) << 8) | random_and_sequence).to_bytes(5, "big")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_a_first_message_and_its_reply_share_the_root() -> None:
    """GIVEN a first message's index and a reply's (the same plus one child block) WHEN parsed THEN roots match."""
    first_bytes = _header()
    reply_bytes = first_bytes + _child(3_600 * 10**7)
    first, reply = parse_thread_index(_b64(first_bytes)), parse_thread_index(_b64(reply_bytes))
    assert first is not None and reply is not None
    assert (first.depth, reply.depth) == (0, 1)
    assert first.root == reply.root == _b64(first_bytes)
    assert first.conversation_guid == reply.conversation_guid == GUID.hex
    assert first.parent is None
    assert reply.parent == first.value == _b64(first_bytes)
    assert abs(first.started_at - STARTED) < dt.timedelta(seconds=2)


def test_a_deeper_reply_names_its_parent() -> None:
    """GIVEN a reply to a reply WHEN parsed THEN depth is 2 and parent is the first reply's full index."""
    reply = _header() + _child(10**9)
    deeper = parse_thread_index(_b64(reply + _child(2 * 10**9, 0x13)))
    assert deeper is not None
    assert (deeper.depth, deeper.parent, deeper.root) == (2, _b64(reply), _b64(_header()))


def test_another_conversation_has_another_root() -> None:
    """GIVEN two conversations started the same second WHEN parsed THEN their roots differ by the GUID."""
    one = parse_thread_index(_b64(_header()))
    other = parse_thread_index(_b64(_header(guid=uuid.UUID(int=1))))
    assert one is not None and other is not None and one.root != other.root


@pytest.mark.parametrize(
    ("value", "root", "depth", "year"),
    [
        # Outlook 2010 and later: reserved byte, then the FILETIME starting with its own 0x01
        ("AQHN0Wlv/YXxN5hYKEuzRN8KaxaKiJgNBfNQ", "AQHN0Wlv/YXxN5hYKEuzRN8KaxaKiA==", 1, 2012),
        ("AQHSrJW/Plvrkd7dvEe1pr4cBZSIz6Gz0rpmgAAAyYaAASlrAIABavZw", "AQHSrJW/Plvrkd7dvEe1pr4cBZSIzw==", 4, 2017),
        # older Outlook: 48 FILETIME bits from the first byte on
        ("Ac2xIg1UWZ9khKyyT0yHHVxGjysbXQ==", "Ac2xIg1UWZ9khKyyT0yHHVxGjysbXQ==", 0, 2012),
        ("AdQDSn2ZjObO2qLmRLWd8iIbgua/6gBYoT0g", "AdQDSn2ZjObO2qLmRLWd8iIbgua/6g==", 1, 2018),
    ],
)
def test_values_seen_in_real_mail(value: str, root: str, depth: int, year: int) -> None:
    """GIVEN Thread-Index values from real messages WHEN parsed THEN root, depth and start year come out."""
    index = parse_thread_index(value)
    assert index is not None
    assert (index.root, index.depth) == (root, depth)
    assert index.started_at.year == year


def test_whitespace_and_missing_padding_are_tolerated() -> None:
    """GIVEN a folded value without its padding WHEN parsed THEN it reads like the clean one."""
    clean = parse_thread_index("Ac2xIg1UWZ9khKyyT0yHHVxGjysbXQ==")
    assert parse_thread_index(" Ac2xIg1UWZ9khK\r\n yyT0yHHVxGjysbXQ") == clean


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not base64 at all!",
        _b64(_header()[:21]),  # one byte short
        _b64(_header() + b"\x00\x00\x00"),  # a partial child block
        _b64(b"\x02" + _header()[1:]),  # the reserved byte is not 0x01
        "A" * 100_000,
    ],
)
def test_garbage_is_none(value: str) -> None:
    """GIVEN values that are not a Thread-Index WHEN parsed THEN None."""
    assert parse_thread_index(value) is None


def test_the_latest_possible_time_is_read() -> None:
    """GIVEN a header block with every time bit set WHEN parsed THEN the time is read, not overflowed."""
    index = parse_thread_index(_b64(b"\x01\xff\xff\xff\xff\xff" + GUID.bytes))
    assert index is not None and index.started_at.year == 2057 and index.conversation_guid == GUID.hex


@given(st.text(max_size=200) | st.binary(max_size=120).map(_b64))
def test_never_raises(value: str) -> None:
    """GIVEN any text or base64 WHEN parsed THEN None or an index whose root is a prefix of its value."""
    index = parse_thread_index(value)
    if index is not None:
        assert base64.b64decode(index.value).startswith(base64.b64decode(index.root))
        assert len(base64.b64decode(index.root)) == 22
