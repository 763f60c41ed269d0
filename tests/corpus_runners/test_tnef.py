"""tnefparse's TNEF expectations, each stream wrapped as winmail.dat in a MIME message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from corpus_paths import get_corpus_dir
from tnef_wrap import build_winmail_message

from postroom.mail.parse import parse_message

pytestmark = pytest.mark.corpus


def _cases() -> list[dict[str, Any]]:
    expected = get_corpus_dir("tnef") / "expected.json"
    loaded = json.loads(expected.read_text(encoding="utf-8"))
    return list(loaded["cases"])


def test_tnef_streams_unpack_as_expected() -> None:
    """
    GIVEN the 19 TNEF streams with expectations, each wrapped as a winmail.dat attachment
    WHEN the wrapping message is parsed (with an empty text body, so a TNEF body would show)
    THEN the attachment names come out in order and a body is present exactly when expected
    """
    base = get_corpus_dir("tnef")
    failures: list[str] = []
    names_ok = bodies_ok = 0
    cases = _cases()
    for case in cases:
        raw = build_winmail_message((base / case["file"]).read_bytes(), body="")
        parsed = parse_message(raw)
        names = [attachment.filename for attachment in parsed.attachments]
        if names == case["attachments_long_filenames"]:
            names_ok += 1
        else:
            failures.append(f"{case['file']}: names {names} != {case['attachments_long_filenames']}")
        has_body = bool(parsed.text.strip() or parsed.html)
        if has_body == case["has_body"]:
            bodies_ok += 1
        else:
            failures.append(f"{case['file']}: has_body {has_body} != {case['has_body']} ({parsed.defects})")
    print(f"\ntnef: names {names_ok}/{len(cases)}, body presence {bodies_ok}/{len(cases)}")
    assert not failures, "\n".join(failures)


def test_tnef_body_is_readable_text() -> None:
    """
    GIVEN the RTF-only and HTML-only TNEF bodies
    WHEN they are unpacked
    THEN the message text is plain words, not RTF or HTML markup
    """
    base = get_corpus_dir("tnef")
    for case in _cases():
        if case["body_kind"] not in ("rtfbody", "htmlbody"):
            continue
        parsed = parse_message(build_winmail_message((base / case["file"]).read_bytes(), body=""))
        assert parsed.text.strip(), case["file"]
        assert "{\\rtf" not in parsed.text
        assert "<html" not in parsed.text.lower()
