"""Conversations end to end: a ticket, an agent's reply captured by a real SMTP server, and the customer's answers.

The customer replies are built from the bytes Postroom actually sent, the way Gmail, Outlook and Apple Mail build
them (each dropping or rewriting something), and every one must land on the same ticket.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from mailfactory import build_mail
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.routes import add_route
from postroom.outbound.models import DeliveryStatus, EventKind
from postroom.outbound.sender import send_due_deliveries
from postroom.outbound.services import ReplyDraft, send_reply
from postroom.tickets.models import ClosedReplyPolicy, Direction, Message, Ticket, TicketStatus, UnknownSenderPolicy
from postroom.tickets.services import set_ticket_status
from smtpcapture import Captured, CaptureServer

Ingest = Callable[..., InboundMessage]
CUSTOMER = "Jane Doe <jane.doe@example.org>"


def _open_ticket(ingest: Ingest) -> Ticket:
    add_route("support@example.com", "Support")
    row = ingest(build_mail(sender=CUSTOMER, message_id="first@mail.example.org"))
    return row.message.ticket


def _reply_and_capture(
    ticket: Ticket, agent: object, outbox: CaptureServer, text: str = "Please restart it."
) -> Captured:
    send_reply(ticket.pk, agent, ReplyDraft(text=text))  # type: ignore[arg-type]
    assert send_due_deliveries() == 1
    return outbox.messages[-1]


def _parse(captured: Captured) -> EmailMessage:
    return email.message_from_bytes(captured.data, policy=email.policy.default)  # type: ignore[return-value]


def _quoted(sent: EmailMessage) -> str:
    body = sent.get_body(preferencelist=("plain",))
    assert body is not None
    return "\n".join(f"> {line}" for line in body.get_content().splitlines())


def _customer_reply(
    sent: EmailMessage,
    *,
    body: str,
    in_reply_to: str | None,
    references: str | None,
    subject: str | None = None,
    extra: dict[str, str] | None = None,
) -> bytes:
    return build_mail(
        sender=CUSTOMER,
        to=str(sent["From"]),
        subject=subject if subject is not None else f"Re: {sent['Subject']}",
        body=body,
        in_reply_to=in_reply_to,
        references=references,
        extra_headers=extra,
        date=dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC),
    )


@pytest.mark.django_db
def test_replies_from_three_clients_land_on_the_same_ticket(
    ingest: Ingest, agent: object, outbox: CaptureServer
) -> None:
    """
    GIVEN a ticket and an agent's reply as the SMTP server received it
    WHEN the customer answers in Gmail style, in Outlook style without References, in Apple Mail style after their
         provider rewrote the Message-ID they answer, and with nothing but the subject tag
    THEN all four land on the ticket, each by the signal it still carries
    """
    ticket = _open_ticket(ingest)
    sent = _parse(_reply_and_capture(ticket, agent, outbox))
    our_id = sent["Message-ID"].strip("<>")
    assert f"[{ticket.reference}]" in sent["Subject"]
    assert sent["In-Reply-To"] == "<first@mail.example.org>"
    assert "first@mail.example.org" in sent["References"]

    gmail = _customer_reply(
        sent,
        body="It works now, but the tray is stuck.\n\n"
        + f"On Mon, Nov 2, 2026 at 10:00 AM Support <{sent['From']}> wrote:\n"
        + _quoted(sent),
        in_reply_to=our_id,
        references=f"<first@mail.example.org> <{our_id}>",
    )
    thread_index = base64.b64encode(b"\x01" + b"\x00" * 5 + b"\x11" * 16).decode()
    outlook = _customer_reply(
        sent,
        subject=f"RE: {sent['Subject']}",
        body="Still stuck.\n\n________________________________\nFrom: Support\nSent: Monday\nSubject: printer\n\n"
        + (sent.get_body(preferencelist=("plain",)).get_content()),  # type: ignore[union-attr]
        in_reply_to=our_id,
        references=None,
        extra={"Thread-Index": thread_index},
    )
    apple = _customer_reply(
        sent,
        body="One more thing: it beeps.\n\n> On 2 Nov 2026, at 10:00, Support wrote:\n" + _quoted(sent),
        in_reply_to="rewritten.by.provider.123@mail.outbound.example.net",
        references="<rewritten.by.provider.123@mail.outbound.example.net>",
    )
    subject_only = _customer_reply(
        sent, subject=f"Re: printer [{ticket.reference}]", body="Any news?", in_reply_to=None, references=None
    )

    rows = [ingest(raw) for raw in (gmail, outlook, apple, subject_only)]

    assert [row.message.ticket_id for row in rows] == [ticket.pk] * 4
    signals = [next(step for step in row.trace if step["stage"] == "thread")["data"]["signal"] for row in rows]
    assert signals[0] == "token"  # the signed Message-ID in In-Reply-To
    assert signals[1] == "token"
    assert signals[2] == "token"  # the body marker survived quoting
    assert signals[3] == "subject"
    assert rows[0].message.new_text.startswith("It works now")
    assert "wrote:" in rows[0].message.quoted_text


@pytest.mark.django_db
def test_out_of_office_does_not_reopen_and_a_dsn_is_linked(
    ingest: Ingest, agent: object, outbox: CaptureServer
) -> None:
    """
    GIVEN a resolved ticket whose reply was sent
    WHEN an out-of-office answer and a delivery failure report for that reply arrive
    THEN the auto-reply is on the ticket but it stays resolved; the report is in the reply's log, no ticket opens
    """
    ticket = _open_ticket(ingest)
    sent = _parse(_reply_and_capture(ticket, agent, outbox))
    set_ticket_status(ticket.pk, TicketStatus.RESOLVED, dt.datetime.now(dt.UTC))
    our_id = sent["Message-ID"].strip("<>")
    tickets_before = Ticket.objects.count()

    ooo = ingest(
        _customer_reply(
            sent,
            subject=f"Automatic reply: {sent['Subject']}",
            body="I am out of the office until Monday.",
            in_reply_to=our_id,
            references=None,
            extra={"Auto-Submitted": "auto-replied"},
        )
    )
    dsn = ingest(_build_dsn(our_id, "jane.doe@example.org"))

    ticket.refresh_from_db()
    assert ooo.message.ticket_id == ticket.pk and ticket.status == TicketStatus.RESOLVED
    assert dsn.status == InboundStatus.PROCESSED and dsn.message is None
    assert Ticket.objects.count() == tickets_before
    reply = Message.objects.get(ticket=ticket, direction=Direction.OUTBOUND)
    events = list(reply.delivery.events.order_by("id"))  # type: ignore[attr-defined]
    assert [event.kind for event in events] == [EventKind.ATTEMPT, EventKind.DSN]
    assert events[1].outcome == "failed" and "5.1.1" in events[1].detail
    assert reply.delivery.status == DeliveryStatus.FAILED  # type: ignore[attr-defined]


def _build_dsn(original_id: str, recipient: str) -> bytes:
    """An RFC 3464 report as Postfix writes it: explanation, delivery-status, the returned headers."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        "To: support@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.example.org>\r\n"
        "Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n"
        "--b1\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <{original_id}>\r\nSubject: printer\r\n"
        "--b1--\r\n"
    ).encode()


@pytest.mark.django_db
def test_a_forged_token_does_not_thread(ingest: Ingest, agent: object, outbox: CaptureServer) -> None:
    """
    GIVEN a ticket with a sent reply
    WHEN someone sends mail whose In-Reply-To carries our token with one character changed
    THEN it opens a new ticket and the trace names the forged token
    """
    ticket = _open_ticket(ingest)
    sent = _parse(_reply_and_capture(ticket, agent, outbox))
    our_id = sent["Message-ID"].strip("<>")
    token_start = our_id.index("-") + 1
    flipped = "b" if our_id[token_start + 5] != "b" else "c"
    forged = our_id[: token_start + 5] + flipped + our_id[token_start + 6 :]

    row = ingest(build_mail(sender="mallory@evil.example", subject="Re: hello", in_reply_to=forged))

    assert row.message.ticket_id != ticket.pk
    thread = next(step for step in row.trace if step["stage"] == "thread")
    assert thread["verdict"] == "new_ticket" and "forged" in thread["reason"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (UnknownSenderPolicy.NOTE, "note"),
        (UnknownSenderPolicy.NEW_TICKET, "new_ticket"),
        (UnknownSenderPolicy.QUARANTINE, "quarantine"),
    ],
)
def test_a_stranger_quoting_the_ticket_number_follows_the_queue_policy(
    ingest: Ingest, policy: str, expected: str
) -> None:
    """
    GIVEN a ticket whose queue has an unknown-sender policy
    WHEN a stranger writes with the ticket number in the subject
    THEN it becomes an internal note, a new ticket, or is quarantined with cause unknown_sender_update
    """
    ticket = _open_ticket(ingest)
    ticket.queue.unknown_sender_policy = policy
    ticket.queue.save()

    row = ingest(build_mail(sender="stranger@other.example", subject=f"Re: [{ticket.reference}] printer"))

    if expected == "quarantine":
        assert row.status == InboundStatus.QUARANTINED and row.cause == "unknown_sender_update"
        assert row.message is None
    elif expected == "note":
        assert row.message.ticket_id == ticket.pk and row.message.direction == Direction.NOTE
    else:
        assert row.message.ticket_id != ticket.pk
        assert row.message.ticket.requester.email == "stranger@other.example"
    ticket.refresh_from_db()
    assert ticket.requester.email == "jane.doe@example.org"


@pytest.mark.django_db
def test_a_participant_and_the_requesters_organisation_may_follow_up(ingest: Ingest) -> None:
    """
    GIVEN a ticket opened with a colleague in Cc, and an organisation for the requester's domain
    WHEN the colleague and another person of that organisation answer by subject tag
    THEN both are appended (not notes) and the requester stays the original one
    """
    from postroom.tenants.services import get_default_tenant
    from postroom.tickets.models import Organization

    Organization.objects.create(tenant=get_default_tenant(), name="Example Org", domains=["example.org"])
    add_route("support@example.com", "Support")
    first = ingest(
        build_mail(sender=CUSTOMER, to="support@example.com", extra_headers={"Cc": "Bob <bob@partner.example>"})
    )
    ticket = first.message.ticket
    bob = ingest(build_mail(sender="bob@partner.example", subject=f"Re: [{ticket.reference}] printer"))
    colleague = ingest(build_mail(sender="carol@example.org", subject=f"Re: [{ticket.reference}] printer"))

    assert [p.contact.email for p in ticket.participants.all()] == ["bob@partner.example"]
    assert bob.message.ticket_id == ticket.pk and bob.message.direction == Direction.INBOUND
    assert colleague.message.ticket_id == ticket.pk and colleague.message.direction == Direction.INBOUND
    ticket.refresh_from_db()
    assert ticket.requester.email == "jane.doe@example.org"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "days_closed", "expected"),
    [
        (ClosedReplyPolicy.REOPEN, 1, "reopened"),
        (ClosedReplyPolicy.NEW_LINKED, 1, "linked"),
        (ClosedReplyPolicy.NEW_AFTER_DAYS, 3, "reopened"),
        (ClosedReplyPolicy.NEW_AFTER_DAYS, 30, "linked"),
        (ClosedReplyPolicy.REJECT, 1, "rejected"),
    ],
)
def test_a_reply_to_a_closed_ticket_follows_the_queue_policy(  # noqa: PLR0917 - fixtures and parameters
    ingest: Ingest, agent: object, outbox: CaptureServer, policy: str, days_closed: int, expected: str
) -> None:
    """
    GIVEN a closed ticket whose queue has a late-reply policy (new_after_days with 14 days)
    WHEN the customer replies to our last message
    THEN it reopens, opens a linked ticket, or is rejected with an RFC 3834 notice
    """
    ticket = _open_ticket(ingest)
    sent = _parse(_reply_and_capture(ticket, agent, outbox))
    ticket.queue.closed_reply_policy = policy
    ticket.queue.reopen_within_days = 14
    ticket.queue.save()
    set_ticket_status(ticket.pk, TicketStatus.CLOSED, dt.datetime.now(dt.UTC))
    Ticket.objects.filter(pk=ticket.pk).update(closed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days_closed))

    row = ingest(
        _customer_reply(sent, body="The problem is back.", in_reply_to=sent["Message-ID"].strip("<>"), references=None)
    )

    ticket.refresh_from_db()
    if expected == "reopened":
        assert row.message.ticket_id == ticket.pk and ticket.status == TicketStatus.OPEN
    elif expected == "linked":
        assert row.message.ticket.linked_from_id == ticket.pk and ticket.status == TicketStatus.CLOSED
    else:
        assert row.message is None and ticket.status == TicketStatus.CLOSED
        assert send_due_deliveries() == 1
        notice = _parse(outbox.messages[-1])
        assert notice["Auto-Submitted"] == "auto-replied"
        assert outbox.messages[-1].rcpt_tos == ["jane.doe@example.org"]


@pytest.mark.django_db
def test_thanks_does_not_reopen_a_resolved_ticket(ingest: Ingest, agent: object, outbox: CaptureServer) -> None:
    """
    GIVEN a resolved ticket
    WHEN the customer answers only "Thanks, that fixed it!" above the quoted reply
    THEN the message is on the ticket and the ticket stays resolved, the trace says why
    """
    ticket = _open_ticket(ingest)
    sent = _parse(_reply_and_capture(ticket, agent, outbox))
    set_ticket_status(ticket.pk, TicketStatus.RESOLVED, dt.datetime.now(dt.UTC))

    row = ingest(
        _customer_reply(
            sent,
            body="Thanks, that fixed it!\n\nOn Mon, Nov 2, 2026 at 10:00 AM Support wrote:\n" + _quoted(sent),
            in_reply_to=sent["Message-ID"].strip("<>"),
            references=None,
        )
    )

    ticket.refresh_from_db()
    assert row.message.ticket_id == ticket.pk and ticket.status == TicketStatus.RESOLVED
    assert next(step for step in row.trace if step["stage"] == "admit")["verdict"] == "appended_quietly"


@pytest.mark.django_db
def test_an_agent_forwarding_customer_mail_makes_the_customer_the_requester(ingest: Ingest, agent: object) -> None:
    """
    GIVEN an agent (alice@example.com)
    WHEN she forwards a customer's mail to the support address, Gmail style
    THEN the new ticket's requester is the customer, and the trace says who forwarded it
    """
    add_route("support@example.com", "Support")
    row = ingest(
        build_mail(
            sender="Alice <alice@example.com>",
            subject="Fwd: Invoice 4711 is wrong",
            body="Can someone take this?\n\n---------- Forwarded message ---------\n"
            "From: Carol Customer <carol@customer.example>\nDate: Mon, Nov 2, 2026 at 9:00 AM\n"
            "Subject: Invoice 4711 is wrong\nTo: <alice@example.com>\n\nThe amount is twice what we agreed.\n",
        )
    )
    assert row.message.ticket.requester.email == "carol@customer.example"
    assert row.message.forwarded["from"] == "carol@customer.example"
    admit = next(step for step in row.trace if step["stage"] == "admit")
    assert admit["data"]["forwarded_by"] == "alice@example.com"


@pytest.mark.django_db
def test_a_reply_to_an_internal_notification_stays_internal(ingest: Ingest, agent: object) -> None:
    """
    GIVEN an internal note that was mailed to agents with a signed Message-ID (an internal notification)
    WHEN an agent answers that mail
    THEN the answer is stored as an internal note on the ticket, never as customer correspondence
    """
    from postroom.mail.tokens import ThreadToken, build_message_id, build_token
    from postroom.outbound.services import add_note
    from postroom.tenants.keys import get_key_ring

    ticket = _open_ticket(ingest)
    note = add_note(ticket.pk, agent, "Please check the toner levels.")  # type: ignore[arg-type]
    ring = get_key_ring(ticket.tenant)
    notification_id = build_message_id(
        build_token(ThreadToken(ticket.pk, note.pk, ring.signing_key_id), ring.signing_key), "example.com"
    )
    row = ingest(build_mail(sender="alice@example.com", subject="Re: note", in_reply_to=notification_id))
    assert row.message.ticket_id == ticket.pk and row.message.direction == Direction.NOTE


@pytest.mark.django_db
def test_outlook_thread_index_and_foreign_numbers_thread(ingest: Ingest) -> None:
    """
    GIVEN a ticket opened by an Outlook mail with a Thread-Index, in a queue that knows a vendor's `[Ticket#…]`
    WHEN a later Outlook mail of the same conversation (no References, no tag) and a vendor mail citing the
         vendor number arrive
    THEN both land on the ticket, by thread_index and by foreign_reference
    """
    add_route("support@example.com", "Support")
    from postroom.tickets.models import Queue

    Queue.objects.filter(name="Support").update(foreign_reference_patterns=[r"\[Ticket#(\d+)\]"])
    root = b"\x01" + b"\x02" * 5 + b"\x33" * 16
    first = ingest(
        build_mail(
            subject="Broken scanner [Ticket#778899]",
            extra_headers={"Thread-Index": base64.b64encode(root).decode()},
        )
    )
    ticket = first.message.ticket
    later = ingest(
        build_mail(
            subject="scanner again", extra_headers={"Thread-Index": base64.b64encode(root + b"\x00" * 5).decode()}
        )
    )
    vendor = ingest(build_mail(subject="Update on [Ticket#778899]", body="We shipped a new part."))

    assert later.message.ticket_id == ticket.pk and vendor.message.ticket_id == ticket.pk
    signals = [next(s for s in row.trace if s["stage"] == "thread")["data"]["signal"] for row in (later, vendor)]
    assert signals == ["thread_index", "foreign_reference"]
