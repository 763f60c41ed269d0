"""Extracting every threading signal from a parsed message, and its `postroom inspect` record."""

from __future__ import annotations

import pytest

from postroom.mail.parse import parse_message
from postroom.mail.threads import extract_thread_signals, thread_record
from postroom.mail.tokens import (
    ThreadToken,
    build_html_marker,
    build_message_id,
    build_reply_address,
    build_text_marker,
    build_token,
)

KEY = b"tenant-one-threading-secret-32by"
ZAMMAD = r"\[Ticket#(\d+)\]"
ROOT = "AQHN0Wlv/YXxN5hYKEuzRN8KaxaKiA=="


def _message(headers: str, body: str = "Thanks!\r\n") -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\n\r\n" + body).encode("utf-8")


def test_a_reply_from_outlook_carries_every_signal() -> None:
    """GIVEN an Outlook reply with references, a tagged address, a quoted marker and a Thread-Index
    WHEN signals are extracted THEN each one is there, in the documented order."""
    tokens = [build_token(ThreadToken(7, n, "k1"), KEY) for n in (1, 2, 3)]
    parent = build_message_id(tokens[1], "desk.example")
    raw = _message(
        f"""
From: Jane <jane@example.org>
To: Help Desk <{build_reply_address("help@desk.example", tokens[0])}>
Cc: boss@example.org
Subject: AW: [PR-000007] Drucker defekt [Ticket#4711]
Message-ID: <reply-1@example.org>
In-Reply-To: <{parent}>
References: <first@example.org>
 <{parent}>
Thread-Index: AQHN0Wlv/YXxN5hYKEuzRN8KaxaKiJgNBfNQ
""",
        f"Danke!\r\n\r\n> Ihr Drucker ist repariert.\r\n> {build_text_marker(tokens[2])}\r\n",
    )
    signals = extract_thread_signals(parse_message(raw), ticket_prefix="PR", foreign_patterns=[ZAMMAD])
    assert signals.subject_normalized == "[PR-000007] Drucker defekt [Ticket#4711]"
    assert signals.subject_prefix == "reply"
    assert signals.ticket_numbers == (7,)
    assert signals.foreign_refs == ("4711",)
    assert signals.ticket_refs == ("PR-000007", "4711")
    assert signals.tokens == (tokens[1], tokens[0], tokens[2])  # Message-IDs, then addresses, then the body
    assert signals.thread_index is not None and signals.thread_index.root == ROOT
    assert signals.message_ids == (parent, "first@example.org")  # the id in both headers appears once


def test_message_ids_are_in_reply_to_then_references_newest_first() -> None:
    """GIVEN References oldest first WHEN extracted THEN the direct parent leads and the rest follow newest first."""
    raw = _message("""
Subject: Re: x
In-Reply-To: <c@x>
References: <a@x> <b@x> <c@x>
""")
    assert extract_thread_signals(parse_message(raw), ticket_prefix="PR").message_ids == ("c@x", "b@x", "a@x")


def test_tokens_from_delivered_to_and_html() -> None:
    """GIVEN a token only in Delivered-To and another only in the HTML body WHEN extracted THEN both are found."""
    first, second = (build_token(ThreadToken(1, n, "k1"), KEY) for n in (10, 11))
    raw = _message(
        f"""
To: Support <support@desk.example>
Delivered-To: {build_reply_address("support@desk.example", first).upper()}
Subject: question
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
""",
        f"<p>Hello</p><blockquote>{build_html_marker(second)}</blockquote>\r\n",
    )
    assert extract_thread_signals(parse_message(raw), ticket_prefix="PR").tokens == (first, second)


def test_a_new_message_has_no_signals() -> None:
    """GIVEN a first message WHEN extracted THEN only the subject is there, and the inspect record says so."""
    raw = _message("""
From: jane@example.org
Subject: [EXTERNAL] Printer on floor 3
Message-ID: <new@example.org>
""")
    signals = extract_thread_signals(parse_message(raw), ticket_prefix="PR")
    assert (signals.ticket_refs, signals.tokens, signals.thread_index, signals.message_ids) == ((), (), None, ())
    assert signals.subject_prefix is None
    assert thread_record(signals) == {
        "subject_normalized": "Printer on floor 3",
        "ticket_refs": [],
        "tokens": [],
        "thread_index": None,
    }


def test_record_keys_and_values() -> None:
    """GIVEN a reply with a reference, a token and a Thread-Index WHEN recorded THEN JSON-ready values come out."""
    token = build_token(ThreadToken(3, 4, "k1"), KEY)
    raw = _message(f"""
Subject: RE: [PR-000003] Printer
In-Reply-To: <{build_message_id(token, "desk.example")}>
Thread-Index: AQHN0Wlv/YXxN5hYKEuzRN8KaxaKiJgNBfNQ
""")
    record = thread_record(extract_thread_signals(parse_message(raw), ticket_prefix="PR"))
    assert list(record) == ["subject_normalized", "ticket_refs", "tokens", "thread_index"]
    assert record == {
        "subject_normalized": "[PR-000003] Printer",
        "ticket_refs": ["PR-000003"],
        "tokens": [token],
        "thread_index": ROOT,
    }


def test_a_broken_thread_index_is_ignored_and_a_bad_pattern_is_a_configuration_error() -> None:
    """GIVEN garbage in Thread-Index WHEN extracted THEN it is None; GIVEN a bad foreign pattern THEN ValueError."""
    parsed = parse_message(_message("Subject: Re: x\nThread-Index: not-an-index"))
    assert extract_thread_signals(parsed, ticket_prefix="PR").thread_index is None
    with pytest.raises(ValueError, match="capture group"):
        extract_thread_signals(parsed, ticket_prefix="PR", foreign_patterns=[r"\[Ticket#\d+\]"])
