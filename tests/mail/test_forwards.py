"""Forwarded mail and embedded replies: unwrapping text and HTML bodies, and deciding what is a forward."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailfactory import build_mail
from postroom.mail.forwards import (
    detect_forward,
    parse_author,
    parse_reply_line,
    parse_written_date,
    quote_html,
    quote_text,
    unwrap_html,
    unwrap_text,
)
from postroom.mail.parse import parse_message
from postroom.mail.values import Address

GMAIL_FORWARD = (
    "Can you help this customer?\n\n"
    "---------- Forwarded message ---------\n"
    "From: Someone <someone@example.com>\n"
    "Date: Fri, Apr 26, 2013 at 8:13 PM\n"
    "Subject: Printer jammed\n"
    "To: sales@example.com\n\n"
    "The printer on floor 3 is jammed.\n"
)
OUTLOOK_GERMAN = (
    "Bitte prüfen.\n\n"
    "Von: Max Muster [mailto:max@example.de]\n"
    "Gesendet: Donnerstag, 5. März 2020 10:00\n"
    "An: support@example.com\n"
    "Betreff: Rechnung 42\n\n"
    "Hallo,\nanbei die Rechnung.\n"
)
OUTLOOK_FRENCH = (
    "Pour info.\n\n"
    "-----Message d'origine-----\n"
    "De : Marie Curie <marie@example.fr>\n"
    "Envoyé : mardi 24 mars 2020 14:31\n"
    "À : support@example.com\n"
    "Objet : Facture\n\n"
    "Bonjour, la facture est fausse.\n"
)
APPLE_FORWARD = (
    "FYI\n\n"
    "Begin forwarded message:\n\n"
    '> From: "Some One" <some.one@example.com>\n'
    "> Date: 1. August 2011 23:28:15 GMT-07:00\n"
    '> To: "Other Person" <other@example.com>\n'
    "> Subject: Broken login\n"
    ">\n"
    "> I cannot log in.\n"
)
THUNDERBIRD_TEXT = (
    "\n\n-------- Forwarded Message --------\n"
    "Subject: \tRe: Example subject\n"
    "Date: \tTue, 3 May 2016 14:54:27 +0200\n"
    "From: \tJohn Doe <johndoe@example.com>\n"
    "To: \tFoo Bar <foobar@example.com>\n\n"
    "Dear John,\n\nThis is a test.\n"
)
THUNDERBIRD_HTML = (
    '<html><body><p><br></p><div class="moz-forward-container"><br><br>-------- Forwarded Message --------'
    '<table class="moz-email-headers-table"><tbody>'
    "<tr><th>Subject: </th><td>Re: Example subject</td></tr>"
    "<tr><th>Date: </th><td>Tue, 3 May 2016 14:54:27 +0200 (CEST)</td></tr>"
    '<tr><th>From: </th><td>John Doe <a href="mailto:johndoe@example.com">&lt;johndoe@example.com&gt;</a></td></tr>'
    '<tr><th>To: </th><td>Foo Bar <a href="mailto:foobar@example.com">&lt;foobar@example.com&gt;</a></td></tr>'
    "</tbody></table><br><br><div>Dear John,</div><div><br></div><div>This is a test.</div></div></body></html>"
)
OUTLOOK_HTML = (
    '<html><body><div class="WordSection1"><p class="MsoNormal">See below.<o:p></o:p></p>'
    '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
    '<p class="MsoNormal"><b>From:</b> Jane Roe &lt;jane@example.com&gt;<br><b>Sent:</b> Wednesday, July 09, 2014'
    " 10:27 AM<br><b>To:</b> Support<br><b>Subject:</b> Broken VPN</p></div>"
    '<p class="MsoNormal">The VPN drops every hour.</p></div></body></html>'
)
GMAIL_REPLY = (
    "Thanks, that works.\n\nOn Wed, Mar 16, 2016 at 12:49 AM, Foo Bar <foo@bar.example> wrote:\n\n> Try again.\n"
)


def test_unwrap_text_reads_a_gmail_forward() -> None:
    """GIVEN a Gmail text forward WHEN unwrapped THEN the header values, the note above and the original come apart."""
    unwrapped = unwrap_text(GMAIL_FORWARD)
    assert unwrapped is not None
    assert (unwrapped.kind, unwrapped.from_, unwrapped.subject, unwrapped.to) == (
        "forward",
        "Someone <someone@example.com>",
        "Printer jammed",
        "sales@example.com",
    )
    assert unwrapped.date == "Fri, Apr 26, 2013 at 8:13 PM"
    assert unwrapped.text_top == "Can you help this customer?"
    assert unwrapped.text == "The printer on floor 3 is jammed."
    assert unwrapped.intro == "---------- Forwarded message ---------"


def test_unwrap_text_reads_a_reply() -> None:
    """GIVEN an "On ... wrote:" reply WHEN unwrapped THEN it is a reply with the quoted text unquoted."""
    unwrapped = unwrap_text(GMAIL_REPLY)
    assert unwrapped is not None
    assert (unwrapped.kind, unwrapped.from_, unwrapped.date) == (
        "reply",
        "Foo Bar <foo@bar.example>",
        "Wed, Mar 16, 2016 at 12:49 AM",
    )
    assert (unwrapped.text_top, unwrapped.text) == ("Thanks, that works.", "Try again.")


def test_unwrap_text_keeps_form_fields_of_the_original() -> None:
    """
    GIVEN a forwarded web-form submission whose body is "Name: value" lines below the header block
    WHEN unwrapped
    THEN the form fields stay in the original's text instead of being read as more headers
    """
    body = "fyi\n\n-----Original Message-----\nFrom: Web <web@example.com>\nSubject: Form\n\nName: Jane\nPhone: 123\n"
    unwrapped = unwrap_text(body)
    assert unwrapped is not None
    assert unwrapped.text == "Name: Jane\nPhone: 123"


@pytest.mark.parametrize("text", ["", "Hello\n\nJust a message.\n", "Note: a colon\n> one quoted line\n"])
def test_unwrap_text_finds_nothing_in_plain_messages(text: str) -> None:
    """GIVEN a message without intro, header block or quote block WHEN unwrapped THEN the answer is None."""
    assert unwrap_text(text) is None


def test_quote_text_splits_at_the_intro_line() -> None:
    """GIVEN a reply WHEN split THEN the new text ends with the intro line, or the quote starts with it on request."""
    assert quote_text(GMAIL_REPLY)[0] == (
        True,
        "Thanks, that works.\n\nOn Wed, Mar 16, 2016 at 12:49 AM, Foo Bar <foo@bar.example> wrote:",
    )
    assert quote_text(GMAIL_REPLY, quote_intro_line=True)[1][1].startswith("On Wed")
    assert quote_text("no quote here") == [(True, "no quote here")]


def test_unwrap_html_reads_an_outlook_border_rule_forward() -> None:
    """
    GIVEN Outlook HTML whose forwarded header block is introduced by a border-top <div> only
    WHEN unwrapped
    THEN the headers are read and the HTML parts split around the block
    """
    unwrapped = unwrap_html(OUTLOOK_HTML)
    assert unwrapped is not None
    assert (unwrapped.kind, unwrapped.from_, unwrapped.subject) == (
        "forward",
        "Jane Roe <jane@example.com>",
        "Broken VPN",
    )
    assert unwrapped.html is not None and "The VPN drops every hour." in unwrapped.html
    assert "From:" not in unwrapped.html
    assert unwrapped.html_top is not None and "See below." in unwrapped.html_top
    assert unwrapped.text == "The VPN drops every hour."


def test_quote_html_splits_a_gmail_reply() -> None:
    """GIVEN a Gmail HTML reply WHEN split THEN the blockquote is the quoted part."""
    html = (
        '<div>Sure.</div><div class="gmail_quote">On Thu, Dec 18, 2014 at 10:02 AM, foo wrote:'
        "<blockquote>x</blockquote>"
    )
    new, quoted = quote_html(html)
    assert new[0] and "Sure." in new[1] and "<blockquote" not in new[1]
    assert not quoted[0] and "<blockquote>x</blockquote>" in quoted[1]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("On Feb 22, 2015, at 9:19 PM, John <j@x.org> wrote:", ("Feb 22, 2015, at 9:19 PM", "John <j@x.org>")),
        ("Am 24.02.2015 um 22:48 schrieb John <j@doe.example>:", ("24.02.2015 um 22:48", "John <j@doe.example>")),
        ("Il giorno 3 mar 2020, alle ore 10:00, Mario ha scritto:", ("giorno 3 mar 2020, alle ore 10:00", "Mario")),
        ("> On Mon, Jan 6, 2020 at 10:00 AM, Doe, J <j@x.org> wrote:", ("Mon, Jan 6, 2020 at 10:00 AM", "Doe, J <j@x.org>")),  # noqa: E501 - one row per case
        ("Hello world", None),
    ],
)  # fmt: skip
def test_parse_reply_line(line: str, expected: tuple[str, str] | None) -> None:
    """GIVEN an intro line WHEN parsed THEN date and author come apart (None for other lines)."""
    assert parse_reply_line(line) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fri, Apr 26, 2013 at 8:13 PM", dt.datetime(2013, 4, 26, 20, 13, tzinfo=dt.UTC)),
        ("Tue, 3 May 2016 14:54:27 +0200 (CEST)", dt.datetime(2016, 5, 3, 12, 54, 27, tzinfo=dt.UTC)),
        ("1. August 2011 23:28:15 GMT-07:00", dt.datetime(2011, 8, 2, 6, 28, 15, tzinfo=dt.UTC)),
        ("Среда, 14 июня 2017, 15:19 +03:00", dt.datetime(2017, 6, 14, 12, 19, tzinfo=dt.UTC)),
        ("Donnerstag, 5. März 2020 10:00", dt.datetime(2020, 3, 5, 10, 0, tzinfo=dt.UTC)),
        ("mardi 24 mars 2020 14:31", dt.datetime(2020, 3, 24, 14, 31, tzinfo=dt.UTC)),
        ("Thursday, September 4, 2025 at 11:30:41 AM EDT", dt.datetime(2025, 9, 4, 15, 30, 41, tzinfo=dt.UTC)),
        ("26.04.2013 20:13", dt.datetime(2013, 4, 26, 20, 13, tzinfo=dt.UTC)),
        ("2013年4月26日 下午8:13", dt.datetime(2013, 4, 26, 20, 13, tzinfo=dt.UTC)),
        ("04/05/2013 8:13 PM", None),  # April 5th or May 4th: not guessed
        ("8 o'clock", None),
        ("", None),
    ],
)
def test_parse_written_date(text: str, expected: dt.datetime | None) -> None:
    """GIVEN a date as a mail client wrote it WHEN read THEN it is the aware instant, or None when unreadable."""
    assert parse_written_date(text) == expected


def test_parse_written_date_uses_the_default_zone() -> None:
    """GIVEN a date without a zone WHEN read with the forwarding message's zone THEN that zone applies."""
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert parse_written_date("26 april 2013 20:13", berlin) == dt.datetime(2013, 4, 26, 20, 13, tzinfo=berlin)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Someone <noreply@example.com>", Address("Someone", "noreply@example.com")),
        ("John Doe [mailto:john@example.com]", Address("John Doe", "john@example.com")),
        ("Foo Bar (foo@bar.example)", Address("Foo Bar", "foo@bar.example")),
        ("John Doe", Address("John Doe", "")),
        ("", None),
    ],
)
def test_parse_author(value: str, expected: Address | None) -> None:
    """GIVEN a From value as a client wrote it WHEN read THEN it is a mailbox (a bare name has no address)."""
    assert parse_author(value) == expected


def test_detects_a_gmail_forward() -> None:
    """GIVEN a Gmail forward WHEN detected THEN the original's author, date, subject and text are known."""
    info = detect_forward(parse_message(build_mail(subject="Fwd: Printer jammed", body=GMAIL_FORWARD)))
    assert info is not None
    assert info.from_ == Address("Someone", "someone@example.com")
    assert info.date == dt.datetime(2013, 4, 26, 20, 13, tzinfo=dt.UTC)
    assert info.date_text == "Fri, Apr 26, 2013 at 8:13 PM"
    assert (info.subject, info.text) == ("Printer jammed", "The printer on floor 3 is jammed.")


@pytest.mark.parametrize(
    ("subject", "body", "author", "subject_of_original"),
    [
        ("WG: Rechnung 42", OUTLOOK_GERMAN, Address("Max Muster", "max@example.de"), "Rechnung 42"),
        ("TR: Facture", OUTLOOK_FRENCH, Address("Marie Curie", "marie@example.fr"), "Facture"),
        ("Fwd: Broken login", APPLE_FORWARD, Address("Some One", "some.one@example.com"), "Broken login"),
        ("Fwd: Re: Example", THUNDERBIRD_TEXT.replace("Re: Example subject", "Re: Example"),
         Address("John Doe", "johndoe@example.com"), "Re: Example"),
    ],
)  # fmt: skip
def test_detects_client_text_forwards(subject: str, body: str, author: Address, subject_of_original: str) -> None:
    """GIVEN Outlook (German, French), Apple Mail and Thunderbird text forwards WHEN detected THEN each is read."""
    info = detect_forward(parse_message(build_mail(subject=subject, body=body)))
    assert info is not None
    assert (info.from_, info.subject) == (author, subject_of_original)
    assert info.date is not None and info.date.tzinfo is not None
    assert info.text


def test_detects_an_html_only_thunderbird_forward() -> None:
    """GIVEN a Thunderbird forward with only an HTML body (header table) WHEN detected THEN the table is read."""
    raw = (
        b"From: Fwd <fwd@example.org>\r\nTo: support@example.com\r\nSubject: Fwd: Re: Example subject\r\n"
        b"Date: Mon, 2 Nov 2026 09:30:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + THUNDERBIRD_HTML.encode()
    )
    info = detect_forward(parse_message(raw))
    assert info is not None
    assert info.from_ == Address("John Doe", "johndoe@example.com")
    assert info.date == dt.datetime(2016, 5, 3, 14, 54, 27, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert "This is a test." in info.text


def test_detects_a_forward_as_attachment() -> None:
    """GIVEN a forward that attaches the original as message/rfc822 WHEN detected THEN the attachment is read."""
    raw = (
        b"From: Fwd <fwd@example.org>\r\nTo: support@example.com\r\nSubject: Printer\r\n"
        b"Date: Mon, 2 Nov 2026 09:30:00 +0100\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n"
        b"--b1\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
        b"From: Original Author <orig@example.net>\r\nTo: fwd@example.org\r\nSubject: Printer jammed\r\n"
        b"Date: Sun, 1 Nov 2026 08:00:00 +0000\r\n\r\nThe printer is jammed.\r\n--b1--\r\n"
    )
    info = detect_forward(parse_message(raw))
    assert info is not None
    assert info.from_ == Address("Original Author", "orig@example.net")
    assert (info.subject, info.text.strip()) == ("Printer jammed", "The printer is jammed.")
    assert info.date == dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def test_a_bounce_report_is_no_forward() -> None:
    """GIVEN a delivery report carrying the bounced message WHEN detected THEN it is not a forward."""
    raw = (
        b"From: MAILER-DAEMON@example.org\r\nTo: support@example.com\r\nSubject: Undelivered Mail\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; x@example.net\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: support@example.com\r\nSubject: Hi\r\n\r\nHi\r\n--b--\r\n"
    )
    assert detect_forward(parse_message(raw)) is None


def test_an_inline_bounce_is_no_forward() -> None:
    """GIVEN a qmail-style bounce quoting the returned message's headers inline WHEN detected THEN it is none."""
    body = (
        "Hi. This is the qmail-send program.\n\n--- Below this line is a copy of the message.\n\n"
        "From: Jane <jane@example.org>\nTo: gone@example.net\nSubject: Hello\nDate: Mon, 2 Nov 2026 09:30:00 +0000\n\n"
        "Hello\n"
    )
    raw = build_mail(sender="MAILER-DAEMON@mx.example.net", subject="failure notice", body=body)
    assert detect_forward(parse_message(raw)) is None


def test_a_signature_rule_is_no_forward() -> None:
    """GIVEN a body whose footer is set off by an underscore rule, no headers below WHEN detected THEN it is none."""
    body = "Please reset my password.\n\n________________________________\nExample GmbH, Musterstr. 1, Berlin\n"
    assert detect_forward(parse_message(build_mail(subject="Password", body=body))) is None


def test_a_subject_prefix_alone_is_a_forward() -> None:
    """GIVEN "Fwd:" on the subject but no recognisable block WHEN detected THEN the body is the original's text."""
    info = detect_forward(parse_message(build_mail(subject="Fwd: Server down", body="The server is down.\n")))
    assert info is not None
    assert (info.from_, info.subject) == (None, "Server down")
    assert "The server is down." in info.text


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Re: Printer", GMAIL_REPLY),
        ("RE: Rechnung 42", OUTLOOK_GERMAN),  # Outlook writes the same block above replies
        ("Printer jammed", "Hello,\n\nthe printer is jammed.\n"),
    ],
)
def test_replies_and_plain_messages_are_no_forwards(subject: str, body: str) -> None:
    """GIVEN a reply (Gmail, or Outlook's header block under RE:) or a plain message WHEN detected THEN None."""
    assert detect_forward(parse_message(build_mail(subject=subject, body=body))) is None


def test_an_explicit_forward_title_wins_over_a_reply_subject() -> None:
    """GIVEN "Forwarded message" in the body under a "Re:" subject WHEN detected THEN it is still a forward."""
    assert detect_forward(parse_message(build_mail(subject="Re: Printer", body=GMAIL_FORWARD))) is not None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "From: a <a@b.c>\n", "Sent: Mon, 1 Jan 2020 10:00\n", "Subject: x\n", "> ", ">\n", "\n", "wrote:\n",
                "On ", "-----Original Message-----\n", "<blockquote>", "</blockquote>", "<br>", "<div ", ">",
                '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in">', "<x@y.z>",
                "<!-- c -->", "<head><style>a:b</style></head>", "\x00", "\ufffd", "Begin forwarded message:\n",
            ]
        )
        | st.text(max_size=20),
        max_size=40,
    ).map("".join)
)  # fmt: skip
def test_unwrapping_garbage_never_raises(body: str) -> None:
    """GIVEN arbitrary text mixing intro lines, headers and markup WHEN unwrapped and split THEN nothing raises."""
    unwrap_text(body)
    unwrap_html(body)
    quote_text(body)
    quote_html(body)
    parse_written_date(body)
    parse_reply_line(body)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_detect_forward_on_garbage_never_raises(raw: bytes) -> None:
    """GIVEN arbitrary bytes WHEN parsed and checked for a forward THEN nothing raises."""
    detect_forward(parse_message(b"Subject: Fwd: x\r\nContent-Type: text/html\r\n\r\n" + raw))
    detect_forward(parse_message(raw))
