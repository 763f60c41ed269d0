"""Hypothesis: the parser never raises, on arbitrary bytes and on mutated real messages."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postroom.mail.parse import parse_message
from postroom.mail.values import ParsedMessage

REGRESSIONS = Path(__file__).resolve().parents[1] / "corpus" / "regressions"
ZAMMAD = Path(os.environ.get("POSTROOM_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))
ZAMMAD_MAIL = ZAMMAD / "zammad-parser" / "mail"
MAX_SEED_BYTES = 20_000  # small real mails keep each example fast
SEEDS = [path.read_bytes() for path in sorted(REGRESSIONS.glob("*.eml"))] + [
    path.read_bytes() for path in sorted(ZAMMAD_MAIL.glob("*.box")) if path.stat().st_size < MAX_SEED_BYTES
]
TOKENS = [
    b"\r\n",
    b"\n\n",
    b"--",
    b"--xx",
    b"--xx--",
    b"boundary=",
    b"=?utf-8?B?",
    b"?=",
    b'"',
    b"<",
    b">",
    b"\x00",
    b"\xff",
    b"Content-Type: multipart/mixed; boundary=xx\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"begin 644 x\r\n",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    """
    GIVEN any bytes
    WHEN they are parsed
    THEN a ParsedMessage comes back
    """
    assert isinstance(parse_message(raw), ParsedMessage)


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    """A real message with slices cut out, tokens inserted and bytes flipped."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        action = draw(st.sampled_from(["insert", "delete", "flip", "truncate"]))
        if action == "insert":
            data[position:position] = draw(st.sampled_from(TOKENS))
        elif action == "delete":
            del data[position : position + draw(st.integers(min_value=1, max_value=64))]
        elif action == "flip" and position < len(data):
            data[position] = draw(st.integers(min_value=0, max_value=255))
        elif action == "truncate":
            del data[position:]
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_messages())
def test_mutated_real_messages_never_raise(raw: bytes) -> None:
    """
    GIVEN a hand-written regression message or a small Zammad corpus mail (when present), mutated
    WHEN it is parsed
    THEN a ParsedMessage comes back and its values have the declared types
    """
    parsed = parse_message(raw)
    assert isinstance(parsed.subject, str)
    assert isinstance(parsed.text, str)
    assert all(isinstance(attachment.payload, bytes) for attachment in parsed.attachments)
