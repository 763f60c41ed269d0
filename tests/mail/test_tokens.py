"""Signed threading tokens: round trips, forgery, key rotation, and finding them in replies."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom.mail.tokens import (
    ThreadToken,
    TokenVerdict,
    build_html_marker,
    build_message_id,
    build_reply_address,
    build_text_marker,
    build_token,
    find_tokens,
    verify_token,
)

OLD_KEY = b"old-secret-of-tenant-one-32bytes"
NEW_KEY = b"new-secret-of-tenant-one-32bytes"
OTHER_TENANT_KEY = b"secret-of-the-other-tenant-32byt"
TOKEN = ThreadToken(ticket_id=4711, message_id=90210, key_id="k2")
B32 = "abcdefghijklmnopqrstuvwxyz234567"


@pytest.fixture
def text() -> str:
    return build_token(TOKEN, NEW_KEY)


@pytest.mark.parametrize(
    "token",
    [
        ThreadToken(0, 0, "k"),
        ThreadToken(1, 2, "k1"),
        ThreadToken(123_456, 7_890_123, "k1"),
        ThreadToken(2**35, 2**35 + 1, "abc123"),
        ThreadToken(2**63 - 1, 2**63 - 1, "zzzzzzzz"),
    ],
)
def test_round_trip(token: ThreadToken) -> None:
    """GIVEN a token WHEN built and verified with its key THEN the same ids come back, in a safe lower-case shape."""
    built = build_token(token, NEW_KEY)
    assert re.fullmatch(r"[a-z0-9]+-[a-z2-7]+", built)
    check = verify_token(built, {token.key_id: NEW_KEY})
    assert (check.verdict, check.token, check.text) == (TokenVerdict.VALID, token, built)


def test_typical_tokens_are_short(text: str) -> None:
    """GIVEN realistic ids WHEN built THEN the token is well under 40 characters (it must fit a 64-octet local part)."""
    assert len(text) <= 30
    assert len(build_token(ThreadToken(2**34, 2**34, "k1"), NEW_KEY)) <= 40


@pytest.mark.parametrize(
    "token",
    # 15, 12 and 14 payload bytes: 0, 4 and 3 unused bits in the last base32 character
    [TOKEN, ThreadToken(1, 2, "k2"), ThreadToken(300, 70_000, "k2")],
)
def test_every_flipped_character_is_forged(token: ThreadToken) -> None:
    """GIVEN a genuine token WHEN any one base32 character is changed, even in unused bits, THEN it is FORGED."""
    key_id, _, body = build_token(token, NEW_KEY).partition("-")
    for index, original in enumerate(body):
        for step in (1, 16):  # +1 flips the lowest bit, which may be unused in the last character
            replacement = B32[(B32.index(original) + step) % len(B32)]
            tampered = f"{key_id}-{body[:index]}{replacement}{body[index + 1 :]}"
            assert verify_token(tampered, {"k2": NEW_KEY}).verdict is TokenVerdict.FORGED, (index, step)


def test_another_tenants_key_does_not_verify(text: str) -> None:
    """GIVEN a token of one tenant WHEN checked with another tenant's key of the same id THEN it is forged."""
    check = verify_token(text, {"k2": OTHER_TENANT_KEY})
    assert (check.verdict, check.token) == (TokenVerdict.FORGED, None)


def test_unknown_key_id(text: str) -> None:
    """GIVEN a token signed with a key id the tenant does not have WHEN checked THEN UNKNOWN_KEY, with no ids."""
    check = verify_token(text, {"k1": OLD_KEY})
    assert (check.verdict, check.token) == (TokenVerdict.UNKNOWN_KEY, None)


def test_key_rotation() -> None:
    """GIVEN tokens under an old and a new key WHEN the old one is kept, then retired THEN verdicts follow the state."""
    old = build_token(ThreadToken(1, 2, "k1"), OLD_KEY)
    new = build_token(ThreadToken(3, 4, "k2"), NEW_KEY)
    both = {"k1": OLD_KEY, "k2": NEW_KEY}
    assert verify_token(old, both).verdict is TokenVerdict.VALID
    assert verify_token(new, both).verdict is TokenVerdict.VALID
    retired = verify_token(old, both, retired={"k1"})
    assert (retired.verdict, retired.token) == (TokenVerdict.RETIRED_KEY, ThreadToken(1, 2, "k1"))
    forged_retired = verify_token(old[:-3] + ("aaa" if not old.endswith("aaa") else "bbb"), both, retired={"k1"})
    assert forged_retired.verdict is TokenVerdict.FORGED
    gone = verify_token(old, {"k2": NEW_KEY}, retired={"k1"})
    assert (gone.verdict, gone.token) == (TokenVerdict.RETIRED_KEY, None)
    assert verify_token(new, {"k2": NEW_KEY}, retired={"k1"}).verdict is TokenVerdict.VALID


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "k2",
        "k2-",
        "no dash at all",
        "k2-abc",
        "k2-" + "a" * 60,
        "k2-abcdefgh01abcdefghabcd",
        "keyidtoolong-" + "a" * 24,
    ],
)
def test_malformed(candidate: str) -> None:
    """GIVEN text that is not token-shaped WHEN checked THEN MALFORMED, whatever keys exist."""
    assert verify_token(candidate, {"k2": NEW_KEY}).verdict is TokenVerdict.MALFORMED


def test_upper_case_copies_still_verify(text: str) -> None:
    """GIVEN a token whose case a provider changed WHEN checked THEN it verifies; the text is kept as found."""
    check = verify_token(text.upper(), {"k2": NEW_KEY})
    assert (check.verdict, check.token, check.text) == (TokenVerdict.VALID, TOKEN, text.upper())


@pytest.mark.parametrize(
    ("token", "key", "reason"),
    [
        (ThreadToken(-1, 1, "k1"), NEW_KEY, "ticket_id"),
        (ThreadToken(1, 2**63, "k1"), NEW_KEY, "message_id"),
        (ThreadToken(1, 1, "K1"), NEW_KEY, "key id"),
        (ThreadToken(1, 1, "k-1"), NEW_KEY, "key id"),
        (ThreadToken(1, 1, "k1"), b"short", "at least 16 bytes"),
    ],
)
def test_build_refuses_bad_input(token: ThreadToken, key: bytes, reason: str) -> None:
    """GIVEN out-of-range ids, a bad key id or a short key WHEN building THEN ValueError says which."""
    with pytest.raises(ValueError, match=reason):
        build_token(token, key)


def test_message_ids_are_unique_and_carry_the_token(text: str) -> None:
    """GIVEN one token WHEN two Message-IDs are built THEN they differ, are valid id shapes, and both carry it."""
    first, second = build_message_id(text, "desk.example.com"), build_message_id(text, "desk.example.com")
    assert first != second
    assert re.fullmatch(r"[a-z0-9.\-]+@desk\.example\.com", first)
    assert find_tokens(message_ids=[f"<{first}>", second]) == (text,)
    with pytest.raises(ValueError, match="domain"):
        build_message_id(text, "bad domain")
    with pytest.raises(ValueError, match="not a threading token"):
        build_message_id("not-a-token", "desk.example.com")


def test_reply_address(text: str) -> None:
    """GIVEN a support address WHEN tagged THEN the token sits in a sub-address, and long local parts are refused."""
    address = build_reply_address("support@example.com", text)
    assert address == f"support+pr-{text}@example.com"
    assert len(address.partition("@")[0]) <= 64
    with pytest.raises(ValueError, match="64 octets"):
        build_reply_address("a-very-long-local-part-for-the-support-team@example.com", text)
    with pytest.raises(ValueError, match="local@domain"):
        build_reply_address("support", text)


def test_tokens_found_in_addresses_even_after_lowercasing_or_uppercasing(text: str) -> None:
    """GIVEN the reply address as providers pass it on WHEN searched THEN the token is found, in lower case."""
    address = build_reply_address("Support@Example.com", text)
    for seen in (address, address.lower(), address.upper(), f"<{address}>"):
        assert find_tokens(addresses=[seen]) == (text,)
    assert find_tokens(addresses=[f"support-pr-{text}@example.com"]) == (text,)  # qmail-style extension


def test_text_marker_survives_quoting(text: str) -> None:
    """GIVEN the text marker quoted once or thrice and re-wrapped WHEN searched THEN the token is found."""
    marker = build_text_marker(text)
    assert marker == f"[pr:{text}]"
    quoted = f"Thanks!\n\nOn Monday you wrote:\n> Your printer is fixed.\n>\n> {marker}\n"
    assert find_tokens(text=quoted) == (text,)
    assert find_tokens(text="> > > " + marker.upper()) == (text,)
    assert find_tokens(
        text=f"a very long quoted line that the client wrapped right before the marker\n>> {marker}"
    ) == (text,)


def test_html_marker_is_hidden_and_found(text: str) -> None:
    """GIVEN the HTML marker inside a quoted reply WHEN searched THEN it is found; it is hidden from readers."""
    marker = build_html_marker(text)
    assert "display:none" in marker and "mso-hide:all" in marker and "<!--" not in marker
    html = f"<p>Thanks</p><blockquote type=cite><p>Fixed.</p>{marker}</blockquote>"
    assert find_tokens(html=html) == (text,)
    assert find_tokens(html=f"<p>&#91;pr:{text}&#93;</p>") == (text,)  # entities decoded


def test_order_and_deduplication(text: str) -> None:
    """GIVEN the same and other tokens in several places WHEN searched THEN each appears once, headers first."""
    other = build_token(ThreadToken(1, 1, "k2"), NEW_KEY)
    found = find_tokens(
        message_ids=[build_message_id(other, "x.example")],
        addresses=[build_reply_address("support@x.example", text)],
        text=build_text_marker(text),
        html=build_html_marker(other),
    )
    assert found == (other, text)


@pytest.mark.parametrize(
    "noise",
    [
        "Please see the attached PR, it fixes the bug.",
        "[pr:] [pr: k1-abc] pr-request@example.com",
        "https://example.com/pr-k1-aaaaaaaaaaaaaaaaaaaa",
        "[pr:k1_aaaaaaaaaaaaaaaaaaaaaaa]",
        "support+pr@example.com",
    ],
)
def test_no_false_positives_on_ordinary_text(noise: str) -> None:
    """GIVEN ordinary text that mentions pr WHEN searched THEN no candidate is found."""
    assert find_tokens(text=noise, html=noise, addresses=[noise], message_ids=[noise]) == ()


def test_found_tokens_verify(text: str) -> None:
    """GIVEN a reply carrying the token in all places WHEN the candidates are verified THEN exactly one is valid."""
    candidates = find_tokens(
        message_ids=[build_message_id(text, "x.example")], text="> " + build_text_marker(text).upper()
    )
    assert [verify_token(candidate, {"k2": NEW_KEY}).token for candidate in candidates] == [TOKEN]


@given(st.text(max_size=80), st.sets(st.sampled_from(["k1", "k2", "zz"])))
def test_verify_never_raises(candidate: str, retired: set[str]) -> None:
    """GIVEN any text WHEN verified THEN it returns a verdict, and only VALID/RETIRED_KEY carry ids."""
    check = verify_token(candidate, {"k1": OLD_KEY, "k2": NEW_KEY}, retired=retired)
    assert check.text == candidate
    if check.verdict not in (TokenVerdict.VALID, TokenVerdict.RETIRED_KEY):
        assert check.token is None


@given(st.text(alphabet=B32 + "-k", min_size=20, max_size=50))
def test_random_token_shapes_never_verify(body: str) -> None:
    """GIVEN random token-shaped text WHEN verified THEN it is never VALID (an 80-bit tag is not guessed)."""
    assert verify_token(f"k2-{body}", {"k2": NEW_KEY}).verdict is not TokenVerdict.VALID
