"""Sisimai's real bounces read as delivery reports; auto-replies and ordinary mail must not be."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import pytest
from corpus_paths import get_corpus_dir

from postroom.mail.reports import ReportKind, parse_report

pytestmark = pytest.mark.corpus

# Floors just under what the detector reaches on the public part (see the printed rates); a drop is a regression.
MIN_BOUNCES_RECOGNISED: Final = 0.98  # reached 353/356: two FML list-manager notices, one human "Fwd:" bounce missed
MIN_RECIPIENT_FOUND: Final = 0.97  # reached 353/358
MIN_STATUS_CLASS_AGREES: Final = 0.98  # reached 290/291 (expected codes other than Sisimai's private x.0.9xx)
MIN_STATUS_EXACT: Final = 0.90  # reached 276/291
MIN_ORIGINAL_ID_FOUND: Final = 0.80  # reached 298/358; many samples return no original or reuse the bounce's own id
# zammad-parser mails that are bounces (checked by hand: Return-Path <>, MAILER-DAEMON/postmaster, DSN or Postfix text)
ZAMMAD_BOUNCES: Final = frozenset(
    {"mail018.box", "mail033-undelivered-mail-returned-to-sender.box", "mail052.box", "mail053.box",
     "mail055.box", "mail063.box", "mail078.box", "mail092.box"}
)  # fmt: skip


def _expectations(base: Path) -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = json.loads((base / "expected.json").read_text(encoding="utf-8"))
    return loaded


def _is_standard_status(status: str) -> bool:
    """Sisimai writes its own reasons as x.0.9xx; those are not RFC 3463 codes an MTA sent."""
    return bool(status) and not status.rsplit(".", 1)[-1].startswith("9")


def test_sisimai_bounces_are_recognised() -> None:
    """
    GIVEN every public sisimai bounce with its expected reason and status
    WHEN each is parsed as a report
    THEN failures/delays come out as failed/delayed DSNs, successes as delivered, with recipients and statuses
    """
    base = get_corpus_dir("sisimai-bounces")
    bounces = recognised = delivered_total = delivered_ok = 0
    with_recipient = status_checked = status_class = status_exact = with_id = total = 0
    misses: list[str] = []
    for name, case in sorted(_expectations(base).items()):
        reasons = {record["reason"] for record in case["expected"]}
        report = parse_report((base / "maildir-bsd" / name).read_bytes())
        if "feedback" in reasons:  # RFC 5965 complaints are feedback reports, not delivery reports
            assert report is not None and report.kind is ReportKind.FEEDBACK, name
            continue
        total += 1
        if "delivered" in reasons:
            delivered_total += 1
            delivered_ok += report is not None and report.outcome == "delivered"
        else:
            bounces += 1
            if report is not None and report.kind is ReportKind.DSN and report.outcome in ("failed", "delayed"):
                recognised += 1
            else:
                misses.append(f"{name} ({case['engine']}): {report}")
        if report is None:
            continue
        with_recipient += bool(report.recipients) and all(status.recipient for status in report.recipients)
        with_id += bool(report.original_message_ids)
        expected_status = case["expected"][0]["status"]
        if _is_standard_status(expected_status) and report.recipients:
            status_checked += 1
            status_class += report.recipients[0].status[:1] == expected_status[:1]
            status_exact += report.recipients[0].status == expected_status
    print(
        f"\nsisimai: bounces recognised {recognised}/{bounces} ({recognised / bounces:.1%}), "
        f"successes {delivered_ok}/{delivered_total}, recipient found {with_recipient}/{total}, "
        f"status class {status_class}/{status_checked}, exact {status_exact}/{status_checked}, "
        f"original id {with_id}/{total}"
    )
    print("missed:\n  " + "\n  ".join(misses))
    assert recognised / bounces >= MIN_BOUNCES_RECOGNISED
    assert delivered_ok == delivered_total
    assert with_recipient / total >= MIN_RECIPIENT_FOUND
    assert status_class / status_checked >= MIN_STATUS_CLASS_AGREES
    assert status_exact / status_checked >= MIN_STATUS_EXACT
    assert with_id / total >= MIN_ORIGINAL_ID_FOUND


def test_line_endings_do_not_change_the_report() -> None:
    """
    GIVEN the sisimai samples also stored with CRLF and bare-CR line endings
    WHEN each copy is parsed
    THEN the report equals the one for the LF copy
    """
    base = get_corpus_dir("sisimai-bounces")
    compared = 0
    for folder in ("maildir-dos", "maildir-mac"):
        for path in sorted((base / folder).glob("*.eml")):
            expected = parse_report((base / "maildir-bsd" / path.name).read_bytes())
            assert parse_report(path.read_bytes()) == expected, f"{folder}/{path.name}"
            compared += 1
    print(f"\nsisimai: {compared} CRLF/CR copies equal their LF copy")
    assert compared > 0


def test_auto_replies_and_ordinary_mail_are_not_reports() -> None:
    """
    GIVEN sisimai's not-bounce mails and every zammad-parser mail that is not a bounce (vacation replies,
    auto-generated and bulk mail, loops, ordinary customer mail)
    WHEN each is parsed as a report
    THEN none is reported, and the zammad bounces all are
    """
    sisimai = get_corpus_dir("sisimai-bounces")
    zammad = get_corpus_dir("zammad-parser")
    paths = sorted((sisimai / "not-bounce").glob("*.eml"))
    paths += sorted((zammad / "auto_response_inline").glob("*.eml")) + sorted((zammad / "process_inline").glob("*.eml"))
    paths += sorted((zammad / "mail").glob("*.box"))
    false_positives: list[str] = []
    bounces_found = checked = 0
    for path in paths:
        report = parse_report(path.read_bytes())
        if path.name in ZAMMAD_BOUNCES and path.parent.name == "mail":
            bounces_found += report is not None and report.outcome in ("failed", "delayed")
            continue
        checked += 1
        if report is not None:
            false_positives.append(f"{path.parent.name}/{path.name}: {report.summary}")
    print(
        f"\nnot reports: {checked - len(false_positives)}/{checked}; "
        f"zammad bounces {bounces_found}/{len(ZAMMAD_BOUNCES)}"
    )
    assert not false_positives, "\n".join(false_positives)
    assert bounces_found == len(ZAMMAD_BOUNCES)
