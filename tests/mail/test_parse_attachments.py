"""Attachments: file names (RFC 2231, RFC 2047, generated), hashes, inline parts, uuencode, rfc822, TNEF."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from postroom.mail.parse import parse_message
from postroom.mail.parse.filenames import make_unique
from postroom.mail.values import ParsedMessage

Parse = Callable[[str], ParsedMessage]


def test_rfc2231_continued_filename(parse_regression: Parse) -> None:
    """
    GIVEN filename*0*=utf-8''Rechnung%20M%C3%A4rz; filename*1*=%202024.pdf
    WHEN the message is parsed
    THEN the name is joined and decoded, the type declared and sniffed, and the hashes are of the bytes
    """
    parsed = parse_regression("rfc2231-filename-continuation.eml")
    (attachment,) = parsed.attachments
    assert attachment.filename == "Rechnung März 2024.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.sniffed_type == "application/pdf"
    assert attachment.md5 == hashlib.md5(attachment.payload, usedforsecurity=False).hexdigest()
    assert attachment.sha256 == hashlib.sha256(attachment.payload).hexdigest()
    assert attachment.size == len(attachment.payload)
    assert attachment.payload.startswith(b"%PDF-1.4")
    assert not attachment.inline


def test_rfc2047_encoded_name_parameter(parse_regression: Parse) -> None:
    """
    GIVEN name="=?utf-8?Q?Wassersch=C3=A4den_K=C3=BCche=2Epng?=" (not standard, but what Outlook sends)
    WHEN the message is parsed
    THEN the file name is decoded
    """
    (attachment,) = parse_regression("rfc2047-filename-in-name-param.eml").attachments
    assert attachment.filename == "Wasserschäden Küche.png"
    assert attachment.sniffed_type == "image/png"


def test_cid_referenced_related_image_is_inline(parse_regression: Parse) -> None:
    """
    GIVEN an image in multipart/related with a Content-ID the HTML refers to, and no file name
    WHEN the message is parsed
    THEN it is an inline attachment named after its type, with the Content-ID without brackets
    """
    (image,) = parse_regression("cid-inline-image.eml").attachments
    assert image.inline
    assert image.content_id == "img1@example.de"
    assert image.filename == "image.png"


def test_inline_uuencode_block_becomes_an_attachment(parse_regression: Parse) -> None:
    """
    GIVEN a text body holding `begin 644 report.csv` ... `end`
    WHEN the message is parsed
    THEN the block is decoded into report.csv and removed from the text
    """
    parsed = parse_regression("uuencode-inline-block.eml")
    (attachment,) = parsed.attachments
    assert attachment.filename == "report.csv"
    assert attachment.payload == b"id;name\n1;alpha\n"
    assert "begin 644" not in parsed.text
    assert "Regards" in parsed.text


def test_x_uuencode_part(parse_regression: Parse) -> None:
    """
    GIVEN an attachment part with Content-Transfer-Encoding: x-uuencode
    WHEN the message is parsed
    THEN its bytes are decoded
    """
    (attachment,) = parse_regression("x-uuencode-part.eml").attachments
    assert attachment.filename == "rules.csv"
    assert attachment.payload == b"id;name\n1;alpha\n"


def test_rfc822_part_is_kept_as_eml_with_its_own_bytes(parse_regression: Parse) -> None:
    """
    GIVEN a message/rfc822 part without a file name, with an empty header field inside
    WHEN the message is parsed
    THEN it is attached as `<subject>.eml` holding the embedded message's original bytes
    """
    (attachment,) = parse_regression("rfc822-attachment.eml").attachments
    assert attachment.filename == "Neue Anfrage erstellt.eml"
    assert attachment.content_type == "message/rfc822"
    assert attachment.payload.startswith(b"From: Original Sender <orig@example.net>\r\n")
    assert b"X-Empty:\r\n" in attachment.payload
    assert attachment.payload.endswith(b"The original text.")


def test_truncated_attachment_keeps_what_arrived(parse_regression: Parse) -> None:
    """
    GIVEN a multipart message cut off inside a base64 attachment
    WHEN the message is parsed
    THEN the text survives, the partial attachment is kept, and truncated_multipart is reported
    """
    parsed = parse_regression("truncated-multipart.eml")
    assert parsed.text == "The start survived."
    assert parsed.attachments[0].filename == "half.pdf"
    assert "truncated_multipart" in parsed.defects


def test_bad_base64_length_is_decoded_like_mail_clients() -> None:
    """
    GIVEN a base64 body whose length is one more than a multiple of four
    WHEN the message is parsed
    THEN the dangling character is dropped instead of keeping the base64 text
    """
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: video/quicktime\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJABC123456\r\n--b--\r\n"
    )
    (attachment,) = parse_message(raw).attachments
    assert attachment.size == 15
    assert attachment.filename == "video.mov"


def test_repeated_names_are_numbered_after_the_stem() -> None:
    """
    GIVEN names already taken
    WHEN a repeated name is made unique
    THEN a number goes after the stem, before every extension
    """
    assert make_unique("a.tar.gz", ["a.tar.gz"]) == "a1.tar.gz"
    assert make_unique("file", ["file", "file1"]) == "file2"
    assert make_unique("new.txt", ["other.txt"]) == "new.txt"


def test_path_in_a_filename_is_neutralised() -> None:
    """
    GIVEN filename="../../etc/passwd"
    WHEN the message is parsed
    THEN the name holds no path separator
    """
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n'
        b'--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="../../etc/passwd"'
        b"\r\n\r\nroot\r\n--b--\r\n"
    )
    (attachment,) = parse_message(raw).attachments
    assert "/" not in attachment.filename
    assert "\\" not in attachment.filename
