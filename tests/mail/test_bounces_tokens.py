"""VERP return paths: a signed token naming the outbound message in the envelope sender's local part."""

from __future__ import annotations

import pytest

from postroom.mail.tokens import (
    BOUNCE_PURPOSE,
    ThreadToken,
    TokenVerdict,
    build_bounce_address,
    build_reply_address,
    build_token,
    find_bounce_tokens,
    find_tokens,
    verify_token,
)

KEY = b"k" * 32
KEYS = {"k1": KEY}
MESSAGE = ThreadToken(ticket_id=42, message_id=1234, key_id="k1")


def test_bounce_address_round_trip() -> None:
    """
    GIVEN a bounce token for ticket 42, message 1234
    WHEN it is put into the envelope sender and found again in the address a bounce came back to
    THEN it verifies as a bounce token and names the same ticket and message
    """
    address = build_bounce_address("support@desk.example", build_token(MESSAGE, KEY, BOUNCE_PURPOSE))
    assert address.startswith("support+rb-") and address.endswith("@desk.example")
    [found] = find_bounce_tokens([f"<{address.upper()}>"])  # providers may change the case
    check = verify_token(found, KEYS, purpose=BOUNCE_PURPOSE)
    assert check.verdict is TokenVerdict.VALID and check.token == MESSAGE


def test_tampered_or_foreign_tokens_are_refused() -> None:
    """
    GIVEN a bounce token with one character changed, one signed with another key, and a reply token
    WHEN each is verified as a bounce token
    THEN none verifies: forged, unknown key, and a reply token never passes for a bounce token (nor the reverse)
    """
    token = build_token(MESSAGE, KEY, BOUNCE_PURPOSE)
    tampered = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert verify_token(tampered, KEYS, purpose=BOUNCE_PURPOSE).verdict is TokenVerdict.FORGED
    other = build_token(ThreadToken(42, 1234, "k9"), b"o" * 32, BOUNCE_PURPOSE)
    assert verify_token(other, KEYS, purpose=BOUNCE_PURPOSE).verdict is TokenVerdict.UNKNOWN_KEY
    reply = build_token(MESSAGE, KEY)
    assert verify_token(reply, KEYS, purpose=BOUNCE_PURPOSE).verdict is TokenVerdict.FORGED
    assert verify_token(token, KEYS).verdict is TokenVerdict.FORGED


def test_bounce_and_reply_addresses_do_not_mix() -> None:
    """
    GIVEN a reply address (+pr-) and a bounce address (+rb-) for the same message
    WHEN tokens are looked for
    THEN each finder sees only its own kind
    """
    reply = build_reply_address("support@desk.example", build_token(MESSAGE, KEY))
    bounce = build_bounce_address("support@desk.example", build_token(MESSAGE, KEY, BOUNCE_PURPOSE))
    assert find_bounce_tokens([reply]) == ()
    assert find_tokens(addresses=[bounce]) == ()
    assert len(find_bounce_tokens([reply, bounce, bounce])) == 1


def test_a_local_part_past_64_octets_is_refused() -> None:
    """
    GIVEN a long mailbox local part
    WHEN a bounce address is built
    THEN ValueError (RFC 5321 §4.5.3.1.1), so the sender falls back to the plain address
    """
    with pytest.raises(ValueError, match="64 octets"):
        build_bounce_address(f"{'s' * 40}@desk.example", build_token(MESSAGE, KEY, BOUNCE_PURPOSE))
