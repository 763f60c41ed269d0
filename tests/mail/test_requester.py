"""Choosing the requester address of an inbound message."""

from __future__ import annotations

import pytest

from postroom.mail.parse import parse_message
from postroom.mail.requester import find_requester, is_usable_address
from postroom.mail.values import Address


@pytest.mark.parametrize(
    ("address", "usable"),
    [
        ("jane@example.org", True),
        ('"Millions Lottery Spain transfer"@example.com', True),
        ("MAILER-DAEMON", False),
        ("redacted@redacted", False),
        ("jane doe@example.org", False),
        ("jane@exa mple.org", False),
        ("", False),
    ],
)
def test_usable_addresses(address: str, usable: bool) -> None:
    """GIVEN an address WHEN checked THEN only answerable mailboxes pass."""
    assert is_usable_address(Address("", address)) is usable


def test_falls_back_from_from_to_reply_to_to_sender_to_envelope() -> None:
    """GIVEN an unusable From WHEN a Reply-To, Sender or envelope sender exists THEN the first usable one wins."""
    base = b"From: MAILER-DAEMON\r\nSubject: x\r\n"
    with_reply = parse_message(base + b"Reply-To: Help <help@example.org>\r\n\r\nbody\r\n")
    requester = find_requester(with_reply, "")
    assert requester is not None and (requester.source, requester.address.address) == ("Reply-To", "help@example.org")
    bare = parse_message(base + b"\r\nbody\r\n")
    assert find_requester(bare, "") is None
    envelope = find_requester(bare, "<bounce@example.net>")
    assert envelope is not None and envelope.source == "envelope sender"
