"""Ping-pong: Postroom's automatic answers against a scripted auto-responder that answers everything it gets.

Postroom answers a reply to a closed ticket (queue policy `reject`) with an automatic notice; the responder, a real
SMTP server (aiosmtpd) that is Postroom's outbound relay, answers every notice with a vacation message, and the test
feeds each answer back into Postroom's ingest. Each round: deliver what Postroom queued, ingest what the responder
wrote. A bounded loop, no sleeps: the game must end within a few rounds, with the decision in the trace of the last
inbound message and in the metric.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.message import EmailMessage
from typing import Any

import pytest

from mailfactory import build_mail
from postroom.core.metrics import read_counter
from postroom.inbound.models import InboundMessage, InboundStatus, QuarantineCause
from postroom.inbound.routes import add_route
from postroom.mail.automation import LOOP_HEADER, RateWindow
from postroom.outbound.sender import send_due_deliveries
from postroom.outbound.services import ReplyDraft, send_reply
from postroom.tickets.models import ClosedReplyPolicy, Ticket, TicketStatus
from postroom.tickets.services import set_ticket_status
from smtpcapture import CaptureServer

Ingest = Callable[..., InboundMessage]
CUSTOMER = "Jane Doe <jane.doe@example.org>"
MAX_ROUNDS = 30  # far more than any of these games may take: the bound that makes a runaway loop a failure
METRIC = "postroom_screened_total"


@dataclass
class AutoResponder:
    """Answers every message it receives with a vacation notice, the way a badly or a well behaved one does."""

    well_behaved: bool  # RFC 3834: Auto-Submitted: auto-replied; else no automatic header at all
    threads: bool = True  # In-Reply-To/References to the message answered (RFC 3834 3.1.5 asks for them)
    answered: int = 0

    def answer(self, data: bytes) -> bytes:
        received: EmailMessage = email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[assignment]
        self.answered += 1
        message_id = str(received["Message-ID"]).strip().strip("<>")
        # A changing subject without any out-of-office phrase: nothing in it gives the robot away.
        subject = f"Re: {received['Subject']} - travelling, back on the {self.answered + 10}th"
        headers = {"Auto-Submitted": "auto-replied"} if self.well_behaved else {}
        return build_mail(
            sender=CUSTOMER,
            to=str(received["From"]),
            subject=subject,
            body=f"I am travelling and read my mail later (note {self.answered}).\n",
            in_reply_to=message_id if self.threads else None,
            references=f"<{message_id}>" if self.threads else None,
            extra_headers=headers,
            date=dt.datetime(2026, 11, 3, 10, self.answered % 60, tzinfo=dt.UTC),
        )


def _closed_ticket_with_a_late_reply(ingest: Ingest, agent: Any, outbox: CaptureServer) -> tuple[Ticket, EmailMessage]:
    """A ticket answered by an agent and closed, in a queue that rejects late replies with a notice."""
    add_route("support@example.com", "Support")
    ticket = ingest(build_mail(sender=CUSTOMER, message_id="first@mail.example.org")).message.ticket
    send_reply(ticket.pk, agent, ReplyDraft(text="Please restart it."))
    assert send_due_deliveries() == 1
    sent: EmailMessage = email.message_from_bytes(outbox.messages[-1].data, policy=email.policy.default)  # type: ignore[assignment]
    ticket.queue.closed_reply_policy = ClosedReplyPolicy.REJECT
    ticket.queue.save()
    set_ticket_status(ticket.pk, TicketStatus.CLOSED, dt.datetime.now(dt.UTC))
    return ticket, sent


def _play(
    ingest: Ingest, outbox: CaptureServer, responder: AutoResponder, opening: bytes
) -> tuple[int, InboundMessage]:
    """The customer's opening message, then rounds of (Postroom sends, the responder answers) until one side is
    silent; returns the rounds played and the last inbound message."""
    last = ingest(opening)
    seen = len(outbox.messages)
    for round_number in range(1, MAX_ROUNDS + 1):
        if send_due_deliveries() == 0:
            return round_number - 1, last
        for captured in outbox.messages[seen:]:
            last = ingest(responder.answer(captured.data))
        seen = len(outbox.messages)
    pytest.fail(f"Postroom and the auto-responder were still answering each other after {MAX_ROUNDS} rounds")


def _screen(row: InboundMessage) -> dict[str, Any]:
    return next(entry for entry in row.trace if entry["stage"] == "screen")


@pytest.mark.django_db
def test_a_badly_behaved_responder_that_threads_is_stopped_after_one_round(
    ingest: Ingest, agent: Any, outbox: CaptureServer
) -> None:
    """
    GIVEN a closed ticket in a `reject` queue and an auto-responder without Auto-Submitted whose subject changes
    WHEN the customer's late reply starts the game
    THEN Postroom sends one notice; the responder's answer to it is held as a loop (it answers our automatic
    reply), the trace says so, the metric counts it, and nothing more is sent
    """
    ticket, sent = _closed_ticket_with_a_late_reply(ingest, agent, outbox)
    responder = AutoResponder(well_behaved=False)
    opening = build_mail(sender=CUSTOMER, subject=f"Re: {sent['Subject']}", in_reply_to=sent["Message-ID"][1:-1])

    rounds, last = _play(ingest, outbox, responder, opening)

    assert rounds == 1 and responder.answered == 1
    assert (last.status, last.cause) == (InboundStatus.QUARANTINED, QuarantineCause.LOOP)
    screen = _screen(last)
    assert screen["verdict"] == "quarantine" and "an automatic reply of ours" in screen["reason"]
    assert screen["data"]["automation"] == "loop"
    assert read_counter(METRIC, {"cause": "loop"}) == 1
    notice = email.message_from_bytes(outbox.messages[-1].data, policy=email.policy.default)
    assert notice["Auto-Submitted"] == "auto-replied" and notice[LOOP_HEADER]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED


@pytest.mark.django_db
def test_a_badly_behaved_responder_that_does_not_thread_trips_the_rate_window(
    ingest: Ingest, agent: Any, outbox: CaptureServer, settings: Any
) -> None:
    """
    GIVEN the same game, but a responder that drops In-Reply-To and References (it still keeps the ticket's tag in
    the subject, so each answer reaches the closed ticket) and a rate window of 5 messages in 120 minutes
    WHEN the game runs
    THEN the rate window holds the sender's 6th message: the game ends within the window's limit, the last
    message is quarantined as rate_limited with the count in its trace, and the metric counts it once
    """
    settings.POSTROOM = replace(settings.POSTROOM, sender_rate_limit=RateWindow(limit=5, minutes=120))
    _ticket, sent = _closed_ticket_with_a_late_reply(ingest, agent, outbox)
    responder = AutoResponder(well_behaved=False, threads=False)
    opening = build_mail(sender=CUSTOMER, subject=f"Re: {sent['Subject']}", in_reply_to=sent["Message-ID"][1:-1])

    rounds, last = _play(ingest, outbox, responder, opening)

    assert rounds <= 5
    assert (last.status, last.cause) == (InboundStatus.QUARANTINED, QuarantineCause.RATE_LIMITED)
    screen = _screen(last)
    assert screen["data"]["sender_count"] == 6 and screen["data"]["rate_window"] == "5/120m"
    assert "over the limit of 5" in screen["reason"]
    assert read_counter(METRIC, {"cause": "rate_limited"}) == 1


@pytest.mark.django_db
def test_a_well_behaved_responder_gets_no_answer(ingest: Ingest, agent: Any, outbox: CaptureServer) -> None:
    """
    GIVEN the same game with a responder that marks its answers Auto-Submitted: auto-replied (RFC 3834)
    WHEN the game runs
    THEN Postroom does not answer the first automatic reply: one round, the trace says automatic, and the reply is
    kept on the ticket without reopening it
    """
    ticket, sent = _closed_ticket_with_a_late_reply(ingest, agent, outbox)
    responder = AutoResponder(well_behaved=True, threads=False)
    opening = build_mail(sender=CUSTOMER, subject=f"Re: {sent['Subject']}", in_reply_to=sent["Message-ID"][1:-1])

    rounds, last = _play(ingest, outbox, responder, opening)

    assert rounds == 1 and responder.answered == 1
    assert last.status == InboundStatus.PROCESSED
    assert _screen(last)["data"]["automation"] == "auto_reply"
    admit = next(entry for entry in last.trace if entry["stage"] == "admit")
    assert admit["verdict"] == "appended_quietly"
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and last.message.ticket_id == ticket.pk
