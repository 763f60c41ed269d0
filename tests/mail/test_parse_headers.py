"""Header fields: addresses (with repairs), subject, message ids and the date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from postroom.mail.parse import parse_message
from postroom.mail.parse.addresses import parse_address_list
from postroom.mail.values import Address, ParsedMessage

Parse = Callable[[str], ParsedMessage]


def test_quotes_inside_an_encoded_word_are_not_part_of_the_name(parse_regression: Parse) -> None:
    """
    GIVEN From: =?UTF-8?Q?=22Frieda_H=C3=B6flich1=22?= <frieda.hoeflich1@example.com>
    WHEN the message is parsed
    THEN the display name is Frieda Höflich1, without the encoded quotes
    """
    parsed = parse_regression("encoded-word-quotes-in-display-name.eml")
    assert parsed.from_ == Address("Frieda Höflich1", "frieda.hoeflich1@example.com")


def test_a_decoded_name_with_a_comma_stays_one_mailbox(parse_regression: Parse) -> None:
    """
    GIVEN To: =?utf-8?B?...?= <Bernd.Mueller@Example.COM> whose name decodes to "Müller, Bernd"
    WHEN the message is parsed
    THEN it is one mailbox, the local part keeps its case, the domain is lower case,
     and the decoded header quotes the name
    """
    parsed = parse_regression("encoded-word-quotes-in-display-name.eml")
    assert parsed.to[0] == Address("Müller, Bernd", "Bernd.Mueller@example.com")
    assert dict(parsed.headers)["To"].startswith('"Müller, Bernd" <Bernd.Mueller@Example.COM>')


def test_broken_addresses_are_repaired(parse_regression: Parse) -> None:
    """
    GIVEN a trailing dot in a domain, comment style, a missing `>`, spaces around `@`, no brackets,
     an unbalanced quote and an empty `<>`
    WHEN the message is parsed
    THEN every mailbox a person could read is read, and the empty one is dropped
    """
    parsed = parse_regression("broken-addresses.eml")
    assert parsed.from_ == Address("Clement.Si", "Claudia.Shu@yahoo.com")
    assert parsed.to == (
        Address("Marc Smith", "marc.smith@example.com"),
        Address("John", "john@example.com"),
        Address("", "user@example.net"),
    )
    assert parsed.cc == (Address("Test", "test@example.com"), Address("unbalanced", "quote@example.com"))
    assert parsed.reply_to == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("MAILER-DAEMON (Mail Delivery System)", (Address("Mail Delivery System", "MAILER-DAEMON"),)),
        ('"Yangzhou ABC " <>, "LTD" <ly@example.com>', (Address("Yangzhou ABC", ""), Address("LTD", "ly@example.com"))),
        ('"john smith"@Example.com', (Address("", '"john smith"@example.com'),)),
        ("Undisclosed recipients:;", ()),
        ("group: a@example.com, b@example.com;", (Address("", "a@example.com"), Address("", "b@example.com"))),
        ("<mailto:x@example.com>", (Address("", "x@example.com"),)),
    ],
)
def test_address_lists(value: str, expected: tuple[Address, ...]) -> None:
    """
    GIVEN an address field value
    WHEN it is read
    THEN the mailboxes come out as a person reads them
    """
    assert parse_address_list(value) == expected


def test_from_falls_back_to_a_mailbox_with_an_address() -> None:
    """
    GIVEN a From field whose first mailbox is empty (`"x" <>`) and whose second has an address
    WHEN the message is parsed
    THEN from_ is the second mailbox
    """
    parsed = parse_message(b'From: "Yangzhou ABC " <>, "LTD" <ly@example.com>\r\nSubject: x\r\n\r\nbody\r\n')
    assert parsed.from_ == Address("LTD", "ly@example.com")


def test_subject_keeps_encoded_white_space_but_no_line_breaks() -> None:
    """
    GIVEN a folded subject made of encoded words, one ending in an encoded space
    WHEN the message is parsed
    THEN the words are joined without the folding white space, and the encoded space stays
    """
    raw = b"Subject: =?utf-8?Q?test_1234_=C3=A4=C3=B6=C3=BC_sig?=\r\n =?utf-8?Q?_test_?=\r\n\r\nx\r\n"
    assert parse_message(raw).subject == "test 1234 äöü sig test "


def test_subject_in_raw_shift_jis_bytes_labelled_iso_2022_jp() -> None:
    """
    GIVEN a subject of raw Shift_JIS bytes in a message whose body is labelled ISO-2022-JP
    WHEN the message is parsed
    THEN the subject is read with the Japanese sibling charset
    """
    raw = b"Subject: \x83c\x81[\x83\x8b\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\nx\r\n"
    assert parse_message(raw).subject == "ツール"


def test_iso_2022_jp_with_nec_extensions(parse_regression: Parse) -> None:
    """
    GIVEN an ISO-2022-JP subject, name and body, the body with an Outlook circled digit (NEC row 13)
    WHEN the message is parsed
    THEN all are decoded, the circled digit too
    """
    parsed = parse_regression("iso-2022-jp-subject-and-body.eml")
    assert parsed.subject == "メルマガ解除"
    assert parsed.from_ == Address("岡本和正", "mail@domain.jp")
    assert parsed.text.startswith("このアドレスへのメルマガを解除してください")
    assert parsed.text.rstrip().endswith("①")


def test_8bit_header_and_mbox_separator(parse_regression: Parse) -> None:
    """
    GIVEN a message starting with an mbox `From ` line and carrying raw Latin-1 header bytes
    WHEN the message is parsed
    THEN the separator is ignored and the headers are decoded with the body's charset
    """
    parsed = parse_regression("mbox-from-line-and-8bit-header.eml")
    assert parsed.from_ == Address("Ups Rémi", "r.ordonaud@example.com")
    assert parsed.subject == "Nouveau message élégibilité"
    assert parsed.message_id == "mbox@example.com"


def test_message_ids_without_brackets_and_garbage_tolerated() -> None:
    """
    GIVEN Message-ID, In-Reply-To and References with brackets, comments, duplicates and a bare id
    WHEN the message is parsed
    THEN ids come out without angle brackets, once each, in order
    """
    raw = (
        b"Message-ID: <a@example.com> (comment)\r\n"
        b"In-Reply-To: bare@example.com\r\n"
        b"References: <r1@example.com>\r\n <r2@example.com> junk <r1@example.com>\r\n\r\nx\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.message_id == "a@example.com"
    assert parsed.in_reply_to == ("bare@example.com",)
    assert parsed.references == ("r1@example.com", "r2@example.com")


def test_missing_date_uses_received_at(parse_regression: Parse) -> None:
    """
    GIVEN a message without a Date field
    WHEN it is parsed with and without a receive time
    THEN date is the receive time (or None) and the defect date_missing is reported
    """
    parsed = parse_regression("missing-date.eml")
    assert parsed.date is None
    assert "date_missing" in parsed.defects
    received = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.UTC)
    raw = b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    assert parse_message(raw, received_at=received).date == received


def test_unreadable_date_and_naive_date() -> None:
    """
    GIVEN a Date that cannot be read, and one with -0000
    WHEN each message is parsed
    THEN the first gives date_unparseable, the second an aware UTC datetime
    """
    bad = parse_message(b"Date: the day after tomorrow\r\n\r\nx\r\n")
    assert bad.date is None
    assert "date_unparseable" in bad.defects
    naive = parse_message(b"Date: Tue, 05 Mar 2024 10:00:00 -0000\r\n\r\nx\r\n")
    assert naive.date == dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.UTC)


def test_header_line_without_folding_white_space(parse_regression: Parse) -> None:
    """
    GIVEN junk before the first field and a folded line that lost its leading white space
    WHEN the message is parsed
    THEN the fields after it are still headers and the body is the body
    """
    parsed = parse_regression("header-fold-without-whitespace.eml")
    assert parsed.subject == "fold lost its white space"
    assert parsed.to == (Address("", "desk@example.org"),)
    assert parsed.text.strip() == "some text"
