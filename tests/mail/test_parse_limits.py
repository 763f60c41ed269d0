"""Hostile input: size, parts, depth and header limits; garbage; never an exception, never slow."""

from __future__ import annotations

import pytest

from postroom.mail.parse import parse_message
from postroom.mail.values import LimitBreach, Limits


def _nested(depth: int) -> bytes:
    head = b"From: a@example.com\r\nSubject: nested\r\n"
    opening = b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode() for i in range(depth)
    )
    closing = b"".join(f"\r\n--b{i}--\r\n".encode() for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\ndeep\r\n" + closing


def test_five_thousand_nested_multiparts_breach_depth_quickly() -> None:
    """
    GIVEN 5,000 nested multipart/mixed parts (the stdlib parser would recurse past the limit)
    WHEN the message is parsed
    THEN it returns fast with limit_breach DEPTH, a defect, and the headers
    """
    parsed = parse_message(_nested(5000))
    assert parsed.limit_breach is LimitBreach.DEPTH
    assert "limit:depth" in parsed.defects
    assert parsed.subject == "nested"
    assert not parsed.is_acceptable


def test_nesting_within_the_limit_is_parsed() -> None:
    """
    GIVEN 10 nested multiparts (the limit is 20)
    WHEN the message is parsed
    THEN the innermost text is the body and nothing is breached
    """
    parsed = parse_message(_nested(10))
    assert parsed.limit_breach is None
    assert parsed.text.strip() == "deep"


def test_deeply_nested_rfc822_parts_do_not_recurse_out() -> None:
    """
    GIVEN 400 message/rfc822 parts nested in each other (below the part limit, above Python's recursion)
    WHEN the message is parsed
    THEN it returns a ParsedMessage (a depth breach or the parsed outer message), never RecursionError
    """
    raw = b"Subject: outer\r\n" + b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n" * 400 + b"\r\nbody\r\n"
    parsed = parse_message(raw)
    assert parsed.subject == "outer"


def test_too_many_parts() -> None:
    """
    GIVEN 600 sibling parts (the limit is 500)
    WHEN the message is parsed
    THEN limit_breach is PARTS
    """
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(600))
    raw = b'Subject: many\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    parsed = parse_message(raw)
    assert parsed.limit_breach is LimitBreach.PARTS
    assert parsed.subject == "many"


def test_ten_megabyte_header_line() -> None:
    """
    GIVEN a 10 MB header line after the Subject
    WHEN the message is parsed
    THEN it returns fast with limit_breach HEADERS and the Subject read
    """
    raw = b"Subject: huge\r\nX-Big: " + b"a" * (10 * 1024 * 1024) + b"\r\n\r\nbody\r\n"
    parsed = parse_message(raw)
    assert parsed.limit_breach is LimitBreach.HEADERS
    assert parsed.subject == "huge"


def test_too_many_header_fields() -> None:
    """
    GIVEN 3,000 header fields (the limit is 2,000)
    WHEN the message is parsed
    THEN limit_breach is HEADERS
    """
    raw = b"Subject: fields\r\n" + b"X-A: b\r\n" * 3000 + b"\r\nbody\r\n"
    assert parse_message(raw).limit_breach is LimitBreach.HEADERS


def test_message_over_the_size_limit() -> None:
    """
    GIVEN a message larger than max_bytes
    WHEN the message is parsed
    THEN limit_breach is SIZE, checked before anything else, and the headers are still read
    """
    raw = b"Subject: big\r\n\r\n" + b"x" * 2000
    parsed = parse_message(raw, limits=Limits(max_bytes=1000))
    assert parsed.limit_breach is LimitBreach.SIZE
    assert parsed.subject == "big"
    assert parsed.text == ""


def test_huge_address_list_in_a_part_header_is_not_slow() -> None:
    """
    GIVEN a 900 kB To field of 30,000 addresses (under the header limit)
    WHEN the message is parsed
    THEN it finishes fast and keeps at most 1,000 addresses
    """
    addresses = b", ".join(b"user%d@example.com" % i for i in range(30000))
    parsed = parse_message(b"To: " + addresses + b"\r\nSubject: list\r\n\r\nbody\r\n")
    assert len(parsed.to) == 1000


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n",
        b"\x00\xff" * 1000,
        b"From \r\n",
        b"Content-Type: multipart/mixed\r\n\r\n--\r\n",
        b'Content-Type: multipart/mixed; boundary=""\r\n\r\n----\r\n',
        b"Content-Type: text/plain; charset=\xff\xfe\r\n\r\n\xff\xfe",
        b"Content-Transfer-Encoding: base64\r\n\r\n====",
        b'Content-Type: multipart/mixed; boundary="a"\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\n--a--',
        b"Date: Mon, 99 Foo 99999 99:99:99 +9999\r\n\r\n",
        b'From: <<<<>>>>@@@,,,;;;"""(((\r\n\r\n',
        b"Subject: =?utf-8?B?????=?= =?x?Q?=ZZ?=\r\n\r\n",
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    """
    GIVEN garbage bytes
    WHEN they are parsed
    THEN a ParsedMessage comes back
    """
    parsed = parse_message(raw)
    assert isinstance(parsed.defects, tuple)


def test_huge_mime_parameter_field_is_refused_before_the_stdlib_parses_it() -> None:
    """
    GIVEN a part whose Content-Disposition holds 20,000 encoded words (policy.default would take seconds
     and gigabytes on it)
    WHEN the message is parsed
    THEN it returns at once with limit_breach HEADERS and the defect limit:mime_field_bytes
    """
    words = b"=?utf-8?q?a?= " * 20000
    raw = (
        b'Subject: x\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b'Content-Disposition: attachment; filename="' + words + b'"\r\n\r\nhi\r\n--b--\r\n'
    )
    parsed = parse_message(raw)
    assert parsed.limit_breach is LimitBreach.HEADERS
    assert "limit:mime_field_bytes" in parsed.defects
