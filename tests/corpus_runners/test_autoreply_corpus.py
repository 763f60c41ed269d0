"""Zammad's auto-response cases and sisimai's machine-generated mail, through the automatic-mail classifier."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

import pytest
from corpus_paths import get_corpus_dir

from postroom.inbound.models import InboundMessage, QuarantineCause
from postroom.inbound.routes import add_route
from postroom.mail.automation import AutomationKind, OwnMail, detect_automation
from postroom.mail.parse import parse_message

pytestmark = pytest.mark.corpus

ZAMMAD_FQDN: Final = "zammad.example.com"  # the system FQDN of Zammad's test (see auto_response_expected.json)
ZAMMAD_OWN: Final = OwnMail(message_id_domains=frozenset({ZAMMAD_FQDN}))
# sisimai: every file is machine-generated; the one known exception is a person forwarding a bounce ("Fwd:").
HUMAN_FORWARDS: Final = frozenset({"lhost-sendmail-14.eml"})
# What sisimai's reason says the kind should be; every other reason is a delivery report or bounce.
KIND_BY_REASON: Final = {
    "feedback": {AutomationKind.FEEDBACK_REPORT},
    "vacation": {AutomationKind.OUT_OF_OFFICE, AutomationKind.AUTO_REPLY},
}
BOUNCE_KINDS: Final = {AutomationKind.BOUNCE, AutomationKind.FEEDBACK_REPORT}
KIND_TARGET: Final = 0.97  # share of sisimai mails whose kind matches what sisimai says they are


def test_zammad_auto_response_cases() -> None:
    """
    GIVEN Zammad's eight auto-response cases with whether the help desk may answer automatically
    WHEN each is classified (with Zammad's FQDN as our own Message-ID domain)
    THEN auto_answer_allowed equals Zammad's expectation in every case
    """
    base = get_corpus_dir("zammad-parser")
    cases = json.loads((base / "auto_response_expected.json").read_text(encoding="utf-8"))["cases"]
    wrong: list[str] = []
    for case in cases:
        verdict = detect_automation(parse_message((base / case["file"]).read_bytes()), own=ZAMMAD_OWN)
        if verdict.auto_answer_allowed != case["expected_send_auto_response"]:
            wrong.append(f"{case['file']}: {verdict}")
    print(f"\nzammad auto-response: {len(cases) - len(wrong)}/{len(cases)}")
    assert not wrong, "\n".join(wrong)


def test_zammad_process_cases_that_open_no_ticket_are_loops() -> None:
    """
    GIVEN Zammad's process cases expected to create no ticket (its own notification coming back)
    WHEN each is classified with Zammad's FQDN as our own Message-ID domain
    THEN each is a loop (which the automation screen holds: tests/inbound/test_automation_screen.py)
    """
    base = get_corpus_dir("zammad-parser")
    cases = json.loads((base / "process_expected.json").read_text(encoding="utf-8"))["cases"]
    refused = [case for case in cases if not case["success"]]
    kinds = {
        case["file"]: detect_automation(parse_message((base / case["file"]).read_bytes()), own=ZAMMAD_OWN).kind
        for case in refused
    }
    print(
        f"\nzammad process cases with no ticket held as loops: {sum(k == 'loop' for k in kinds.values())}/{len(kinds)}"
    )
    assert refused
    assert set(kinds.values()) == {AutomationKind.LOOP}, kinds


def test_sisimai_machine_mail_gets_no_automatic_answer() -> None:
    """
    GIVEN every public sisimai bounce/report (all machine-generated) and its two ordinary mails
    WHEN each is classified
    THEN every machine mail refuses an automatic answer, the ordinary mails are normal, and the kind (bounce,
    feedback_report, out_of_office) matches sisimai's reason for at least KIND_TARGET of them (list-server notices
    are `list`, Amazon SES's JSON notifications from no-reply@ are `auto_reply`)
    """
    base = get_corpus_dir("sisimai-bounces")
    expected = json.loads((base / "expected.json").read_text(encoding="utf-8"))
    allowed: list[str] = []
    wrong_kind: list[str] = []
    kinds: Counter[str] = Counter()
    paths = [p for p in sorted((base / "maildir-bsd").glob("*.eml")) if p.name not in HUMAN_FORWARDS]
    for path in paths:
        verdict = detect_automation(parse_message(path.read_bytes()))
        kinds[verdict.kind] += 1
        if verdict.auto_answer_allowed:
            allowed.append(path.name)
        reasons = {record["reason"] for record in expected.get(path.name, {}).get("expected", [])}
        want = set().union(*(KIND_BY_REASON.get(reason, BOUNCE_KINDS) for reason in reasons)) if reasons else None
        if want is not None and verdict.kind not in want:
            wrong_kind.append(f"{path.name}: {verdict.kind} ({verdict.reason[:120]})")
    rate = 1 - len(wrong_kind) / len(paths)
    print(f"\nsisimai machine mail refused an automatic answer: {len(paths) - len(allowed)}/{len(paths)}")
    print(f"sisimai kind as sisimai says: {len(paths) - len(wrong_kind)}/{len(paths)} ({rate:.1%}); {dict(kinds)}")
    print("\n".join(wrong_kind[:20]))
    assert not allowed, allowed
    assert rate >= KIND_TARGET, "\n".join(wrong_kind)
    for path in sorted((base / "not-bounce").glob("*.eml")):
        verdict = detect_automation(parse_message(path.read_bytes()))
        assert verdict.kind == AutomationKind.NORMAL and verdict.auto_answer_allowed, path.name


@pytest.mark.django_db
def test_zammad_process_cases_through_the_pipeline(ingest: Callable[..., InboundMessage], settings: Any) -> None:
    """
    GIVEN Zammad's 55 process cases, with Zammad's FQDN as our own Message-ID domain (its `fqdn` setting)
    WHEN each goes through the whole pipeline
    THEN every case expected to create no ticket is held as a loop, and no case expected to create one is held
    by the automation screen
    """
    base = get_corpus_dir("zammad-parser")
    settings.POSTROOM = replace(
        settings.POSTROOM, own_message_id_domains=("zammad.example.com",), sender_rate_limit=None
    )
    add_route("@example.com", "Support")
    cases = json.loads((base / "process_expected.json").read_text(encoding="utf-8"))["cases"]
    held_wrongly: list[str] = []
    no_ticket: list[tuple[str, str]] = []
    for case in cases:
        row = ingest((base / case["file"]).read_bytes(), source_key=f"zammad:{case['case']}")
        automation_held = row.cause in {QuarantineCause.LOOP, QuarantineCause.RATE_LIMITED, QuarantineCause.AUTO_REPLY}
        if case["success"] and automation_held:
            held_wrongly.append(case["file"])
        if not case["success"]:
            no_ticket.append((case["file"], row.cause))
    print(f"\nzammad process: {len(no_ticket)} no-ticket cases {no_ticket}; wrongly held {len(held_wrongly)}")
    assert no_ticket and all(cause == QuarantineCause.LOOP for _, cause in no_ticket)
    assert not held_wrongly
