"""Zammad's auto-response cases and sisimai's machine-generated mail, through the automatic-mail detector."""

from __future__ import annotations

import json
from typing import Final

import pytest
from corpus_paths import get_corpus_dir

from postroom.mail.autoreplies import detect_automatic_reply
from postroom.mail.parse import parse_message

pytestmark = pytest.mark.corpus

ZAMMAD_FQDN: Final = "zammad.example.com"  # the system FQDN of Zammad's test (see auto_response_expected.json)
# sisimai: every file is machine-generated; the one known exception is a person forwarding a bounce ("Fwd:").
HUMAN_FORWARDS: Final = frozenset({"lhost-sendmail-14.eml"})


def test_zammad_auto_response_cases() -> None:
    """
    GIVEN Zammad's eight auto-response cases with whether the help desk may answer automatically
    WHEN each is classified (with Zammad's FQDN as our own Message-ID domain)
    THEN allows_auto_reply equals Zammad's expectation in every case
    """
    base = get_corpus_dir("zammad-parser")
    cases = json.loads((base / "auto_response_expected.json").read_text(encoding="utf-8"))["cases"]
    wrong: list[str] = []
    for case in cases:
        verdict = detect_automatic_reply(parse_message((base / case["file"]).read_bytes()), own_domains=(ZAMMAD_FQDN,))
        if verdict.allows_auto_reply != case["expected_send_auto_response"]:
            wrong.append(f"{case['file']}: {verdict}")
    print(f"\nzammad auto-response: {len(cases) - len(wrong)}/{len(cases)}")
    assert not wrong, "\n".join(wrong)


def test_sisimai_machine_mail_gets_no_auto_reply() -> None:
    """
    GIVEN every public sisimai bounce/report (all machine-generated) and its two ordinary mails
    WHEN each is classified
    THEN every machine mail refuses an auto-reply, and the ordinary mails allow one
    """
    base = get_corpus_dir("sisimai-bounces")
    allowed: list[str] = []
    paths = sorted((base / "maildir-bsd").glob("*.eml"))
    for path in paths:
        if path.name in HUMAN_FORWARDS:
            continue
        verdict = detect_automatic_reply(parse_message(path.read_bytes()))
        if verdict.allows_auto_reply:
            allowed.append(path.name)
    checked = len(paths) - len(HUMAN_FORWARDS)
    print(f"\nsisimai machine mail refused an auto-reply: {checked - len(allowed)}/{checked}")
    assert not allowed, allowed
    for path in sorted((base / "not-bounce").glob("*.eml")):
        assert detect_automatic_reply(parse_message(path.read_bytes())).allows_auto_reply, path.name
