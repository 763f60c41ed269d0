"""Body choice and charsets: text/plain first, HTML kept apart, text derived from HTML when needed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from postroom.mail.parse import parse_message
from postroom.mail.parse.charsets import decode_bytes, decode_iso2022jp_ms, find_codec
from postroom.mail.values import ParsedMessage

Parse = Callable[[str], ParsedMessage]


def test_alternative_prefers_plain_and_keeps_html(parse_regression: Parse) -> None:
    """
    GIVEN multipart/alternative with text/plain and a multipart/related HTML version
    WHEN the message is parsed
    THEN text is the plain version and html the HTML one
    """
    parsed = parse_regression("cid-inline-image.eml")
    assert parsed.text == "Look at this."
    assert parsed.html is not None
    assert 'src="cid:img1@example.de"' in parsed.html


def test_html_only_gives_text_from_html(parse_regression: Parse) -> None:
    """
    GIVEN a text/html-only message with content after </html>
    WHEN the message is parsed
    THEN text is readable text of the whole document (no tags, no title) and html is the raw HTML
    """
    parsed = parse_regression("html-only-body.eml")
    assert parsed.html is not None
    assert parsed.html.startswith("<html>")
    assert "Hallo Welt" in parsed.text
    assert "Zweiter Absatz" in parsed.text
    assert "after the end of html" in parsed.text
    assert "<" not in parsed.text
    assert "Newsletter" not in parsed.text


def test_mixed_inline_text_parts_are_joined() -> None:
    """
    GIVEN multipart/mixed with two inline text/plain parts (a body and a list footer)
    WHEN the message is parsed
    THEN text holds both, in order
    """
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\n-- list footer\r\n--b--\r\n"
    )
    assert parse_message(raw).text == "Hello\n-- list footer"


def test_stray_latin1_byte_in_utf8_text(parse_regression: Parse) -> None:
    """
    GIVEN UTF-8 text with one stray Latin-1 byte
    WHEN the message is parsed
    THEN the UTF-8 stays UTF-8, the stray byte reads as Windows-1252, and a mismatch is reported
    """
    parsed = parse_regression("stray-latin1-byte-in-utf8.eml")
    assert parsed.text == "Grüße, liî ed €\n"
    assert "charset_mismatch:utf-8" in parsed.defects


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("iso-8859-8-i", "iso-8859-8"),
        ("windows-1258", "cp1258"),
        ("utf8", "utf-8"),
        ('"UTF-8"', "utf-8"),
        ("x-unknown", None),
        ("gb2312", "gb18030"),
        ("ks_c_5601-1987", "cp949"),
        ("no-such-charset", None),
    ],
)
def test_charset_labels(label: str, codec: str | None) -> None:
    """
    GIVEN a charset label seen in real mail
    WHEN it is looked up
    THEN it maps to the codec that reads such mail (None when unknown)
    """
    assert find_codec(label) == codec


def test_unknown_charset_is_reported_and_recovered() -> None:
    """
    GIVEN UTF-8 bytes labelled with an unknown charset
    WHEN they are decoded
    THEN the text is right and the defect names the label
    """
    defects: list[str] = []
    assert decode_bytes("Grüße".encode(), "x-foo", defects) == "Grüße"
    assert defects == ["charset_unknown:x-foo"]


def test_iso_2022_jp_microsoft_extensions() -> None:
    """
    GIVEN ISO-2022-JP bytes with NEC row 13 (circled digits) that Python's codecs refuse
    WHEN they are decoded the way Outlook wrote them
    THEN the circled digit comes out
    """
    assert decode_iso2022jp_ms(b"\x1b$B-!#1ET#38)\x1b(B") == "①１都３県"


def test_utf7_is_decoded_when_declared() -> None:
    """
    GIVEN a 7-bit body labelled UTF-7
    WHEN the message is parsed
    THEN the UTF-7 shifts are decoded
    """
    raw = b"Content-Type: text/plain; charset=utf-7\r\n\r\nZustellstatus +APw-ber\r\n"
    assert parse_message(raw).text.startswith("Zustellstatus über")
