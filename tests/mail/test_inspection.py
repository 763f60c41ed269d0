"""The stable `postroom inspect` JSON: exact keys, types, one line per file, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

from postroom.mail.inspection import build_inspect_record, inspect_paths
from postroom.mail.parse import parse_message

REGRESSIONS = Path(__file__).resolve().parents[1] / "corpus" / "regressions"
KEYS = [
    "file", "from", "sender", "reply_to", "to", "cc", "delivered_to", "subject", "message_id",
    "in_reply_to", "references", "date", "text", "html", "attachments", "defects", "thread", "reply", "forward",
    "automation", "auth", "bounce",
]  # fmt: skip
ATTACHMENT_KEYS = ["filename", "content_type", "size", "md5", "sha256", "inline", "content_id"]


def test_record_has_exactly_the_documented_keys() -> None:
    """
    GIVEN a parsed message with an inline attachment
    WHEN its inspect record is built
    THEN the keys and attachment keys are exactly the documented ones, in order, and JSON-serialisable
    """
    path = REGRESSIONS / "cid-inline-image.eml"
    record = build_inspect_record(parse_message(path.read_bytes()), str(path))
    assert list(record) == KEYS
    attachments = record["attachments"]
    assert isinstance(attachments, list)
    assert list(attachments[0]) == ATTACHMENT_KEYS
    assert record["from"] == {"name": "Martin", "address": "martin@example.de"}
    assert record["date"] == "2024-03-05T10:00:00+01:00"
    json.dumps(record)


def test_inspect_paths_prints_one_line_per_file_and_reports_unreadable_files(tmp_path: Path) -> None:
    """
    GIVEN a good message, a garbage file and a path that does not exist
    WHEN they are inspected
    THEN two JSON lines are printed (garbage is not an error), one error line, and the exit code is 1
    """
    garbage = tmp_path / "garbage.eml"
    garbage.write_bytes(b"\x00\xffnot mail at all")
    out, err = io.StringIO(), io.StringIO()
    paths = [str(REGRESSIONS / "encoded-word-quotes-in-display-name.eml"), str(garbage), str(tmp_path / "missing")]
    status = inspect_paths(paths, out, err)
    lines = out.getvalue().splitlines()
    assert status == 1
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["from"]["name"] == "Frieda Höflich1"
    assert "Höflich1" in lines[0]  # ensure_ascii=False
    assert json.loads(lines[1])["from"] is None
    assert "missing" in err.getvalue()
    assert len(err.getvalue().splitlines()) == 1


def test_inspect_paths_exit_zero_when_all_readable() -> None:
    """
    GIVEN readable files only
    WHEN they are inspected
    THEN the exit code is 0
    """
    assert inspect_paths([str(REGRESSIONS / "missing-date.eml")], io.StringIO(), io.StringIO()) == 0


def test_thread_reply_and_forward_keys() -> None:
    """
    GIVEN a German Outlook reply to a ticket and a Gmail forward
    WHEN their records are built
    THEN `thread` has the normalised subject and our ticket reference, `reply` splits new text from the quote,
         `forward` names the original sender (and is null for the reply)
    """
    reply = build_inspect_record(
        parse_message(
            b"From: a@example.org\r\nTo: s@example.com\r\nSubject: AW: Re: Drucker [PR-000042]\r\n"
            b"Message-ID: <r1@example.org>\r\n\r\nGeht wieder, danke.\r\n\r\n"
            b"Am 02.11.2026 um 10:00 schrieb Support <s@example.com>:\r\n> Bitte neu starten.\r\n"
        ),
        "reply.eml",
    )
    forward = build_inspect_record(
        parse_message(
            b"From: agent@example.com\r\nTo: s@example.com\r\nSubject: Fwd: Invoice\r\n\r\nFYI\r\n\r\n"
            b"---------- Forwarded message ---------\r\nFrom: Carol <carol@customer.example>\r\n"
            b"Date: Mon, Nov 2, 2026 at 9:00 AM\r\nSubject: Invoice\r\nTo: <s@example.com>\r\n\r\n"
            b"The invoice is wrong.\r\n"
        ),
        "forward.eml",
    )

    assert reply["thread"] == {
        "subject_normalized": "Drucker [PR-000042]",
        "ticket_refs": ["PR-000042"],
        "tokens": [],
        "thread_index": None,
    }
    assert reply["reply"]["new_text"] == "Geht wieder, danke."  # type: ignore[index]
    assert "Bitte neu starten." in reply["reply"]["quoted_text"]  # type: ignore[index]
    assert reply["forward"] is None
    assert forward["forward"]["from"] == {"name": "Carol", "address": "carol@customer.example"}  # type: ignore[index]
    assert forward["forward"]["subject"] == "Invoice"  # type: ignore[index]
    assert "The invoice is wrong." in forward["forward"]["text"]  # type: ignore[index]
    json.dumps(forward)
