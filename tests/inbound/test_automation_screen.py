"""The automation screen on the configured database: loops, the per-sender rate window, held auto replies, the
trace and the metric, releases (Zammad's process cases: tests/corpus_runners/test_autoreply_corpus.py)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from mailfactory import build_mail
from postroom.core.metrics import read_counter
from postroom.inbound import quarantine
from postroom.inbound.models import InboundMessage, InboundStatus, QuarantineCause
from postroom.inbound.routes import add_route
from postroom.mail.automation import LOOP_HEADER, RateWindow
from postroom.mailboxes.models import Mailbox
from postroom.outbound.sender import send_due_deliveries
from postroom.outbound.services import ReplyDraft, send_reply
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue

Ingest = Callable[..., InboundMessage]
METRIC = "postroom_screened_total"


def _screen(row: InboundMessage) -> dict[str, Any]:
    return next(entry for entry in reversed(row.trace) if entry["stage"] == "screen")


@pytest.fixture
def routed(db: None) -> None:
    add_route("support@example.com", "Support")


@pytest.fixture
def admin(db: None) -> quarantine.Actor:
    return quarantine.Actor.of(get_user_model().objects.create_user("admin", password=None))


@pytest.mark.django_db
def test_automatic_mail_is_noted_in_the_trace_and_goes_on(ingest: Ingest, routed: None) -> None:
    """
    GIVEN an ordinary mail and a bulk mail
    WHEN they are processed
    THEN both become tickets; the screen's trace says nothing of the person's mail and notes the bulk mail's kind,
    its reasons, the sender's count and the window; every ledger row has its sender
    """
    person = ingest(build_mail())
    bulk = ingest(build_mail(sender="news@shop.example", extra_headers={"Precedence": "bulk"}))
    assert person.status == bulk.status == InboundStatus.PROCESSED
    assert "automation" not in _screen(person)["data"]
    data = _screen(bulk)["data"]
    assert (data["automation"], data["sender_count"], data["rate_window"]) == ("bulk", 1, "20/120m")
    assert "bulk: Precedence: bulk" in _screen(bulk)["reason"]
    assert (person.sender, bulk.sender) == ("jane.doe@example.org", "news@shop.example")


@pytest.mark.django_db
def test_our_loop_header_coming_back_is_held_and_counted(ingest: Ingest, routed: None, settings: Any) -> None:
    """
    GIVEN mail that carries our own loop header (a redirect rule sent our mail back to us)
    WHEN it is processed
    THEN it is quarantined as loop, the trace names our loop header, and the metric counts one loop
    """
    loop_id = settings.POSTROOM.installation_id
    row = ingest(build_mail(extra_headers={LOOP_HEADER: loop_id}))
    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, QuarantineCause.LOOP)
    screen = _screen(row)
    assert screen["reason"].startswith("held as loop") and LOOP_HEADER in screen["reason"]
    assert screen["data"]["automation_signals"] == "own_loop_header"
    assert read_counter(METRIC, {"cause": "loop"}) == 1


@pytest.mark.django_db
def test_our_own_reply_redirected_back_is_a_loop(ingest: Ingest, routed: None, agent: Any, outbox: Any) -> None:
    """
    GIVEN an agent's reply as Postroom sent it (our signed Message-ID, our loop header, no Auto-Submitted)
    WHEN the very same bytes arrive at our address (the customer's server redirects everything back)
    THEN it is held as a loop, by its Message-ID and by its loop header
    """
    ticket = ingest(build_mail()).message.ticket
    send_reply(ticket.pk, agent, ReplyDraft(text="Please restart it."))
    assert send_due_deliveries() == 1
    sent = outbox.messages[-1].data
    parsed = email.message_from_bytes(sent, policy=email.policy.default)
    assert parsed["Auto-Submitted"] is None and parsed[LOOP_HEADER]

    row = ingest(sent)

    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, QuarantineCause.LOOP)
    assert set(_screen(row)["data"]["automation_signals"].split(",")) >= {"own_loop_header", "own_message_id"}


@pytest.mark.django_db
def test_mail_from_our_own_address_is_a_loop(ingest: Ingest, routed: None) -> None:
    """
    GIVEN mail whose From is one of our own routed addresses
    WHEN it is processed
    THEN it is held as a loop
    """
    row = ingest(build_mail(sender="Support <support@example.com>", to="support@example.com"))
    assert row.cause == QuarantineCause.LOOP
    assert "own_from" in _screen(row)["data"]["automation_signals"]


@pytest.mark.django_db
def test_the_rate_window_holds_a_flooding_sender_and_not_others(
    ingest: Ingest, routed: None, agent: Any, settings: Any
) -> None:
    """
    GIVEN a rate window of 3 messages in 60 minutes
    WHEN one sender writes 4 times (once with the address in upper case), another sender once, and an agent 5 times
    THEN only the flooding sender's 4th message is held (rate_limited, counted in the metric); the other sender and
    the agent (who forwards mail in) are not limited
    """
    settings.POSTROOM = replace(settings.POSTROOM, sender_rate_limit=RateWindow(limit=3, minutes=60))
    senders = ["jane.doe@example.org", "JANE.DOE@example.org", "jane.doe@example.org", "jane.doe@example.org"]
    rows = [ingest(build_mail(sender=f"Jane <{address}>", subject=f"Issue {n}")) for n, address in enumerate(senders)]
    other = ingest(build_mail(sender="bob@example.net"))
    agent_rows = [ingest(build_mail(sender="alice@example.com", subject=f"Fwd {n}")) for n in range(5)]

    assert [row.status for row in rows[:3]] == [InboundStatus.PROCESSED] * 3
    assert (rows[3].status, rows[3].cause) == (InboundStatus.QUARANTINED, QuarantineCause.RATE_LIMITED)
    assert _screen(rows[3])["data"]["sender_count"] == 4
    assert "4 messages from this sender in 60 minutes, over the limit of 3" in _screen(rows[3])["reason"]
    assert other.status == InboundStatus.PROCESSED
    assert all(row.status == InboundStatus.PROCESSED for row in agent_rows)
    assert read_counter(METRIC, {"cause": "rate_limited"}) == 1


@pytest.mark.django_db
def test_a_mailbox_may_hold_auto_replies_and_set_its_own_window(ingest: Ingest, routed: None) -> None:
    """
    GIVEN a mailbox whose settings hold auto replies and allow 1 message per sender in 10 minutes
    WHEN an out-of-office reply arrives through it, and through no mailbox
    THEN through the mailbox it is held as auto_reply; without it, it goes on (automatic mail is not held by
    default); a second mail from another sender through the mailbox trips the mailbox's own window
    """
    queue = Queue.objects.get(slug="support")
    mailbox = Mailbox.objects.create(
        tenant=get_default_tenant(),
        name="Support inbox",
        kind="smtp",
        default_queue=queue,
        settings={"automation": {"hold_auto_replies": True, "sender_rate_limit": "1/10m"}},
    )
    vacation = build_mail(subject="Out of office: Printer", extra_headers={"Auto-Submitted": "auto-replied"})

    held = ingest(vacation, mailbox=mailbox)
    passed = ingest(build_mail(subject="Automatic reply: Printer", extra_headers={"Auto-Submitted": "auto-replied"}))
    first = ingest(build_mail(sender="bob@example.net", subject="One"), mailbox=mailbox)
    second = ingest(build_mail(sender="bob@example.net", subject="Two"), mailbox=mailbox)

    assert (held.status, held.cause) == (InboundStatus.QUARANTINED, QuarantineCause.AUTO_REPLY)
    assert _screen(held)["data"]["automation"] == "out_of_office"
    assert passed.status == InboundStatus.PROCESSED
    assert first.status == InboundStatus.PROCESSED
    assert second.cause == QuarantineCause.RATE_LIMITED and _screen(second)["data"]["rate_window"] == "1/10m"
    assert read_counter(METRIC, {"cause": "auto_reply"}) == 1


@pytest.mark.django_db
def test_a_released_loop_goes_on_quietly(ingest: Ingest, routed: None, settings: Any, admin: quarantine.Actor) -> None:
    """
    GIVEN a message held as a loop
    WHEN an admin releases it
    THEN it goes on (a new ticket), the trace says who released it, and the metric is not counted again
    """
    row = ingest(build_mail(extra_headers={LOOP_HEADER: settings.POSTROOM.installation_id}))
    released = quarantine.release_message(row.pk, admin)
    assert released.status == InboundStatus.PROCESSED and released.message is not None
    assert "released by admin" in _screen(released)["reason"]
    assert read_counter(METRIC, {"cause": "loop"}) == 1


@pytest.mark.parametrize(
    ("automation", "error"),
    [
        ({"hold_auto_replies": "yes"}, "must be true or false"),
        ({"sender_rate_limit": "lots"}, "not a rate window"),
        ({"sender_rate_limit": 20}, "must be text"),
        ({"hold_too": True}, "unknown setting"),
    ],
)
def test_mailbox_automation_settings_are_checked(automation: dict[str, object], error: str) -> None:
    """
    GIVEN a mailbox's automation settings with a mistake
    WHEN they are checked
    THEN they are refused with the setting's name and why; good ones pass
    """
    from postroom.mailboxes.connector_settings import SettingsInvalidError, parse_mailbox_settings

    parse_mailbox_settings("smtp", {"automation": {"hold_auto_replies": True, "sender_rate_limit": "off"}})
    with pytest.raises(SettingsInvalidError) as refused:
        parse_mailbox_settings("smtp", {"automation": automation})
    assert any(key.startswith("settings.automation.") for key in refused.value.errors)
    assert error in str(refused.value)
