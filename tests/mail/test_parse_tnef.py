"""winmail.dat (TNEF) unpacking, with the shared corpus's streams when present."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from postroom.mail.parse import parse_message
from postroom.mail.parse.rtf import decompress_rtf, rtf_to_text

RUNNERS = Path(__file__).resolve().parents[1] / "corpus_runners"
sys.path.insert(0, str(RUNNERS))

from corpus_paths import get_corpus_dir  # noqa: E402 - the runners' helpers live beside the runners
from tnef_wrap import build_winmail_message  # noqa: E402 - same


def test_winmail_dat_is_replaced_by_its_files() -> None:
    """
    GIVEN a message with a winmail.dat holding two files (corpus stream two-files.tnef)
    WHEN the message is parsed
    THEN the files are attachments under their own names and winmail.dat itself is not
    """
    stream = (get_corpus_dir("tnef") / "examples" / "two-files.tnef").read_bytes()
    parsed = parse_message(build_winmail_message(stream))
    assert [attachment.filename for attachment in parsed.attachments] == ["AUTHORS", "README"]
    assert parsed.text.startswith("See attachment.")


def test_rtf_body_becomes_text() -> None:
    """
    GIVEN a winmail.dat whose only body is compressed RTF (corpus stream rtf.tnef)
    WHEN the message is parsed with an empty text part
    THEN the text is the RTF's words
    """
    stream = (get_corpus_dir("tnef") / "examples" / "rtf.tnef").read_bytes()
    parsed = parse_message(build_winmail_message(stream, body=""))
    assert parsed.text.strip()
    assert "\\par" not in parsed.text


def test_damaged_tnef_is_kept_as_a_file() -> None:
    """
    GIVEN an application/ms-tnef part that is not TNEF at all
    WHEN the message is parsed
    THEN it stays an attachment (winmail.dat) and tnef_unreadable is reported
    """
    parsed = parse_message(build_winmail_message(b"\x78\x9f\x3e\x22garbage"))
    assert [attachment.filename for attachment in parsed.attachments] == ["winmail.dat"]
    assert "tnef_unreadable" in parsed.defects


@pytest.mark.parametrize("data", [b"", b"short", b"\x00" * 16, b"\xff" * 40])
def test_rtf_decompression_of_garbage_is_empty(data: bytes) -> None:
    """
    GIVEN bytes that are not compressed RTF
    WHEN they are decompressed
    THEN the result is empty, without an exception
    """
    assert decompress_rtf(data) == b""


def test_rtf_to_text_reads_escapes_and_skips_tables() -> None:
    """
    GIVEN RTF with a font table, \\'hh and \\uN escapes and paragraphs
    WHEN it is turned into text
    THEN the words and characters come out and the font table does not
    """
    rtf = rb"{\rtf1\ansi{\fonttbl{\f0 Arial;}}Gr\'fc\'dfe\par\uc1\u8364?  Euro\par}"
    assert rtf_to_text(rtf) == "Grüße\n€  Euro"
